"""Timers (boundary, intermediate, dates in the company zone, user-task timeouts) and messages
(exact correlation, early messages kept or refused, ambiguity, message start events)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine import runtime
from engine.bpmn import workflow as wfa
from engine.data.models import BufferedMessage, HistoryEntry, MessageSubscription, Timer, WorkTask
from engine.errors import InvalidPackageError
from engine.packages import deployment as packages
from engine.runtime import messages, timers
from engine.work import queries
from tests.engine.bpmn.test_serialization import BODY, _spec
from tests.engine.conftest import flow, write_package

LATER = timedelta(days=400)  # "now" for the scheduler far past any due time in these diagrams


def _deploy(deploy_package, tmp_path, key, body, meta=None, definitions=""):
    return deploy_package(write_package(tmp_path, key, {key: body}, meta=meta, definitions=definitions))


def _rows(sessions, model, **where):
    with sessions() as session:
        query = select(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return list(session.scalars(query.order_by(model.id)))


def _path(sessions, instance_id):
    with sessions() as session:
        return queries.path_taken(session, instance_id)


def _status(sessions, instance_id):
    with sessions() as session:
        return queries.instance_view(session, instance_id)["status"]


def _fire_all(sessions, now=None):
    now = now or datetime.now(UTC) + LATER
    return [timers.fire(sessions, timer_id, now) for timer_id in timers.claim_due(sessions, now)]


BOUNDARY = f"""
<bpmn:startEvent id="start"/>
<bpmn:userTask id="approve" name="Approve" liaison:assignee="boss"/>
<bpmn:boundaryEvent id="too_late" attachedToRef="approve" cancelActivity="{{cancel}}">
  <bpmn:timerEventDefinition><bpmn:timeDuration>"PT2S"</bpmn:timeDuration></bpmn:timerEventDefinition>
