"""Issue 14's first "Done when", end to end in headless Chromium on the served app: a process owner (a
designer grant for the category `general`, not a super admin) creates a process from the blank template
on /designer/, draws it in the modeler, sets the approvers in the properties panel, sees the marker of a
broken condition, fixes it and deploys; an employee starts it from /start and the right people get the
tasks: the head of the initiator's department, then the three signers of the 会签 task.

How it is drawn: with the real UI. The shapes are appended with the context pad (a click; it places
and connects them, no drag and drop), made user tasks with its replace menu, and named in the properties
panel; the approver rule builder, approval mode, people search and the flows' conditions are the panel's
too. The page's modeler (`window.LiaisonDesigner`) is only read: which element is selected, the ids of
the two flows behind the gateway (connections are too thin to click reliably), and it selects a flow.
The blank template has no start form (the designer cannot make forms yet, issue 15), so the 会签 task's
signers are the rule `users:zhao,qian,sun`, picked one by one in the people search, not a start-form field.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from sqlalchemy import select as sql_select

from engine.data import db
from engine.data.models import Department, ProcessDefinition, ProcessVersion
from engine.packages import designer_access
from engine.people import accounts
from engine.work import queries
from tests.browser_support import serving, unavailable
from tests.web.test_browser_approval import PASSWORD, browser  # noqa: F401 (fixture)
from tests.web.test_browser_approval import Person as Browser
from web import create_app

from .harness import bundle_built, open_group, select

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"  # with LIAISON_SCREENSHOTS=1
KEY = "purchase_e2e"
SIGNERS = ("zhao", "qian", "sun")

# The flow that `_draw` leaves behind an element (read from the model: connections are thin to click).
OUTGOING = """([source, target]) => window.modeler.get('elementRegistry').get(source).outgoing
  .find(flow => flow.target.id === target).id"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """li owns the category `general` (edit, deploy); zhang works in sales, whose head is wang; zhao,
    qian and sun are the signers."""
    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'liaison.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        accounts.create_admin(session, "root", PASSWORD, "管理员")
        people = {username: accounts.create_person_account(session, username, name, PASSWORD, name_en=name_en)
                  for username, name, name_en in (
                      ("li", "李四", "Li Si"), ("zhang", "张三", "Zhang San"), ("wang", "王五", "Wang Wu"),
                      ("zhao", "赵六", "Zhao Liu"), ("qian", "钱七", "Qian Qi"), ("sun", "孙八", "Sun Ba"))}
        sales = Department(code="sales", name="销售部", path="")
        session.add(sales)
        session.flush()
        sales.path = f"/{sales.id}/"
        sales.head_id = people["wang"].id
        people["zhang"].department_id = people["wang"].department_id = sales.id
        session.flush()
        designer_access.grant(session, "root", "general", "li", edit=True, deploy=True)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "browser-test"})
    with serving(app) as base:
        yield base, sessions
    engine.dispose()


def _append(page, action, element_id, name, user_task=False):
    """Append to the selected element with its context pad (auto-placed, connected and selected), make
    it a user task (its replace menu), and give it an id and a name in the panel's General group."""
    before = page.evaluate("() => window.modeler.get('selection').get()[0].id")
    page.click(f'.djs-context-pad .entry[data-action="{action}"]')
    page.wait_for_function("id => window.modeler.get('selection').get()[0]?.id !== id", arg=before)
    if page.locator(".djs-direct-editing-parent").is_visible():
        page.keyboard.press("Escape")  # the label editor a new task opens: named in the panel instead
    if user_task:
        page.click('.djs-context-pad .entry[data-action="replace"]')
        page.click('.djs-popup [data-id="replace-with-user-task"]')
    open_group(page, "general")
    page.fill("#bio-properties-panel-id", element_id)
    page.locator("#bio-properties-panel-id").blur()
    page.wait_for_selector(f'.djs-element.selected[data-element-id="{element_id}"]')
    page.fill("#bio-properties-panel-name", name)
    page.locator("#bio-properties-panel-name").blur()
    page.wait_for_function("([id, name]) => window.modeler.get('elementRegistry').get(id).businessObject.name === name",
                           arg=[element_id, name])


