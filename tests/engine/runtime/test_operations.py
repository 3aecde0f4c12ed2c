"""Approval operations without an engine step: transfer, urge, CC (with read status), withdraw, terminate.

Every operation: who may do it, the exact refusals, its history entry, its notifications written with it.
ann starts a request; boss holds the first task, then the pool `ops` (carl, dora) gets the second.
root is a super admin; eve is involved in nothing; fred is inactive.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine import runtime
from engine.data import db
from engine.data.models import (
    AdminGrant,
    CcRecord,
    HistoryEntry,
    Notification,
    OutboxMessage,
    Person,
    WorkTask,
)
from engine.errors import NotFoundError, NotPermittedError, TaskConflictError
from engine.runtime import operations
from engine.work.pages import may_view_instance
from tests.engine.conftest import flow, write_package

BODY = f"""
<bpmn:startEvent id="start"/>
<bpmn:userTask id="approve" name="Approve" liaison:assignee="boss"/>
<bpmn:userTask id="execute" name="Execute" liaison:candidateUsers="carl,dora"/>
<bpmn:endEvent id="done"/>
{flow("start", "approve")}{flow("approve", "execute")}{flow("execute", "done")}
"""
PEOPLE = ("ann", "boss", "carl", "dora", "eve", "root")


@pytest.fixture
def world(sessions, deploy_package, tmp_path):
    """People, the package, and ann's running request waiting for boss: `{"instance", "task"}`."""
    with sessions() as session, session.begin():
        for name in PEOPLE:
            session.add(Person(username=name, name=name.title(), email=f"{name}@example.com", locale="en"))
        session.add(Person(username="fred", name="Fred", active=False))
        session.flush()
        root = session.scalar(select(Person.id).where(Person.username == "root"))
        session.add(AdminGrant(person_id=root, department_id=None))
    deploy_package(write_package(tmp_path, "purchase", {"purchase": BODY}))
    started = runtime.start_instance(sessions, "purchase", {"item": "pen"}, user="ann")
    return {"instance": started.instance_id, "task": started.open_tasks[0]["id"]}


def _history(sessions, instance_id: int, action: str) -> list[HistoryEntry]:
    with sessions() as session:
        return list(session.scalars(select(HistoryEntry).where(HistoryEntry.instance_id == instance_id,
                                                               HistoryEntry.action == action)
                                    .order_by(HistoryEntry.id)))


def _notified(sessions, event: str) -> list[tuple[str, str | None]]:
    with sessions() as session:
        return [(n.recipient, n.task_id) for n in session.scalars(
            select(Notification).where(Notification.event == event).order_by(Notification.id))]


def _mailed(sessions, event: str) -> list[str]:
    with sessions() as session:
        return [o.recipient for o in session.scalars(
            select(OutboxMessage).where(OutboxMessage.event == event).order_by(OutboxMessage.id))]


def _task(sessions, task_id: str) -> WorkTask:
    with sessions() as session:
        return session.get(WorkTask, task_id)


# -- transfer -------------------------------------------------------------------------------------------

def test_the_assignee_transfers_a_task_and_the_new_assignee_is_notified(sessions, world):
    done = operations.transfer(sessions, world["task"], "carl", actor="boss", comment="on holiday")
    assert (done.from_user, done.to_user) == ("boss", "carl")
    row = _task(sessions, world["task"])
    assert (row.assignee, row.status, row.candidate_users, row.candidate_groups) == ("carl", "open", [], [])
    [entry] = _history(sessions, world["instance"], "transferred")
    assert (entry.actor, entry.comment, entry.data, entry.task_id) == (
        "boss", "on holiday", {"from": "boss", "to": "carl"}, world["task"])
    assert ("carl", world["task"]) in _notified(sessions, "task_assigned")
    assert _mailed(sessions, "task_assigned")[-1] == "carl@example.com"
    with pytest.raises(NotPermittedError, match=r"task .* is assigned to carl, not boss"):
        runtime.complete_task(sessions, world["task"], "boss", {})
    runtime.complete_task(sessions, world["task"], "carl", {})  # the new holder completes it


def test_a_super_admin_transfers_anyones_task(sessions, world):
    operations.transfer(sessions, world["task"], "dora", actor="root")
    assert _task(sessions, world["task"]).assignee == "dora"


@pytest.mark.parametrize(("actor", "to", "message"), [
    ("ann", "carl", "only the assignee of task {task} or a super admin may transfer it"),
    ("eve", "carl", "only the assignee of task {task} or a super admin may transfer it"),
    ("boss", "", "name the person to transfer task {task} to"),
    ("boss", "boss", "task {task} is already assigned to boss"),
    ("boss", "fred", "cannot transfer task {task} to `fred`: no active person has that username"),
    ("boss", "nobody", "cannot transfer task {task} to `nobody`: no active person has that username"),
])
def test_transfer_refusals(sessions, world, actor, to, message):
    with pytest.raises(NotPermittedError) as refused:
        operations.transfer(sessions, world["task"], to, actor=actor)
    assert str(refused.value) == message.format(task=world["task"])
    assert _task(sessions, world["task"]).assignee == "boss"
    assert _history(sessions, world["instance"], "transferred") == []


