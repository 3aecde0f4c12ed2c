"""The supplier order end to end in headless Chromium, the supplier on a phone (390x844): a buyer raises a
PO, the link is read from the outbox e-mail, the supplier opens it, proposes another date; the buyer
accepts it on the employee task page; the supplier sees the confirmed milestone. Then the entry page on
a phone in en, and the case page at 1280 px in en. Nothing is wider than the screen.

With LIAISON_SCREENSHOTS=1 the run saves docs/screenshots/portal-case-zh-390.png, portal-task-zh-390.png,
portal-entry-en-390.png and portal-case-en-1280.png (else into a temporary folder).
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from engine import runtime
from engine.bpmn.workflow import company_zone
from engine.data import db, store
from engine.data.external_models import ExternalContact, ExternalParty
from engine.data.models import OutboxMessage, ProcessInstance, WorkTask, utcnow
from engine.external import grants, passes
from engine.packages import deployment as packages
from engine.people import accounts
from engine.work import reception
from tests.browser_support import chromium, serving
from web import create_app

from .conftest import PASSWORD

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
LINK = re.compile(r"/portal/s/([A-Za-z0-9_-]+)")
STORE: dict = {}
OVERFLOW = "() => document.documentElement.scrollWidth"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """supplier_order deployed; zhang (张三) is the buyer; supplier ACME has a contact."""
    url = f"sqlite:///{tmp_path_factory.mktemp('portal') / 'liaison.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        accounts.create_person_account(session, "zhang", "张三", PASSWORD, name_en="Zhang San")
        party = session.execute(insert(ExternalParty).values(kind="supplier", key="ACME", name="艾克美精密",
                                                             name_en="ACME Precision", active=True)
                                .returning(ExternalParty.id)).scalar_one()
        session.execute(insert(ExternalContact).values(party_id=party, name="吴工", email="wu@acme.example",
                                                       locale="zh"))
    packages.deploy_package(sessions, packages.load_package(ROOT / "processes" / "supplier_order"), "admin")
    packages.deploy_package(sessions, packages.load_package(ROOT / "processes" / "visitor_booking"), "admin")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "portal-browser-test"})
    STORE["sessions"] = sessions
    with serving(app) as base:
        yield base
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    if os.environ.get("LIAISON_SCREENSHOTS") == "1":
        folder = ROOT / "docs" / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return tmp_path_factory.mktemp("portal-shots")


def _latest_link(instance_id: int) -> str:
    with STORE["sessions"]() as session:
        payload = session.scalars(select(OutboxMessage.payload).where(
            OutboxMessage.instance_id == instance_id, OutboxMessage.event == "external_link",
            OutboxMessage.channel == "email").order_by(OutboxMessage.id.desc()).limit(1)).one()
    return LINK.search(json.dumps(payload)).group(0)


def _open_task(instance_id: int, element_id: str) -> str:
    with STORE["sessions"]() as session:
        return session.scalars(select(WorkTask.id).where(WorkTask.instance_id == instance_id,
                                                         WorkTask.element_id == element_id,
                                                         WorkTask.status == "open")).one()


def _context(browser, viewport: dict, locale: str):
    phone = viewport["width"] < 600
    context = browser.new_context(viewport=viewport, locale=locale, device_scale_factor=2 if phone else 1,
                                  is_mobile=phone, has_touch=phone)
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    return context, page, problems


def _fits(page, width: int) -> None:
    assert page.evaluate(OVERFLOW) <= width, f"wider than {width}px: {page.url}"


def test_the_supplier_order_end_to_end_on_a_phone(site, browser, shots):
    base = site
    sessions = STORE["sessions"]
    instance_id = runtime.start_instance(sessions, "supplier_order", {
        "po_number": "PO-2026-0042", "supplier": "ACME", "items": "M8 不锈钢螺栓 × 5000\nM8 螺母 × 5000",
        "amount": 12800, "delivery_date": "2026-12-20"}, "zhang", business_key="PO-2026-0042").instance_id
    link = _latest_link(instance_id)

    # the supplier opens the e-mailed link on a phone (zh)
    context, page, problems = _context(browser, PHONE, "zh-CN")
    try:
        page.goto(base + link)
        page.wait_for_url(re.compile(rf"/portal/cases/{instance_id}$"))
        assert page.locator("#case-title").inner_text() == "采购订单（供应商确认）"
        assert page.locator("#business-key").inner_text() == "PO-2026-0042"
        assert page.locator("#milestones .milestone.done").first.inner_text().startswith("下单")
        assert page.locator("#open-step").is_visible()
        assert page.context.cookies()[0]["httpOnly"] is True
        _fits(page, 390)
        page.screenshot(path=str(shots / "portal-case-zh-390.png"), full_page=True)

        page.click("#open-step")
        page.wait_for_url(re.compile(r"/portal/tasks/"))
        assert page.locator("#task-title").inner_text() == "供应商确认"
        page.check("input[name=answer][value=propose]")
        page.fill("input[name=proposed_date]", "2026-12-28")
        page.set_input_files("#answer_files-upload", files=[  # the signed confirmation goes with the answer
            {"name": "订单确认函.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 signed"}])
        page.wait_for_selector(".upload-list li.upload-done")
        _fits(page, 390)
        page.screenshot(path=str(shots / "portal-task-zh-390.png"), full_page=True)
        page.click("#submit-task")
        page.wait_for_url(re.compile(rf"/portal/cases/{instance_id}$"))
        assert "您的答复已提交" in page.locator(".flashes").inner_text()
        assert page.locator("#open-step").count() == 0
        # nothing on the timeline is "now": the page says whose move it is (the step's name, nobody's name)
        assert page.locator("#with-us-title").inner_text() == "当前由我方处理：审核建议交期"
        assert "2026-12-28" in page.locator("#fields").inner_text()
        assert "订单确认函.pdf" in page.locator("#fields").inner_text()
        assert not problems, problems
    finally:
        context.close()

    # the buyer accepts the proposed date on the employee task page
    review = _open_task(instance_id, "review_date")
    buyer, buyer_page, buyer_problems = _context(browser, DESKTOP, "zh-CN")
    try:
        buyer_page.goto(f"{base}/login")
        buyer_page.fill("#username", "zhang")
        buyer_page.fill("#password", PASSWORD)
        buyer_page.click("main form button[type=submit]")
        buyer_page.wait_for_url(re.compile(r"^(?!.*/login).*$"))
        buyer_page.goto(f"{base}/tasks/{review}")
        assert "ext:grant:" not in buyer_page.content()  # the supplier appears by name, not as an identity
        buyer_page.check("input[name=accept_date][value=true]")
        buyer_page.click("#submit-task")
        buyer_page.wait_for_url(re.compile(r"/inbox"))
        assert not buyer_problems, buyer_problems
    finally:
        buyer.close()
    with sessions() as session:
        assert store.read_process_data(session, instance_id)["delivery_date"] == "2026-12-28"

    # the supplier (the same phone, signed in again with the newest link) sees the confirmed milestone
    context, page, problems = _context(browser, PHONE, "zh-CN")
    try:
        page.goto(base + _latest_link(instance_id))
        page.wait_for_url(re.compile(rf"/portal/cases/{instance_id}$"))
        confirmed = page.locator("#milestones .milestone[data-element=order_confirmed]")
        assert "done" in confirmed.get_attribute("class")
        assert page.locator("#open-step").is_visible()  # now: report the shipment
        _fits(page, 390)
        assert not problems, problems
    finally:
        context.close()

    # the entry page on a phone in en; the case page at 1280 px in en
    context, page, problems = _context(browser, PHONE, "en-US")
    try:
        page.goto(f"{base}/portal/")
        assert page.locator("#code-title").inner_text() == "Enter your invitation code"
        assert page.evaluate("document.activeElement.id") == "code"
        _fits(page, 390)
        page.screenshot(path=str(shots / "portal-entry-en-390.png"), full_page=True)
        page.fill("#code", "ABCD-EFGH")
        page.click("#enter-code-button")
        assert page.locator("#refused-title").inner_text() == "This link or code is not valid."
        assert page.locator("input[name=password]").count() == 0
        assert not problems or all("404" in p for p in problems), problems
    finally:
        context.close()
    context, page, problems = _context(browser, DESKTOP, "en-US")
    try:
        page.goto(base + _latest_link(instance_id))
        page.wait_for_url(re.compile(rf"/portal/cases/{instance_id}$"))
        assert page.locator("#case-title").inner_text() == "Purchase order (supplier confirmation)"
        assert page.locator("#open-step").inner_text() == "Open the step"
        assert page.locator("#with-us").count() == 0  # a step waits for them: that is what the page says
        lefts = {round(box["x"]) for box in (v.bounding_box() for v in page.locator("#fields .lf-value").all())}
        assert len(lefts) == 1, lefts  # the details are one column of label and value, not squeezed in pairs
        _fits(page, 1280)
        page.screenshot(path=str(shots / "portal-case-en-1280.png"), full_page=True)
        page.click("#portal-sign-out")
        page.wait_for_url(re.compile(r"/portal/$"))
        page.goto(f"{base}/portal/cases/{instance_id}")
        assert page.locator("#refused-title").is_visible()
        assert not problems or all("403" in p for p in problems), problems
    finally:
        context.close()


VISIT = {"visitor_name": "安娜", "visitor_company": "北欧测量", "visitor_phone": "+86 138 0000 0000",
         "visitor_email": "anna@example.com", "visit_start": "2030-05-21T14:00", "visit_end": "2030-05-21T15:30",
         "purpose": "供应商审核"}


def test_a_visitor_asks_for_a_visit_with_a_code_and_shows_the_pass_on_a_phone(site, browser, shots):
    """The visitor's whole visit with only a code and the portal: asks on a phone (zh), the host (the code's
    issuer) approves, the pass with its QR appears on the case page, reception checks the visitor in and
    out with the pass's code, and the visitor follows it (en, desktop)."""
    base = site
    sessions = STORE["sessions"]
    with sessions() as session, session.begin():
        _id, code = grants.issue_code(session.connection(), scopes=["submit", "view"],
                                      valid_until=utcnow() + timedelta(days=3), process_key="visitor_booking",
                                      created_by="zhang")
    begins = datetime.now(company_zone()).replace(second=0, microsecond=0) - timedelta(minutes=5)
    slot = {"visit_start": begins.strftime("%Y-%m-%dT%H:%M"),
            "visit_end": (begins + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")}
    context, page, problems = _context(browser, PHONE, "zh-CN")
    try:
        page.goto(f"{base}/portal/")
        page.fill("#code", code.lower())
        page.click("#enter-code-button")
        page.wait_for_url(re.compile(r"/portal/new/visitor_booking$"))
        assert page.locator("input[name=host]").count() == 0  # the code's issuer is the host
        for name in ("visitor_name", "visitor_company", "visitor_phone", "visitor_email"):
            page.fill(f"[name={name}]", VISIT[name])
        page.fill("[name=visit_start]", slot["visit_start"])
        page.fill("[name=visit_end]", slot["visit_end"])
        page.fill("[name=purpose]", VISIT["purpose"])
        _fits(page, 390)
        page.screenshot(path=str(shots / "portal-visit-request-zh-390.png"), full_page=True)
        page.click("#submit-start")
        page.wait_for_url(re.compile(r"/portal/cases/\d+$"))
        instance_id = int(page.url.rsplit("/", 1)[1])
        assert "已提交" in page.locator(".flashes").inner_text()
        assert "安娜" in page.locator("#fields").inner_text()
        assert page.locator(".pass-qr svg").count() == 0  # no pass before the host agrees
        assert page.locator("#with-us-title").inner_text() == "当前由我方处理：被访人确认"  # whose move it is
        with sessions() as session:
            assert store.read_process_data(session, instance_id)["host"] == "zhang"
        runtime.complete_task(sessions, _open_task(instance_id, "host_approval"), "zhang", {"approved": True})
        page.reload()
        assert page.locator(".pass-qr svg").is_visible()
        assert page.locator("#with-us").count() == 0  # the timeline's "now" (check-in at reception) says it
        shown = page.locator("#pass-code").inner_text()
        assert shown == grants.format_code(passes.pass_code(_open_task(instance_id, "check_in")))
        _fits(page, 390)
        assert not problems, problems
    finally:
        context.close()
    desk = ("reception",)
    reception.check_in(sessions, "zhou", desk, shown, utcnow(), lang="zh")
    reception.check_out(sessions, "zhou", desk, shown, utcnow(), lang="zh")
    context, page, problems = _context(browser, DESKTOP, "en-US")
    try:  # the same code, typed again on a computer, opens the visit's pass page: now used
        page.goto(f"{base}/portal/pass?code={shown}")
        assert "Checked out" in page.locator("main").inner_text()
        assert not problems, problems
    finally:
        context.close()
    with sessions() as session:
        assert session.get(ProcessInstance, instance_id).status == "completed"


def test_an_invited_visitors_pass_page(site, browser, shots):
    """An employee invites a visitor: the pass e-mail links to the pass page, which shows the code and QR."""
    base = site
    sessions = STORE["sessions"]
    invited = runtime.start_instance(sessions, "visitor_booking", {**VISIT, "host": "zhang"}, "zhang").instance_id
    code = passes.pass_code(_open_task(invited, "check_in"))
    context, page, problems = _context(browser, PHONE, "zh-CN")
    try:
        page.goto(f"{base}/portal/pass?code={code}")
        assert page.locator("#pass-code").inner_text() == grants.format_code(code)
        assert page.locator(".pass-qr svg").is_visible()
        assert "张三" in page.locator(".pass-facts").inner_text()
        _fits(page, 390)
        page.screenshot(path=str(shots / "portal-pass-zh-390.png"), full_page=True)
        page.goto(f"{base}/portal/pass?code=AAAA-AAAA")
        assert page.locator("#refused-title").inner_text() == "此通行码无效。"
    finally:
        context.close()


def test_the_entry_pages_example_code_is_not_broken_at_its_hyphen_on_a_phone(site, browser):
    context, page, problems = _context(browser, PHONE, "zh-CN")
    try:
        page.goto(f"{site}/portal/")
        example = page.locator("#enter-code .hint .portal-nowrap")
        assert example.inner_text() == "ABCD-EFGH"
        assert example.evaluate("e => e.getClientRects().length") == 1  # one line box: "ABCD-" / "EFGH" was two
        _fits(page, 390)
        assert not problems, problems
    finally:
        context.close()
