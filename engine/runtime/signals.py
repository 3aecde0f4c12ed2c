"""BPMN signals across instances: `send_signal` and the delivery of every sent signal.

SpiffWorkflow delivers a thrown signal only inside the thrower's own instance. Liaison routes it to
the others with its own index, `signal_subscription` (written by each step like message
subscriptions, `engine.runtime.waits`):

- a signal is a `signal_event` row written in one transaction with its receivers fixed then: one
  `signal_delivery` per instance waiting on that name (the thrower excepted, its own catch events
  got it in its step) and per deployed process (latest version) with a signal start event of that
  name. A throw event writes these in the throwing step's own write (`engine.runtime.triggers`), so a
  step that rolls back sends nothing; `send_signal` (CLI `liaison signal send`, `POST
  /api/v1/signals`) writes them and delivers at once;
- each delivery is one engine step of its receiver (catch every waiting event of that name, the
  payload merged into their data, run on) or one new instance (started at its signal start event,
  the payload as its first data), and that step marks the delivery `done` in its own write only
  while it is still pending: a delivery run twice moves its receiver once;
- a receiver whose step fails does not stop the others: its delivery stays pending with the error
  and the attempt counted, the receiver's history says `signal_failed`, and the scheduler's sweep
  (`sweep`, about once a minute) tries it again up to `MAX_ATTEMPTS` times, then marks it failed.
  A receiver that stopped waiting (or ended) meanwhile is `skipped`.

Thrown signals are delivered right after the throwing step commits (`step.AFTER_COMMIT`, in the
process that ran the step; a crash in between leaves them pending for the sweep). A delivery that
throws in turn queues the new throwers instead of recursing, as thrown messages do.
"""

from __future__ import annotations

import copy
import logging
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar, copy_context
from dataclasses import dataclass

from sqlalchemy import update

from engine.bpmn import workflow as wfa
from engine.bpmn.serialization import new_workflow
from engine.data import signal_store, store
from engine.data.models import utcnow
from engine.errors import LiaisonError, NotFoundError, TaskConflictError
from engine.runtime import step
from engine.runtime.messages import after_commit
from engine.runtime.routing import route_queued
from engine.runtime.step import (
    LIVE_WORKFLOWS,
    cache_key,
    checked_data,
    restore,
    retry_when_locked,
    running_instance,
    save_step,
    step_connection,
    step_on,
)
from engine.runtime.triggers import signal_starts
from engine.runtime.versions import version_specs
from engine.runtime.waits import NO_WAITS, signal_writes, waits_of

log = logging.getLogger(__name__)

MAX_NAME_LENGTH = 200
MAX_ATTEMPTS = 5
PARALLEL = 4  # threads delivering one fan-out on PostgreSQL (the engine's pool holds 5 + 10 connections)
_QUEUE: ContextVar[list | None] = ContextVar("liaison_signal_queue", default=None)


@dataclass
class SignalResult:
    """What became of a signal: how many waiting instances it moved and new instances it started."""

    event_id: int
    reached: int = 0
    started: int = 0
    skipped: int = 0
    failed: int = 0
    pending: int = 0

    def describe(self, name: str) -> str:
        """One line for the sender."""
        line = (f"signal `{name}` (event {self.event_id}) reached {self.reached} waiting instance(s) and started "
                f"{self.started} new one(s)")
        if self.failed or self.pending:
            line += f"; {self.failed + self.pending} receiver(s) failed and will be retried"
        return line

    def as_dict(self) -> dict:
        return {"event_id": self.event_id, "reached": self.reached, "started": self.started,
                "skipped": self.skipped, "failed": self.failed, "pending": self.pending}


def send_signal(sessions, name: str, payload: dict | None = None, sender: str | None = None) -> SignalResult:
    """Send signal `name` from outside: every instance waiting on it moves, every process starting on it starts."""
    name = str(name or "").strip()
    if not name:
        raise LiaisonError("a signal needs a name")
    if len(name) > MAX_NAME_LENGTH:
        raise LiaisonError(f"signal name longer than {MAX_NAME_LENGTH} characters")
    payload = checked_data(payload)
    with step.db_engine(sessions).begin() as conn:
        event_id = signal_store.record_event(conn, name, payload, sender, utcnow(), signal_starts(conn, name))
    deliver_event(sessions, event_id)
    return result_of(sessions, event_id)


