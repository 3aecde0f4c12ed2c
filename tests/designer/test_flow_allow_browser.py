"""The chain editor's drawer sets what an approver node allows (issue 16): checkboxes for return, transfer,
delegate, add / remove signer and a return-target select, saved as the node's `allow` / `returnTo`."""

from __future__ import annotations

import pytest

from engine.packages import draft_chain, drafts
from tests.designer.flow_pages import new_chain_process
from tests.designer.test_flow_browser import _saved_after, site  # noqa: F401 (fixture)
from tests.web.test_browser_approval import Person as Browser
from tests.web.test_browser_approval import browser  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def _node(sessions, node_id: str) -> dict:
    with sessions() as session:
        chain = draft_chain.draft_chain(drafts.get_draft(session, "ops"))
    return next(n for n in chain["nodes"] if n.get("id") == node_id)


def test_the_drawer_sets_the_allowed_operations(browser, site):  # noqa: F811
    base, sessions = site
    person = Browser(browser, base, "owner", "zh")
    page = person.page
    new_chain_process(page, base, "ops", "操作权限")
    page.click(".flow-card[data-node-id=head_approval]")
    box = page.locator("#flow-drawer [data-testid=allowed-operations]")
    assert "允许退回" in box.inner_text() and "允许加签" in box.inner_text()
    assert box.locator("input[type=checkbox]:checked").count() == 5  # absent: everything allowed
    box.locator("input[data-operation=transfer]").uncheck()
    box.locator("input[data-operation=addSigner]").uncheck()
    _saved_after(page, lambda: box.locator("[data-testid=return-to]").select_option("previous"))
    node = _node(sessions, "head_approval")
    assert (node.get("allow"), node.get("returnTo")) == ("return,delegate,removeSigner", "previous")

    box.locator("input[data-operation=return]").uncheck()  # no returns: no target either
    assert box.locator("[data-testid=return-to]").is_hidden()
    box.locator("input[data-operation=delegate]").uncheck()
    _saved_after(page, lambda: box.locator("input[data-operation=removeSigner]").uncheck())
    node = _node(sessions, "head_approval")
    assert node.get("allow") == "" and "returnTo" not in node

    page.reload()  # read back from the draft's BPMN
    page.wait_for_selector("#flow-editor[data-ready=true]")
    page.click(".flow-card[data-node-id=head_approval]")
    assert page.locator("#flow-drawer [data-testid=allowed-operations] input[type=checkbox]:checked").count() == 0
    person.close()
