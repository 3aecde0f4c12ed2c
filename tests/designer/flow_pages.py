"""Browser steps the chain-builder tests share: create a process from a chain template and open its flow page."""

from __future__ import annotations


def new_chain_process(page, base: str, key: str, name_zh: str, template: str = "chain:expense",
                      category: str = "finance") -> None:
    """From the designer list, create `key` from `template` and wait until its chain editor is ready."""
    page.goto(f"{base}/designer/")
    page.click("#new-process")
    page.select_option("#designer-new select[name=template]", template)
    page.fill("#designer-new input[name=key]", key)
    page.fill("#designer-new input[name=name_zh]", name_zh)
    page.fill("#designer-new input[name=category]", category)
    page.click("#designer-new button[type=submit]")
    page.wait_for_url(f"**/designer/{key}/flow")
    page.wait_for_selector("#flow-editor[data-ready=true]")