</bpmn:boundaryEvent>
<bpmn:scriptTask id="note"><bpmn:script>timed_out = True</bpmn:script></bpmn:scriptTask>
<bpmn:endEvent id="done"/>
<bpmn:endEvent id="late_end"/>
{flow("start", "approve")}{flow("approve", "done")}{flow("too_late", "note")}{flow("note", "late_end")}
"""


def test_interrupting_boundary_timer_fires_once_and_cancels_the_task(sessions, deploy_package, tmp_path):
    _deploy(deploy_package, tmp_path, "late", BOUNDARY.replace("{cancel}", "true"))
    started = runtime.start_instance(sessions, "late", {}, user="ann")
    [timer] = _rows(sessions, Timer, instance_id=started.instance_id)
    assert (timer.kind, timer.element_id, timer.status) == ("event", "too_late", "pending")
    assert timedelta(seconds=1) < timer.due_at - timer.created_at <= timedelta(seconds=3)

    assert timers.claim_due(sessions, datetime.now(UTC) - timedelta(minutes=1)) == []  # not due yet
    assert _fire_all(sessions) == ["fired"]
    assert _fire_all(sessions) == []  # nothing due any more
    assert timers.fire(sessions, timer.id) == "skipped"  # a duplicate job writes nothing

    [timer] = _rows(sessions, Timer, instance_id=started.instance_id)
    assert timer.status == "fired"
    [task] = _rows(sessions, WorkTask, instance_id=started.instance_id)
    assert task.status == "cancelled"
    assert _status(sessions, started.instance_id) == "completed"
    assert "late_end" in _path(sessions, started.instance_id)
    fired = _rows(sessions, HistoryEntry, instance_id=started.instance_id, action="timer_fired")
    assert [h.element_id for h in fired] == ["too_late"]


def test_non_interrupting_boundary_timer_leaves_the_task_open(sessions, deploy_package, tmp_path):
    _deploy(deploy_package, tmp_path, "nudge", BOUNDARY.replace("{cancel}", "false"))
    started = runtime.start_instance(sessions, "nudge", {}, user="ann")
    assert _fire_all(sessions) == ["fired"]
    [task] = _rows(sessions, WorkTask, instance_id=started.instance_id)
    assert task.status == "open"
    assert "late_end" in _path(sessions, started.instance_id)
    result = runtime.complete_task(sessions, task.id, "boss", {})
    assert result.status == "completed"


def test_completing_the_task_first_cancels_its_boundary_timer(sessions, deploy_package, tmp_path):
    _deploy(deploy_package, tmp_path, "quick", BOUNDARY.replace("{cancel}", "true"))
    started = runtime.start_instance(sessions, "quick", {}, user="ann")
    runtime.complete_task(sessions, started.open_tasks[0]["id"], "boss", {})
    [timer] = _rows(sessions, Timer, instance_id=started.instance_id)
    assert timer.status == "cancelled"
    assert _fire_all(sessions) == []


def test_timer_date_without_zone_is_company_time(sessions, deploy_package, tmp_path):
    body = f"""
    <bpmn:startEvent id="start"/>
    <bpmn:intermediateCatchEvent id="new_year">
      <bpmn:timerEventDefinition><bpmn:timeDate>"2030-01-01T09:00:00"</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="done"/>
    {flow("start", "new_year")}{flow("new_year", "done")}
    """
    _deploy(deploy_package, tmp_path, "dated", body)
    started = runtime.start_instance(sessions, "dated", {}, user="ann")
    [timer] = _rows(sessions, Timer, instance_id=started.instance_id)
    # LIAISON_TIMEZONE defaults to Asia/Shanghai (UTC+8): 09:00 there is 01:00 UTC
    assert timer.due_at == datetime(2030, 1, 1, 1, 0, tzinfo=UTC)
    assert timers.claim_due(sessions, datetime(2030, 1, 1, 0, 59, tzinfo=UTC)) == []
    assert _fire_all(sessions, datetime(2030, 1, 1, 1, 0, 1, tzinfo=UTC)) == ["fired"]
    assert _status(sessions, started.instance_id) == "completed"


def test_unquoted_timer_literal_as_camunda_modeler_writes_it_runs(sessions, deploy_package, tmp_path):
    body = f"""
    <bpmn:startEvent id="start"/>
    <bpmn:intermediateCatchEvent id="wait_two_days">
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT48H</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="done"/>
    {flow("start", "wait_two_days")}{flow("wait_two_days", "done")}
    """
    folder = write_package(tmp_path, "unquoted", {"unquoted": body})
    notes = [str(p) for p in packages.load_package(folder).notes]
    assert any("wait_two_days" in n and "PT48H" in n for n in notes), notes  # the reading is said
    deploy_package(folder)
    started = runtime.start_instance(sessions, "unquoted", {})
    [timer] = _rows(sessions, Timer, instance_id=started.instance_id)
    assert timedelta(hours=47) < timer.due_at - datetime.now(UTC) <= timedelta(hours=48)
    assert _fire_all(sessions, datetime.now(UTC) + timedelta(hours=49)) == ["fired"]
    assert _status(sessions, started.instance_id) == "completed"


def test_a_timer_literal_the_engine_cannot_read_is_refused_at_deploy(tmp_path):
    body = f"""
    <bpmn:startEvent id="start"/>
    <bpmn:intermediateCatchEvent id="wait">
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT5X"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="done"/>
    {flow("start", "wait")}{flow("wait", "done")}
    """
    with pytest.raises(InvalidPackageError) as caught:
        packages.load_package(write_package(tmp_path, "bad", {"bad": body}))
    assert ": wait: " in str(caught.value) and "PT5X" in str(caught.value)


def test_user_task_timer_attributes_are_checked_at_deploy(tmp_path):
    body = f"""
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="approve" liaison:remindAfter="4 hours" liaison:timeoutAction="maybe"/>
    <bpmn:endEvent id="done"/>
    {flow("start", "approve")}{flow("approve", "done")}
    """
    with pytest.raises(InvalidPackageError) as caught:
        packages.load_package(write_package(tmp_path, "attrs", {"attrs": body}))
    text = str(caught.value)
    assert "approve: liaison:remindAfter `4 hours` is not an ISO 8601 duration" in text
    assert "liaison:timeoutAction `maybe` must be approve or reject" in text
    assert "liaison:timeoutAction needs liaison:timeoutAfter" in text


TIMED_TASK = f"""
<bpmn:startEvent id="start"/>
<bpmn:userTask id="approve" liaison:assignee="boss" liaison:dueDate="P2D" liaison:remindAfter="PT4H"
               liaison:escalateAfter="P1D" liaison:timeoutAfter="P3D" liaison:timeoutAction="{{action}}"/>
