"""Issue 16's "Done when", in headless Chromium: a process owner builds start -> department head ->
condition (amount > 5000: finance 会签; otherwise 或签 of two admins) -> CC to HR -> end in the chain
editor without touching BPMN, makes the amount read-only for finance, previews the approvers for two
initiators, deploys; an employee's request of 8000 then reaches the right people."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from engine import runtime
from engine.data import db
from engine.data.models import AdminGrant, Department, Person, PersonRole, Role, TaskCandidate, WorkTask
from engine.packages import draft_chain, drafts
from engine.people import accounts
from tests.browser_support import serving
from tests.designer.flow_pages import new_chain_process
from tests.web.test_browser_approval import PASSWORD, browser  # noqa: F401 (fixture)
from tests.web.test_browser_approval import Person as Browser
from web import create_app

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"  # with LIAISON_SCREENSHOTS=1


def _department(session, code: str, name: str, head: Person) -> Department:
    department = Department(code=code, name=name, path="/", head_id=head.id)
    session.add(department)
    session.flush()
    department.path = f"/{department.id}/"
    return department


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """owner (super admin); emp_a in 销售部 (head 王经理), emp_b in 研发部 (head 赵经理); finance: 钱会计 and
    孙会计; two admins 周管理 and 吴管理; hr: 郑人事."""
    folder = tmp_path_factory.mktemp("flow")
    url = f"sqlite:///{folder / 'liaison.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        owner = accounts.create_person_account(session, "owner", "负责人", PASSWORD, name_en="Owner")
        session.flush()
        session.add(AdminGrant(person_id=owner.id, department_id=None))
        made = {}
        for username, name, name_en in (("head_a", "王经理", "Manager Wang"), ("head_b", "赵经理", "Manager Zhao"),
                                        ("fin_1", "钱会计", "Accountant Qian"), ("fin_2", "孙会计", "Accountant Sun"),
                                        ("adm_1", "周管理", "Admin Zhou"), ("adm_2", "吴管理", "Admin Wu"),
                                        ("hr_1", "郑人事", "HR Zheng"), ("emp_a", "员工甲", "Employee A"),
                                        ("emp_b", "员工乙", "Employee B")):
            made[username] = accounts.create_person_account(session, username, name, PASSWORD, name_en=name_en)
        session.flush()
        made["emp_a"].department_id = _department(session, "sales", "销售部", made["head_a"]).id
        made["emp_b"].department_id = _department(session, "rnd", "研发部", made["head_b"]).id
        for key, name, members in (("finance", "财务", ("fin_1", "fin_2")), ("hr", "人事", ("hr_1",))):
            role = Role(key=key, name=name, name_en=key.upper() if key == "hr" else "Finance")
            session.add(role)
            session.flush()
            session.add_all(PersonRole(person_id=made[m].id, role_id=role.id) for m in members)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "browser-test"})
    with serving(app) as base:
        yield base, sessions
    engine.dispose()


def _add(page, gap, kind: str) -> None:
    gap.locator(".flow-plus").click()
    gap.locator(f".flow-menu-{kind}").click()


def _saved_after(page, action) -> None:
    with page.expect_response(lambda r: r.request.method == "PUT" and r.url.endswith("/flow.json")) as answer:
        action()
    assert answer.value.status == 200


def _preview(page, initiator: str, label: str) -> None:
    panel = page.locator("#flow-preview")
    panel.locator("[data-testid=preview-people]").fill(initiator)
    panel.locator(f".flow-suggestion[data-value={initiator}]").click()
    page.locator("#flow-preview [data-field=amount]").fill("8000")
    page.locator("#flow-preview [data-field=amount]").press("Tab")
    page.click("#flow-preview-run")
    page.wait_for_selector(f".flow-preview-steps li[data-node-id=approver_1]:has-text('{label}')")


def test_build_preview_deploy_and_run_the_done_when_chain(browser, site):  # noqa: F811
    base, sessions = site
    person = Browser(browser, base, "owner", "zh")
    page = person.page
    new_chain_process(page, base, "buy", "采购报销")
    assert page.locator("#flow-bpmn-link").get_attribute("href") == "/designer/buy/edit"
    for node in ("head_approval", "payment", "cc_initiator"):  # start from the template's bare start
        page.click(f".flow-card[data-node-id={node}] .flow-delete")
    page.click(".flow-split[data-node-id=by_amount] > .flow-split-head .flow-delete")
    assert page.locator(".flow-chain .flow-card").count() == 1

    drawer = page.locator("#flow-drawer")
    _add(page, page.locator(".flow-chain > .flow-gap").nth(0), "approver")  # approver_1: department head
    drawer.locator("[data-testid=rule-kind]").first.select_option("manager")  # level 1 reads as DingTalk says it
    expect(page.locator(".flow-card[data-node-id=approver_1]")).to_contain_text("直属上级")
    drawer.locator("[data-testid=rule-kind]").first.select_option("department_head")
    _add(page, page.locator(".flow-chain > .flow-gap").nth(1), "condition")  # condition_1: branch_1 / branch_2
    page.click(".flow-card[data-node-id=branch_1]")
    drawer.locator("[data-testid=cond-add]").click()
    drawer.locator("[data-testid=cond-field]").select_option("amount")
    drawer.locator("[data-testid=cond-op]").select_option(">")
    drawer.locator("[data-testid=cond-value]").fill("5000")
    drawer.locator("[data-testid=cond-value]").press("Tab")
    lanes = page.locator(".flow-split[data-node-id=condition_1] .flow-lane")
    _add(page, lanes.nth(0).locator(".flow-gap").first, "approver")  # approver_2: finance 会签
    drawer.locator("[data-testid=rule-kind]").first.select_option("role")
    drawer.locator("[data-testid=rule-role]").select_option("finance")
    drawer.locator("[data-testid=mode]").select_option("all")
    drawer.locator("input[name=perm-approver_2-amount][value=readonly]").check()
    _add(page, lanes.nth(1).locator(".flow-gap").first, "approver")  # approver_3: 或签 of two admins
    drawer.locator("[data-testid=rule-kind]").first.select_option("users")
    for admin in ("adm_1", "adm_2"):
        drawer.locator("[data-testid=people-search]").fill(admin)
        drawer.locator(f".flow-suggestion[data-value={admin}]").click()
    drawer.locator("[data-testid=mode]").select_option("any")
    _add(page, page.locator(".flow-chain > .flow-gap").nth(2), "cc")  # cc_1: HR
    drawer.locator("[data-testid=rule-kind]").first.select_option("role")
    drawer.locator("[data-testid=rule-role]").select_option("hr")
    _saved_after(page, lambda: drawer.locator("[data-testid=cc-add]").click())
    page.wait_for_selector("#flow-status[data-state=saved]")
    assert "周管理、吴管理" in page.locator(".flow-card[data-node-id=approver_3]").inner_text()

    with sessions() as session:
        chain = draft_chain.draft_chain(drafts.get_draft(session, "buy"))
    nodes = chain["nodes"]
    assert [n["kind"] for n in nodes] == ["approver", "condition", "cc"]
    assert nodes[0]["approvers"] == "department_head" and nodes[2]["to"] == ["role:hr"]
    large, other = nodes[1]["branches"]
    assert large["condition"] == {"field": "amount", "op": ">", "value": 5000} and other["condition"] is None
    assert large["nodes"][0]["approvers"] == "role:finance" and large["nodes"][0]["mode"] == "all"
    assert large["nodes"][0]["fields"] == {"amount": "readonly"}
    assert other["nodes"][0]["approvers"] == "users:adm_1,adm_2" and other["nodes"][0]["mode"] == "any"

    page.click("#flow-preview-open")
    _preview(page, "emp_a", "王经理")
    assert "钱会计、孙会计" in page.locator(".flow-preview-steps li[data-node-id=approver_2]").inner_text()
    _preview(page, "emp_b", "赵经理")
    if os.environ.get("LIAISON_SCREENSHOTS") == "1":
        page.screenshot(path=str(SHOTS / "flow-editor-zh-1280.png"), full_page=True)

    page.click("#flow-deploy")
    page.fill("#flow-deploy-comment", "第一版")
    page.click("#flow-deploy-confirm")
    page.wait_for_selector("#flow-status:has-text('1')")
    assert page.locator("#flow-status").get_attribute("data-state") == "saved"

    page.set_viewport_size({"width": 1024, "height": 768})  # tablet: the chain and the drawer still fit
    page.click(".flow-card[data-node-id=approver_2]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    person.close()

    english = Browser(browser, base, "owner", "en")
    english.page.goto(f"{base}/designer/buy/flow")
    english.page.wait_for_selector("#flow-editor[data-ready=true]")
    english.page.click(".flow-card[data-node-id=approver_2]")
    assert "Read-only" in english.page.locator("#flow-drawer").inner_text()
    assert re.search(r"Accountant Qian|Finance", english.page.locator(".flow-chain").inner_text())
    if os.environ.get("LIAISON_SCREENSHOTS") == "1":
        english.page.screenshot(path=str(SHOTS / "flow-editor-en-1280.png"), full_page=True)
    english.close()

    employee = Browser(browser, base, "emp_a", "zh")  # the employee starts it from the web app's start page
    employee.page.goto(f"{base}/start/buy")
    employee.page.fill("#title", "笔记本电脑")
    employee.page.fill("#amount", "8000")
    employee.page.click("#start-submit")
    employee.page.wait_for_url(re.compile(r"/instances/\d+$"))
    instance_id = int(employee.page.url.rsplit("/", 1)[1])
    employee.close()
    with sessions() as session:
        first = session.execute(select(WorkTask.id, WorkTask.assignee).where(
            WorkTask.instance_id == instance_id, WorkTask.status == "open")).all()
    assert [assignee for _, assignee in first] == ["head_a"]
    head = Browser(browser, base, "head_a", "zh")  # in the department head's inbox
    head.page.goto(f"{base}/inbox/")
    assert head.page.locator(f"a[href='/tasks/{first[0][0]}']").count() == 1
    head.close()
    decided = runtime.complete_task(sessions, first[0][0], "head_a", {"approved": True})
    finance = decided.open_tasks
    assert finance and all(t["element_id"] == "approver_2" for t in finance), finance
    with sessions() as session:
        offered = set(session.scalars(select(TaskCandidate.value).where(
            TaskCandidate.task_id.in_([t["id"] for t in finance]), TaskCandidate.kind == "user")))
    assert offered == {"fin_1", "fin_2"}