def test_a_pool_task_must_be_claimed_before_it_is_transferred(sessions, world):
    runtime.complete_task(sessions, world["task"], "boss", {})
    pool = next(t.id for t in _open(sessions, world["instance"]))
    with pytest.raises(NotPermittedError) as refused:
        operations.transfer(sessions, pool, "eve", actor="carl")
    assert str(refused.value) == (f"only the assignee of task {pool} or a super admin may transfer it; "
                                  "nobody holds it yet (claim it first)")
    runtime.claim_task(sessions, pool, "carl")
    operations.transfer(sessions, pool, "eve", actor="carl")
    row = _task(sessions, pool)
    assert (row.assignee, row.candidate_users) == ("eve", [])
    with pytest.raises(NotPermittedError, match="not claimed by carl"):
        runtime.unclaim_task(sessions, pool, "carl")


def test_closed_and_unknown_tasks_cannot_be_transferred(sessions, world):
    with pytest.raises(NotFoundError, match="no task nope"):
        operations.transfer(sessions, "nope", "carl", actor="root")
    runtime.complete_task(sessions, world["task"], "boss", {})
    with pytest.raises(TaskConflictError, match=f"task {world['task']} is already completed by boss"):
        operations.transfer(sessions, world["task"], "carl", actor="boss")


def test_two_concurrent_transfers_one_wins(postgres_url, tmp_path, monkeypatch):
    engine = db.make_engine(postgres_url)
    sessions = db.make_session_factory(engine)
    from engine.packages import deployment as packages

    with sessions() as session, session.begin():
        for name in PEOPLE:
            session.add(Person(username=name, name=name))
        packages.deploy(session, packages.load_package(write_package(tmp_path, "purchase", {"purchase": BODY})))
    task_id = runtime.start_instance(sessions, "purchase", {}, user="ann").open_tasks[0]["id"]
    barrier = threading.Barrier(2, timeout=30)
    real = operations._task_row

    def read_then_wait(conn, tid):
        row = real(conn, tid)
        barrier.wait()  # both hold "assignee = boss" before either updates
        return row

    monkeypatch.setattr(operations, "_task_row", read_then_wait)
    outcomes, lock = [], threading.Lock()

    def worker(to):
        own = db.make_session_factory(db.make_engine(postgres_url))
        try:
            operations.transfer(own, task_id, to, actor="boss")
            result = ("won", to)
        except TaskConflictError as exc:
            result = ("lost", str(exc))
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=worker, args=(to,)) for to in ("carl", "dora")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    winners = [o for o in outcomes if o[0] == "won"]
    [(_lost, message)] = [o for o in outcomes if o[0] == "lost"]
    assert len(winners) == 1
    assert message == f"task {task_id} was transferred to {winners[0][1]} meanwhile; nothing was changed"
    assert _task(sessions, task_id).assignee == winners[0][1]
    with sessions() as session:
        entries = session.scalars(select(HistoryEntry).where(HistoryEntry.action == "transferred")).all()
    assert len(entries) == 1
    engine.dispose()


def _open(sessions, instance_id: int) -> list[WorkTask]:
    with sessions() as session:
        return list(session.scalars(select(WorkTask).where(WorkTask.instance_id == instance_id,
                                                           WorkTask.status == "open")))


# -- urge -----------------------------------------------------------------------------------------------

def test_the_initiator_urges_the_holders_once_per_ten_minutes(sessions, world):
    at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    urged = operations.urge(sessions, world["instance"], actor="ann", comment="please", now=at)
    assert urged.tasks == [{"id": world["task"], "name": "Approve", "recipients": ["boss"], "groups": []}]
    assert _notified(sessions, "urged") == [("boss", world["task"])]
    assert _mailed(sessions, "urged") == ["boss@example.com"]
    [entry] = _history(sessions, world["instance"], "urged")
    assert (entry.actor, entry.comment, entry.at) == ("ann", "please", at)

    with pytest.raises(operations.UrgedTooSoonError) as refused:
        operations.urge(sessions, world["instance"], actor="ann", now=at + timedelta(minutes=9, seconds=59))
    assert str(refused.value) == (f"you urged instance {world['instance']} less than 10 minutes ago; "
                                  "you may urge it again from 2026-11-30 09:10 UTC")
    assert refused.value.allowed_at == at + timedelta(minutes=10)
    assert isinstance(refused.value, NotPermittedError)
    operations.urge(sessions, world["instance"], actor="root", now=at + timedelta(minutes=1))  # per person
    operations.urge(sessions, world["instance"], actor="ann", now=at + timedelta(minutes=10))
    assert len(_history(sessions, world["instance"], "urged")) == 3
    assert len(_notified(sessions, "urged")) == 3


