"""The hot path of persistence: the few SQL statements one engine step needs, in SQLAlchemy Core.

Starting an instance or completing a task runs these inside one transaction. They are plain
Core statements on the tables of `models` (compiled once and cached by SQLAlchemy) because the
ORM's unit of work cost ten times more than the engine step itself (see docs/benchmarks.md).
The read side (`queries`) and deployments keep using the ORM.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from .models import HistoryEntry, ProcessDefinition, ProcessInstance, ProcessVersion, TaskCandidate, WorkTask

_instance = ProcessInstance.__table__
_task = WorkTask.__table__
_candidate = TaskCandidate.__table__
_history = HistoryEntry.__table__
_version = ProcessVersion.__table__
_definition = ProcessDefinition.__table__


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
    form: str | None = None
    element_id: str | None = None
    process_key: str | None = None
    on_behalf_of: str | None = None  # the assignee away when the task was created (`assignee` is the deputy)


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
           _instance.c.state_key, _instance.c.version_id, _version.c.checksum, _task.c.form,
           _task.c.element_id, _instance.c.process_key, _task.c.on_behalf_of)
    .join(_instance, _instance.c.id == _task.c.instance_id)
    .join(_version, _version.c.id == _instance.c.version_id)
)


# Statements are built once with bind parameters: building them per call cost 5x more than running them.
_SELECT_TASK_HANDLE = _TASK_HANDLE.where(_task.c.id == bindparam("b_task"))
_SELECT_INSTANCE_HANDLE = (
    select(_instance.c.id, _instance.c.status, _instance.c.revision, _instance.c.state_key,
           _instance.c.version_id, _version.c.checksum, _instance.c.data)
    .join(_version, _version.c.id == _instance.c.version_id)
    .where(_instance.c.id == bindparam("b_instance")))
_SELECT_STATE = select(_instance.c.state).where(_instance.c.id == bindparam("b_instance"))
_SELECT_SPEC = select(_version.c.spec_json).where(_version.c.id == bindparam("b_version"))
_SELECT_PACKAGE = select(_version.c.package).where(_version.c.id == bindparam("b_version"))
_SELECT_LATEST_VERSION = (
    select(_version.c.id, _version.c.checksum)
    .where(_version.c.definition_id == bindparam("b_definition"))
    .order_by(_version.c.number.desc()).limit(1))
_UPDATE_TASK_COMPLETED = (
    update(_task).where(_task.c.id == bindparam("b_task"), _task.c.status == "open")
    .values(status="completed", completed_by=bindparam("b_user"), completed_at=bindparam("b_now")))
_INSERT_TASK = insert(_task)
_INSERT_CANDIDATE = insert(_candidate)
_INSERT_HISTORY = insert(_history)
_SAVE_COLUMNS = ("state", "data", "status", "end_event", "updated_at", "revision", "state_key", "ended_at")
_UPDATE_INSTANCE = (
    update(_instance)
    .where(_instance.c.id == bindparam("b_instance"), _instance.c.revision == bindparam("b_revision"))
    .values({name: bindparam(f"v_{name}") for name in _SAVE_COLUMNS}))


class StaleInstance(Exception):
    """The instance was saved by someone else since it was read; nothing of this step was written."""


@dataclass
class StepWrite:
    """Everything one engine step writes. `instance_id` None creates the instance."""

    instance_id: int | None
    revision: int
    now: datetime
    state: str
    data: dict
    status: str
    state_key: str
    end_event: str | None = None
    complete_task: str | None = None
    user: str | None = None
    cancel: list = field(default_factory=list)
    new_tasks: list = field(default_factory=list)  # dicts: id, element_id, name, form, assignee, on_behalf_of,
    #                                                  candidate_*, due_at
    history: list = field(default_factory=list)  # dicts: actor, action, element_id, ... (no instance_id)
    version_id: int | None = None  # for a new instance
    process_key: str | None = None
    initiator: str | None = None
    business_key: str | None = None


def write_step(conn: Connection, step: StepWrite) -> int:
    """Write one step atomically and return the instance id; StaleInstance if the revision moved.

    PostgreSQL: one call of `liaison_save_step` (migration 0003), one round trip, atomic on its
    own, so the caller may run it in autocommit mode. Other databases: the same writes as Core
    statements, inside the caller's transaction (which must be rolled back on StaleInstance).
    """
    if conn.dialect.name == "postgresql":
        return _write_step_postgres(conn, step)
    instance_id = step.instance_id
    if instance_id is None:
        instance_id = insert_instance(conn, version_id=step.version_id, process_key=step.process_key,
                                      initiator=step.initiator, business_key=step.business_key, now=step.now)
    if step.complete_task:
        mark_task_completed(conn, step.complete_task, step.user, step.now)  # the revision check covers races
    cancel_tasks(conn, step.cancel, step.now)
    insert_tasks(conn, [{**t, "instance_id": instance_id, "status": "open", "completed_by": None,
                         "completed_at": None, "created_at": step.now} for t in step.new_tasks])
    append_history(conn, [{**h, "instance_id": instance_id, "at": step.now} for h in step.history])
    if not save_instance(conn, instance_id, step.revision, state=step.state, data=step.data,
                         status=step.status, end_event=step.end_event, now=step.now, state_key=step.state_key):
        raise StaleInstance()
    return instance_id


_SAVE_STEP = text("SELECT liaison_save_step(CAST(:payload AS jsonb))")


def _write_step_postgres(conn: Connection, step: StepWrite) -> int:
    payload = {
        "instance_id": step.instance_id, "revision": step.revision, "now": step.now.isoformat(),
        "state": step.state, "data": _json(step.data), "status": step.status, "state_key": step.state_key,
        "end_event": step.end_event, "complete_task": step.complete_task, "user": step.user,
        "cancel": step.cancel, "new_tasks": step.new_tasks,
        "candidates": _candidates(step.new_tasks),
        "history": [{**h, "data": _json(h["data"]) if h.get("data") is not None else None} for h in step.history],
        "version_id": step.version_id, "process_key": step.process_key, "initiator": step.initiator,
        "business_key": step.business_key,
    }
    try:
        return conn.execute(_SAVE_STEP, {"payload": json.dumps(payload, default=str)}).scalar_one()
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == "LI409":
            raise StaleInstance() from exc
        raise


def _json(value) -> str:
    return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))


def _candidates(rows: list[dict]) -> list[dict]:
    return [{"task_id": r["id"], "kind": kind, "value": value}
            for r in rows
            for kind, values in (("user", r["candidate_users"]), ("group", r["candidate_groups"]))
            for value in dict.fromkeys(values)]


def task_handle(conn: Connection, task_id: str) -> TaskHandle | None:
    """The task and its instance's lock fields, in one query."""
    row = conn.execute(_SELECT_TASK_HANDLE, {"b_task": task_id}).first()
    return None if row is None else TaskHandle(*row)


