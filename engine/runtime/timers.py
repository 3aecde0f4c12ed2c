"""The scheduler's side of timers: claim the rows that came due, fire each exactly once.

A step that leaves the process waiting on a timer event writes a `timer` row (kind "event")
with the event's due time; a user task with reminders, an escalation, a due date or a timeout
gets rows of kinds "remind", "escalate", "overdue" and "timeout" (see `engine.runtime.waits`).
Any number of schedulers (workers) may run: `claim_due` hands each due row to one of them for
a lease (`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL), and firing marks the row `fired`
in the same atomic write as the engine step or the notifications it causes, only while it is
still pending. A second firing of the same row (an expired lease, a duplicate job) writes
nothing and answers "skipped". A worker that dies after claiming simply lets the lease expire.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn import workflow as wfa
from engine.data import store
from engine.data.models import HistoryEntry, Person, Timer, WorkTask, utcnow
from engine.errors import (
    InvalidTaskDataError,
    LiaisonError,
    ProcessRuntimeError,
    TaskConflictError,
)
from engine.notify import render as notifications
from engine.results import SYSTEM_ACTOR
from engine.runtime import external_tasks
from engine.runtime.instances import complete_once
from engine.runtime.messages import after_commit
from engine.runtime.step import (
    StepResult,
    restore,
    retry_when_locked,
    running_instance,
    save_step,
    step_connection,
    step_on,
)
from engine.runtime.versions import PACKAGE_CACHE
from engine.runtime.waits import TIMEOUT_ACTIONS, waits_of

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(seconds=30)
DEFAULT_LEASE = timedelta(seconds=60)

_timer = Timer.__table__
_task = WorkTask.__table__

_CLAIMABLE = (
    select(_timer.c.id)
    .where(_timer.c.status == "pending", _timer.c.due_at <= bindparam("b_now"),
           (_timer.c.claimed_until.is_(None)) | (_timer.c.claimed_until < bindparam("b_now")))
    .order_by(_timer.c.due_at, _timer.c.id)
    .limit(bindparam("b_limit"))
    .with_for_update(skip_locked=True))
_SET_LEASE = (update(_timer).where(_timer.c.id.in_(bindparam("b_ids", expanding=True)))
              .values(claimed_until=bindparam("b_until")))
_READ = select(_timer.c.id, _timer.c.instance_id, _timer.c.task_id, _timer.c.element_id, _timer.c.kind,
               _timer.c.status, _timer.c.attempts, _timer.c.detail).where(_timer.c.id == bindparam("b_timer"))
_MARK = (update(_timer).where(_timer.c.id == bindparam("b_timer"), _timer.c.status == "pending")
         .values(status=bindparam("b_status"), fired_at=bindparam("b_now"), claimed_until=None))
_OPEN_TASK = select(_task.c.assignee, _task.c.candidate_users, _task.c.candidate_groups, _task.c.name,
                    _task.c.element_id, _task.c.due_at, _task.c.status).where(_task.c.id == bindparam("b_task"))


def claim_due(sessions: sessionmaker[Session], now: datetime | None = None, limit: int = 100,
              lease: timedelta = DEFAULT_LEASE) -> list[int]:
    """Ids of due pending timers nobody holds a lease on, now leased to the caller (one transaction)."""
    now = now or utcnow()
    with sessions.kw["bind"].begin() as conn:
        ids = [row[0] for row in conn.execute(_CLAIMABLE, {"b_now": now, "b_limit": limit})]
        if ids:
            conn.execute(_SET_LEASE, {"b_ids": ids, "b_until": now + lease})
    return ids


def fire(sessions: sessionmaker[Session], timer_id: int, now: datetime | None = None) -> str:
    """Fire one timer: "fired", "skipped" (already fired or cancelled, or its task is gone),
    "retry" (failed; leased until the retry time) or "failed" (the last attempt failed)."""
    now = now or utcnow()
    with sessions.kw["bind"].connect() as conn:
        row = conn.execute(_READ, {"b_timer": timer_id}).first()
    if row is None or row.status != "pending":
        return "skipped"
    try:
        if row.kind == "event":
            fire_event_timer(sessions, row.id, row.instance_id, row.task_id)
        elif row.kind == "timeout":
            action = (row.detail or {}).get("action", "reject")
            decide_on_timeout(sessions, row.id, row.task_id, action)
        else:
            return _notify(sessions, row, now)
    except store.AlreadyTaken:
        return "skipped"
    except TaskConflictError as exc:
        # the event stopped waiting or the task was decided meanwhile: the timer has nothing to do
        _mark(sessions, row.id, "cancelled", now)
        log.info("timer %s cancelled: %s", row.id, exc)
        return "skipped"
    except (ProcessRuntimeError, InvalidTaskDataError, LiaisonError) as exc:
        return _failed_attempt(sessions, row, exc, now)
    return "fired"


def fire_due(sessions: sessionmaker[Session], limit: int = 100, now: datetime | None = None) -> int:
    """Claim and fire the due timers in this process; returns how many fired."""
    return sum(fire(sessions, timer_id, now) == "fired" for timer_id in claim_due(sessions, now, limit))


def _mark(sessions, timer_id: int, status: str, now: datetime) -> bool:
    with sessions.kw["bind"].begin() as conn:
        return conn.execute(_MARK, {"b_timer": timer_id, "b_status": status, "b_now": now}).rowcount == 1


def _failed_attempt(sessions, row, exc: Exception, now: datetime) -> str:
    """Count a failed firing: retry later with exponential backoff, or give up visibly."""
    attempts = row.attempts + 1
    final = attempts >= MAX_ATTEMPTS
    message = " ".join(str(exc).split())[:2000]
    with sessions.kw["bind"].begin() as conn:
        values = {"attempts": attempts, "last_error": message}
        if final:
            values.update(status="failed", claimed_until=None)
        else:
            values["claimed_until"] = now + RETRY_BASE * 2 ** (attempts - 1)
        done = conn.execute(update(_timer).where(_timer.c.id == row.id, _timer.c.status == "pending")
                            .values(**values)).rowcount
        if done and final:
            conn.execute(HistoryEntry.__table__.insert().values(
                instance_id=row.instance_id, at=now, actor=None, action="failed", element_id=row.element_id,
                task_id=row.task_id, comment=f"timer {row.kind} gave up after {attempts} attempts: {message}"))
    log.warning("timer %s (%s) attempt %s failed: %s", row.id, row.kind, attempts, message)
    return "failed" if final else "retry"


_person = Person.__table__
_manager = _person.alias("manager")
_MANAGERS = (select(_manager.c.username).join(_person, _person.c.manager_id == _manager.c.id)
             .where(_person.c.username.in_(bindparam("b_people", expanding=True)), _manager.c.active))


def _managers(conn, people: list[str]) -> list[str]:
    """The active direct managers of these people (an escalation goes to them)."""
    if not people:
        return []
    return sorted({row[0] for row in conn.execute(_MANAGERS, {"b_people": people})})


_KIND_EVENTS = {"remind": "task_due_soon", "overdue": "task_overdue", "escalate": "task_overdue"}


def _notify(sessions, row, now: datetime) -> str:
    """A reminder, overdue notice or escalation: notifications and a history entry, in the same
    transaction that marks the timer fired (so they are written once)."""
    with sessions.kw["bind"].begin() as conn:
        task = conn.execute(_OPEN_TASK, {"b_task": row.task_id}).first()
        status = "cancelled" if task is None or task.status != "open" else "fired"
        if conn.execute(_MARK, {"b_timer": row.id, "b_status": status, "b_now": now}).rowcount != 1:
            return "skipped"
        if status == "cancelled":
            return "skipped"
        handle = store.instance_handle(conn, row.instance_id)
        recipients = [task.assignee] if task.assignee else list(task.candidate_users or [])
        groups = [] if task.assignee else list(task.candidate_groups or [])
        if row.kind == "escalate":
            recipients, groups = _managers(conn, recipients), []
        event = notifications.Event(
            kind=_KIND_EVENTS[row.kind], recipients=recipients, groups=groups,
            task={"id": row.task_id, "element_id": task.element_id, "name": task.name, "due_at": task.due_at},
            extra={"escalation": row.kind == "escalate"})
        external_tasks.remind_outsiders(conn, row.instance_id, groups, event.extra)  # a supplier's task: e-mail them
        package = PACKAGE_CACHE.get(conn, handle.version_id, handle.checksum)
        facts = notifications.StepFacts(process_key=handle.process_key, package=package,
                                        instance_id=row.instance_id, initiator=handle.initiator,
                                        business_key=handle.business_key, data=handle.data, events=[event])
        outbox, inapp = notifications.render_step(conn, facts, now)
        store.write_effects(conn, row.instance_id, now, outbox, inapp)
        store.append_history(conn, [{"instance_id": row.instance_id, "at": now, "actor": None,
                                     "action": {"remind": "reminded", "overdue": "overdue",
                                                "escalate": "escalated"}[row.kind],
                                     "element_id": row.element_id, "task_id": row.task_id,
                                     "comment": ", ".join(recipients + groups) or None}])
    return "fired"


# -- engine steps: firing timers ------------------------------------------------------------


def fire_event_timer(sessions: sessionmaker[Session], timer_id: int, instance_id: int, task_id: str) -> StepResult:
    """Fire a waiting timer event and run the process on; the timer row is marked fired in the
    same write, only if it is still pending (store.AlreadyTaken otherwise: nothing written)."""
    return retry_when_locked(lambda: _fire_once(sessions, timer_id, instance_id, task_id),
                              f"firing timer {timer_id}")


def _fire_once(sessions, timer_id: int, instance_id: int, task_id: str) -> StepResult:
    with step_connection(sessions) as conn:
        handle = running_instance(conn, instance_id)
        workflow = restore(sessions, conn, handle)
        before, waits = wfa.ready_task_ids(workflow), waits_of(workflow)
        element = wfa.fire_timer_task(workflow, task_id)
        records = wfa.run_engine(workflow)
        step = step_on(handle, fire_timer=timer_id,
                        history=[{"actor": None, "action": "timer_fired", "element_id": element, "task_id": task_id}])
        result = save_step(conn, step, workflow, records, None, before=before, waits=waits,
                       version=(handle.version_id, handle.checksum))
    return after_commit(sessions, result, step, workflow)


def decide_on_timeout(sessions: sessionmaker[Session], timer_id: int, task_id: str, action: str) -> StepResult:
    """Complete a user task whose time ran out with `{"approved": action == "approve"}`, as the system."""
    if action not in TIMEOUT_ACTIONS:
        raise InvalidTaskDataError(f"timeout action `{action}` is not one of {', '.join(TIMEOUT_ACTIONS)}")
    data = {"approved": action == "approve"}
    return retry_when_locked(
        lambda: complete_once(sessions, task_id, SYSTEM_ACTOR, data, (), f"timed out: {action}", "en", timer_id),
        f"deciding task {task_id} on timeout")
