"""Trigger nodes: the `webhook` service operation (through the outbox, to a real HTTP server) and
messages thrown by one instance routed to another (by key; kept or refused when nobody waits)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from engine import runtime
from engine.data.models import BufferedMessage, HistoryEntry, OutboxMessage
from engine.errors import InvalidPackageError, ProcessRuntimeError
from engine.notify import delivery
from engine.packages import deployment as packages
from engine.work import queries
from tests.engine.conftest import flow, write_package
from tests.engine.notify.test_delivery import hook  # noqa: F401 - the receiving HTTP server fixture

SECRET = "s3cret"


def _rows(sessions, model, **where):
    with sessions() as session:
        query = select(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return list(session.scalars(query.order_by(model.id)))


def _view(sessions, instance_id):
    with sessions() as session:
        return queries.instance_view(session, instance_id)


def _webhook_process(endpoint="'crm'", payload='{"order": order, "amount": amount}'):
    return f"""
    <bpmn:startEvent id="start"/>
    <bpmn:serviceTask id="notify_crm" liaison:operation="webhook" liaison:resultVariable="delivery">
      <bpmn:extensionElements>
        <liaison:parameter name="endpoint" value="{endpoint}"/>
        <liaison:parameter name="event" value="'order_placed'"/>
        <liaison:parameter name="payload" value='{payload}'/>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:userTask id="check" liaison:assignee="clerk"/>
    <bpmn:endEvent id="done"/>
    {flow("start", "notify_crm")}{flow("notify_crm", "check")}{flow("check", "done")}
    """


def _add_endpoint(sessions, name, url):
    with sessions() as session, session.begin():
        delivery.add_endpoint(session, name, url, "generic", SECRET)


def test_webhook_task_enqueues_one_signed_call_that_reaches_the_server(sessions, deploy_package, tmp_path,
                                                                         hook):  # noqa: F811
    _add_endpoint(sessions, "crm", hook.url + "/orders")
    deployed = deploy_package(write_package(tmp_path, "order", {"order": _webhook_process()}))
    assert deployed.warnings == []
    started = runtime.start_instance(sessions, "order", {"order": "PO-1", "amount": 250}, user="ann")

    [row] = _rows(sessions, OutboxMessage, channel="webhook")
    assert (row.recipient, row.event, row.status, row.instance_id) == ("crm", "order_placed", "pending",
                                                                      started.instance_id)
    assert row.payload["data"] == {"order": "PO-1", "amount": 250}
    delivery_id = _view(sessions, started.instance_id)["data"]["delivery"]
    assert row.payload["delivery"] == delivery_id and row.payload["element_id"] == "notify_crm"

    assert delivery.deliver(sessions, row.id) == "sent"
    [request] = hook.requests
    assert request["path"] == "/orders"
    body = json.loads(request["body"])
    assert body["data"] == {"order": "PO-1", "amount": 250} and body["instance_id"] == started.instance_id
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["x-liaison-event"] == "order_placed"
    assert delivery.verify_signature(SECRET, headers["x-liaison-timestamp"], request["body"],
                                     headers["x-liaison-signature"])
    # the next step of the instance sends nothing again
    [task] = started.open_tasks
    runtime.complete_task(sessions, task["id"], "clerk", {})
    assert len(_rows(sessions, OutboxMessage, channel="webhook")) == 1


def test_unknown_endpoint_warns_at_deploy_and_fails_the_step(sessions, deploy_package, tmp_path):
    deployed = deploy_package(write_package(tmp_path, "order", {"order": _webhook_process(endpoint="'nowhere'")}))
    assert len(deployed.warnings) == 1 and "no webhook endpoint named `nowhere`" in deployed.warnings[0]
    with pytest.raises(ProcessRuntimeError) as caught:
        runtime.start_instance(sessions, "order", {"order": "PO-1", "amount": 1}, user="ann")
    assert caught.value.element_id == "notify_crm"
    assert "liaison webhook add nowhere URL" in str(caught.value)
    assert _rows(sessions, OutboxMessage) == []


@pytest.mark.parametrize(("endpoint", "payload", "expected"), [
    ("endpoint_name", '{"a": 1}', "needs parameter `endpoint` as a quoted name"),
    ("'crm'", "amount.__class__", "the webhook parameter `payload`"),
])
def test_webhook_parameters_are_checked_at_deploy(tmp_path, endpoint, payload, expected):
    with pytest.raises(InvalidPackageError) as caught:
        packages.load_package(write_package(tmp_path, "order",
                                            {"order": _webhook_process(endpoint=endpoint, payload=payload)}))
    assert any(expected in p.message for p in caught.value.problems)


# -- thrown messages -----------------------------------------------------------------------------------

PAID = '<bpmn:message id="msg_paid" name="invoice_paid"/>'
WAITER = f"""
<bpmn:startEvent id="start"/>
<bpmn:intermediateCatchEvent id="wait_paid" liaison:correlationKey="invoice">
  <bpmn:messageEventDefinition messageRef="msg_paid"/>
