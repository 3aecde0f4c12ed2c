"""Notifications written by engine steps: in the same transaction as the step, never without it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import runtime
from engine.data.models import Notification, OutboxMessage, Person, Timer
from engine.errors import ProcessRuntimeError
from engine.runtime import timers
from tests.engine.conftest import flow, write_package

APPROVAL = f"""
<bpmn:startEvent id="start"/>
<bpmn:userTask id="approve" name="Approve" liaison:assignee="boss" liaison:remindAfter="PT4H"
               liaison:escalateAfter="P1D"/>
<bpmn:scriptTask id="check"><bpmn:script>assert_ok = 1 / (0 if explode else 1)</bpmn:script></bpmn:scriptTask>
<bpmn:endEvent id="done"/>
{flow("start", "approve")}{flow("approve", "check")}{flow("check", "done")}
"""


@pytest.fixture
def people(sessions):
    with sessions() as session, session.begin():
        bigboss = Person(username="bigboss", name="大老板", email="bigboss@example.com", locale="zh")
        session.add(bigboss)
        session.flush()
        session.add_all([
            Person(username="ann", name="Ann", email="ann@example.com", locale="en"),
            Person(username="boss", name="Boss", email="boss@example.com", locale="zh", manager_id=bigboss.id),
        ])


def _all(sessions, model):
    with sessions() as session:
        return list(session.scalars(select(model).order_by(model.id)))


def test_assignment_decision_and_end_notify_in_the_step(sessions, deploy_package, tmp_path, people):
    deploy_package(write_package(tmp_path, "leave", {"leave": APPROVAL}))
    started = runtime.start_instance(sessions, "leave", {"explode": False}, user="ann")
    [assigned] = _all(sessions, Notification)
    assert (assigned.recipient, assigned.event, assigned.instance_id) == ("boss", "task_assigned", started.instance_id)
    assert assigned.task_id == started.open_tasks[0]["id"]
    assert assigned.link == f"/tasks/{started.open_tasks[0]['id']}"
    [mail] = _all(sessions, OutboxMessage)
    assert (mail.channel, mail.recipient, mail.status, mail.instance_id) == (
        "email", "boss@example.com", "pending", started.instance_id)

    runtime.complete_task(sessions, started.open_tasks[0]["id"], "boss", {"approved": True}, comment="ok")
    events = [(n.recipient, n.event) for n in _all(sessions, Notification)]
    assert events == [("boss", "task_assigned"), ("ann", "approved")]  # one message, not also "finished"
    assert [(o.recipient, o.event) for o in _all(sessions, OutboxMessage)][1:] == [("ann@example.com", "approved")]


TWO_LEVELS = f"""
<bpmn:startEvent id="start"/>
<bpmn:userTask id="first" name="First" liaison:assignee="boss"/>
<bpmn:exclusiveGateway id="ok1" default="no1"/>
<bpmn:userTask id="second" name="Second" liaison:assignee="bigboss"/>
<bpmn:exclusiveGateway id="ok2" default="no2"/>
<bpmn:endEvent id="yes"/>
<bpmn:endEvent id="no"/>
{flow("start", "first")}{flow("first", "ok1")}{flow("ok1", "second", "approved == True")}
{flow("ok1", "no", flow_id="no1")}{flow("second", "ok2")}{flow("ok2", "yes", "approved == True")}
{flow("ok2", "no", flow_id="no2")}
"""


def _initiator_events(sessions):
    return [n.event for n in _all(sessions, Notification) if n.recipient == "ann"]


def test_approved_is_sent_when_the_request_ends_approved_not_at_an_earlier_step(
        sessions, deploy_package, tmp_path, people):
    deploy_package(write_package(tmp_path, "two", {"two": TWO_LEVELS}))
    started = runtime.start_instance(sessions, "two", {}, user="ann")
    after_first = runtime.complete_task(sessions, started.open_tasks[0]["id"], "boss", {"approved": True})
    assert _initiator_events(sessions) == []  # the second level is still open: nothing is approved yet
    runtime.complete_task(sessions, after_first.open_tasks[0]["id"], "bigboss", {"approved": True}, comment="go")
    assert _initiator_events(sessions) == ["approved"]
    approved = [n for n in _all(sessions, Notification) if n.recipient == "ann"][0]
    assert "go" in approved.body


def test_a_rejection_sends_one_message(sessions, deploy_package, tmp_path, people):
    deploy_package(write_package(tmp_path, "two", {"two": TWO_LEVELS}))
    started = runtime.start_instance(sessions, "two", {}, user="ann")
    runtime.complete_task(sessions, started.open_tasks[0]["id"], "boss", {"approved": False}, comment="no")
    assert _initiator_events(sessions) == ["rejected"]  # not also "finished"
    assert [o.event for o in _all(sessions, OutboxMessage) if o.recipient == "ann@example.com"] == ["rejected"]


def test_a_failing_step_writes_no_notification(sessions, deploy_package, tmp_path, people):
    deploy_package(write_package(tmp_path, "leave", {"leave": APPROVAL}))
    started = runtime.start_instance(sessions, "leave", {"explode": True}, user="ann")
    before = (len(_all(sessions, Notification)), len(_all(sessions, OutboxMessage)))
    with pytest.raises(ProcessRuntimeError):
        runtime.complete_task(sessions, started.open_tasks[0]["id"], "boss", {"approved": True})
    assert (len(_all(sessions, Notification)), len(_all(sessions, OutboxMessage))) == before


def test_reminder_and_escalation_notify_once(sessions, deploy_package, tmp_path, people):
    deploy_package(write_package(tmp_path, "leave", {"leave": APPROVAL}))
    started = runtime.start_instance(sessions, "leave", {"explode": False}, user="ann")
    rows = {t.kind: t for t in _all(sessions, Timer)}
    assert timers.fire(sessions, rows["remind"].id, rows["remind"].due_at) == "fired"
    assert timers.fire(sessions, rows["remind"].id, rows["remind"].due_at) == "skipped"
    assert timers.fire(sessions, rows["escalate"].id, rows["escalate"].due_at + timedelta(seconds=1)) == "fired"
    events = [(n.recipient, n.event) for n in _all(sessions, Notification)]
    assert events == [("boss", "task_assigned"), ("boss", "task_due_soon"), ("bigboss", "task_overdue")]
    escalation = _all(sessions, Notification)[-1]
    assert escalation.instance_id == started.instance_id