def _draw(page):
    """start -> head_approval -> countersign -> amount_gateway -> end | big_end, drawn with the context
    pad: the template's end event is deleted first (its flow goes with it)."""
    page.evaluate("async () => { window.modeler = (await window.LiaisonDesigner.editor).modeler; }")
    page.click('.djs-element[data-element-id="end"]')
    page.click('.djs-context-pad .entry[data-action="delete"]')
    page.click('.djs-element[data-element-id="start"]')
    _append(page, "append.append-task", "head_approval", "部门负责人审批", user_task=True)
    _append(page, "append.append-task", "countersign", "会签", user_task=True)
    _append(page, "append.gateway", "amount_gateway", "天数")
    _append(page, "append.end-event", "end", "结束")
    page.click('.djs-element[data-element-id="amount_gateway"] .djs-hit')
    _append(page, "append.end-event", "big_end", "大额结束")
    return (page.evaluate(OUTGOING, ["amount_gateway", "big_end"]),
            page.evaluate(OUTGOING, ["amount_gateway", "end"]))


def _settle(page):
    """The properties panel writes after a debounce, the editor saves 1 s after a change: wait for both."""
    page.wait_for_timeout(1500)
    page.wait_for_function("""async () => {
      const editor = await window.LiaisonDesigner.editor;
      return !editor.dirty && !editor.saving && editor.status.dataset.state === 'saved';
    }""")


def _condition(page, flow_id, text, name=None):
    select(page, flow_id)
    if name:
        open_group(page, "general")
        page.fill("#bio-properties-panel-name", name)
        page.locator("#bio-properties-panel-name").blur()
    open_group(page, "CamundaPlatform__Condition")
    if page.locator("#bio-properties-panel-conditionExpression").count() == 0:
        page.select_option("#bio-properties-panel-conditionType", "expression")
    page.fill("#bio-properties-panel-conditionExpression", text)
    page.locator("#bio-properties-panel-conditionExpression").blur()


def _open_editor(page, base):
    page.goto(f"{base}/designer/{KEY}/edit")
    page.wait_for_function("async () => { const e = await window.LiaisonDesigner.editor; return !!e; }")
    page.wait_for_selector(".djs-palette")


def _shoot(page, path):
    """The 会签 task selected, its approval groups open: what a process owner works on."""
    page.evaluate("async () => { window.modeler = (await window.LiaisonDesigner.editor).modeler; }")
    select(page, "countersign")
    open_group(page, "liaison-approvers")
    open_group(page, "liaison-approval")
    page.mouse.move(0, 0)
    page.screenshot(path=str(path))


def _task_id(sessions, instance_id):
    with sessions() as session:
        return next(t["id"] for t in queries.instance_view(session, instance_id)["tasks"] if t["status"] == "open")


def _inboxes(sessions, instance_id):
    """Who has which task of the instance in their to-do list (the web inbox's own query)."""
    everyone = ("li", "zhang", "wang", *SIGNERS)
    with sessions() as session:
        return {username: [task.element_id for task in queries.list_tasks(session, username)
                           if task.instance_id == instance_id] for username in everyone}


