"""Tables of process analytics (issue 19): a summary of the history, refreshed incrementally.

`analytics_instance` has one row per instance and `analytics_node_visit` one per user task
(`work_task` row), with the departments of the actor and the initiator copied in so a dashboard
reads one table with indexes. `analytics_watermark` keeps the last `history_entry` id read:
`engine.work.analytics.refresh` rebuilds only the instances with newer history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.data.models import Base


class AnalyticsWatermark(Base):
    """One row per summary (`name`): the last history id it has read."""

    __tablename__ = "analytics_watermark"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    history_id: Mapped[int] = mapped_column(BigInteger, default=0)


class AnalyticsInstance(Base):
    """An instance as the dashboards count it; `status`: running, completed, rejected, withdrawn, terminated."""

    __tablename__ = "analytics_instance"
    __table_args__ = (Index("ix_analytics_instance_key_started", "process_key", "started_at"),)

    instance_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    initiator: Mapped[str | None] = mapped_column(String(100))
    initiator_department_id: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    cycle_seconds: Mapped[int | None] = mapped_column(BigInteger)


class AnalyticsNodeVisit(Base):
    """One user task of an instance: when it began waiting and ended, who acted, and the outcome."""

    __tablename__ = "analytics_node_visit"
    __table_args__ = (
        Index("ix_analytics_visit_key_element", "process_key", "element_id"),
        Index("ix_analytics_visit_instance", "instance_id"),
        Index("ix_analytics_visit_key_actor", "process_key", "actor"),  # 0034: workload, deputies
    )

    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[int] = mapped_column(Integer)
    process_key: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    element_id: Mapped[str] = mapped_column(String(200))
    entered_at: Mapped[datetime] = mapped_column()
    left_at: Mapped[datetime | None] = mapped_column()
    actor: Mapped[str | None] = mapped_column(String(100))  # who completed it, or who it waits for
    actor_department_id: Mapped[int | None] = mapped_column(Integer)
    initiator_department_id: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(String(20))  # approved | rejected | completed | cancelled | open
    due_at: Mapped[datetime | None] = mapped_column()
    wait_seconds: Mapped[int | None] = mapped_column(BigInteger)
    escalations: Mapped[int] = mapped_column(Integer, default=0)  # "escalated" history rows of the task (0034)


class AnalyticsFlowPass(Base):
    """One sequence flow an instance took (migration 0034): `passes` times, read from the order of its
    history's step rows against the version's flows (`engine.work.analytics_paths`)."""

    __tablename__ = "analytics_flow_pass"
    __table_args__ = (Index("ix_analytics_flow_key_version", "process_key", "version"),)

    instance_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    initiator_department_id: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column()
    passes: Mapped[int] = mapped_column(Integer, default=1)
