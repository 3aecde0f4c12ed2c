"""Two people completing the same task at the same moment, on a real PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from engine import runtime
from engine.data import db
from engine.data.models import ProcessInstance
from engine.errors import TaskConflictError
from engine.packages import deployment as packages
from engine.runtime import delegation, instances, messages, moves, step, timers
from engine.work import queries
from tests.conftest import FIXTURES

ORDER_REVIEW = FIXTURES / "packages" / "order_review"
PAYLOADS = {"stock_check": {"in_stock": 1}, "finance_check": {"finance_ok": True}}


def _hold_first_reads(monkeypatch, parties: int) -> None:
    """Make each thread's first read of the instance wait until every thread has read it."""
    barrier = threading.Barrier(parties, timeout=30)
    local = threading.local()
    real_restore = step.restore

    def restore_then_wait(*args):
        workflow = real_restore(*args)
        if not getattr(local, "waited", False):
            local.waited = True
            barrier.wait()  # every thread holds the same revision before anyone saves
        return workflow

    for module in (step, instances, moves, timers, messages, delegation):  # each calls it by its own name
        monkeypatch.setattr(module, "restore", restore_then_wait)


def _race(url, task_id, payloads, monkeypatch):
    """Complete one task from several threads that all read the instance before any writes."""
    _hold_first_reads(monkeypatch, len(payloads))
    results, conflicts, lock = [], [], threading.Lock()

    def worker(payload):
        sessions = db.make_session_factory(db.make_engine(url))
        try:
            result = runtime.complete_task(sessions, task_id, "wang", payload)
            with lock:
                results.append(result)
        except TaskConflictError as exc:
            with lock:
                conflicts.append(exc)

    threads = [threading.Thread(target=worker, args=(p,)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results, conflicts


def test_two_threads_completing_the_same_task_exactly_one_wins(database_url, monkeypatch):
    postgres_url = database_url  # PostgreSQL is the case that matters; SQLite must hold too
    sessions = db.make_session_factory(db.make_engine(postgres_url))
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(ORDER_REVIEW))
    started = runtime.start_instance(sessions, "order_review", {"item": "pen", "amount": 20})
    stock = next(t for t in started.open_tasks if t["element_id"] == "stock_check")

    results, conflicts = _race(postgres_url, stock["id"], [{"in_stock": 1}, {"in_stock": 2}], monkeypatch)

    assert len(results) == 1 and len(conflicts) == 1
    assert "already completed by wang" in str(conflicts[0])
    with sessions() as session:
        instance = session.get(ProcessInstance, started.instance_id)
        view = queries.instance_view(session, started.instance_id)
    assert instance.revision == results[0].revision
    completions = [h for h in view["history"] if h["action"] == "task_completed"]
    assert len(completions) == 1
    assert view["data"]["in_stock"] == completions[0]["data"]["in_stock"]
    stock_rows = [t for t in view["tasks"] if t["element_id"] == "stock_check"]
    assert [t["status"] for t in stock_rows] == ["completed"]


def test_two_tasks_of_one_instance_completed_at_once_both_apply(database_url, monkeypatch):
    postgres_url = database_url
    sessions = db.make_session_factory(db.make_engine(postgres_url))
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(ORDER_REVIEW))
    started = runtime.start_instance(sessions, "order_review", {"item": "pen", "amount": 20})
    by_element = {t["element_id"]: t["id"] for t in started.open_tasks}
    _hold_first_reads(monkeypatch, 2)
    outcomes = {}

    def worker(element, user, groups):
        s = db.make_session_factory(db.make_engine(postgres_url))
        try:
            outcomes[element] = runtime.complete_task(s, by_element[element], user, PAYLOADS[element], groups)
        except TaskConflictError as exc:
            outcomes[element] = exc

    threads = [threading.Thread(target=worker, args=("stock_check", "wang", ())),
               threading.Thread(target=worker, args=("finance_check", "qian", ("finance",)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    # one saved first; the other was re-applied on top of it, so neither update is lost
    assert not any(isinstance(r, TaskConflictError) for r in outcomes.values()), outcomes
    assert sorted(r.status for r in outcomes.values()) == ["completed", "running"]
    with sessions() as session:
        data = queries.instance_view(session, started.instance_id)["data"]
    assert data["in_stock"] == 1 and data["finance_ok"] is True


def test_cancel_racing_a_completion_never_loses_either(postgres_url, monkeypatch):
    sessions = db.make_session_factory(db.make_engine(postgres_url))
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(ORDER_REVIEW))
    started = runtime.start_instance(sessions, "order_review", {"item": "pen", "amount": 20})
    stock = next(t for t in started.open_tasks if t["element_id"] == "stock_check")
    _hold_first_reads(monkeypatch, 2)
    outcomes = {}

    def complete():
        s = db.make_session_factory(db.make_engine(postgres_url))
        try:
            outcomes["complete"] = runtime.complete_task(s, stock["id"], "wang", {"in_stock": 1})
        except TaskConflictError as exc:
            outcomes["complete"] = exc

    def cancel():
        s = db.make_session_factory(db.make_engine(postgres_url))
        try:
            outcomes["cancel"] = runtime.cancel_instance(s, started.instance_id, "boss", "stop")
        except TaskConflictError as exc:
            outcomes["cancel"] = exc

    threads = [threading.Thread(target=complete), threading.Thread(target=cancel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not isinstance(outcomes["cancel"], TaskConflictError)  # cancel re-applies on the newer state
    with sessions() as session:
        view = queries.instance_view(session, started.instance_id)
    assert view["status"] == "cancelled"
    stock_row = next(t for t in view["tasks"] if t["element_id"] == "stock_check")
    if isinstance(outcomes["complete"], TaskConflictError):
        assert stock_row["status"] == "cancelled"  # cancel won: the completion was refused, not lost silently
    else:
        assert stock_row["status"] == "completed"  # completion won, then the cancel applied on top
        assert any(h["action"] == "task_completed" for h in view["history"])


def test_same_package_deployed_twice_at_once_gives_one_version(postgres_url, tmp_path):
    package = packages.load_package(ORDER_REVIEW)
    barrier = threading.Barrier(4, timeout=30)
    results, errors = [], []

    def deploy():
        sessions = db.make_session_factory(db.make_engine(postgres_url))
        barrier.wait()
        try:
            results.append(packages.deploy_package(sessions, package, "admin"))
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            errors.append(exc)

    threads = [threading.Thread(target=deploy) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert {r.version for r in results} == {1}
    assert sum(r.created for r in results) == 1


def test_step_survives_the_server_dropping_pooled_connections(postgres_url):
    from sqlalchemy import text

    engine = db.make_engine(postgres_url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(ORDER_REVIEW))
    started = runtime.start_instance(sessions, "order_review", {"item": "pen", "amount": 20})
    admin = db.make_engine(postgres_url)
    with admin.connect() as conn:  # what a server restart or a failover does to the pool
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        conn.commit()
    admin.dispose()
    stock = next(t for t in started.open_tasks if t["element_id"] == "stock_check")
    result = runtime.complete_task(sessions, stock["id"], "wang", {"in_stock": 1})
    assert result.status == "running"
    engine.dispose()


def _write_failing_once(monkeypatch, before_failing) -> None:
    """`store.write_step` raises a unique-key violation once, after `before_failing()` ran."""
    real, calls = step.store.write_step, []

    def write(conn, work):
        if not calls:
            calls.append(work)
            before_failing()
            raise IntegrityError("INSERT INTO work_task", {}, Exception("duplicate key value (work_task.id)"))
        return real(conn, work)

    monkeypatch.setattr(step.store, "write_step", write)


def test_a_unique_violation_from_a_lost_race_is_a_task_conflict(database_url, monkeypatch):
    """PostgreSQL (autocommit reads): the winner saved between our read and our write, and one of our
    rows collided with one of its rows. The step reads again and answers TaskConflictError (409)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("on SQLite the step holds the write lock from its revision check on: no such race")
    sessions = db.make_session_factory(db.make_engine(database_url))
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(ORDER_REVIEW))
    started = runtime.start_instance(sessions, "order_review", {"item": "pen", "amount": 20})
    stock = next(t for t in started.open_tasks if t["element_id"] == "stock_check")

    def someone_else_completes():
        with sessions.kw["bind"].begin() as conn:
            conn.execute(text("UPDATE process_instance SET revision = revision + 1 WHERE id = :i"),
                         {"i": started.instance_id})
            conn.execute(text("UPDATE work_task SET status = 'completed', completed_by = 'qian' WHERE id = :t"),
                         {"t": stock["id"]})

    _write_failing_once(monkeypatch, someone_else_completes)
    with pytest.raises(TaskConflictError, match="already completed by qian"):
        runtime.complete_task(sessions, stock["id"], "wang", {"in_stock": 1})


def test_a_unique_violation_without_a_race_is_not_hidden(database_url, monkeypatch):
    sessions = db.make_session_factory(db.make_engine(database_url))
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(ORDER_REVIEW))
    started = runtime.start_instance(sessions, "order_review", {"item": "pen", "amount": 20})
    stock = next(t for t in started.open_tasks if t["element_id"] == "stock_check")
    _write_failing_once(monkeypatch, lambda: None)
    with pytest.raises(IntegrityError):
        runtime.complete_task(sessions, stock["id"], "wang", {"in_stock": 1})
