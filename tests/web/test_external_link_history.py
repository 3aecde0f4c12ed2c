"""The buyer's instance page says, in their language, when no link could be sent to the supplier."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update

from engine import runtime
from engine.data.models import Person
from engine.packages import deployment as packages
from tests.engine.portal.support import add_party, deploy_supplier_order_only
from tests.web.conftest import sign_in

VISITOR_BOOKING = Path(__file__).resolve().parents[2] / "processes" / "visitor_booking"


def test_the_instance_page_shows_why_no_link_was_sent(app, sessions, people):
    deploy_supplier_order_only(sessions)
    add_party(sessions, key="ACME", active=False)
    instance_id = runtime.start_instance(sessions, "supplier_order", {
        "po_number": "PO-5", "supplier": "ACME", "items": "x", "amount": 1, "delivery_date": "2026-12-20"},
        "zhang").instance_id
    client = app.test_client()
    sign_in(client, "zhang")
    with sessions() as session, session.begin():
        session.execute(update(Person).where(Person.username == "zhang").values(locale="zh"))
    page = client.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "未能向外部方发送链接" in page and "没有编码为 ACME 的有效供应商，未发送链接" in page
    add_party(sessions, key="BETA")
    sent = runtime.start_instance(sessions, "supplier_order", {
        "po_number": "PO-6", "supplier": "BETA", "items": "x", "amount": 1, "delivery_date": "2026-12-20"},
        "zhang").instance_id
    assert "已向外部方发送链接" in client.get(f"/instances/{sent}").get_data(as_text=True)


def test_the_instance_page_says_the_supplier_does_the_waiting_step_in_the_portal(app, sessions, people):
    deploy_supplier_order_only(sessions)
    add_party(sessions, key="ACME")
    instance_id = runtime.start_instance(sessions, "supplier_order", {
        "po_number": "PO-7", "supplier": "ACME", "items": "x", "amount": 1, "delivery_date": "2026-12-20"},
        "zhang").instance_id
    client = app.test_client()
    sign_in(client, "zhang")
    page = client.get(f"/instances/{instance_id}?lang=zh").get_data(as_text=True)
    assert "供应商（在门户中处理）" in page and "ext:supplier" not in page
    page = client.get(f"/instances/{instance_id}?lang=en").get_data(as_text=True)
    assert "the supplier, in the portal" in page and "ext:supplier" not in page


def test_a_step_skipped_because_the_requester_would_approve_it_reads_as_a_sentence(app, sessions, people):
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(VISITOR_BOOKING), "admin")
    instance_id = runtime.start_instance(sessions, "visitor_booking", {
        "visitor_name": "李雷", "visitor_phone": "13800138000", "visitor_email": "lilei@example.com",
        "visit_start": "2030-05-20T09:00", "visit_end": "2030-05-20T11:00", "purpose": "交流", "host": "zhang"},
        "zhang").instance_id
    client = app.test_client()
    sign_in(client, "zhang")
    page = client.get(f"/instances/{instance_id}?lang=zh").get_data(as_text=True)
    assert "审批人即发起人本人，此步骤已自动跳过。" in page and "self-approval" not in page
