"""The customer request end to end in headless Chromium, the customer using only the portal.

A contact of customer HUAXIN signs in on a phone (390x844, zh) with the 6-digit code read from the outbox
e-mail, submits a new request (type, a two-line description, an uploaded attachment, a desired date) and
sees it on the case page and in their list. The employees act through the engine (their task pages are
walked by other browser tests): the service desk (wang, role service_desk) triages to a team and the owner
li, who plans the milestones (a table) and reports progress; the customer, still on the phone, sees the
plan and the progress note; li reports it delivered. The customer opens the acceptance link of the
outbox e-mail in a fresh browser (en, 1280 wide), sees the milestones, accepts with 4 stars and a
comment; the case shows finished and the instance's data holds the acceptance and the rating.

With LIAISON_SCREENSHOTS=1 the run saves docs/screenshots/portal-customer-new-zh-390.png,
portal-customer-case-zh-390.png and portal-customer-accept-en-1280.png (else into a temporary folder).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from engine import runtime
from engine.data import db, store
from engine.data.models import OutboxMessage, PersonRole, ProcessInstance, Role, WorkTask
from engine.external import parties
from engine.packages import deployment as packages
from engine.people import accounts
from forms.schema import load_schema
from tests.browser_support import chromium, serving
from web import create_app
from web.work import readonly_form

from .conftest import PASSWORD, sign_in

ROOT = Path(__file__).resolve().parents[2]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
LINK = re.compile(r"/portal/s/([A-Za-z0-9_-]+)")
EMAIL = "chen@huaxin.example"
OVERFLOW = "() => document.documentElement.scrollWidth"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """customer_request deployed; wang (王五) is the service desk, li (李四) an owner; customer HUAXIN has
    the contact 陈经理 (zh)."""
    folder = tmp_path_factory.mktemp("portal-customer")
    url = f"sqlite:///{folder / 'liaison.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        wang = accounts.create_person_account(session, "wang", "王五", PASSWORD, name_en="Wang Wu")
        accounts.create_person_account(session, "li", "李四", PASSWORD, name_en="Li Si")
        role = Role(key="service_desk", name="服务台")
        session.add(role)
        session.flush()
        session.add(PersonRole(person_id=wang.id, role_id=role.id))
        conn = session.connection()
        party = parties.create_party(conn, kind="customer", key="HUAXIN", name="华信电子", name_en="Huaxin Electronics")
        parties.add_contact(conn, party, name="陈经理", email=EMAIL, locale="zh")
    packages.deploy_package(sessions, packages.load_package(ROOT / "processes" / "customer_request"), "admin")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "portal-customer-browser",
                      "LIAISON_UPLOAD_DIR": str(folder / "uploads")})
    with serving(app) as base:
        yield base, sessions
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
    return tmp_path_factory.mktemp("portal-customer-shots")


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


def _outbox_text(sessions, event: str, instance_id: int | None = None) -> str:
    """The newest e-mail of `event` (of the instance), as JSON text."""
    query = select(OutboxMessage.payload).where(OutboxMessage.event == event, OutboxMessage.channel == "email")
    if instance_id is not None:
        query = query.where(OutboxMessage.instance_id == instance_id)
    with sessions() as session:
        payload = session.scalars(query.order_by(OutboxMessage.id.desc()).limit(1)).one()
    return json.dumps(payload, ensure_ascii=False)


def _open_task(sessions, instance_id: int, element_id: str) -> WorkTask:
    with sessions() as session:
        return session.scalars(select(WorkTask).where(WorkTask.instance_id == instance_id,
                                                      WorkTask.element_id == element_id,
                                                      WorkTask.status == "open")).one()


def _plan(*statuses: str) -> list[dict]:
    titles = (("现场诊断", "2030-01-05"), ("更换送纸器", "2030-01-12"))
    return [{"title": t, "due_date": d, "status": s} for (t, d), s in zip(titles, statuses, strict=True)]


@pytest.mark.browser
def test_a_customer_submits_follows_and_accepts_a_request_in_the_portal(site, browser, shots):
    base, sessions = site

    # 1. the contact signs in on a phone (zh) with the e-mailed code and submits a request
    context, page, problems = _context(browser, PHONE, "zh-CN")
    try:
        page.goto(f"{base}/portal/")
        page.fill("#email", EMAIL)
        page.click("#send-code-button")
        page.wait_for_selector("#sign-in-code-input")
        code = re.search(r"\b(\d{6})\b", json.loads(_outbox_text(sessions, "external_sign_in"))["text"]).group(1)
        page.fill("#sign-in-code-input", code)
        page.click("#sign-in-button")
        page.wait_for_url(re.compile(r"/portal/$"))
        assert page.locator("#no-cases").is_visible()
        page.click("#new-request")
        page.click("#startable a:has-text('客户服务请求')")
        page.wait_for_url(re.compile(r"/portal/new/customer_request$"))
        assert page.locator("#start-title").inner_text() == "客户服务请求"
        assert page.locator("[name=customer]").count() == 0  # the portal fills in the contact's own party
        page.select_option("#request_type", "incident")
        page.fill("#description", "2号线标签打印机每小时卡纸一次。\n已更换纸卷，问题依旧。")
        page.set_input_files("#attachments-upload", files=[
            {"name": "卡纸照片.png", "mimeType": "image/png", "buffer": b"\x89PNG\r\n\x1a\n jammed label"}])
        page.wait_for_selector(".upload-list li.upload-done")
        page.fill("#desired_date", "2030-01-15")
        _fits(page, 390)
        page.screenshot(path=str(shots / "portal-customer-new-zh-390.png"), full_page=True)
        page.click("#submit-start")
        page.wait_for_url(re.compile(r"/portal/cases/\d+$"))
        instance_id = int(page.url.rsplit("/", 1)[1])
        assert "已提交" in page.locator(".flashes").inner_text()
        fields = page.locator("#fields").inner_text()
        assert "故障报修" in fields and "2号线标签打印机每小时卡纸一次。\n已更换纸卷，问题依旧。" in fields
        assert "2030-01-15" in fields
        assert "lf-value" not in fields  # the file field's markup is markup, not text
        attachment = page.locator("#fields a:has-text('卡纸照片.png')")
        assert attachment.get_attribute("href").startswith("/portal/files/")
        assert "done" in page.locator("#milestones .milestone[data-element=request_submitted]").get_attribute("class")
        with sessions() as session:
            data = store.read_process_data(session, instance_id)
        assert data["customer"] == "HUAXIN" and data["request_no"].startswith("CR-")
        assert [ref["name"] for ref in data["attachments"]] == ["卡纸照片.png"]
        page.click(".portal-back a")
        page.wait_for_url(re.compile(r"/portal/$"))
        assert data["request_no"] in page.locator(f"#cases a[href='/portal/cases/{instance_id}']").inner_text()
        assert not problems, problems

        # 2. the employees act: the service desk triages, the owner plans and reports progress
        triage = _open_task(sessions, instance_id, "triage")
        assert triage.assignee is None
        runtime.complete_task(sessions, triage.id, "wang", {"team": "support", "owner": "li",
                                                            "triage_note": "需要上门"}, groups=("service_desk",))
        plan = _open_task(sessions, instance_id, "plan_delivery")
        assert plan.assignee == "li"
        runtime.complete_task(sessions, plan.id, "li", {"delivery_plan": _plan("planned", "planned")})
        runtime.complete_task(sessions, _open_task(sessions, instance_id, "report_progress").id, "li", {
            "delivery_plan": _plan("done", "in_progress"), "percent_done": 50,
            "progress_note": "已诊断：送纸辊磨损，备件已订购。", "delivered": False})

        # the customer, still on the phone, sees the plan and the progress
        page.goto(f"{base}/portal/cases/{instance_id}")
        assert "done" in page.locator("#milestones .milestone[data-element=plan_delivery]").get_attribute("class")
        assert page.locator("#open-step").count() == 0
        fields = page.locator("#fields").inner_text()
        assert "更换送纸器" in fields and "进行中" in fields and "送纸辊磨损" in fields and "50" in fields
        assert "需要上门" not in fields  # the triage note stays internal
        _fits(page, 390)
        page.screenshot(path=str(shots / "portal-customer-case-zh-390.png"), full_page=True)
        assert not problems, problems
    finally:
        context.close()

    runtime.complete_task(sessions, _open_task(sessions, instance_id, "report_progress").id, "li", {
        "delivery_plan": _plan("done", "done"), "percent_done": 100,
        "progress_note": "送纸器已更换，连续运行一个班次无卡纸。", "delivered": True})
    link = LINK.search(_outbox_text(sessions, "external_link", instance_id)).group(0)

    # 3. the customer opens the acceptance link from the e-mail in a fresh browser (en, 1280 wide)
    context, page, problems = _context(browser, DESKTOP, "en-US")
    try:
        page.goto(base + link)
        page.wait_for_url(re.compile(rf"/portal/cases/{instance_id}$"))
        for element in ("request_submitted", "triage", "plan_delivery", "report_progress"):
            assert "done" in page.locator(f"#milestones .milestone[data-element={element}]").get_attribute("class")
        assert "current" in page.locator("#milestones .milestone[data-element=confirm_acceptance]").get_attribute(
            "class")
        assert "Replace" not in page.locator("#fields").inner_text()  # the plan as the owner wrote it
        assert "更换送纸器" in page.locator("#fields").inner_text()
        page.click("#open-step")
        page.wait_for_url(re.compile(r"/portal/tasks/"))
        assert page.locator("#task-title").inner_text() == "Acceptance"
        assert page.locator("#description").inner_text().splitlines() == [  # read-only, with its line break
            "2号线标签打印机每小时卡纸一次。", "已更换纸卷，问题依旧。"]
        page.check("input[name=acceptance][value=accept]")
        page.click("label[for=rating-opt-4]")  # the 4th star, as a person clicks it
        page.fill("#rating_comment", "Quick and tidy work.\nThank you!")
        _fits(page, 1280)
        page.screenshot(path=str(shots / "portal-customer-accept-en-1280.png"), full_page=True)
        page.click("#submit-task")
        page.wait_for_url(re.compile(rf"/portal/cases/{instance_id}$"))
        assert page.locator("#case-status").inner_text() == "Finished"
        assert page.locator("#open-step").count() == 0
        assert "done" in page.locator("#milestones .milestone[data-element=request_closed]").get_attribute("class")
        assert "★★★★☆ (4/5)" in page.locator("#fields").inner_text()  # the rating, as the customer gave it
        assert not problems, problems
    finally:
        context.close()
    with sessions() as session:
        data = store.read_process_data(session, instance_id)
        status = session.scalars(select(ProcessInstance.status).where(ProcessInstance.id == instance_id)).one()
    assert status == "completed"
    assert (data["acceptance"], data["rating"]) == ("accept", 4)
    assert data["rating_comment"].splitlines() == ["Quick and tidy work.", "Thank you!"]  # a textarea posts CRLF


def test_the_owner_s_task_page_shows_the_plan_and_a_read_only_file_field_links_its_files(app, sessions, people):
    """Without a browser: a task page whose form has a table with rows renders (the people labels read the
    rows' cells), and a read-only file field shows its files as links inside the value, not as text."""
    packages.deploy_package(sessions, packages.load_package(ROOT / "processes" / "customer_request"), "admin")
    with sessions() as session, session.begin():
        parties.create_party(session.connection(), kind="customer", key="HUAXIN", name="华信电子")
    instance_id = runtime.start_instance(sessions, "customer_request", {
        "customer": "HUAXIN", "request_type": "incident", "description": "卡纸", "desired_date": "2030-01-15"},
        "zhang").instance_id
    runtime.complete_task(sessions, _open_task(sessions, instance_id, "triage").id, "zhang",
                          {"team": "support", "owner": "li"}, groups=("service_desk",))
    runtime.complete_task(sessions, _open_task(sessions, instance_id, "plan_delivery").id, "li",
                          {"delivery_plan": _plan("planned", "planned")})
    client = app.test_client()
    sign_in(client, "li")
    shown = client.get(f"/tasks/{_open_task(sessions, instance_id, 'report_progress').id}")
    assert shown.status_code == 200
    assert "更换送纸器" in shown.get_data(as_text=True)

    schema = load_schema(yaml.safe_load((ROOT / "processes" / "customer_request" / "forms" /
                                         "customer_request.yaml").read_text(encoding="utf-8")))
    with app.test_request_context("/portal/"):
        html = str(readonly_form(schema, {"attachments": [{"id": "f1", "name": "照片.png", "size": 21}]}, "zh",
                                 hide=[f["name"] for f in schema.fields if f["name"] != "attachments"],
                                 download_endpoint="portal.download"))
    assert '<div class="lf-value" id="attachments"' in html and "&lt;div" not in html
    assert '<a href="/portal/files/f1" download>照片.png</a>' in html