def test_urging_a_pool_task_reaches_its_candidates(sessions, world):
    runtime.complete_task(sessions, world["task"], "boss", {})
    urged = operations.urge(sessions, world["instance"], actor="ann")
    assert urged.tasks[0]["recipients"] == ["carl", "dora"]
    assert sorted(r for r, _task_id in _notified(sessions, "urged")) == ["carl", "dora"]


@pytest.mark.parametrize(("actor", "message"), [
    ("boss", "only the initiator of instance {instance} or a super admin may urge it"),
    ("eve", "only the initiator of instance {instance} or a super admin may urge it"),
])
def test_urge_refusals(sessions, world, actor, message):
    with pytest.raises(NotPermittedError) as refused:
        operations.urge(sessions, world["instance"], actor=actor)
    assert str(refused.value) == message.format(instance=world["instance"])
    assert _notified(sessions, "urged") == []


def test_an_ended_instance_cannot_be_urged(sessions, world):
    runtime.cancel_instance(sessions, world["instance"], "ann")
    with pytest.raises(NotPermittedError) as refused:
        operations.urge(sessions, world["instance"], actor="ann")
    assert str(refused.value) == f"instance {world['instance']} has ended (cancelled): there is nobody to urge"
    with pytest.raises(NotFoundError, match="no instance 999"):
        operations.urge(sessions, 999, actor="ann")


# -- CC -------------------------------------------------------------------------------------------------

def test_cc_once_per_person_with_read_status_and_viewing(sessions, world):
    iid = world["instance"]
    with sessions() as session:
        assert not may_view_instance(session, iid, "eve")
    copied = operations.cc(sessions, iid, ["eve", "carl", "eve"], actor="ann", comment="FYI")
    assert (copied.added, copied.skipped) == (["eve", "carl"], [])
    assert _notified(sessions, "cc") == [("eve", None), ("carl", None)]
    with sessions() as session:
        notice = session.scalar(select(Notification).where(Notification.event == "cc"))
        assert notice.link == f"/instances/{iid}"
        assert may_view_instance(session, iid, "eve")
        assert not may_view_instance(session, iid, "dora")
    [entry] = _history(sessions, iid, "cc")
    assert (entry.actor, entry.comment, entry.data) == ("ann", "FYI", {"to": ["eve", "carl"], "skipped": []})

    again = operations.cc(sessions, iid, ["carl", "dora"], actor="root")
    assert (again.added, again.skipped) == (["dora"], ["carl"])
    nothing = operations.cc(sessions, iid, ["eve"], actor="ann")
    assert (nothing.added, nothing.skipped) == ([], ["eve"])
    assert len(_history(sessions, iid, "cc")) == 2  # a CC that adds nobody records nothing
    assert len(_notified(sessions, "cc")) == 3

    with sessions() as session:
        page = operations.cc_for(session, "eve")
        assert (page.total, page.items[0].instance_id, page.items[0].cc_by, page.items[0].read_at) == (
            1, iid, "ann", None)
        assert operations.cc_for(session, "eve", unread_only=True).total == 1
        assert operations.cc_unread_count(session, "eve") == 1
    at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert operations.mark_cc_read(sessions, iid, "eve", now=at) is True
    assert operations.mark_cc_read(sessions, iid, "eve") is False  # once
    assert operations.mark_cc_read(sessions, iid, "boss") is False  # not copied to boss
    [read] = _history(sessions, iid, "cc_read")
    assert (read.actor, read.at) == ("eve", at)
    with sessions() as session:
        assert operations.cc_for(session, "eve").items[0].read_at == at
        assert operations.cc_for(session, "eve", unread_only=True).total == 0
        assert operations.cc_unread_count(session, "eve") == 0


def test_the_holder_and_participants_may_cc_and_others_may_not(sessions, world):
    """DingTalk's 抄送 while deciding: whoever holds an open task of the request may copy it, as may whoever
    completed one of its tasks; someone merely involved in nothing may not."""
    iid = world["instance"]
    with pytest.raises(NotPermittedError) as refused:
        operations.cc(sessions, iid, ["eve"], actor="carl")  # holds nothing, completed nothing
    assert str(refused.value) == (f"only the initiator of instance {iid}, someone who holds or completed one of "
                                  "its tasks, or a super admin may copy it to others")
    assert operations.cc(sessions, iid, ["eve"], actor="boss").added == ["eve"]  # holds the open task
    runtime.complete_task(sessions, world["task"], "boss", {})
    assert operations.cc(sessions, iid, ["dora"], actor="boss").added == ["dora"]  # completed it
    with pytest.raises(NotPermittedError):
        operations.cc(sessions, iid, ["carl"], actor="eve")  # copied to: may read, not copy on


