"""External service tasks done by outside workers (`engine.runtime.worker_tasks`): the row a waiting
task gets, fetch-and-lock, failure with retries and backoff, incidents and their retry, expired
locks, refusals (wrong worker, twice), and 20 workers fetching at once on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import runtime
from engine.data.external_task_models import ExternalTask
from engine.data.models import AdminGrant, HistoryEntry, Person, WorkTask, utcnow
from engine.errors import InvalidTaskDataError, NotPermittedError, TaskConflictError
from engine.runtime import worker_tasks
from tests.conftest import FIXTURES, add_people

CREDIT_CHECK = FIXTURES / "packages" / "credit_check"
TOPIC = [("credit-check", 30)]


@pytest.fixture
def started(sessions, deploy_package):
    add_people(sessions, "zhang", "li")
    deploy_package(CREDIT_CHECK)
    return runtime.start_instance(sessions, "credit_check", {"customer": "ACME"}, user="zhang")


def _rows(sessions) -> list[ExternalTask]:
    with sessions() as session:
        return list(session.scalars(select(ExternalTask).order_by(ExternalTask.id)))


def test_worker_fails_once_then_completes_and_the_instance_moves_on(sessions, started):
    assert started.status == "running" and started.open_tasks == []  # waits on the worker, no inbox task
    [row] = _rows(sessions)
    assert (row.topic, row.status, row.element_id, row.variables) == ("credit-check", "open", "check_credit",
                                                                      {"customer": "ACME"})
    assert worker_tasks.fetch_and_lock(sessions, "w1", [("other", 30)]) == []
    [task] = worker_tasks.fetch_and_lock(sessions, "w1", TOPIC, max_tasks=5)
    assert (task["id"], task["worker"], task["variables"]) == (row.id, "w1", {"customer": "ACME"})
    assert worker_tasks.fetch_and_lock(sessions, "w2", TOPIC) == []  # locked
    with pytest.raises(NotPermittedError):
        worker_tasks.complete(sessions, row.id, "w2", {"score": 1})
    failed = worker_tasks.report_failure(sessions, row.id, "w1", "bureau down", "timeout", retries=2, retry_timeout=60)
    assert (failed["status"], failed["retries"]) == ("open", 2)
    assert worker_tasks.fetch_and_lock(sessions, "w1", TOPIC) == []  # backing off
    later = utcnow() + timedelta(seconds=61)
    [again] = worker_tasks.fetch_and_lock(sessions, "w1", TOPIC, now=later)
    assert (again["retries"], again["error_message"]) == (2, "bureau down")
    done = worker_tasks.complete(sessions, row.id, "w1", {"score": 710}, now=later)
    assert done["status"] == "running" and [t["element_id"] for t in done["open_tasks"]] == ["review"]
    with pytest.raises(TaskConflictError, match="already completed"):
        worker_tasks.complete(sessions, row.id, "w1", {"score": 1}, now=later)
    with sessions() as session:
        review = session.scalars(select(WorkTask).where(WorkTask.status == "open")).one()
        actions = list(session.scalars(select(HistoryEntry.action).order_by(HistoryEntry.id)))
    assert review.assignee == "li" and "external_task_completed" in actions
    result = runtime.complete_task(sessions, review.id, "li", {})
    assert result.status == "completed"
    assert runtime_data(sessions, result.instance_id)["score"] == 710


def runtime_data(sessions, instance_id: int) -> dict:
    from engine.work import queries
    with sessions() as session:
        return queries.instance_view(session, instance_id)["data"]


def test_an_expired_lock_goes_to_another_worker(sessions, started):
    [task] = worker_tasks.fetch_and_lock(sessions, "w1", TOPIC)
    extended = worker_tasks.extend_lock(sessions, task["id"], "w1", 60)
    assert extended["lock_expires_at"] > task["lock_expires_at"]
    assert worker_tasks.fetch_and_lock(sessions, "w2", TOPIC, now=utcnow() + timedelta(seconds=45)) == []
    later = utcnow() + timedelta(seconds=61)
    with pytest.raises(TaskConflictError, match="expired"):
        worker_tasks.complete(sessions, task["id"], "w1", {}, now=later)
    [taken] = worker_tasks.fetch_and_lock(sessions, "w2", TOPIC, now=later)
    assert (taken["id"], taken["worker"]) == (task["id"], "w2")
    with pytest.raises(NotPermittedError, match="another worker"):
        worker_tasks.complete(sessions, task["id"], "w1", {}, now=later)
    with pytest.raises(InvalidTaskDataError):
        worker_tasks.complete(sessions, task["id"], "w2", {"_bad": 1}, now=later)  # refused, still locked
    assert worker_tasks.complete(sessions, task["id"], "w2", {}, now=later)["status"] == "running"


def test_no_retries_left_is_an_incident_an_admin_retries(sessions, started):
    add_people(sessions, "root")
    with sessions() as session, session.begin():
        root = session.scalar(select(Person.id).where(Person.username == "root"))
        session.add(AdminGrant(person_id=root, department_id=None))
    [task] = worker_tasks.fetch_and_lock(sessions, "w1", TOPIC)
    worker_tasks.report_failure(sessions, task["id"], "w1", "card bureau refused", retries=0)
    with sessions.kw["bind"].connect() as conn:
        [incident] = worker_tasks.incidents_of(conn, started.instance_id)
    assert (incident["status"], incident["error_message"]) == ("incident", "card bureau refused")
    assert worker_tasks.fetch_and_lock(sessions, "w1", TOPIC, now=utcnow() + timedelta(days=1)) == []
    with pytest.raises(TaskConflictError):
        worker_tasks.report_failure(sessions, task["id"], "w1", "again", retries=0)
    with pytest.raises(NotPermittedError):
        worker_tasks.retry_incident(sessions, task["id"], "zhang")
    worker_tasks.retry_incident(sessions, task["id"], "root", retries=1)
    with pytest.raises(TaskConflictError):
        worker_tasks.retry_incident(sessions, task["id"], "root")  # no longer an incident
    [back] = worker_tasks.fetch_and_lock(sessions, "w3", TOPIC)
    assert (back["id"], back["retries"]) == (task["id"], 1)
    with sessions() as session:
        actions = list(session.scalars(select(HistoryEntry.action).order_by(HistoryEntry.id)))
    assert actions[-2:] == ["external_task_incident", "external_task_retried"]


def test_a_cancelled_instance_cancels_its_external_task(sessions, started):
    [task] = worker_tasks.fetch_and_lock(sessions, "w1", TOPIC)
    runtime.cancel_instance(sessions, started.instance_id, "zhang", "not needed")
    assert [row.status for row in _rows(sessions)] == ["cancelled"]
    assert worker_tasks.fetch_and_lock(sessions, "w1", TOPIC) == []
    with pytest.raises(TaskConflictError, match="cancelled, not locked"):
        worker_tasks.complete(sessions, task["id"], "w1", {})


def test_bad_requests_are_refused(sessions, started):
    for bad in ([], [("credit-check", 0)], [("", 30)]):
        with pytest.raises(InvalidTaskDataError):
            worker_tasks.fetch_and_lock(sessions, "w1", bad)
    with pytest.raises(InvalidTaskDataError):
        worker_tasks.fetch_and_lock(sessions, "", TOPIC)
    [task] = worker_tasks.fetch_and_lock(sessions, "w1", TOPIC)
    with pytest.raises(InvalidTaskDataError):
        worker_tasks.report_failure(sessions, task["id"], "w1", "  ")
    assert _rows(sessions)[0].status == "locked"  # the refused failure lost nothing


def test_twenty_workers_at_once_never_lock_the_same_task(postgres_url):
    from engine.data import db
    from engine.packages import deployment
    engine = db.make_engine(postgres_url, pool_size=25)
    sessions = db.make_session_factory(engine)
    add_people(sessions, "zhang", "li")
    with sessions() as session, session.begin():
        deployment.deploy(session, deployment.load_package(CREDIT_CHECK), "admin")
    for n in range(30):
        runtime.start_instance(sessions, "credit_check", {"n": n}, user="zhang")
    gate, got = threading.Barrier(20), {}

    def fetch(worker: str):
        gate.wait()
        got[worker] = [t["id"] for t in worker_tasks.fetch_and_lock(sessions, worker, TOPIC, max_tasks=2)]

    threads = [threading.Thread(target=fetch, args=(f"w{i}",)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    locked = [task_id for ids in got.values() for task_id in ids]
    assert len(got) == 20 and len(locked) == len(set(locked)) and locked
    rows = {row.id: row for row in _rows(sessions)}
    assert all(rows[task_id].worker == worker for worker, ids in got.items() for task_id in ids)
    assert sum(row.status == "locked" for row in rows.values()) == len(locked)
    engine.dispose()


def test_a_completion_racing_a_user_task_runs_again_on_the_newer_state(postgres_url, tmp_path, monkeypatch):
    """On PostgreSQL the external path writes in an explicit transaction: the loser of a race rolls
    back and runs again on the winner's state; both completions land and the process ends."""
    from engine.data import db
    from engine.packages import deployment
    from engine.runtime import instances, step
    from tests.engine.conftest import flow, write_package

    body = ('<bpmn:startEvent id="start"/><bpmn:parallelGateway id="fork"/>'
            '<bpmn:serviceTask id="ext" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" camunda:type="external"'
            ' camunda:topic="race"/><bpmn:userTask id="approve" liaison:assignee="li"/>'
            '<bpmn:parallelGateway id="join"/><bpmn:endEvent id="end"/>'
            + flow("start", "fork") + flow("fork", "ext") + flow("fork", "approve") + flow("ext", "join")
            + flow("approve", "join") + flow("join", "end"))
    engine = db.make_engine(postgres_url)
    sessions = db.make_session_factory(engine)
    add_people(sessions, "zhang", "li")
    with sessions() as session, session.begin():
        deployment.deploy(session, deployment.load_package(write_package(tmp_path, "race", {"race": body})), "admin")
    started = runtime.start_instance(sessions, "race", {}, user="zhang")
    [task] = worker_tasks.fetch_and_lock(sessions, "w1", [("race", 60)])
    barrier, local, real_restore = threading.Barrier(2, timeout=30), threading.local(), step.restore

    def restore_then_wait(*args):
        workflow = real_restore(*args)
        if not getattr(local, "waited", False):
            local.waited = True
            barrier.wait()  # both hold the same revision before either saves
        return workflow

    for module in (worker_tasks, instances, step):  # each calls it by its own name
        monkeypatch.setattr(module, "restore", restore_then_wait)
    results, errors = [], []

    def run(action):
        try:
            results.append(action())
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(lambda: worker_tasks.complete(sessions, task["id"], "w1", {"x": 1}),)),
               threading.Thread(target=run, args=(lambda: runtime.complete_task(sessions, started.open_tasks[0]["id"],
                                                                                "li", {}),))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(results) == 2
    with sessions() as session:
        from engine.data.models import ProcessInstance
        assert session.get(ProcessInstance, started.instance_id).status == "completed"
    assert [row.status for row in _rows(sessions)] == ["completed"]
    engine.dispose()
