"""Expense approval and vendor selection walked in headless Chromium, in Chinese: zhang submits an expense
of 12,000 (the manager, then finance and the department head countersign), li approves it on the task page,
zhang prints the record; wang fills in a score sheet (a wrong cell first), zhang reads the ranking (table
and chart) and recommends a vendor. Screenshots go to docs/screenshots with LIAISON_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from engine import runtime
from engine.data import db, store
from engine.data.models import Department, PersonRole, Role
from engine.packages import deployment as packages
from engine.people import accounts
from engine.work import queries, vendor_scoring
from tests.browser_support import chromium, serving, unavailable
from web import create_app, records, vendor

from .conftest import PASSWORD, sign_in
from .test_browser_approval import Person

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}
PEOPLE = (("zhang", "张三", "Zhang San"), ("li", "李经理", "Li"), ("qian", "钱财务", "Qian"),
          ("wang", "王五", "Wang Wu"), ("hu", "胡人事", "Hu"))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Both packages deployed; zhang reports to li, who heads RD; qian holds the finance role."""
    url = f"sqlite:///{tmp_path_factory.mktemp('expense') / 'liaison.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        people = {u: accounts.create_person_account(session, u, name, PASSWORD, name_en=en) for u, name, en in PEOPLE}
        rd = Department(code="RD", name="研发部", path="")
        session.add(rd)
        session.flush()
        rd.path, rd.head_id = f"/{rd.id}/", people["li"].id
        people["zhang"].department_id = people["li"].department_id = rd.id
        people["zhang"].manager_id = people["li"].id
        finance = Role(key="finance", name="财务")
        session.add(finance)
        session.flush()
        session.add(PersonRole(person_id=people["qian"].id, role_id=finance.id))
    for key in ("expense_approval", "vendor_selection"):
        packages.deploy_package(sessions, packages.load_package(ROOT / "processes" / key), "admin")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "browser-test"})
    with serving(app) as base:
        yield base, sessions, app
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    if not vendor.available():
        unavailable("the bpmn-js viewer in node_modules (npm ci)")
    yield from chromium()


def _shot_dir(tmp_path) -> Path:
    shot_dir = SCREENSHOTS if os.environ.get("LIAISON_SCREENSHOTS") == "1" else tmp_path
    shot_dir.mkdir(parents=True, exist_ok=True)
    return shot_dir


def _open_task(sessions, instance_id: int, element: str, user: str | None = None) -> str:
    with sessions() as session:
        return next(t["id"] for t in queries.instance_view(session, instance_id)["tasks"]
                    if t["status"] == "open" and t["element_id"] == element and (user is None or t["assignee"] == user))


