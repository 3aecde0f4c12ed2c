"""The signal rows an engine step writes, inside the step's own transaction (`step._write_in_transaction`).

`SignalWrites` travels on `StepWrite.signals`: the signal subscriptions the step starts and ends,
the signals its throw events sent (a `signal_event` row each, with one `signal_delivery` row per
instance then waiting on that signal, the thrower excepted, and per process starting on it), and
the delivery the step itself carries out (marked done only while still pending, else AlreadyTaken,
so a delivery run twice moves its receiver once).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import String, cast, delete, func, insert, literal, select, update

from engine.data.signal_models import SignalDelivery, SignalEvent, SignalSubscription
from engine.data.store import AlreadyTaken

subscription = SignalSubscription.__table__
event = SignalEvent.__table__
delivery = SignalDelivery.__table__

INSTANCE_TARGET = "i:"
START_TARGET = "p:"


@dataclass
class SignalWrites:
    """What one step writes about signals."""

    subs_new: list = field(default_factory=list)  # dicts: task_id, element_id, signal_name
    subs_cancel: list = field(default_factory=list)  # engine task ids no longer waiting on a signal
    end: bool = False  # the instance ended: all its subscriptions go
    thrown: list = field(default_factory=list)  # dicts: name, payload, starts (process keys)
    claim: int | None = None  # the signal_delivery row this step carries out
    folded: bool = False  # PostgreSQL: written by the step's one save statement (`pg_ctes`), not by `write`

    def __bool__(self) -> bool:
        return bool(self.subs_new or self.subs_cancel or self.end or self.thrown or self.claim is not None)

    def foldable(self, instance_id: int | None) -> bool:
        """Whether the step's one PostgreSQL statement can carry these rows: not a throw (its receivers
        are read and written with Python's help), not a claim by a new instance (its id comes later)."""
        return not self.thrown and (self.claim is None or instance_id is not None)

    def pg_ctes(self, step) -> tuple[str | None, str, dict]:
        """`(claim CTE or None, further CTEs over `saved`, parameters)` for the step's save statement:
        the fan-out's hot path (one delivery a step) in one round trip instead of five."""
        claim = None
        if self.claim is not None:
            claim = ("claimed AS (UPDATE signal_delivery SET status = 'done', instance_id = :sig_instance,"
                     " done_at = CAST(:now AS timestamptz) WHERE id = :sig_claim AND status = 'pending' RETURNING id)")
        ctes, params = "", {"sig_claim": self.claim, "sig_instance": step.instance_id}
        if self.end:
            ctes += (", sig_end AS (DELETE FROM signal_subscription s USING saved"
                     " WHERE s.instance_id = saved.id)")
        else:
            if self.subs_cancel:
                ctes += (", sig_drop AS (DELETE FROM signal_subscription s USING saved WHERE s.instance_id = saved.id"
                         " AND s.task_id IN (SELECT jsonb_array_elements_text(CAST(:sig_cancel AS jsonb))))")
                params["sig_cancel"] = json.dumps(self.subs_cancel)
            if self.subs_new:
                ctes += (", sig_add AS (INSERT INTO signal_subscription (instance_id, task_id, element_id, signal_name,"
                         " created_at) SELECT saved.id, s.task_id, s.element_id, s.signal_name,"
                         " CAST(:now AS timestamptz) FROM saved, jsonb_to_recordset(CAST(:sig_new AS jsonb))"
                         " AS s(task_id text, element_id text, signal_name text))")
                params["sig_new"] = json.dumps(self.subs_new)
        return claim, ctes, params


