"""The hot path of persistence: the few SQL statements one engine step needs, in SQLAlchemy Core.

Starting an instance or completing a task runs these inside one transaction. They are plain
Core statements on the tables of `models` (compiled once and cached by SQLAlchemy) because the
ORM's unit of work cost ten times more than the engine step itself (see docs/benchmarks.md).
The read side (`queries`) and deployments keep using the ORM.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from .models import HistoryEntry, ProcessInstance, ProcessVersion, TaskCandidate, WorkTask

_instance = ProcessInstance.__table__
_task = WorkTask.__table__
_candidate = TaskCandidate.__table__
_history = HistoryEntry.__table__
_version = ProcessVersion.__table__


@dataclass(frozen=True)
class TaskHandle:
    """An open-or-not task row with what deciding a completion needs from its instance."""

    task_id: str
    status: str
    assignee: str | None
    candidate_users: list
    candidate_groups: list
    completed_by: str | None
    instance_id: int
    instance_status: str
    revision: int
    state_key: str
    version_id: int
    checksum: str


@dataclass(frozen=True)
class InstanceHandle:
    """An instance row without its (large) state."""

    instance_id: int
    status: str
    revision: int
    state_key: str
    version_id: int
    checksum: str
    data: dict


_TASK_HANDLE = (
    select(_task.c.id, _task.c.status, _task.c.assignee, _task.c.candidate_users, _task.c.candidate_groups,
           _task.c.completed_by, _instance.c.id, _instance.c.status, _instance.c.revision,
           _instance.c.state_key, _instance.c.version_id, _version.c.checksum)
    .join(_instance, _instance.c.id == _task.c.instance_id)
    .join(_version, _version.c.id == _instance.c.version_id)
)


def task_handle(conn: Connection, task_id: str) -> TaskHandle | None:
    """The task and its instance's lock fields, in one query."""
    row = conn.execute(_TASK_HANDLE.where(_task.c.id == task_id)).first()
    return None if row is None else TaskHandle(*row)


def instance_handle(conn: Connection, instance_id: int) -> InstanceHandle | None:
    """The instance's lock fields and data, without its state."""
    row = conn.execute(
        select(_instance.c.id, _instance.c.status, _instance.c.revision, _instance.c.state_key,
               _instance.c.version_id, _version.c.checksum, _instance.c.data)
        .join(_version, _version.c.id == _instance.c.version_id)
        .where(_instance.c.id == instance_id)).first()
    return None if row is None else InstanceHandle(*row)


def instance_state(conn: Connection, instance_id: int) -> str:
    """The serialized engine state of an instance."""
    return conn.execute(select(_instance.c.state).where(_instance.c.id == instance_id)).scalar_one()


def version_spec_json(conn: Connection, version_id: int) -> str:
    """The stored, parsed spec of a version."""
    return conn.execute(select(_version.c.spec_json).where(_version.c.id == version_id)).scalar_one()


def new_state_key() -> str:
    """A fresh random marker identifying one saved state (keys the in-process workflow cache)."""
    return uuid.uuid4().hex


def insert_instance(conn: Connection, *, version_id: int, process_key: str, initiator: str | None,
                    business_key: str | None, now: datetime) -> int:
    """Create the instance row (state is written by `save_instance` in the same transaction)."""
    return conn.execute(insert(_instance).values(
        version_id=version_id, process_key=process_key, status="running", initiator=initiator,
        business_key=business_key, state="", data={}, revision=0, state_key="", created_at=now,
        updated_at=now).returning(_instance.c.id)).scalar_one()


def save_instance(conn: Connection, instance_id: int, expected_revision: int, *, state: str, data: dict,
                  status: str, end_event: str | None, now: datetime, state_key: str) -> bool:
    """Write the new state if nobody saved since `expected_revision`; False means someone did."""
    values = dict(state=state, data=data, status=status, end_event=end_event, updated_at=now,
                  revision=expected_revision + 1, state_key=state_key)
    if status != "running":
        values["ended_at"] = now
    result = conn.execute(update(_instance)
                          .where(_instance.c.id == instance_id, _instance.c.revision == expected_revision)
                          .values(**values))
    return result.rowcount == 1


def mark_task_completed(conn: Connection, task_id: str, user: str, now: datetime) -> bool:
    """Close an open task row; False if it was not open any more."""
    result = conn.execute(update(_task).where(_task.c.id == task_id, _task.c.status == "open")
                          .values(status="completed", completed_by=user, completed_at=now))
    return result.rowcount == 1


def open_tasks(conn: Connection, instance_id: int) -> dict[str, tuple]:
    """Open task rows of an instance: id -> (element_id, name, form, assignee, users, groups, due_at)."""
    rows = conn.execute(select(_task.c.id, _task.c.element_id, _task.c.name, _task.c.form, _task.c.assignee,
                               _task.c.candidate_users, _task.c.candidate_groups, _task.c.due_at)
                        .where(_task.c.instance_id == instance_id, _task.c.status == "open"))
    return {row[0]: tuple(row[1:]) for row in rows}


def insert_tasks(conn: Connection, rows: list[dict]) -> None:
    """Create open task rows and their candidate index rows."""
    if not rows:
        return
    conn.execute(insert(_task), rows)
    candidates = [{"task_id": r["id"], "kind": kind, "value": value}
                  for r in rows
                  for kind, values in (("user", r["candidate_users"]), ("group", r["candidate_groups"]))
                  for value in dict.fromkeys(values)]
    if candidates:
        conn.execute(insert(_candidate), candidates)


def cancel_tasks(conn: Connection, task_ids: list[str], now: datetime) -> None:
    """Close task rows whose engine task went away (a boundary event, a cancel, a terminate)."""
    if task_ids:
        conn.execute(update(_task).where(_task.c.id.in_(task_ids), _task.c.status == "open")
                     .values(status="cancelled", completed_at=now))


def append_history(conn: Connection, entries: list[dict]) -> None:
    """Append history rows (never updated or deleted)."""
    if entries:
        conn.execute(insert(_history), [{"actor": None, "element_id": None, "element_type": None,
                                         "task_id": None, "comment": None, "data": None, **e}
                                        for e in entries])