@pytest.mark.parametrize(("names", "message"), [
    ([], "name at least one person to copy instance {instance} to"),
    (["  "], "name at least one person to copy instance {instance} to"),
    (["ann"], "you cannot copy instance {instance} to yourself"),
    (["eve", "fred", "ghost"], "cannot copy instance {instance} to fred, ghost: no active person has that username"),
    ([f"p{i}" for i in range(51)], "at most 50 people can be copied at once, not 51"),
])
def test_cc_refusals(sessions, world, names, message):
    with pytest.raises(NotPermittedError) as refused:
        operations.cc(sessions, world["instance"], names, actor="ann")
    assert str(refused.value) == message.format(instance=world["instance"])
    with sessions() as session:
        assert session.scalars(select(CcRecord)).all() == []


def test_an_ended_instance_can_still_be_copied(sessions, world):
    runtime.cancel_instance(sessions, world["instance"], "ann")
    assert operations.cc(sessions, world["instance"], ["eve"], actor="ann").added == ["eve"]


# -- withdraw and terminate ----------------------------------------------------------------------------

def test_the_initiator_withdraws_and_the_holders_are_told(sessions, world):
    iid = world["instance"]
    result = operations.withdraw(sessions, iid, actor="ann", comment="bought one myself")
    assert result.status == "cancelled"
    assert _task(sessions, world["task"]).status == "cancelled"
    [entry] = _history(sessions, iid, "withdrawn")
    assert (entry.actor, entry.comment) == ("ann", "bought one myself")
    assert _history(sessions, iid, "cancelled") == []
    assert _notified(sessions, "instance_finished") == [("boss", world["task"])]
    assert _mailed(sessions, "instance_finished") == ["boss@example.com"]
    with pytest.raises(NotPermittedError) as refused:
        operations.withdraw(sessions, iid, actor="ann")
    assert str(refused.value) == f"instance {iid} has ended (cancelled): it can no longer be withdrawn"


@pytest.mark.parametrize("actor", ["boss", "root", "eve"])
def test_only_the_initiator_withdraws(sessions, world, actor):
    with pytest.raises(NotPermittedError) as refused:
        operations.withdraw(sessions, world["instance"], actor=actor)
    assert str(refused.value) == f"only the initiator of instance {world['instance']} may withdraw it"
    assert _task(sessions, world["task"]).status == "open"


def test_a_super_admin_terminates_with_a_reason(sessions, world):
    iid = world["instance"]
    with pytest.raises(NotPermittedError) as refused:
        operations.terminate(sessions, iid, actor="root", reason="  ")
    assert str(refused.value) == f"a reason is required to terminate instance {iid}"
    for actor in ("ann", "boss"):
        with pytest.raises(NotPermittedError) as refused:
            operations.terminate(sessions, iid, actor=actor, reason="stop")
        assert str(refused.value) == f"only a super admin may terminate instance {iid}"
    result = operations.terminate(sessions, iid, actor="root", reason="duplicate request")
    assert result.status == "cancelled"
    [entry] = _history(sessions, iid, "terminated")
    assert (entry.actor, entry.comment) == ("root", "duplicate request")
    assert _notified(sessions, "instance_finished") == [("boss", world["task"]), ("ann", None)]
    with sessions() as session:
        texts = [n.body for n in session.scalars(select(Notification).where(Notification.event == "instance_finished"))]
    assert all("has finished" in text for text in texts)
    with pytest.raises(NotPermittedError) as refused:
        operations.terminate(sessions, iid, actor="root", reason="again")
    assert str(refused.value) == f"instance {iid} has ended (cancelled): it can no longer be terminated"


def test_available_operations_follow_the_rule_table(sessions, world):
    iid = world["instance"]
    with sessions() as session:
        assert operations.available(session, iid, "ann") == {"urge", "cc", "withdraw"}
        assert operations.available(session, iid, "root") == {"urge", "cc", "terminate"}
        assert operations.available(session, iid, "boss") == {"cc"}  # holds the open task
        assert operations.available(session, iid, "eve") == set()
        assert operations.may_transfer(session, world["task"], "boss")
        assert operations.may_transfer(session, world["task"], "root")
        assert not operations.may_transfer(session, world["task"], "ann")
    runtime.complete_task(sessions, world["task"], "boss", {})
    with sessions() as session:
        assert operations.available(session, iid, "boss") == {"cc"}
        assert not operations.may_transfer(session, world["task"], "boss")
