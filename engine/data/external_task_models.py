"""External service tasks (issue 13, issue 10 item 3): work a worker outside Liaison does.

A `serviceTask camunda:type="external" camunda:topic="T"` waits READY in the workflow (see
`engine.bpmn.specs.ExternalTask`); its `external_task` row is what workers fetch, lock and complete
through `engine.runtime.worker_tasks`. One row per engine task (`task_id` is unique).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.data.models import Base, utcnow

STATUSES = ("open", "locked", "completed", "failed", "incident", "cancelled")


class ExternalTask(Base):
    """One external service task: open (fetchable once `available_at` has passed), locked by a worker
    until `lock_expires_at`, completed, incident (no retries left; an admin may retry it), cancelled
    (the instance moved on without it)."""

    __tablename__ = "external_task"
    __table_args__ = (Index("ix_external_task_fetch", "topic", "status", "available_at"),
                      Index("ix_external_task_instance", "instance_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[str] = mapped_column(String(64), unique=True)  # the engine task it completes
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    element_id: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="open")
    worker: Mapped[str | None] = mapped_column(String(200))
    lock_expires_at: Mapped[datetime | None] = mapped_column()
    available_at: Mapped[datetime] = mapped_column(default=utcnow)  # after a failure: when it comes back
    retries: Mapped[int | None] = mapped_column(Integer)  # left; None until the worker first reports a failure
    error_message: Mapped[str | None] = mapped_column(Text)
    error_details: Mapped[str | None] = mapped_column(Text)
    variables: Mapped[dict] = mapped_column(JSON, default=dict)  # the process data when it became ready
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