def result_of(sessions, event_id: int) -> SignalResult:
    with step.db_engine(sessions).connect() as conn:
        return SignalResult(event_id, **signal_store.event_counts(conn, event_id))


def deliver_event(sessions, event_id: int) -> int:
    """Carry out the pending deliveries of one event; returns how many were done now."""
    with step.db_engine(sessions).connect() as conn:
        rows = signal_store.pending_deliveries(conn, event_id, limit=100_000)
    done = deliver_all(sessions, rows)
    _close(sessions, [event_id])
    return done


def deliver_all(sessions, rows) -> int:
    """`deliver` each row; on PostgreSQL a large fan-out runs on `PARALLEL` threads (each delivery is its
    own step on its own connection, and no two rows of one event reach the same instance or process;
    rows of several events that do meet are serialized by the steps' revision check)."""
    if len(rows) < 2 * PARALLEL or step.db_engine(sessions).dialect.name != "postgresql":
        return sum(deliver(sessions, row) for row in rows)
    with ThreadPoolExecutor(PARALLEL, thread_name_prefix="liaison-signal") as pool:
        # each thread runs in a copy of this context: a receiver that throws joins the running router's queue
        return sum(pool.map(lambda row: copy_context().run(deliver, sessions, row), rows))


def deliver(sessions, row) -> bool:
    """One delivery (a row of `signal_store.pending_deliveries`); True when carried out now."""
    try:
        if row.process_key is not None:
            start_by_signal(sessions, row.id, row.process_key, row.name, row.payload, row.sender)
        else:
            deliver_signal(sessions, row.id, row.instance_id, row.name, row.payload, row.sender)
        return True
    except store.AlreadyTaken:
        return False
    except TaskConflictError as exc:  # not running, or no longer waiting on it
        _set(sessions, row.id, status="skipped", last_error=str(exc))
        return False
    except Exception as exc:  # noqa: BLE001 - a failing receiver never stops the others; retried by the sweep
        if not isinstance(exc, LiaisonError):
            log.exception("signal `%s` to %s", row.name, row.target)
        _failed(sessions, row, exc)
        return False


def _failed(sessions, row, exc: Exception) -> None:
    attempts = row.attempts + 1
    message = str(exc) or type(exc).__name__
    with step.db_engine(sessions).begin() as conn:
        conn.execute(update(signal_store.delivery).where(signal_store.delivery.c.id == row.id,
                                                         signal_store.delivery.c.status == "pending")
                     .values(attempts=attempts, last_error=message,
                             status="failed" if attempts >= MAX_ATTEMPTS else "pending"))
        if row.instance_id is not None:
            store.append_history(conn, [{
                "instance_id": row.instance_id, "actor": row.sender, "action": "signal_failed", "comment": row.name,
                "element_id": getattr(exc, "element_id", None), "at": utcnow(),
                "data": {"error": message, "attempt": attempts, "signal_event": row.event_id,
                         "retried": attempts < MAX_ATTEMPTS}}])


def _set(sessions, delivery_id: int, **values) -> None:
    with step.db_engine(sessions).begin() as conn:
        conn.execute(update(signal_store.delivery).where(signal_store.delivery.c.id == delivery_id,
                                                         signal_store.delivery.c.status == "pending").values(**values))


def _close(sessions, event_ids) -> None:
    with step.db_engine(sessions).begin() as conn:
        signal_store.close_finished_events(conn, event_ids)


def _still_pending(conn, delivery_id: int) -> None:
    if signal_store.delivery_status(conn, delivery_id) != "pending":
        raise store.AlreadyTaken(f"signal delivery {delivery_id} was already carried out")


# -- engine steps: catching and starting by signals ----------------------------------------------------------------