<bpmn:exclusiveGateway id="ok" default="f_no"/>
<bpmn:endEvent id="yes"/>
<bpmn:endEvent id="no"/>
{flow("start", "approve")}{flow("approve", "ok")}{flow("ok", "yes", "approved == True")}
<bpmn:sequenceFlow id="f_no" sourceRef="ok" targetRef="no"/>
"""


def test_user_task_timers_are_created_and_end_with_the_task(sessions, deploy_package, tmp_path):
    _deploy(deploy_package, tmp_path, "timed", TIMED_TASK.replace("{action}", "approve"))
    started = runtime.start_instance(sessions, "timed", {}, user="ann")
    rows = {t.kind: t for t in _rows(sessions, Timer, instance_id=started.instance_id)}
    assert set(rows) == {"remind", "escalate", "timeout", "overdue"}
    created = rows["remind"].created_at
    assert rows["remind"].due_at - created == timedelta(hours=4)
    assert rows["escalate"].due_at - created == timedelta(days=1)
    assert rows["timeout"].detail == {"action": "approve"}
    runtime.complete_task(sessions, started.open_tasks[0]["id"], "boss", {"approved": False})
    assert {t.status for t in _rows(sessions, Timer, instance_id=started.instance_id)} == {"cancelled"}


@pytest.mark.parametrize("action, end", [("approve", "yes"), ("reject", "no")])
def test_timeout_decides_the_task_as_the_system(sessions, deploy_package, tmp_path, action, end):
    _deploy(deploy_package, tmp_path, "timed", TIMED_TASK.replace("{action}", action))
    started = runtime.start_instance(sessions, "timed", {}, user="ann")
    [timeout] = _rows(sessions, Timer, instance_id=started.instance_id, kind="timeout")
    assert timers.fire(sessions, timeout.id, timeout.due_at) == "fired"
    [task] = _rows(sessions, WorkTask, instance_id=started.instance_id)
    assert (task.status, task.completed_by) == ("completed", "system")
    assert _path(sessions, started.instance_id)[-1] == end
    assert {t.kind: t.status for t in _rows(sessions, Timer, instance_id=started.instance_id)} == {
        "timeout": "fired", "remind": "cancelled", "escalate": "cancelled", "overdue": "cancelled"}
    assert timers.fire(sessions, timeout.id) == "skipped"


def test_three_schedulers_fire_a_timer_once(sessions, deploy_package, tmp_path):
    _deploy(deploy_package, tmp_path, "late", BOUNDARY.replace("{cancel}", "true"))
    started = runtime.start_instance(sessions, "late", {}, user="ann")
    [timer] = _rows(sessions, Timer, instance_id=started.instance_id)
    now = timer.due_at + timedelta(seconds=1)
    barrier, outcomes = threading.Barrier(3), []

    def scheduler():
        barrier.wait()
        # each scheduler fires the row directly, as if its lease had expired: the write decides
        outcomes.append(timers.fire(sessions, timer.id, now))

    threads = [threading.Thread(target=scheduler) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["fired", "skipped", "skipped"]
    assert len(_rows(sessions, HistoryEntry, instance_id=started.instance_id, action="timer_fired")) == 1


# -- messages ------------------------------------------------------------------------------------------

WAIT_FOR_SIGNATURE = f"""
<bpmn:startEvent id="start"/>
<bpmn:intermediateCatchEvent id="signed">
  <bpmn:messageEventDefinition messageRef="msg_signed"/>
