"""The shipped customer_request package through the portal's engine side: a customer's contact submits,
follows the milestones and the delivery plan on the progress page, gets the acceptance link by e-mail,
sends the delivery back, then accepts it with a rating."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from engine import runtime
from engine.data.external_models import ExternalCase
from engine.data.models import Notification, OutboxMessage, WorkTask
from engine.errors import FormInvalidError
from engine.external import parties
from engine.external.identity import Principal, contact_identity
from engine.packages import deployment as packages
from engine.work import inbox, portal
from tests.conftest import add_people

PACKAGE = Path(__file__).resolve().parents[3] / "processes" / "customer_request"
PLAN = [{"title": "On-site diagnosis", "due_date": "2026-12-10", "status": "planned"},
        {"title": "Replace the feeder", "due_date": "2026-12-15", "status": "in_progress"}]


@pytest.fixture
def customer(sessions):
    """customer_request deployed; customer HUAXIN with a contact who reads Chinese: (sessions, principal)."""
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(PACKAGE), "admin")
    add_people(sessions, "wang", "li")
    with sessions() as session, session.begin():
        conn = session.connection()
        party_id = parties.create_party(conn, kind="customer", key="HUAXIN", name="华信电子", name_en="Huaxin")
        contact_id = parties.add_contact(conn, party_id, name="陈工", email="chen@huaxin.example", locale="zh")
    return sessions, Principal(identity=contact_identity(contact_id), kind="customer", party_id=party_id,
                               contact_id=contact_id)


def _task(sessions, instance_id: int) -> tuple[str, str]:
    with sessions() as session:
        row = session.execute(select(WorkTask.id, WorkTask.element_id).where(
            WorkTask.instance_id == instance_id, WorkTask.status == "open")).one()
    return row.id, row.element_id


def _deliver(sessions, instance_id: int, note: str) -> None:
    task_id, element = _task(sessions, instance_id)
    assert element == "report_progress"
    runtime.complete_task(sessions, task_id, "li", {
        "delivery_plan": [{**row, "status": "done"} for row in PLAN], "percent_done": 100, "progress_note": note,
        "delivered": True})


def _statuses(view) -> list[tuple[str, str]]:
    return [(m.element_id, m.status) for m in view.milestones]


def test_a_customer_submits_follows_the_milestones_sends_back_and_accepts(customer):
    sessions, chen = customer
    with sessions() as session:
        assert [p["key"] for p in portal.startable(session, chen, "zh")] == ["customer_request"]
    with pytest.raises(FormInvalidError):  # the start form applies in the portal too
        portal.start_request(sessions, chen, "customer_request", {"request_type": "incident"}, "en")
    instance_id = portal.start_request(sessions, chen, "customer_request", {
        "customer": "SOMEONE", "request_type": "incident", "description": "Printer jams",
        "desired_date": "2026-12-20"}, "en")
    with sessions() as session:
        case = session.get(ExternalCase, instance_id)
        assert (case.party_id, case.contact_id, case.kind) == (chen.party_id, chen.contact_id, "customer")
        view = portal.case_view(session, chen, instance_id, "en")
    assert _statuses(view) == [("request_submitted", "done"), ("triage", "current"), ("plan_delivery", "upcoming"),
                               ("report_progress", "upcoming"), ("confirm_acceptance", "upcoming"),
                               ("request_closed", "upcoming")]
    fields = {f.name: f for f in view.fields}
    assert fields["request_no"].value.startswith("CR-") and fields["request_type"].value == "incident"
    assert fields["description"].label == "Description" and view.task is None  # nothing waits for the customer
    assert not {"customer", "team", "owner", "triage_note"} & set(fields)

    triage, _ = _task(sessions, instance_id)
    runtime.complete_task(sessions, triage, "wang", {"team": "support", "owner": "li", "triage_note": "internal"},
                          groups=("service_desk",))
    plan, element = _task(sessions, instance_id)
    assert element == "plan_delivery"
    runtime.complete_task(sessions, plan, "li", {"delivery_plan": PLAN})
    with sessions() as session:
        view = portal.case_view(session, chen, instance_id, "zh")
    shown = {f.name: f for f in view.fields}["delivery_plan"]
    assert shown.label == "交付里程碑" and shown.type == "table"
    assert [(r["title"], r["due_date"], r["status"]) for r in shown.value] == [
        ("On-site diagnosis", "2026-12-10", "planned"), ("Replace the feeder", "2026-12-15", "in_progress")]
    assert dict(_statuses(view))["plan_delivery"] == "done" and dict(_statuses(view))["report_progress"] == "current"

    _deliver(sessions, instance_id, "Feeder replaced")
    with sessions() as session:
        [mail] = session.scalars(select(OutboxMessage).where(OutboxMessage.instance_id == instance_id,
                                                             OutboxMessage.event == "external_link")).all()
        view = portal.case_view(session, chen, instance_id, "zh")
        form = portal.external_task(session, chen, view.task["id"], "zh")
    assert mail.recipient == "chen@huaxin.example" and mail.payload["subject"].startswith("服务请求 CR-")
    assert "/portal/s/" in mail.payload["text"]
    assert view.task["name"] == "客户验收" and form.values["progress_note"] == "Feeder replaced"
    assert not {"team", "owner", "triage_note", "customer"} & set(form.values)
    with pytest.raises(FormInvalidError) as no_reason:
        portal.complete(sessions, chen, view.task["id"], {"acceptance": "send_back"}, lang="en")
    assert "send_back_reason" in no_reason.value.errors
    portal.complete(sessions, chen, view.task["id"], {"acceptance": "send_back",
                                                      "send_back_reason": "Still jams on thick labels"}, lang="zh")
    with sessions() as session:
        view = portal.case_view(session, chen, instance_id, "en")
    assert dict(_statuses(view))["report_progress"] == "current" and view.task is None
    assert {f.name: f.value for f in view.fields}["send_back_reason"] == "Still jams on thick labels"

    with sessions() as session:  # the owner hears of the rework with the customer's reason
        reworks = session.scalars(select(Notification).where(
            Notification.instance_id == instance_id, Notification.recipient == "li",
            Notification.event == "task_assigned").order_by(Notification.id)).all()
    assert reworks[-1].title.startswith("Customer request CR-") or reworks[-1].title.startswith("客户请求 CR-")
    assert "(HUAXIN)" in reworks[-1].title or "（HUAXIN）" in reworks[-1].title
    assert "Still jams on thick labels" in reworks[-1].body
    _deliver(sessions, instance_id, "Pressure roller adjusted for thick labels")
    task_id, element = _task(sessions, instance_id)
    assert element == "confirm_acceptance"
    with pytest.raises(FormInvalidError) as no_rating:
        portal.complete(sessions, chen, task_id, {"acceptance": "accept"}, lang="en")
    assert "rating" in no_rating.value.errors
    portal.complete(sessions, chen, task_id, {"acceptance": "accept", "rating": 5, "rating_comment": "Thanks"})
    with sessions() as session:
        view = portal.case_view(session, chen, instance_id, "en")
    assert view.outcome == "finished" and {m.status for m in view.milestones} == {"done"}
    assert {f.name: f.value for f in view.fields}["rating"] == 5


def test_a_request_an_employee_records_for_a_customer_is_the_customers_case_from_its_start(customer):
    """The service desk takes a request by phone: the customer's contacts follow it at once, before any
    step waits for them (the case is made at the start, not only when a link is issued)."""
    sessions, contact = customer
    instance_id = runtime.start_instance(sessions, "customer_request", {
        "customer": "HUAXIN", "request_type": "incident", "description": "电话报修：扫描仪离线",
        "desired_date": "2030-01-10"}, "wang").instance_id
    with sessions() as session:
        assert [c.id for c in portal.cases(session, contact, "zh").items] == [instance_id]
        assert session.get(ExternalCase, instance_id).party_id == contact.party_id
        assert portal.case_view(session, contact, instance_id, "zh").task is None  # nothing waits for them yet


def test_the_service_desk_inbox_names_the_customer_contact_who_submitted(customer):
    sessions, chen = customer
    portal.start_request(sessions, chen, "customer_request", {
        "request_type": "incident", "description": "Printer jams", "desired_date": "2026-12-20"}, "zh")
    with sessions() as session:
        [item] = inbox.todo(session, "wang", ["service_desk"], lang="zh").items
        rows = inbox.export_csv([item], lang="zh").splitlines()
    assert item.initiator_name == "华信电子 · 陈工" and "华信电子 · 陈工" in rows[1]


def test_the_progress_page_heads_a_case_without_business_key_with_its_request_number(customer):
    sessions, chen = customer
    instance_id = portal.start_request(sessions, chen, "customer_request", {
        "request_type": "incident", "description": "Printer jams", "desired_date": "2026-12-20"}, "zh")
    with sessions() as session:
        view = portal.case_view(session, chen, instance_id, "zh")
        [item] = portal.cases(session, chen, "zh").items
    assert view.business_key.startswith("CR-") and view.business_key == item.business_key
