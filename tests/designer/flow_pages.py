"""Browser steps the designer tests share: create a process from the designer list, open its flow page."""

from __future__ import annotations


def new_process(page, base: str, key: str, name_zh: str, template: str | None = None,
                category: str = "finance") -> None:
    """From the designer list, create `key` (from `template`; None: the dialog's default) and wait for its page."""
    page.goto(f"{base}/designer/")
    page.click("#new-process")
    if template is not None:
        page.select_option("#designer-new select[name=template]", template)
    page.fill("#designer-new input[name=key]", key)
    page.fill("#designer-new input[name=name_zh]", name_zh)
    page.fill("#designer-new input[name=category]", category)
    page.click("#designer-new button[type=submit]")
    page.wait_for_url(f"**/designer/{key}/**")


def new_chain_process(page, base: str, key: str, name_zh: str, template: str = "chain:expense",
                      category: str = "finance") -> None:
    """`new_process` from a chain template, and wait until its chain editor is ready."""
    new_process(page, base, key, name_zh, template, category)
    page.wait_for_url(f"**/designer/{key}/flow")
    page.wait_for_selector("#flow-editor[data-ready=true]")
