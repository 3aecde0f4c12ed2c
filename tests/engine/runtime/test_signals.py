"""BPMN signals across instances (`engine.runtime.signals`): a signal thrown by one instance moves
every other instance waiting on it (intermediate and boundary catch events) and starts every process
with a signal start event, exactly once each, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from cli import main
from engine import runtime
from engine.data.models import HistoryEntry, ProcessInstance, utcnow
from engine.data.signal_models import SignalDelivery, SignalEvent, SignalSubscription
from engine.errors import LiaisonError, ProcessRuntimeError
from engine.packages import deployment as packages
from engine.runtime import LIVE_WORKFLOWS, signals, step
from engine.work import queries
from tests.conftest import FIXTURES

SIGNALS = FIXTURES / "bpmn" / "signals"


def _deploy(sessions, *names: str) -> None:
    for name in names:
        package = packages.load_package(SIGNALS / f"{name}.bpmn")
        with sessions() as session, session.begin():
            packages.deploy(session, package, "admin")


def _deploy_all(sessions) -> None:
    _deploy(sessions, "thrower", "waiter", "boundary", "starter")


def _view(sessions, instance_id: int) -> dict:
    with sessions() as session:
        return queries.instance_view(session, instance_id)


def _count(sessions, model, *where) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def _history(sessions, instance_id: int, action: str) -> list[HistoryEntry]:
    with sessions() as session:
        return list(session.scalars(select(HistoryEntry).where(HistoryEntry.instance_id == instance_id,
                                                               HistoryEntry.action == action)))


def _revision(sessions, instance_id: int) -> int:
    with sessions() as session:
        return session.get(ProcessInstance, instance_id).revision


def _started_by_signal(sessions) -> list[int]:
    with sessions() as session:
        return list(session.scalars(select(ProcessInstance.id).where(ProcessInstance.process_key == "sig_starter")))


def _throw(sessions, boom: bool = False):
    thrower = runtime.start_instance(sessions, "sig_thrower", {"boom": False}, user="ann")
    task = thrower.open_tasks[0]
    LIVE_WORKFLOWS.clear()  # the next step restores from the database, as another process would
    return thrower, runtime.complete_task(sessions, task["id"], "ann", {"boom": boom})


def test_a_thrown_signal_moves_every_waiter_and_starts_signal_processes_once(sessions):
    _deploy_all(sessions)
    waiter = runtime.start_instance(sessions, "sig_waiter", {"fail_on": "no"}, user="zed")
    stopped = runtime.start_instance(sessions, "sig_boundary", {}, user="zed")
    assert _count(sessions, SignalSubscription) == 3  # the catch event, the two boundary events

    thrower, done = _throw(sessions)
    assert done.status == "completed"

    moved = _view(sessions, waiter.instance_id)
    assert moved["data"]["recalled"] is True
    assert [t["element_id"] for t in moved["tasks"] if t["status"] == "open"] == ["review"]
    assert _view(sessions, stopped.instance_id)["status"] == "completed"  # the interrupting boundary event
    assert "stopped" in _path(sessions, stopped.instance_id)
    started = _started_by_signal(sessions)
    assert len(started) == 1
    assert [t["element_id"] for t in _view(sessions, started[0])["tasks"]] == ["follow_up"]
    for instance_id in (waiter.instance_id, stopped.instance_id):
        assert len(_history(sessions, instance_id, "signal_received")) == 1
    assert _history(sessions, thrower.instance_id, "signal_received") == []  # never sent back to the thrower
    assert _count(sessions, SignalSubscription) == 0  # none waits any more
    with sessions() as session:
        event = session.scalars(select(SignalEvent)).one()
        assert (event.name, event.status, event.sender) == ("recall", "done", f"instance:{thrower.instance_id}")
    assert signals.result_of(sessions, event.id).as_dict() == {
        "event_id": event.id, "reached": 2, "started": 1, "skipped": 0, "failed": 0, "pending": 0}


def _path(sessions, instance_id: int) -> list[str]:
    with sessions() as session:
        return queries.path_taken(session, instance_id)


def test_a_delivery_run_twice_moves_its_receiver_once(sessions, monkeypatch):
    _deploy_all(sessions)
    waiter = runtime.start_instance(sessions, "sig_waiter", {"fail_on": "no"}, user="zed")
    # the throwing process dies right after its commit: nothing is routed, the deliveries stay pending
    monkeypatch.setattr(step, "AFTER_COMMIT", [hook for hook in step.AFTER_COMMIT if hook is not signals.route_thrown])
    _throw(sessions)
    monkeypatch.undo()
    assert _count(sessions, SignalDelivery, SignalDelivery.status == "pending") == 2  # the waiter, the start
    with step.db_engine(sessions).connect() as conn:
        rows = signals.signal_store.pending_deliveries(conn)

    assert signals.sweep(sessions) == 2  # the scheduler's sweep delivers them
    revision = _revision(sessions, waiter.instance_id)
    assert signals.sweep(sessions) == 0
    assert [signals.deliver(sessions, row) for row in rows] == [False, False]  # a job that runs again
    LIVE_WORKFLOWS.clear()
    assert [signals.deliver(sessions, row) for row in rows] == [False, False]
    assert _revision(sessions, waiter.instance_id) == revision
    assert len(_history(sessions, waiter.instance_id, "signal_received")) == 1
    assert len(_started_by_signal(sessions)) == 1
    assert _count(sessions, SignalDelivery, SignalDelivery.status == "done") == 2


def test_a_failing_receiver_does_not_stop_the_others_and_is_retried(sessions):
    _deploy(sessions, "thrower", "waiter")
    failing = runtime.start_instance(sessions, "sig_waiter", {"fail_on": "yes"}, user="zed")
    fine = runtime.start_instance(sessions, "sig_waiter", {"fail_on": "no"}, user="zed")
    _throw(sessions)

    assert _view(sessions, fine.instance_id)["data"]["recalled"] is True
    assert "recalled" not in _view(sessions, failing.instance_id)["data"]  # its step saved nothing
    [entry] = _history(sessions, failing.instance_id, "signal_failed")
    assert "cannot take the recall" in entry.data["error"] and entry.data["retried"] is True
    event_id = entry.data["signal_event"]
    assert signals.result_of(sessions, event_id).pending == 1

    for _attempt in range(signals.MAX_ATTEMPTS - 1):
        assert signals.sweep(sessions) == 0
    assert signals.result_of(sessions, event_id).failed == 1  # after the last attempt it stays failed
    assert len(_history(sessions, failing.instance_id, "signal_failed")) == signals.MAX_ATTEMPTS
    assert signals.sweep(sessions) == 0
    assert len(_history(sessions, failing.instance_id, "signal_failed")) == signals.MAX_ATTEMPTS
    assert _count(sessions, SignalSubscription, SignalSubscription.instance_id == failing.instance_id) == 1


def test_a_throwing_step_that_rolls_back_sends_nothing(sessions):
    _deploy(sessions, "thrower", "waiter", "starter")
    waiter = runtime.start_instance(sessions, "sig_waiter", {"fail_on": "no"}, user="zed")
    with pytest.raises(ProcessRuntimeError, match="wrap-up failed"):
        _throw(sessions, boom=True)
    assert _count(sessions, SignalEvent) == 0
    assert _count(sessions, SignalDelivery) == 0
    assert "recalled" not in _view(sessions, waiter.instance_id)["data"]
    assert _started_by_signal(sessions) == []


def test_send_signal_from_outside_merges_the_payload(sessions):
    _deploy(sessions, "waiter", "starter")
    waiters = [runtime.start_instance(sessions, "sig_waiter", {"fail_on": "no"}, user="zed") for _ in range(2)]
    result = signals.send_signal(sessions, "recall", {"lot": "L-7"}, sender="ann")
    assert (result.reached, result.started, result.pending) == (2, 1, 0)
    assert result.describe("recall").startswith("signal `recall`")
    for waiter in waiters:
        assert _view(sessions, waiter.instance_id)["data"]["lot"] == "L-7"
        [entry] = _history(sessions, waiter.instance_id, "signal_received")
        assert entry.actor == "ann"
    [started] = _started_by_signal(sessions)
    assert _view(sessions, started)["data"]["lot"] == "L-7"
    again = signals.send_signal(sessions, "recall", {}, sender="ann")  # nobody waits any more
    assert (again.reached, again.started) == (0, 1)


def test_send_signal_refuses_a_nameless_signal_and_bad_data(sessions):
    with pytest.raises(LiaisonError, match="needs a name"):
        signals.send_signal(sessions, "  ", {})
    with pytest.raises(LiaisonError, match="JSON object"):
        signals.send_signal(sessions, "recall", ["not", "a", "dict"])  # type: ignore[arg-type]


def test_cli_signal_send(sessions, database_url):
    _deploy(sessions, "waiter")
    waiter = runtime.start_instance(sessions, "sig_waiter", {"fail_on": "no"}, user="zed")
    runner = CliRunner()
    out = runner.invoke(main, ["--database-url", database_url, "signal", "send", "recall", "--data", '{"lot": 3}',
                               "--as", "ann", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["reached"] == 1
    assert _view(sessions, waiter.instance_id)["data"]["lot"] == 3
    line = runner.invoke(main, ["--database-url", database_url, "signal", "send", "recall"])
    assert line.exit_code == 0 and line.output.strip() == (
        f"signal `recall` (event {json.loads(out.output)['event_id'] + 1}) reached 0 waiting instance(s) and "
        "started 0 new one(s)")
    bad = runner.invoke(main, ["--database-url", database_url, "signal", "send", " ", "--json"])
    assert bad.exit_code == 1 and "needs a name" in bad.output and "Traceback" not in bad.output


def test_a_large_fan_out_moves_each_waiter_once_also_in_parallel(sessions):
    """Past 2 x `signals.PARALLEL` receivers, PostgreSQL delivers on threads; SQLite one after another."""
    _deploy(sessions, "thrower", "waiter", "starter")
    waiters = [runtime.start_instance(sessions, "sig_waiter", {"fail_on": "yes" if n == 3 else "no"}, user="zed")
               for n in range(3 * signals.PARALLEL)]
    LIVE_WORKFLOWS.clear()
    _throw(sessions)
    for n, waiter in enumerate(waiters):
        received = _history(sessions, waiter.instance_id, "signal_received")
        assert len(received) == (0 if n == 3 else 1), n
    assert len(_history(sessions, waiters[3].instance_id, "signal_failed")) == 1
    assert len(_started_by_signal(sessions)) == 1
    assert _count(sessions, SignalDelivery, SignalDelivery.status == "done") == len(waiters)  # 11 reached + 1 start


def test_an_event_based_gateway_takes_the_signal_branch(sessions):
    _deploy(sessions, "gateway")
    gateway = runtime.start_instance(sessions, "sig_gateway", {}, user="zed")
    with sessions() as session:
        assert session.scalars(select(SignalSubscription.element_id)).all() == ["which"]
    LIVE_WORKFLOWS.clear()
    result = signals.send_signal(sessions, "recall", {"lot": "L-2"})
    assert (result.reached, result.failed, result.pending) == (1, 0, 0)
    view = _view(sessions, gateway.instance_id)
    assert view["status"] == "completed" and view["data"]["lot"] == "L-2"
    assert _path(sessions, gateway.instance_id)[-2:] == ["recalled", "by_recall"]
    assert _count(sessions, SignalSubscription) == 0


def test_the_thrower_catches_its_own_signal_once_and_others_once(sessions):
    _deploy(sessions, "self", "waiter")
    own = runtime.start_instance(sessions, "sig_self", {"caught": 0}, user="zed")
    other = runtime.start_instance(sessions, "sig_self", {"caught": 0}, user="zed")
    waiter = runtime.start_instance(sessions, "sig_waiter", {"fail_on": "no"}, user="zed")
    LIVE_WORKFLOWS.clear()
    decide = next(t for t in own.open_tasks if t["element_id"] == "decide")
    assert runtime.complete_task(sessions, decide["id"], "ann", {}).status == "completed"
    assert _view(sessions, own.instance_id)["data"]["caught"] == 1  # SpiffWorkflow's own delivery, in the step
    assert _history(sessions, own.instance_id, "signal_received") == []
    # the other instance of the same process: its catch event moved once, its own `decide` still open
    assert _path(sessions, other.instance_id).count("count") == 1
    assert len(_history(sessions, other.instance_id, "signal_received")) == 1
    assert _view(sessions, other.instance_id)["status"] == "running"
    assert _view(sessions, waiter.instance_id)["data"]["recalled"] is True
    with sessions() as session:
        targets = set(session.scalars(select(SignalDelivery.target)))
    assert targets == {f"i:{other.instance_id}", f"i:{waiter.instance_id}"}


def test_a_receiver_that_throws_in_turn_is_routed_too(sessions):
    """Signal end events relay: every relay's throw reaches the listener, also when relays run on threads."""
    _deploy(sessions, "relay", "relayed")
    relays = [runtime.start_instance(sessions, "sig_relay", {}, user="zed") for _ in range(2 * signals.PARALLEL)]
    listeners = [runtime.start_instance(sessions, "sig_relayed", {}, user="zed") for _ in range(2)]
    LIVE_WORKFLOWS.clear()
    result = signals.send_signal(sessions, "recall", {})
    assert result.reached == len(relays)
    for relay in relays:
        assert _view(sessions, relay.instance_id)["status"] == "completed"
    for listener in listeners:  # the first relay's signal moved them; the later ones found nobody waiting
        assert _view(sessions, listener.instance_id)["status"] == "completed"
        assert len(_history(sessions, listener.instance_id, "signal_received")) == 1
    assert _count(sessions, SignalEvent, SignalEvent.status == "pending") == 0
    assert _count(sessions, SignalEvent) == 1 + len(relays)