def write(conn, instance_id: int, writes: SignalWrites, now: datetime, sender: str | None) -> list[int]:
    """Write the step's signal rows; returns the ids of the signal events it sent."""
    if writes.folded:
        return []  # the step's save statement wrote them
    if writes.claim is not None and conn.execute(
            update(delivery).where(delivery.c.id == writes.claim, delivery.c.status == "pending")
            .values(status="done", instance_id=instance_id, done_at=now)).rowcount != 1:
        raise AlreadyTaken(f"signal delivery {writes.claim} was already carried out")
    if writes.end:
        conn.execute(delete(subscription).where(subscription.c.instance_id == instance_id))
    else:
        if writes.subs_cancel:
            conn.execute(delete(subscription).where(subscription.c.instance_id == instance_id,
                                                    subscription.c.task_id.in_(writes.subs_cancel)))
        if writes.subs_new:
            conn.execute(insert(subscription), [{"instance_id": instance_id, "created_at": now, **s}
                                                for s in writes.subs_new])
    return [record_event(conn, t["name"], t["payload"], sender, now, t["starts"], exclude=instance_id)
            for t in writes.thrown]


def record_event(conn, name: str, payload: dict, sender: str | None, now: datetime, starts: list[str],
                 exclude: int | None = None) -> int:
    """A `signal_event` row and its receivers as they are now: every instance waiting on `name` (but
    `exclude`, the thrower, whose own events SpiffWorkflow already served) and every process in `starts`."""
    event_id = conn.execute(insert(event).values(name=name, payload=payload, sender=sender, status="pending",
                                                 created_at=now).returning(event.c.id)).scalar_one()
    waiting = (select(literal(event_id), literal(INSTANCE_TARGET) + cast(subscription.c.instance_id, String),
                      subscription.c.instance_id, literal("pending"), literal(0), literal(now))
               .where(subscription.c.signal_name == name)
               .group_by(subscription.c.instance_id))
    if exclude is not None:
        waiting = waiting.where(subscription.c.instance_id != exclude)
    conn.execute(insert(delivery).from_select(
        ["event_id", "target", "instance_id", "status", "attempts", "created_at"], waiting))
    if starts:
        conn.execute(insert(delivery), [{"event_id": event_id, "target": START_TARGET + key, "process_key": key,
                                         "status": "pending", "attempts": 0, "created_at": now}
                                        for key in starts])
    return event_id


def pending_deliveries(conn, event_id: int | None = None, max_attempts: int | None = None, limit: int = 1000):
    """Pending deliveries (with their event's name and payload), oldest first."""
    query = (select(delivery.c.id, delivery.c.event_id, delivery.c.target, delivery.c.instance_id,
                    delivery.c.process_key, delivery.c.attempts, event.c.name, event.c.payload, event.c.sender)
             .join(event, event.c.id == delivery.c.event_id)
             .where(delivery.c.status == "pending").order_by(delivery.c.id).limit(limit))
    if event_id is not None:
        query = query.where(delivery.c.event_id == event_id)
    if max_attempts is not None:
        query = query.where(delivery.c.attempts < max_attempts)
    return conn.execute(query).all()


def delivery_status(conn, delivery_id: int) -> str | None:
    return conn.execute(select(delivery.c.status).where(delivery.c.id == delivery_id)).scalar()


def event_counts(conn, event_id: int) -> dict[str, int]:
    """`{status: count}` of an event's deliveries, instances reached and processes started apart."""
    rows = conn.execute(select(delivery.c.status, delivery.c.process_key.is_(None), func.count())
                        .where(delivery.c.event_id == event_id)
                        .group_by(delivery.c.status, delivery.c.process_key.is_(None))).all()
    counts = {"reached": 0, "started": 0, "skipped": 0, "failed": 0, "pending": 0}
    for status, is_instance, count in rows:
        if status == "done":
            counts["reached" if is_instance else "started"] += count
        else:
            counts[status] = counts.get(status, 0) + count
    return counts


def close_finished_events(conn, event_ids) -> None:
    """Mark `done` the events among `event_ids` with no pending delivery left."""
    pending = select(delivery.c.id).where(delivery.c.event_id == event.c.id, delivery.c.status == "pending")
    conn.execute(update(event).where(event.c.id.in_(list(event_ids)), event.c.status == "pending",
                                     ~pending.exists()).values(status="done"))


def thrown_events(conn, sender: str) -> list[int]:
    return list(conn.scalars(select(event.c.id).where(event.c.sender == sender, event.c.status == "pending")
                             .order_by(event.c.id)))
