"""The chain editor's drawer names a step in both languages on one page (renaming a step on the Chinese page
does not leave its English name, the template's word, behind) and words its choices in the page's language."""

from __future__ import annotations

import pytest

from engine.packages import draft_chain, drafts
from tests.designer.flow_pages import new_chain_process
from tests.designer.test_flow_browser import _saved_after, site  # noqa: F401 (fixture)
from tests.web.test_browser_approval import Person as Browser
from tests.web.test_browser_approval import browser  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def test_the_drawer_names_a_step_in_chinese_and_english(browser, site):  # noqa: F811
    base, sessions = site
    person = Browser(browser, base, "owner", "zh")
    page = person.page
    new_chain_process(page, base, "names2", "双语名称")
    page.click(".flow-card[data-node-id=head_approval]")
    drawer = page.locator("#flow-drawer")
    assert "名称（中文）" in drawer.inner_text() and "名称（英文）" in drawer.inner_text()
    choices = drawer.locator("select option").all_inner_texts()
    assert {"跳过此节点", "交给流程管理员", "排除发起人", "自动驳回"} <= set(choices), choices
    assert not {"fail", "skip", "admin", "allow", "manager", "approve", "reject"} & set(choices), choices
    assert "审批意见 (decision)" in choices, choices  # a form by its title, its key beside it
    drawer.locator("[data-testid=node-name-zh]").fill("主管审核")
    drawer.locator("[data-testid=node-name-zh]").press("Tab")
    _saved_after(page, lambda: (drawer.locator("[data-testid=node-name-en]").fill("Supervisor review"),
                                drawer.locator("[data-testid=node-name-en]").press("Tab")))
    with sessions() as session:
        chain = draft_chain.draft_chain(drafts.get_draft(session, "names2"))
    node = next(n for n in chain["nodes"] if n.get("id") == "head_approval")
    assert node["name"] == {"zh": "主管审核", "en": "Supervisor review"}
    assert "主管审核" in page.locator(".flow-card[data-node-id=head_approval]").inner_text()
    person.close()