</bpmn:intermediateCatchEvent>
<bpmn:userTask id="file_it" liaison:assignee="clerk"/>
<bpmn:endEvent id="done"/>
{flow("start", "signed")}{flow("signed", "file_it")}{flow("file_it", "done")}
"""
SIGNED = '<bpmn:message id="msg_signed" name="contract_signed"/>'


def _signature_process(deploy_package, tmp_path, meta=None):
    _deploy(deploy_package, tmp_path, "contract", WAIT_FOR_SIGNATURE, meta=meta, definitions=SIGNED)


def _data(sessions, instance_id):
    with sessions() as session:
        return queries.instance_view(session, instance_id)["data"]


@pytest.mark.parametrize("order", ["999 first", "1 first"])
def test_message_goes_to_the_instance_with_that_exact_key(sessions, deploy_package, tmp_path, order):
    _signature_process(deploy_package, tmp_path)
    doc1 = runtime.start_instance(sessions, "contract", {}, user="ann", business_key="DOC-1").instance_id
    doc999 = runtime.start_instance(sessions, "contract", {}, user="ann", business_key="DOC-999").instance_id
    sends = [("DOC-999", doc999, {"by": "acme"}), ("DOC-1", doc1, {"by": "globex"})]
    if order == "1 first":
        sends.reverse()
    for key, expected, payload in sends:
        result = messages.send_message(sessions, "contract_signed", key, payload, sender="erp")
        assert (result.status, result.instance_id) == ("delivered", expected)
    assert _data(sessions, doc1)["by"] == "globex"
    assert _data(sessions, doc999)["by"] == "acme"
    assert _rows(sessions, MessageSubscription) == []


def test_message_for_an_unknown_key_is_never_taken_by_another_instance(sessions, deploy_package, tmp_path):
    _signature_process(deploy_package, tmp_path)
    doc1 = runtime.start_instance(sessions, "contract", {}, user="ann", business_key="DOC-1").instance_id
    result = messages.send_message(sessions, "contract_signed", "DOC-999", {"by": "acme"})
    assert result.status == "kept" and result.instance_id is None
    assert "no instance waits for it yet" in result.describe("contract_signed", "DOC-999")
    assert [s.correlation_key for s in _rows(sessions, MessageSubscription)] == ["DOC-1"]
    assert "by" not in _data(sessions, doc1)
    # the instance for DOC-999 starts later and takes the kept message as soon as it waits
    doc999 = runtime.start_instance(sessions, "contract", {}, user="ann", business_key="DOC-999").instance_id
    assert _data(sessions, doc999)["by"] == "acme"
    [kept] = _rows(sessions, BufferedMessage)
    assert (kept.status, kept.instance_id) == ("consumed", doc999)
    assert "signed" in _path(sessions, doc999)
    assert "signed" not in _path(sessions, doc1)


def test_early_message_is_refused_when_the_package_says_so(sessions, deploy_package, tmp_path):
    _signature_process(deploy_package, tmp_path, meta={"messages": {"contract_signed": {"early": "refuse"}}})
    with pytest.raises(messages.MessageNotCorrelatedError) as caught:
        messages.send_message(sessions, "contract_signed", "DOC-7", {})
    assert str(caught.value) == ("no instance waits for message `contract_signed` with key `DOC-7`; refused, "
                                 "as process `contract` declares (messages.contract_signed.early: refuse)")
    assert _rows(sessions, BufferedMessage) == []


def test_kept_message_expires(sessions, deploy_package, tmp_path):
    _signature_process(deploy_package, tmp_path, meta={"messages": {"contract_signed": {"keep_for": "PT1H"}}})
    now = datetime.now(UTC)
    result = messages.send_message(sessions, "contract_signed", "DOC-7", {}, now=now)
    assert result.expires_at == now + timedelta(hours=1)
    assert messages.sweep(sessions, now + timedelta(minutes=59)) == 0
    assert messages.sweep(sessions, now + timedelta(hours=1)) == 1
    assert [m.status for m in _rows(sessions, BufferedMessage)] == ["expired"]
    started = runtime.start_instance(sessions, "contract", {}, user="ann", business_key="DOC-7")
    assert started.open_tasks == []  # still waiting: the expired message is not delivered


def test_two_waiting_instances_with_one_key_are_refused_with_both_ids(sessions, deploy_package, tmp_path):
    _signature_process(deploy_package, tmp_path)
    first = runtime.start_instance(sessions, "contract", {}, business_key="DOC-5").instance_id
    second = runtime.start_instance(sessions, "contract", {}, business_key="DOC-5").instance_id
    with pytest.raises(messages.AmbiguousMessageError) as caught:
        messages.send_message(sessions, "contract_signed", "DOC-5", {})
    assert caught.value.instance_ids == [first, second]
    assert f"({first}, {second})" in str(caught.value)
    assert len(_rows(sessions, MessageSubscription)) == 2  # nothing delivered


def test_receive_task_with_a_correlation_expression(sessions, deploy_package, tmp_path):
    body = f"""
    <bpmn:startEvent id="start"/>
    <bpmn:receiveTask id="confirmation" messageRef="msg_confirmed" liaison:correlationKey="order_no"/>
    <bpmn:endEvent id="done"/>
    {flow("start", "confirmation")}{flow("confirmation", "done")}
    """
    _deploy(deploy_package, tmp_path, "order", body,
            definitions='<bpmn:message id="msg_confirmed" name="order_confirmed"/>')
    started = runtime.start_instance(sessions, "order", {"order_no": "PO-42"}, user="buyer")
    [sub] = _rows(sessions, MessageSubscription)
    assert (sub.message_name, sub.correlation_key, sub.element_id) == ("order_confirmed", "PO-42", "confirmation")
    result = messages.send_message(sessions, "order_confirmed", "PO-42", {"ship_date": "2026-12-01"})
    assert result.status == "delivered"
    assert _status(sessions, started.instance_id) == "completed"
    assert _data(sessions, started.instance_id)["ship_date"] == "2026-12-01"


def test_message_start_event_starts_an_instance(sessions, deploy_package, tmp_path):
    body = f"""
    <bpmn:startEvent id="inbound"><bpmn:messageEventDefinition messageRef="msg_req"/></bpmn:startEvent>
    <bpmn:userTask id="handle" liaison:assignee="agent"/>
    <bpmn:endEvent id="done"/>
    {flow("inbound", "handle")}{flow("handle", "done")}
    """
    _deploy(deploy_package, tmp_path, "ticket", body,
            definitions='<bpmn:message id="msg_req" name="customer_request"/>')
    result = messages.send_message(sessions, "customer_request", "CASE-9", {"topic": "refund"}, sender="crm")
    assert result.status == "started"
    view = _data(sessions, result.instance_id)
    assert view["topic"] == "refund"
    [task] = _rows(sessions, WorkTask, instance_id=result.instance_id)
    assert (task.element_id, task.assignee) == ("handle", "agent")
    with sessions() as session:
        assert queries.instance_view(session, result.instance_id)["business_key"] == "CASE-9"


def test_package_messages_rules_are_checked(tmp_path):
    meta = {"messages": {"contract_signed": {"early": "drop", "keep_for": "forever", "ttl": 3}}}
    with pytest.raises(InvalidPackageError) as caught:
        packages.load_package(write_package(tmp_path, "contract", {"contract": WAIT_FOR_SIGNATURE},
                                            meta=meta, definitions=SIGNED))
    text = str(caught.value)
    assert "messages.contract_signed: unknown key(s) ttl" in text
    assert "messages.contract_signed.early: `drop` must be keep or refuse" in text
    assert "messages.contract_signed.keep_for: `forever` is not an ISO 8601 duration" in text


def test_cycle_timer_fires_each_cycle_then_stops(sessions, deploy_package, tmp_path):
    body = f"""
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="approve" liaison:assignee="boss"/>
    <bpmn:boundaryEvent id="nag" attachedToRef="approve" cancelActivity="false">
      <bpmn:timerEventDefinition><bpmn:timeCycle>"R3/2030-01-01T08:00:00/PT1H"</bpmn:timeCycle>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="nagged"/>
    <bpmn:endEvent id="done"/>
    {flow("start", "approve")}{flow("approve", "done")}{flow("nag", "nagged")}
    """
    _deploy(deploy_package, tmp_path, "cycle", body)
    started = runtime.start_instance(sessions, "cycle", {}, user="ann")
    fired = []
    for _round in range(5):
        outcome = _fire_all(sessions, datetime(2030, 1, 1, 3, tzinfo=UTC))
        if not outcome:
            break
        fired += outcome
    assert fired == ["fired", "fired", "fired"]
    # 08:00 company time (UTC+8) is 00:00 UTC, then every hour, three times
    rows = _rows(sessions, Timer, instance_id=started.instance_id)
    assert [t.due_at for t in rows] == [datetime(2030, 1, 1, h, tzinfo=UTC) for h in range(3)]
    assert [t.status for t in rows] == ["fired"] * 3
    assert _path(sessions, started.instance_id).count("nagged") == 3
    [task] = _rows(sessions, WorkTask, instance_id=started.instance_id)
    assert task.status == "open"


def test_an_instance_ending_while_its_timer_waits_ends_the_timer(sessions, deploy_package, tmp_path):
    _deploy(deploy_package, tmp_path, "boundary", BOUNDARY.replace("{cancel}", "true"))
    started = runtime.start_instance(sessions, "boundary", {}, user="ann")
    assert [t.status for t in _rows(sessions, Timer, instance_id=started.instance_id)] == ["pending"]
    runtime.cancel_instance(sessions, started.instance_id, "ann", "no longer needed")
    assert [t.status for t in _rows(sessions, Timer, instance_id=started.instance_id)] == ["cancelled"]


def test_only_versions_with_timers_or_messages_may_wait():
    assert wfa.may_wait(*_spec(BODY)) is False
    assert wfa.may_wait(*_spec(BOUNDARY.replace("{cancel}", "true"))) is True
    assert wfa.may_wait(*_spec(BODY.replace('<bpmn:userTask id="fill"/>',
                                             '<bpmn:userTask id="fill" liaison:remindAfter="PT4H"/>'))) is True