def instance_handle(conn: Connection, instance_id: int) -> InstanceHandle | None:
    """The instance's lock fields and data, without its state."""
    row = conn.execute(_SELECT_INSTANCE_HANDLE, {"b_instance": instance_id}).first()
    return None if row is None else InstanceHandle(*row)


def instance_state(conn: Connection, instance_id: int) -> str:
    """The serialized engine state of an instance."""
    return conn.execute(_SELECT_STATE, {"b_instance": instance_id}).scalar_one()


def version_spec_json(conn: Connection, version_id: int) -> str:
    """The stored, parsed spec of a version."""
    return conn.execute(_SELECT_SPEC, {"b_version": version_id}).scalar_one()


def version_package(conn: Connection, version_id: int) -> dict:
    """The stored package content of a version (meta, forms, notifications, tests)."""
    return conn.execute(_SELECT_PACKAGE, {"b_version": version_id}).scalar_one()


def latest_version(conn: Connection, key: str) -> tuple[int, str] | None:
    """`(version_id, checksum)` of the newest version of process `key`, or None."""
    definition_id = conn.execute(
        select(_definition.c.id).where(_definition.c.key == bindparam("b_key")), {"b_key": key}).scalar()
    if definition_id is None:
        return None
    row = conn.execute(_SELECT_LATEST_VERSION, {"b_definition": definition_id}).first()
    return None if row is None else (row[0], row[1])


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
    values = {"b_instance": instance_id, "b_revision": expected_revision, "v_state": state, "v_data": data,
              "v_status": status, "v_end_event": end_event, "v_updated_at": now,
              "v_revision": expected_revision + 1, "v_state_key": state_key,
              "v_ended_at": None if status == "running" else now}
    return conn.execute(_UPDATE_INSTANCE, values).rowcount == 1


def mark_task_completed(conn: Connection, task_id: str, user: str, now: datetime) -> bool:
    """Close an open task row; False if it was not open any more."""
    params = {"b_task": task_id, "b_user": user, "b_now": now}
    return conn.execute(_UPDATE_TASK_COMPLETED, params).rowcount == 1


def insert_tasks(conn: Connection, rows: list[dict]) -> None:
    """Create open task rows and their candidate index rows."""
    if not rows:
        return
    conn.execute(_INSERT_TASK, rows)
    candidates = _candidates(rows)
    if candidates:
        conn.execute(_INSERT_CANDIDATE, candidates)


def cancel_tasks(conn: Connection, task_ids: list[str], now: datetime) -> None:
    """Close task rows whose engine task went away (a boundary event, a cancel, a terminate)."""
    if task_ids:
        conn.execute(update(_task).where(_task.c.id.in_(task_ids), _task.c.status == "open")
                     .values(status="cancelled", completed_at=now))


def append_history(conn: Connection, entries: list[dict]) -> None:
    """Append history rows (never updated or deleted)."""
    if entries:
        conn.execute(_INSERT_HISTORY, [{"actor": None, "element_id": None, "element_type": None,
                                         "task_id": None, "comment": None, "data": None, **e}
                                        for e in entries])
