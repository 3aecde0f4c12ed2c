"""External tasks of a visitor (no party: the address in the data) and the package's webhook channels."""

from __future__ import annotations

import yaml
from sqlalchemy import select

from engine import runtime
from engine.data.external_models import ExternalCase
from engine.data.models import OutboxMessage
from engine.packages import deployment as packages
from tests.engine.conftest import flow, write_package
from tests.engine.portal.support import add_party, emails, grants, history

VISIT = (f'<bpmn:startEvent id="start" liaison:form="visit"/>'
         f'<bpmn:userTask id="visitor_details" liaison:external="visitor" liaison:form="visit"/>'
         f'<bpmn:endEvent id="done"/>{flow("start", "visitor_details")}{flow("visitor_details", "done")}')
VISIT_FORM = {"fields": [{"name": "visitor_email", "type": "text"}, {"name": "visitor_name", "type": "text"}]}


def _deploy(sessions, folder):
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(folder), "admin")


def test_a_visitor_task_sends_the_link_to_the_address_in_the_data(sessions, tmp_path):
    folder = write_package(tmp_path, "visit", {"visit": VISIT}, meta={"portal": {
        "party": "visitor", "email_field": "visitor_email", "name_field": "visitor_name", "link_days": 2}})
    (folder / "forms" / "visit.yaml").write_text(yaml.safe_dump(VISIT_FORM))
    _deploy(sessions, folder)
    instance_id = runtime.start_instance(sessions, "visit", {"visitor_email": "Guest@Example.com",
                                                             "visitor_name": "Guest"}, "zhang").instance_id
    with sessions() as session:
        case = session.get(ExternalCase, instance_id)
    assert (case.kind, case.party_id, case.email, case.name) == ("visitor", None, "guest@example.com", "Guest")
    [grant] = grants(sessions, instance_id)
    assert (grant.valid_until - grant.valid_from).days == 2 and grant.party_id is None
    assert [row.recipient for row in emails(sessions, instance_id)] == ["guest@example.com"]
    without = runtime.start_instance(sessions, "visit", {"visitor_name": "Nobody"}, "zhang").instance_id
    assert grants(sessions, without) == []
    assert "visitor_email" in history(sessions, without, "external_link_problem")[0].comment


def test_the_packages_webhook_channel_gets_one_call_whatever_the_languages(sessions, tmp_path):
    body = (f'<bpmn:startEvent id="start" liaison:form="order"/>'
            f'<bpmn:userTask id="answer" liaison:external="supplier"/><bpmn:endEvent id="done"/>'
            f'{flow("start", "answer")}{flow("answer", "done")}')
    folder = write_package(tmp_path, "hooked", {"hooked": body},
                           meta={"portal": {"party": "supplier", "party_field": "supplier"}})
    (folder / "forms" / "order.yaml").write_text(yaml.safe_dump({"fields": [{"name": "supplier", "type": "text"}]}))
    (folder / "notifications").mkdir()
    texts = {"title": "{{ process.name }}", "text": "{{ link }}"}
    (folder / "notifications" / "links.yaml").write_text(yaml.safe_dump({"external_link": {
        "channels": ["email", "webhook"], "webhooks": ["supplier-wecom"], "zh": texts, "en": dict(texts)}}))
    _deploy(sessions, folder)
    add_party(sessions)
    instance_id = runtime.start_instance(sessions, "hooked", {"supplier": "ACME"}, "zhang").instance_id
    with sessions() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.instance_id == instance_id)).all()
    assert sorted((r.channel, r.recipient) for r in rows if r.event == "external_link") == [
        ("email", "ann@acme.example"), ("email", "wu@acme.example"), ("webhook", "supplier-wecom")]
    webhook = next(r for r in rows if r.channel == "webhook")
    assert "/portal/s/" in webhook.payload["link"] and webhook.payload["task"]["element_id"] == "answer"
