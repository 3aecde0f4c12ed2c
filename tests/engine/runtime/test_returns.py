"""Return (退回), resubmission (rerun / direct), take back (拿回) and jump (跳转) through the runtime."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import runtime
from engine.data.models import AdminGrant, HistoryEntry, Notification, Person, WorkTask
from engine.errors import InvalidTaskDataError, NotPermittedError, TaskConflictError
from engine.work import queries
from tests.engine.conftest import flow, write_package


def _body(after_return: str) -> str:
    return f"""
    <bpmn:startEvent id="start" liaison:resubmit="rework" liaison:afterReturn="{after_return}"/>
    <bpmn:userTask id="manager" name="Manager" liaison:assignee="boss"/>
    <bpmn:exclusiveGateway id="ok" default="f_rework"/>
    <bpmn:userTask id="rework" name="Rework" liaison:approvers="initiator"/>
    <bpmn:userTask id="director" name="Director" liaison:assignee="big"/>
    <bpmn:userTask id="hr" name="HR" liaison:assignee="hr"/>
    <bpmn:endEvent id="done"/>
    {flow("start", "manager")}{flow("manager", "ok")}{flow("ok", "director", "approved == True")}
    <bpmn:sequenceFlow id="f_rework" sourceRef="ok" targetRef="rework"/>
    {flow("rework", "manager")}{flow("director", "hr")}{flow("hr", "done")}
    """


@pytest.fixture
def request_at_director(sessions, deploy_package, tmp_path):
    def start(after_return="rerun"):
        with sessions() as session, session.begin():
            for name in ("ann", "boss", "big", "hr", "root"):
                session.add(Person(username=name, name=name.title()))
            session.flush()
            session.add(AdminGrant(person_id=session.scalar(select(Person.id).where(Person.username == "root")),
                                   department_id=None))
        deploy_package(write_package(tmp_path, "req", {"req": _body(after_return)}))
        started = runtime.start_instance(sessions, "req", {"amount": 500}, user="ann")
        result = runtime.complete_task(sessions, started.open_tasks[0]["id"], "boss", {"approved": True})
        return started.instance_id, result.open_tasks[0]["id"]
    return start


def _open(sessions, instance_id):
    with sessions() as session:
        return [(t.element_id, t.assignee) for t in session.scalars(
            select(WorkTask).where(WorkTask.instance_id == instance_id, WorkTask.status == "open"))]


def _actions(sessions, instance_id, *actions):
    with sessions() as session:
        return [(h.actor, h.action, h.element_id, h.data) for h in session.scalars(
            select(HistoryEntry).where(HistoryEntry.instance_id == instance_id, HistoryEntry.action.in_(actions))
            .order_by(HistoryEntry.id))]


def _task_id(sessions, instance_id, element):
    with sessions() as session:
        return session.scalars(select(WorkTask.id).where(WorkTask.instance_id == instance_id,
                                                         WorkTask.element_id == element,
                                                         WorkTask.status == "open")).one()


def test_return_to_the_previous_node_keeps_the_data_and_tells_the_initiator(sessions, request_at_director):
    instance, director = request_at_director()
    with pytest.raises(InvalidTaskDataError, match="a return needs a comment"):
        runtime.move_task(sessions, director, "big", "return", "previous")
    with pytest.raises(NotPermittedError):
        runtime.move_task(sessions, director, "boss", "return", "previous", comment="not mine")
    runtime.move_task(sessions, director, "big", "return", "previous", comment="check the amount")
    assert _open(sessions, instance) == [("manager", "boss")]
    assert _actions(sessions, instance, "returned") == [
        ("big", "returned", "director", {"from": "director", "to": "manager"})]
    with sessions() as session:
        assert queries.instance_view(session, instance)["data"]["amount"] == 500
        returned = session.scalars(select(Notification).where(Notification.event == "returned")).one()
    assert returned.recipient == "ann"
    # the second round: both rounds stay in the history
    manager = _task_id(sessions, instance, "manager")
    runtime.complete_task(sessions, manager, "boss", {"approved": True})
    assert _open(sessions, instance) == [("director", "big")]
    assert [a[2] for a in _actions(sessions, instance, "task_completed")] == ["manager", "manager"]


def test_return_to_a_node_not_passed_is_refused(sessions, request_at_director):
    _instance, director = request_at_director()
    with pytest.raises(NotPermittedError, match="`hr` is not a node this request already passed"):
        runtime.move_task(sessions, director, "big", "return", "hr", comment="no")


@pytest.mark.parametrize("after_return, next_node", [("rerun", "manager"), ("direct", "director")])
def test_return_to_the_initiator_and_resubmit(sessions, request_at_director, after_return, next_node):
    instance, director = request_at_director(after_return)
    runtime.move_task(sessions, director, "big", "return", "initiator", comment="attach the invoice")
    assert _open(sessions, instance) == [("rework", "ann")]
    rework = _task_id(sessions, instance, "rework")
    runtime.complete_task(sessions, rework, "ann", {"amount": 450})
    assert _open(sessions, instance)[0][0] == next_node
    with sessions() as session:
        assert queries.instance_view(session, instance)["data"]["amount"] == 450
    resubmitted = _actions(sessions, instance, "resubmitted")
    assert [r[1] for r in resubmitted] == (["resubmitted"] if after_return == "direct" else [])


def test_take_back_while_nobody_acted(sessions, request_at_director):
    instance, director = request_at_director()
    with pytest.raises(NotPermittedError, match="only boss may take it back"):
        runtime.move_task(sessions, director, "ann", "take_back")
    runtime.move_task(sessions, director, "boss", "take_back")
    assert _open(sessions, instance) == [("manager", "boss")]
    manager = _task_id(sessions, instance, "manager")
    runtime.complete_task(sessions, manager, "boss", {"approved": True})
    director = _task_id(sessions, instance, "director")
    runtime.delegate_task(sessions, director, "big", "hr")
    with pytest.raises(TaskConflictError, match="someone already acted"):
        runtime.move_task(sessions, director, "boss", "take_back")


def test_jump_by_a_super_admin_only(sessions, request_at_director):
    instance, director = request_at_director()
    with pytest.raises(NotPermittedError, match="only a super admin"):
        runtime.move_task(sessions, director, "big", "jump", "hr", comment="skip")
    runtime.move_task(sessions, director, "root", "jump", "hr", comment="director is on leave")
    assert _open(sessions, instance) == [("hr", "hr")]
    assert _actions(sessions, instance, "jumped")[0][3] == {"from": "director", "to": "hr"}


def test_return_settings_are_checked_at_deploy(tmp_path):
    from engine.errors import InvalidPackageError
    from engine.packages import deployment as packages

    body = _body("sometimes").replace('liaison:resubmit="rework"', 'liaison:resubmit="nowhere"')
    with pytest.raises(InvalidPackageError) as caught:
        packages.load_package(write_package(tmp_path, "bad", {"bad": body}))
    text = str(caught.value)
    assert "start: liaison:afterReturn `sometimes` must be rerun or direct" in text
    assert "start: liaison:resubmit `nowhere` is not a user task of this process" in text
