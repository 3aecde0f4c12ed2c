"""Routing the messages that instances throw (message intermediate throw and end events).

The throwing step keeps each message as a `buffered_message` row in its own write (sender
`instance:ID`, `engine.runtime.triggers`), so a thrown message is never lost and never sent twice.
Right after that step commits, the router handles it like `liaison message send` with the same name
and key:

- an instance of any process other than the thrower waits for it: delivered to the one that waits
  longest (the thrower's step has committed, so there is nobody to refuse an ambiguous match to);
- none waits and one deployed process starts on that message: a new instance starts;
- none waits: it stays kept until its `messages.<name>.keep_for` (default one day), and the first
  instance that reaches a matching event takes it; with `early: refuse` it is marked `refused` and
  the thrower's history says so.

Delivering runs the receiver's step, which may throw in turn: a router already running queues the
new throwers instead of recursing (a ping-pong of two processes is a loop, not a deep stack), and
after `routing.MAX_ROUNDS` it leaves the rest kept for the scheduler's `messages.sweep` to deliver.
Not in the throwing transaction itself: on SQLite a second writer would wait on the first's lock.
"""

from __future__ import annotations

import contextlib
import logging
from contextvars import ContextVar

from sqlalchemy import select, update

from engine.data import store
from engine.data.models import BufferedMessage, MessageSubscription, utcnow
from engine.errors import LiaisonError, TaskConflictError
from engine.runtime import external_tasks, messages, step
from engine.runtime.routing import route_queued
from engine.runtime.triggers import message_rule

log = logging.getLogger(__name__)


_buffered = BufferedMessage.__table__
_subscription = MessageSubscription.__table__
_QUEUE: ContextVar[list | None] = ContextVar("liaison_thrown_queue", default=None)


def route_thrown(sessions, throwers: list[int]) -> None:
    """Route the waiting messages the instances `throwers` threw (called after their step's commit)."""
    route_queued(_QUEUE, throwers, lambda instance_id: _route_from(sessions, instance_id), "messages")


def _route_from(sessions, instance_id: int) -> None:
    try:
        rows = _thrown_by(sessions, instance_id)
    except Exception:  # noqa: BLE001 - the database is busy or gone: the sweep delivers them later
        log.exception("thrown messages of instance %s: not routed now", instance_id)
        return
    for row in rows:
        try:
            _route_one(sessions, instance_id, *row)
        except LiaisonError as exc:  # the receiver's step failed: the message stays kept for the sweep
            log.warning("thrown message %s (`%s`) from instance %s: %s", row.id, row.message_name, instance_id, exc)
        except Exception:  # noqa: BLE001 - never fail (nor retry) the thrower's committed step; the sweep retries
            log.exception("thrown message %s (`%s`) from instance %s", row.id, row.message_name, instance_id)


def _thrown_by(sessions, instance_id: int) -> list:
    with step.db_engine(sessions).connect() as conn:
        return conn.execute(select(_buffered.c.id, _buffered.c.message_name, _buffered.c.correlation_key,
                                   _buffered.c.payload)
                            .where(_buffered.c.sender == store.thrower(instance_id), _buffered.c.status == "waiting")
                            .order_by(_buffered.c.id)).all()


def _route_one(sessions, thrower: int, buffered_id: int, name: str, key: str | None, payload: dict) -> None:
    sender = store.thrower(thrower)
    for instance_id, task_id in _waiting_others(sessions, name, key, thrower):
        try:
            messages.deliver_message(sessions, instance_id, task_id, name, payload, sender, buffered_id)
        except store.AlreadyTaken:
            return
        except TaskConflictError:
            continue  # it stopped waiting meanwhile: the next one
        return
    starts = messages.message_starts(sessions, name)
    if len(starts) == 1:
        with contextlib.suppress(store.AlreadyTaken):
            messages.start_by_message(sessions, starts[0], name, payload, key, sender, buffered_id)
        return
    with step.db_engine(sessions).begin() as conn:
        rule = message_rule(conn, name)
        if rule.get("early") != "refuse":
            return  # kept until it expires, for the first instance that comes to wait
        if conn.execute(update(_buffered).where(_buffered.c.id == buffered_id, _buffered.c.status == "waiting")
                        .values(status="refused")).rowcount == 1:
            store.append_history(conn, [{
                "instance_id": thrower, "action": "message_refused", "comment": name, "at": utcnow(),
                "data": {"correlation_key": key, "reason": f"no instance waits for message `{name}`; "
                         f"process `{rule['_process']}` refuses early messages (messages.{name}.early: refuse)"}}])


def _waiting_others(sessions, name: str, key: str | None, thrower: int) -> list[tuple[int, str]]:
    return [(i, t) for i, t in messages.waiting_for(sessions, name, key) if i != thrower]


step.AFTER_COMMIT.append(route_thrown)
step.AFTER_COMMIT.append(external_tasks.issue_links)  # links of new external tasks