def test_expense_submitted_approved_and_printed(browser, site, tmp_path):
    base, sessions, _app = site
    shots = _shot_dir(tmp_path)
    zhang = Person(browser, base, "zhang", "zh")
    page = zhang.page
    page.goto(f"{base}/start/expense_approval")
    page.fill("#purpose", "测试服务器采购")
    assert page.locator('[data-field="items"] tbody tr').count() >= 1  # the one row the table needs is there
    page.fill("#items-0-description", "服务器")
    page.fill("#items-0-quantity", "2")
    page.fill("#items-0-unit_price", "6000")
    assert page.input_value("#manager") == "李经理"  # the initiator's manager, from the org chart, by name
    page.evaluate("document.activeElement.blur()")
    # the approval chain follows the decision table: 12,000 brings the countersign, not the general manager
    page.wait_for_selector(".approval-chain .chain-step:nth-child(2)")
    chain = page.inner_text(".approval-chain")
    assert "财务与部门负责人会签" in chain and "总经理审批" not in chain
    page.screenshot(path=str(shots / "expense-start-zh-1280.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(shots / "expense-start-zh-390.png"), full_page=True)
    page.click("#start-submit")
    page.wait_for_url(re.compile(r"/instances/\d+$"))
    instance_id = int(page.url.rsplit("/", 1)[1])
    with sessions() as session:
        data = store.read_process_data(session, instance_id)
    assert (data["amount"], data["level"]) == (12000, 2)

    li = Person(browser, base, "li", "zh")
    li.page.goto(f"{base}/tasks/{_open_task(sessions, instance_id, 'manager_approval')}")
    li.page.fill("#task-comment", "同意采购")
    li.page.click("#approve-task")
    li.page.wait_for_url("**/inbox/")
    countersign = _open_task(sessions, instance_id, "countersign")
    runtime.complete_task(sessions, countersign, "qian", {"approved": True}, comment="预算内")
    runtime.complete_task(sessions, countersign, "li", {"approved": True})

    page.goto(f"{base}/instances/{instance_id}")
    assert page.inner_text("#instance-status") == "已同意"
    page.click("#operations > summary")  # "Print" waits behind More actions
    page.click("#print-link")
    page.wait_for_url(f"**/instances/{instance_id}/print")
    signatures = page.locator("#signatures li")
    assert signatures.count() == 3
    assert [signatures.nth(i).locator(".name").inner_text() for i in range(3)] == ["李经理", "钱财务", "李经理"]
    assert "直属上级审批" in signatures.nth(0).inner_text() and "已同意" in signatures.nth(0).inner_text()
    trail = page.inner_text("#approval-trail")
    assert "预算内" in trail and "同意采购" in trail
    record = page.inner_text("#record")
    assert "服务器" in record and "¥12,000.00（壹万贰仟元整）" in record  # a subtotal as money, in capitals too
    page.emulate_media(media="print")
    assert not page.locator(".topbar").is_visible() and not page.locator(".print-actions").is_visible()
    page.screenshot(path=str(shots / "expense-print-zh-1280.png"), full_page=True)
    page.emulate_media(media="screen")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(shots / "expense-print-zh-390.png"), full_page=True)
    zhang.close()
    li.close()


def test_vendor_scores_ranking_and_recommendation(browser, site, tmp_path):
    base, sessions, app = site
    shots = _shot_dir(tmp_path)
    started = runtime.start_instance(sessions, "vendor_selection", {
        "title": "办公打印机", "manager": "li", "scorers": ["wang", "hu"],
        "criteria": [{"name": "价格", "weight": 40}, {"name": "质量", "weight": 35}, {"name": "服务", "weight": 25}],
        "vendors": [{"name": "甲公司"}, {"name": "乙公司"}, {"name": "丙公司"}]}, "zhang")
    instance_id = started.instance_id
    wang = Person(browser, base, "wang", "zh")
    page = wang.page
    page.goto(f"{base}/tasks/{_open_task(sessions, instance_id, 'score', 'wang')}")  # the inbox's link
    page.wait_for_url("**/scores")
    for key, value in {"v0c0": "80", "v0c1": "70", "v0c2": "90", "v1c0": "90", "v1c1": "60", "v1c2": "70",
                       "v2c0": "60", "v2c1": "95", "v2c2": "101"}.items():
        page.fill(f"#{key}", value)
    page.evaluate("document.getElementById('score-form').noValidate = true")  # the server's own check
    page.click("#submit-scores")
    page.wait_for_selector("#sheet-errors")
    assert page.inner_text("#v2c2-error") == "分数须为 0 到 100 的整数。"
    wang.problems.remove("Failed to load resource: the server responded with a status of 422 (UNPROCESSABLE ENTITY)")
    assert page.input_value("#v0c0") == "80"  # what was typed is kept
    page.fill("#v2c2", "80")
    page.screenshot(path=str(shots / "vendor-scores-zh-1280.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(shots / "vendor-scores-zh-390.png"), full_page=True)
    page.click("#submit-scores")
    page.wait_for_url(f"**/vendor-selection/{instance_id}")
    assert "评分已保存" in page.inner_text(".flashes")
    cells = {"v0c0": 70, "v0c1": 80, "v0c2": 80, "v1c0": 100, "v1c1": 50, "v1c2": 60,
             "v2c0": 70, "v2c1": 90, "v2c2": 90}
    vendor_scoring.submit_scores(sessions, _open_task(sessions, instance_id, "score", "hu"), "hu", cells)

    zhang = Person(browser, base, "zhang", "zh")
    page = zhang.page
    page.goto(f"{base}/")
    page.click("ul.apps a[href='/vendor-selection']")
    page.click(f"a[href='/vendor-selection/{instance_id}']")
    rows = page.locator("#ranking tbody tr")
    # wang: 甲 79.00, 乙 74.50, 丙 77.25; hu: 甲 76.00, 乙 72.50, 丙 82.00 -> means 丙 79.63, 甲 77.50, 乙 73.50
    assert [rows.nth(i).locator("th").inner_text() for i in range(3)] == ["丙公司", "甲公司", "乙公司"]
    assert [rows.nth(i).locator(".total").inner_text() for i in range(3)] == ["79.63", "77.50", "73.50"]
    page.wait_for_selector("#vendor-chart .chart-canvas:not([hidden])")
    page.screenshot(path=str(shots / "vendor-ranking-zh-1280.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.wait_for_function("() => document.documentElement.scrollWidth <= 390")  # Chart.js redraws the canvas narrower
    page.screenshot(path=str(shots / "vendor-ranking-zh-390.png"), full_page=True)
    page.select_option("#vendor", "2")
    page.fill("#reason", "综合得分最高")
    page.click("#recommend-submit")
    page.wait_for_selector(".flashes")
    with sessions() as session:
        assert store.read_process_data(session, instance_id)["recommended"] == "丙公司"
        approval = vendor_scoring.open_task(session, instance_id, "manager_approval")
    assert approval.assignee == "li"
    manager = app.test_client()  # the manager's task page links to the ranking
    sign_in(manager, "li")
    assert f'href="/vendor-selection/{instance_id}" id="instance-page-link"' in manager.get(
        f"/tasks/{approval.id}").get_data(as_text=True)
    wang.close()
    zhang.close()


def test_print_view_and_vendor_pages_are_scoped_to_who_may_see_them(site):
    _base, sessions, app = site
    expense = runtime.start_instance(sessions, "expense_approval", {
        "kind": "expense", "purpose": "p", "manager": "li",
        "items": [{"description": "x", "quantity": 1, "unit_price": 100}]}, "zhang").instance_id
    selection = runtime.start_instance(sessions, "vendor_selection", {
        "title": "t", "manager": "li", "scorers": ["wang"], "criteria": [{"name": "c", "weight": 100}],
        "vendors": [{"name": "a"}, {"name": "b"}]}, "zhang").instance_id
    sheet = _open_task(sessions, selection, "score", "wang")
    outsider = app.test_client()
    sign_in(outsider, "qian")
    assert outsider.get(f"/instances/{expense}/print").status_code == 404
    assert outsider.get(f"/vendor-selection/{selection}").status_code == 404
    assert outsider.get(f"/vendor-selection/tasks/{sheet}/scores").status_code == 404
    assert f"/vendor-selection/{selection}" not in outsider.get("/vendor-selection").get_data(as_text=True)
    manager = app.test_client()
    sign_in(manager, "li")
    assert manager.get(f"/instances/{expense}/print").status_code == 200  # li holds its approval task
    assert outsider.get(f"/instances/{expense}/print.pdf").status_code == 404
    pdf = manager.get(f"/instances/{expense}/print.pdf")
    if records.pdf_available():  # the optional `pdf` extra (WeasyPrint) is installed
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")
        page = manager.get(f"/instances/{expense}/print").get_data(as_text=True)
        assert f'href="/instances/{expense}/print.pdf"' in page
    else:
        assert pdf.status_code == 404