def deliver_signal(sessions, delivery_id: int, instance_id: int, name: str, payload: dict,
                   sender: str | None = None):
    """Catch signal `name` in every event of the instance waiting on it and run on (one step that marks
    the delivery done)."""
    return retry_when_locked(lambda: _deliver_once(sessions, delivery_id, instance_id, name, payload, sender),
                             f"delivering signal `{name}` to instance {instance_id}")


def _deliver_once(sessions, delivery_id, instance_id, name, payload, sender):
    with step_connection(sessions) as conn:
        _still_pending(conn, delivery_id)
        handle = running_instance(conn, instance_id)
        workflow = restore(sessions, conn, handle)
        before, waits = wfa.ready_task_ids(workflow), waits_of(workflow)
        catching = sorted(w.element_id for w in waits[2].values() if w.signal_name == name)
        records = wfa.deliver_signal(workflow, name, copy.deepcopy(payload))
        write = step_on(handle, history=[{"actor": sender, "action": "signal_received",
                                          "element_id": catching[0] if catching else None,
                                          "comment": name, "data": payload}])
        signal_writes(write).claim = delivery_id
        result = save_step(conn, write, workflow, records, sender, before=before, waits=waits,
                           version=(handle.version_id, handle.checksum))
    return after_commit(sessions, result, write, workflow)


def start_by_signal(sessions, delivery_id: int, key: str, name: str, payload: dict, sender: str | None = None):
    """Start process `key` at its signal start event `name`, the payload as its first data."""
    return retry_when_locked(lambda: _start_once(sessions, delivery_id, key, name, payload, sender),
                             f"starting `{key}` by signal `{name}`")


def _start_once(sessions, delivery_id, key, name, payload, sender):
    with step_connection(sessions) as conn:
        _still_pending(conn, delivery_id)
        version = store.latest_version(conn, key)
        if version is None:
            raise NotFoundError(f"no process `{key}` is deployed")
        version_id, checksum = version
        spec, subspecs = version_specs(conn, version_id, checksum)
        workflow = new_workflow(spec, subspecs, wfa.script_engine())
        records = wfa.start_by_signal(workflow, name, copy.deepcopy(payload))
        write = store.StepWrite(instance_id=None, revision=0, now=utcnow(), state="", data={}, status="",
                                state_key="", version_id=version_id, process_key=key, initiator=sender,
                                history=[{"actor": sender, "action": "started", "comment": f"signal {name}",
                                          "data": payload}])
        signal_writes(write).claim = delivery_id
        result = save_step(conn, write, workflow, records, sender, before=set(), waits=NO_WAITS,
                           version=(version_id, checksum))
    LIVE_WORKFLOWS.put(cache_key(sessions, result.instance_id, write.state_key), workflow)
    return result


# -- routing after the throwing step's commit, and the scheduler's sweep ---------------------------------------------


def route_thrown(sessions, throwers: list[int]) -> None:
    """Deliver the signals the instances `throwers` threw (called after their step's commit)."""
    route_queued(_QUEUE, throwers, lambda instance_id: _route_from(sessions, instance_id), "signals")


def _route_from(sessions, instance_id: int) -> None:
    try:
        with step.db_engine(sessions).connect() as conn:
            events = signal_store.thrown_events(conn, store.thrower(instance_id))
        for event_id in events:
            deliver_event(sessions, event_id)
    except Exception:  # noqa: BLE001 - never fail the thrower's committed step; the sweep delivers them
        log.exception("thrown signals of instance %s: not routed now", instance_id)


def sweep(sessions, now=None, limit: int = 1000) -> int:
    """Carry out pending deliveries (a crash after the throwing commit, a receiver that failed before)."""
    with step.db_engine(sessions).connect() as conn:
        rows = signal_store.pending_deliveries(conn, max_attempts=MAX_ATTEMPTS, limit=limit)
    done = deliver_all(sessions, rows)
    if rows:
        _close(sessions, {row.event_id for row in rows})
    if done:
        log.info("signals: %s deliveries carried out by the sweep", done)
    return done


step.AFTER_COMMIT.append(route_thrown)
