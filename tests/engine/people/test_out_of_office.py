"""Out of office: new tasks of someone away go to their deputy, and the history says on whose behalf."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import runtime
from engine.data.models import Notification, WorkTask, utcnow
from engine.errors import NotPermittedError
from engine.people import org
from engine.people.accounts import create_person_account
from engine.work import queries
from tests.engine.conftest import flow, write_package


@pytest.fixture
def approval(sessions, deploy_package, tmp_path):
    """A process whose one task is assigned to li; then the people li, wang, zhao."""
    body = "\n".join([
        '<bpmn:startEvent id="start"/>', flow("start", "approve"),
        '<bpmn:userTask id="approve" name="Approve" liaison:assignee="li"/>', flow("approve", "end"),
        '<bpmn:endEvent id="end"/>'])
    deploy_package(write_package(tmp_path, "ooo", {"ooo": body}))
    with sessions() as session, session.begin():
        for username in ("li", "wang", "zhao"):
            create_person_account(session, username, username.title())
    return "ooo"


def _away(sessions, username, deputy, starts=timedelta(hours=-1), ends=timedelta(days=2)):
    now = utcnow()
    with sessions() as session, session.begin():
        org.set_out_of_office(session, username, deputy, now + starts, now + ends)


def _task_row(sessions, task_id) -> WorkTask:
    with sessions() as session:
        return session.scalar(select(WorkTask).where(WorkTask.id == task_id))


def test_a_task_for_someone_away_goes_to_the_deputy_and_history_says_on_whose_behalf(sessions, approval):
    _away(sessions, "li", "wang")
    started = runtime.start_instance(sessions, approval, {}, user="zhang")
    task = started.open_tasks[0]
    assert task["assignee"] == "wang"
    row = _task_row(sessions, task["id"])
    assert (row.assignee, row.on_behalf_of) == ("wang", "li")
    with sessions() as session:
        assert queries.get_task(session, task["id"]).on_behalf_of == "li"
    with pytest.raises(NotPermittedError):
        runtime.complete_task(sessions, task["id"], "li", {})  # li handed it over
    done = runtime.complete_task(sessions, task["id"], "wang", {}, comment="ok")
    assert done.status == "completed"
    with sessions() as session:
        view = queries.instance_view(session, started.instance_id)
    completion = next(h for h in view["history"] if h["action"] == "task_completed")
    assert (completion["actor"], completion["on_behalf_of"]) == ("wang", "li")
    assert completion["data"] == {} and completion["comment"] == "ok"
    assert view["tasks"][0]["on_behalf_of"] == "li"


def test_the_deputy_not_the_one_away_is_told_of_the_new_task(sessions, approval):
    _away(sessions, "li", "wang")
    started = runtime.start_instance(sessions, approval, {}, user="zhang")
    with sessions() as session:
        told = session.execute(select(Notification.recipient, Notification.event)
                               .where(Notification.instance_id == started.instance_id)).all()
    assert [tuple(row) for row in told] == [("wang", "task_assigned")]


def test_outside_the_window_the_task_stays_with_the_assignee(sessions, approval):
    _away(sessions, "li", "wang", starts=timedelta(days=1), ends=timedelta(days=3))  # planned, not yet
    task = runtime.start_instance(sessions, approval, {}).open_tasks[0]
    row = _task_row(sessions, task["id"])
    assert (row.assignee, row.on_behalf_of) == ("li", None)
    runtime.complete_task(sessions, task["id"], "li", {})
    with sessions() as session:
        view = queries.instance_view(session, runtime.start_instance(sessions, approval, {}).instance_id)
    assert all(h["on_behalf_of"] is None for h in view["history"])


def test_a_task_already_open_when_the_window_starts_is_not_moved(sessions, approval):
    task = runtime.start_instance(sessions, approval, {}).open_tasks[0]
    _away(sessions, "li", "wang")
    assert _task_row(sessions, task["id"]).assignee == "li"


def test_the_deputy_chain_is_followed(sessions, approval):
    _away(sessions, "li", "wang")
    _away(sessions, "wang", "zhao")
    task = runtime.start_instance(sessions, approval, {}).open_tasks[0]
    row = _task_row(sessions, task["id"])
    assert (row.assignee, row.on_behalf_of) == ("zhao", "li")


def test_a_loop_of_deputies_does_not_hang(sessions, approval):
    _away(sessions, "li", "wang")
    _away(sessions, "wang", "zhao")
    _away(sessions, "zhao", "li")  # li -> wang -> zhao -> li
    task = runtime.start_instance(sessions, approval, {}).open_tasks[0]
    row = _task_row(sessions, task["id"])
    assert (row.assignee, row.on_behalf_of) == ("zhao", "li")  # the last one before the repeat


def test_deputies_of_asks_one_question_when_nobody_is_away(sessions, approval):
    with sessions() as session:
        conn = session.connection()
        assert org.deputies_of(conn, ["li", "wang"], utcnow()) == {}
        assert org.deputies_of(conn, [], utcnow()) == {}
