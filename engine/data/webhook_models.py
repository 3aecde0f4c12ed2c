"""Webhook subscriptions of the REST API (issue 13): who is told of which instance and task events.

A subscription owns a generic `webhook_endpoint` row (its URL and HMAC secret), so its deliveries are
ordinary outbox rows sent, signed and retried by `engine.notify.delivery` like any package webhook.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.data.models import Base, OutboxMessage, utcnow


class ApiWebhook(Base):
    """A subscription: its owner, the endpoint it delivers to, the events it wants, an optional process."""

    __tablename__ = "api_webhook"
    __table_args__ = (Index("ix_api_webhook_person", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoint.id"))
    events: Mapped[list] = mapped_column(JSON, default=list)
    process_key: Mapped[str | None] = mapped_column(String(100))  # None: every process
    # False: only instances the owner started and tasks offered to or done by them; True (a super
    # admin's subscription made with an admin-scoped token): every instance
    all_instances: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# A subscription's delivery log (`api_webhooks.recent_deliveries`): its outbox rows, newest first, read
# as one index range however large the outbox grows.
Index("ix_outbox_recipient", OutboxMessage.__table__.c.recipient, OutboxMessage.__table__.c.id)