def test_a_process_owner_draws_checks_and_deploys_and_an_employee_starts_it(browser, site, tmp_path):  # noqa: F811
    if not bundle_built():
        unavailable("the designer bundle: `make bundle` (needs npm)")
    base, sessions = site
    shot_dir = SHOTS if os.environ.get("LIAISON_SCREENSHOTS") == "1" else tmp_path
    shot_dir.mkdir(parents=True, exist_ok=True)

    owner = Browser(browser, base, "li", "zh")
    page = owner.page
    page.goto(f"{base}/designer/")
    page.click("#new-process")
    page.select_option("#designer-new select[name=template]", "blank")
    page.fill("#designer-new input[name=key]", KEY)
    page.fill("#designer-new input[name=name_zh]", "采购申请")
    page.fill("#designer-new input[name=name_en]", "Purchase request")
    page.select_option("#designer-new select[name=category]", "general")
    page.click("#designer-new button[type=submit]")
    page.wait_for_url(f"**/designer/{KEY}/edit")
    _open_editor(page, base)

    flow_big, flow_small = _draw(page)
    # the approver of the first task, in the rule builder: the head of the initiator's department
    select(page, "head_approval")
    open_group(page, "liaison-approvers")
    page.select_option("#bio-properties-panel-liaison-approvers-kind", "department_head")
    # 会签: mode "all", three people picked in the people search
    select(page, "countersign")
    open_group(page, "liaison-approval")
    page.select_option("#bio-properties-panel-liaison-mode", "all")
    open_group(page, "liaison-approvers")
    page.select_option("#bio-properties-panel-liaison-approvers-kind", "users")
    for username in SIGNERS:
        page.fill("#ld-liaison-approvers-people-search", username)
        page.click(f'.ld-search-result[data-value="{username}"]')
    assert page.input_value("#bio-properties-panel-liaison-approvers-users") == ",".join(SIGNERS)
    # a deliberately broken condition: marked on its flow and listed, deploying is refused by the button
    _condition(page, flow_small, "days <= 3", name="≤ 3 天")
    _condition(page, flow_big, "days >", name="> 3 天")
    broken = page.locator(f'.djs-element[data-element-id="{flow_big}"].ld-problem-error')
    broken.wait_for(timeout=15000)
    listed = page.locator(f'#designer-problems button[data-element-id="{flow_big}"]')
    assert listed.count() >= 1
    assert page.locator("#designer-deploy").is_disabled()
    _condition(page, flow_big, "days > 3")
    broken.wait_for(state="detached", timeout=15000)
    _settle(page)
    xml = page.evaluate(f"async () => (await (await fetch('/designer/{KEY}/draft')).json()).xml")  # autosaved
    assert 'liaison:approvers="department_head"' in xml and 'liaison:approvers="users:zhao,qian,sun"' in xml
    assert 'liaison:mode="all"' in xml and "days &gt; 3" in xml and 'id="amount_gateway"' in xml
    assert page.locator("#designer-problems [data-source=server].ld-problem-item-error").count() == 0

    # the draft survives a reload (autosave), and the designer is shot in zh and en
    _open_editor(page, base)
    page.wait_for_selector('.djs-element[data-element-id="countersign"]')
    _shoot(page, shot_dir / "designer-zh-1280.png")
    page.click("form.lang-switch button[value=en]")
    _open_editor(page, base)
    _shoot(page, shot_dir / "designer-en-1280.png")

    # deploy with a comment
    deploy = page.locator("#designer-deploy")
    deploy.wait_for()
    page.wait_for_function("() => !document.getElementById('designer-deploy').disabled")
    deploy.click()
    page.fill("#designer-deploy-comment", "First version: head of department, then 会签")
    page.click("#designer-deploy-confirm")
    page.click("#designer-status a[href$='/versions']")  # the version list: who, when, the comment
    page.wait_for_url(f"**/designer/{KEY}/versions")
    assert "First version: head of department, then 会签" in page.inner_text("main")
    with sessions() as session:
        version = session.scalar(sql_select(ProcessVersion).join(ProcessVersion.definition)
                                 .where(ProcessDefinition.key == KEY))
        assert (version.number, version.notes) == (1, "First version: head of department, then 会签")
    owner.close()

    # an employee starts it from the web app: the head of zhang's department (wang) gets the first task
    employee = Browser(browser, base, "zhang", "zh")
    page = employee.page
    page.click("nav.mainnav a[href='/start']")
    page.click(f"a[href='/start/{KEY}']")
    page.click("#start-submit")
    page.wait_for_url(re.compile(r"/instances/\d+$"))
    instance_id = int(page.url.rsplit("/", 1)[1])
    nobody = {"li": [], "zhang": [], "wang": [], **{username: [] for username in SIGNERS}}
    assert _inboxes(sessions, instance_id) == {**nobody, "wang": ["head_approval"]}
    employee.close()

    head = Browser(browser, base, "wang", "en")
    head.page.click("nav.mainnav a[href='/inbox/']")
    head.page.click(f"a[href='/tasks/{_task_id(sessions, instance_id)}']")
    head.page.click("#approve-task, #submit-task")  # no form on the task: a plain submit
    head.page.wait_for_url("**/inbox/")
    head.close()
    # 会签: one node offered to the three signers at once (docs/approvals.md), nobody else
    assert _inboxes(sessions, instance_id) == {**nobody, **{username: ["countersign"] for username in SIGNERS}}
    signer = Browser(browser, base, "qian", "zh")
    signer.page.click("nav.mainnav a[href='/inbox/']")
    assert signer.page.locator(f"a[href='/tasks/{_task_id(sessions, instance_id)}']").count() >= 1
    signer.close()
