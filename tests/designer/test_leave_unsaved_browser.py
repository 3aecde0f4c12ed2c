"""Leaving the chain editor or the form builder right after a change (a tab clicked within the autosave's
delay) still saves the change: the pending save is sent as the page unloads, as the BPMN modeler does."""

from __future__ import annotations

import pytest
import yaml

from engine.packages import draft_chain, drafts
from tests.designer.flow_pages import new_chain_process
from tests.designer.test_flow_browser import site  # noqa: F401 (fixture)
from tests.web.test_browser_approval import Person as Browser
from tests.web.test_browser_approval import browser  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def _new(page, base: str, key: str) -> None:
    new_chain_process(page, base, key, "离开")


def _eventually(page, saved, seconds: float = 5) -> bool:
    """Whether `saved()` holds within `seconds` (the save sent as the page unloads lands a little later)."""
    for _ in range(int(seconds * 10)):
        if saved():
            return True
        page.wait_for_timeout(100)
    return False


def test_a_step_renamed_just_before_leaving_the_chain_editor_is_saved(browser, site):  # noqa: F811
    base, sessions = site
    person = Browser(browser, base, "owner", "zh")
    page = person.page
    _new(page, base, "leave_flow")
    page.click(".flow-card[data-node-id=head_approval]")
    page.locator("#flow-drawer [data-testid=node-name-en]").fill("Head sign-off")
    page.locator("#flow-drawer [data-testid=node-name-en]").press("Tab")
    page.click("nav a[href$='/leave_flow/forms']")  # at once, within the autosave's delay

    def renamed() -> bool:
        with sessions() as session:
            chain = draft_chain.draft_chain(drafts.get_draft(session, "leave_flow"))
        return next(n for n in chain["nodes"] if n["id"] == "head_approval")["name"]["en"] == "Head sign-off"
    assert _eventually(page, renamed)
    person.close()


def test_a_label_typed_just_before_leaving_the_form_builder_is_saved(browser, site):  # noqa: F811
    base, sessions = site
    person = Browser(browser, base, "owner", "zh")
    page = person.page
    _new(page, base, "leave_form")
    page.goto(f"{base}/designer/leave_form/forms?form=decision")
    page.click(".fb-field-main:has-text('opinion')")
    page.fill("#fb-prop-label-en", "Remarks")
    page.click("nav a[href$='/leave_form/flow']")  # at once, within the autosave's delay

    def relabelled() -> bool:
        with sessions() as session:
            schema = yaml.safe_load(drafts.get_draft(session, "leave_form").files["forms/decision.yaml"])
        return next(f for f in schema["fields"] if f["name"] == "opinion")["label"]["en"] == "Remarks"
    assert _eventually(page, relabelled)
    person.close()