</bpmn:intermediateCatchEvent>
<bpmn:endEvent id="done"/>
{flow("start", "wait_paid")}{flow("wait_paid", "done")}
"""
PAYER = f"""
<bpmn:startEvent id="start"/>
<bpmn:intermediateThrowEvent id="tell_paid" liaison:correlationKey="invoice">
  <bpmn:messageEventDefinition messageRef="msg_paid"
      xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core">
    <bpmn:extensionElements>
      <spiffworkflow:messagePayload>{{"paid_by": payer}}</spiffworkflow:messagePayload>
    </bpmn:extensionElements>
  </bpmn:messageEventDefinition>
</bpmn:intermediateThrowEvent>
<bpmn:endEvent id="done"/>
{flow("start", "tell_paid")}{flow("tell_paid", "done")}
"""


def _deploy_pair(deploy_package, tmp_path, meta=None):
    deploy_package(write_package(tmp_path, "invoice", {"invoice": WAITER}, meta=meta, definitions=PAID))
    deploy_package(write_package(tmp_path, "payment", {"payment": PAYER}, definitions=PAID))


def test_thrown_message_wakes_the_instance_waiting_with_that_key(sessions, deploy_package, tmp_path):
    _deploy_pair(deploy_package, tmp_path)
    a1 = runtime.start_instance(sessions, "invoice", {"invoice": "A1"}, user="ann").instance_id
    b2 = runtime.start_instance(sessions, "invoice", {"invoice": "B2"}, user="ann").instance_id
    payer = runtime.start_instance(sessions, "payment", {"invoice": "A1", "payer": "acme"}, user="bob")
    assert payer.status == "completed"
    assert _view(sessions, a1)["status"] == "completed"
    assert _view(sessions, a1)["data"]["paid_by"] == "acme"
    assert _view(sessions, b2)["status"] == "running"
    [kept] = _rows(sessions, BufferedMessage)
    assert (kept.status, kept.instance_id, kept.sender) == ("consumed", a1, f"instance:{payer.instance_id}")


def test_thrown_message_nobody_waits_for_is_kept_then_taken(sessions, deploy_package, tmp_path):
    _deploy_pair(deploy_package, tmp_path)
    runtime.start_instance(sessions, "payment", {"invoice": "C3", "payer": "globex"}, user="bob")
    [kept] = _rows(sessions, BufferedMessage)
    assert (kept.status, kept.correlation_key) == ("waiting", "C3")
    later = runtime.start_instance(sessions, "invoice", {"invoice": "C3"}, user="ann").instance_id
    assert _view(sessions, later)["status"] == "completed"
    assert _view(sessions, later)["data"]["paid_by"] == "globex"


def test_thrown_message_nobody_waits_for_is_refused_when_the_package_says_so(sessions, deploy_package, tmp_path):
    _deploy_pair(deploy_package, tmp_path, meta={"messages": {"invoice_paid": {"early": "refuse"}}})
    payer = runtime.start_instance(sessions, "payment", {"invoice": "D4", "payer": "x"}, user="bob")
    assert payer.status == "completed"  # the thrower's step stands; the message is not kept
    [kept] = _rows(sessions, BufferedMessage)
    assert kept.status == "refused"
    [entry] = _rows(sessions, HistoryEntry, instance_id=payer.instance_id, action="message_refused")
    assert entry.comment == "invoice_paid"
    later = runtime.start_instance(sessions, "invoice", {"invoice": "D4"}, user="ann").instance_id
    assert _view(sessions, later)["status"] == "running"


# -- a chain with trigger nodes ----------------------------------------------------------------------------

CHAIN = {
    "start": {"id": "submit", "form": "request"},
    "nodes": [
        {"kind": "trigger", "id": "call_erp", "operation": "webhook", "result": "erp_delivery",
         "parameters": {"endpoint": "'erp'", "event": "'expense_submitted'", "payload": '{"amount": amount}'}},
        {"kind": "trigger", "id": "announce", "message": "expense_done"},
    ],
}
REQUEST = {"fields": [{"name": "amount", "type": "number", "required": True, "label": {"zh": "金额", "en": "Amount"}}]}
LISTENER = f"""
<bpmn:startEvent id="start"/>
<bpmn:intermediateCatchEvent id="hear"><bpmn:messageEventDefinition messageRef="msg_done"/></bpmn:intermediateCatchEvent>
<bpmn:endEvent id="done"/>
{flow("start", "hear")}{flow("hear", "done")}
"""


def test_a_chain_with_trigger_nodes_calls_the_webhook_and_wakes_a_listener(sessions, deploy_package, tmp_path,
                                                                            hook):  # noqa: F811
    from engine.packages.chain import chain_package_files  # noqa: PLC0415 - only this test needs the chain

    _add_endpoint(sessions, "erp", hook.url)
    folder = tmp_path / "expense"
    for relative, text in chain_package_files(CHAIN, "expense", {"zh": "报销", "en": "Expense"},
                                              {"request": REQUEST}).items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text, encoding="utf-8")
    assert deploy_package(folder).warnings == []
    deploy_package(write_package(tmp_path, "listener", {"listener": LISTENER},
                                 definitions='<bpmn:message id="msg_done" name="expense_done"/>'))
    listener = runtime.start_instance(sessions, "listener", {}, user="ann").instance_id

    started = runtime.start_instance(sessions, "expense", {"amount": 120}, user="emp")
    assert started.status == "completed"
    assert _view(sessions, listener)["status"] == "completed"
    [row] = _rows(sessions, OutboxMessage, channel="webhook")
    assert row.payload["delivery"] == _view(sessions, started.instance_id)["data"]["erp_delivery"]
    assert delivery.deliver_due(sessions) == 1
    [request] = hook.requests
    assert json.loads(request["body"])["data"] == {"amount": 120}


def test_an_instance_never_takes_the_message_it_threw(sessions, deploy_package, tmp_path):
    body = f"""
    <bpmn:startEvent id="start"/>
    <bpmn:intermediateThrowEvent id="ask" liaison:correlationKey="invoice">
      <bpmn:messageEventDefinition messageRef="msg_paid"/>
    </bpmn:intermediateThrowEvent>
    <bpmn:intermediateCatchEvent id="answer" liaison:correlationKey="invoice">
      <bpmn:messageEventDefinition messageRef="msg_paid"/>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="done"/>
    {flow("start", "ask")}{flow("ask", "answer")}{flow("answer", "done")}
    """
    deploy_package(write_package(tmp_path, "echo", {"echo": body}, definitions=PAID))
    first = runtime.start_instance(sessions, "echo", {"invoice": "E5"}, user="ann").instance_id
    assert _view(sessions, first)["status"] == "running"
    [kept] = _rows(sessions, BufferedMessage)
    assert kept.status == "waiting"
    # a second instance takes the first one's message, and its own goes to the first
    second = runtime.start_instance(sessions, "echo", {"invoice": "E5"}, user="ann").instance_id
    assert _view(sessions, second)["status"] == "completed"
    assert _view(sessions, first)["status"] == "completed"
    assert sorted((m.sender, m.instance_id) for m in _rows(sessions, BufferedMessage)) == sorted(
        [(f"instance:{first}", second), (f"instance:{second}", first)])
