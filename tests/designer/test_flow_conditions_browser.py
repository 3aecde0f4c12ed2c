"""The chain editor's condition builder works as DingTalk's: conditions joined by "and" inside a group,
groups joined by "or"; the branch's condition is saved in that shape and read back from the BPMN."""

from __future__ import annotations

import pytest

from engine.packages import draft_chain, drafts
from tests.designer.flow_pages import new_chain_process
from tests.designer.test_flow_browser import _saved_after, site  # noqa: F401 (fixture)
from tests.web.test_browser_approval import Person as Browser
from tests.web.test_browser_approval import browser  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def _condition(sessions, branch_id: str):
    with sessions() as session:
        chain = draft_chain.draft_chain(drafts.get_draft(session, "groups"))
    split = next(n for n in chain["nodes"] if n.get("kind") == "condition")
    return next(b for b in split["branches"] if b["id"] == branch_id)["condition"]


def _set_row(page, row, field: str, op: str, value: str) -> None:
    row.locator("[data-testid=cond-field]").select_option(field)
    row.locator("[data-testid=cond-op]").select_option(op)
    value_box = row.locator("[data-testid=cond-value]")
    value_box.fill(value)
    _saved_after(page, lambda: value_box.dispatch_event("change"))


def test_or_groups_of_and_conditions_are_built_saved_and_read_back(browser, site):  # noqa: F811
    base, sessions = site
    person = Browser(browser, base, "owner", "zh")
    page = person.page
    new_chain_process(page, base, "groups", "条件组")
    page.click(".flow-card[data-node-id=large]")
    editor = page.locator("#flow-drawer .flow-condition")
    assert editor.locator("[data-testid=cond-group]").count() == 1

    editor.locator("[data-testid=cond-add-group]").click()  # 或: a second group
    rows = editor.locator("[data-testid=cond-group]").nth(1).locator(".flow-cond-row")
    _set_row(page, rows.nth(0), "title", "==", "紧急")
    assert _condition(sessions, "large") == {"any": [{"field": "amount", "op": ">", "value": 10000},
                                                      {"field": "title", "op": "==", "value": "紧急"}]}

    first = editor.locator("[data-testid=cond-group]").nth(0)
    first.locator("[data-testid=cond-add]").click()  # 并且: a second condition in the first group
    _set_row(page, first.locator(".flow-cond-row").nth(1), "amount", "<", "50000")
    wanted = {"any": [{"all": [{"field": "amount", "op": ">", "value": 10000},
                               {"field": "amount", "op": "<", "value": 50000}]},
                      {"field": "title", "op": "==", "value": "紧急"}]}
    assert _condition(sessions, "large") == wanted

    page.reload()  # read back from the draft's BPMN
    page.wait_for_selector("#flow-editor[data-ready=true]")
    page.click(".flow-card[data-node-id=large]")
    groups = page.locator("#flow-drawer .flow-condition [data-testid=cond-group]")
    assert groups.count() == 2 and groups.nth(0).locator(".flow-cond-row").count() == 2
    assert "或" in page.locator("#flow-drawer .flow-condition").inner_text()
    person.close()