def test_a_throwing_write_that_fails_after_the_signal_rows_leaves_none(sessions, monkeypatch):
    """The signal rows are in the step's own transaction: a failure after them takes them back too."""
    _deploy(sessions, "thrower", "waiter")
    waiter = runtime.start_instance(sessions, "sig_waiter", {"fail_on": "no"}, user="zed")
    thrower = runtime.start_instance(sessions, "sig_thrower", {"boom": False}, user="ann")
    revision = _revision(sessions, thrower.instance_id)
    written = signals.signal_store.write

    def write_then_fail(conn, *args):
        events = written(conn, *args)
        if events:
            raise RuntimeError("the connection dropped after the signal rows")
        return events

    monkeypatch.setattr(signals.signal_store, "write", write_then_fail)
    LIVE_WORKFLOWS.clear()
    with pytest.raises(RuntimeError, match="dropped"):
        runtime.complete_task(sessions, thrower.open_tasks[0]["id"], "ann", {"boom": False})
    assert _count(sessions, SignalEvent) == 0 and _count(sessions, SignalDelivery) == 0
    assert _revision(sessions, thrower.instance_id) == revision
    assert "recalled" not in _view(sessions, waiter.instance_id)["data"]
    monkeypatch.undo()
    LIVE_WORKFLOWS.clear()
    assert runtime.complete_task(sessions, thrower.open_tasks[0]["id"], "ann", {"boom": False}).status == "completed"
    assert _view(sessions, waiter.instance_id)["data"]["recalled"] is True


