"""Cross-instance BPMN signals (issue 10 item 3, issue 13): who waits, what was sent, who got it.

- `signal_subscription`: a signal catch event (intermediate, boundary, event-subprocess start) an
  instance waits on, written and ended by the step like message subscriptions.
- `signal_event`: one signal sent, by an instance's throw event (written in the throwing step's own
  transaction, sender `instance:ID`) or from outside (`liaison signal send`, `POST /api/v1/signals`).
- `signal_delivery`: one receiver of an event, fixed when the event is written (the instances then
  waiting and the processes starting on it); marked `done` in the receiving step's own write, so a
  retry never delivers twice (`target` unique per event: `i:ID` an instance, `p:KEY` a process start).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.data.models import Base, utcnow

DELIVERY_STATUSES = ("pending", "done", "skipped", "failed")


class SignalSubscription(Base):
    """A waiting signal catch event of a running instance."""

    __tablename__ = "signal_subscription"
    __table_args__ = (Index("ix_signal_subscription_name", "signal_name"),
                      Index("ix_signal_subscription_instance", "instance_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str | None] = mapped_column(String(200))
    signal_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SignalEvent(Base):
    """One signal sent; `pending` until every delivery is done, skipped or failed for good."""

    __tablename__ = "signal_event"
    __table_args__ = (Index("ix_signal_event_status", "status"), Index("ix_signal_event_sender", "sender"))

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    sender: Mapped[str | None] = mapped_column(String(100))  # a username, or `instance:ID` for a throw event
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | done
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SignalDelivery(Base):
    """One receiver of a signal event: an instance waiting on it, or a process that starts on it."""

    __tablename__ = "signal_delivery"
    __table_args__ = (UniqueConstraint("event_id", "target", name="uq_signal_delivery_target"),
                      Index("ix_signal_delivery_status", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("signal_event.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(120))  # `i:<instance id>` or `p:<process key>`
    instance_id: Mapped[int | None] = mapped_column(Integer)  # the instance reached or started
    process_key: Mapped[str | None] = mapped_column(String(100))  # for a start
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column()