def test_the_receiving_write_claims_its_delivery_or_writes_nothing(sessions, monkeypatch):
    """Past the pending check (a race), the receiver's own write still refuses a delivery done meanwhile."""
    _deploy(sessions, "waiter")
    waiter = runtime.start_instance(sessions, "sig_waiter", {"fail_on": "no"}, user="zed")
    monkeypatch.setattr(step, "AFTER_COMMIT", [])
    with step.db_engine(sessions).begin() as conn:
        event_id = signals.signal_store.record_event(conn, "recall", {}, "ann", utcnow(), [])
    with step.db_engine(sessions).connect() as conn:
        [row] = signals.signal_store.pending_deliveries(conn, event_id)
    with step.db_engine(sessions).begin() as conn:  # another worker finished it (as far as the row says)
        conn.execute(update(SignalDelivery).where(SignalDelivery.id == row.id).values(status="done"))
    monkeypatch.setattr(signals, "_still_pending", lambda conn, delivery_id: None)
    revision = _revision(sessions, waiter.instance_id)
    LIVE_WORKFLOWS.clear()
    assert signals.deliver(sessions, row) is False
    assert _revision(sessions, waiter.instance_id) == revision
    assert _history(sessions, waiter.instance_id, "signal_received") == []
    assert _count(sessions, SignalSubscription, SignalSubscription.instance_id == waiter.instance_id) == 1
