"""The hot path of persistence: the few SQL statements one engine step needs, in SQLAlchemy Core.

Starting an instance or completing a task runs these inside one transaction. They are plain
Core statements on the tables of `models` (compiled once and cached by SQLAlchemy) because the
ORM's unit of work cost ten times more than the engine step itself (see docs/benchmarks.md).
The read side (`queries`) and deployments keep using the ORM.

Just over 600 lines on purpose: every statement a step writes is here, side by side, so what one step
costs in round trips (the number issue 12 measures) can be read in one file.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import (
    JSON,
    Connection,
    String,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import coercions, roles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from engine.caching import scoped
from engine.data.models import (
    ApprovalItem,
    BufferedMessage,
    CcRecord,
    DirectoryVersion,
    HistoryEntry,
    InstanceData,
    MessageSubscription,
    Notification,
    OutboxMessage,
    ProcessDefinition,
    ProcessInstance,
    ProcessVersion,
    TaskCandidate,
    Timer,
    WorkTask,
)
from engine.data.prepared import Prepared

_instance = ProcessInstance.__table__
_task = WorkTask.__table__
_candidate = TaskCandidate.__table__
_history = HistoryEntry.__table__
_version = ProcessVersion.__table__
_definition = ProcessDefinition.__table__
_timer = Timer.__table__
_subscription = MessageSubscription.__table__
_outbox = OutboxMessage.__table__
_notification = Notification.__table__
_item = ApprovalItem.__table__
_data = InstanceData.__table__
_cc = CcRecord.__table__


class process_data(ColumnElement):  # noqa: N801 - used like a SQL function
    """The process data of the instance whose id is `instance_id` (a column or a bind parameter), as one
    JSON object in key order, read from `instance_data` by one aggregate subquery: no extra round trip."""

    type = JSON()
    inherit_cache = True
    _traverse_internals = [("instance_id", InternalTraversal.dp_clauseelement)]  # in the statement's cache key

    def __init__(self, instance_id):
        self.instance_id = coercions.expect(roles.ExpressionElementRole, instance_id)


@compiles(process_data, "postgresql")
def _process_data_postgresql(element, compiler, **kw):
    return ("(SELECT COALESCE(json_object_agg(d.key, d.value::json ORDER BY d.ord), '{}') "
            f"FROM instance_data d WHERE d.instance_id = {compiler.process(element.instance_id, **kw)})")


@compiles(process_data)
def _process_data_sqlite(element, compiler, **kw):
    return ("(SELECT json_group_object(d.key, json(d.value)) FROM (SELECT key, value FROM instance_data "
            f"WHERE instance_id = {compiler.process(element.instance_id, **kw)} ORDER BY ord) d)")


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
    initiator: str | None = None
    business_key: str | None = None
    delegated_by: str | None = None  # 委派: the assignee is the delegate; completing hands it back
    directory_version: int | None = None  # of the people directory, read along (keys the step's look-up cache)
    # `(serialized engine state, process data)` read in the same statement as the fields above
    # (`task_with_data(with_state=True)`): the step restores from it when this process does not hold
    # the workflow, instead of reading the state again (a 4th round trip with several workers)
    state: tuple | None = field(default=None, repr=False, compare=False)


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
    process_key: str | None = None
    initiator: str | None = None
    business_key: str | None = None


_DIRECTORY_VERSION = (select(DirectoryVersion.__table__.c.version).where(DirectoryVersion.__table__.c.id == 1)
                      .scalar_subquery())
_TASK_HANDLE = (
    select(_task.c.id, _task.c.status, _task.c.assignee, _task.c.candidate_users, _task.c.candidate_groups,
           _task.c.completed_by, _instance.c.id, _instance.c.status, _instance.c.revision,
           _instance.c.state_key, _instance.c.version_id, _version.c.checksum, _task.c.form,
           _task.c.element_id, _instance.c.process_key, _task.c.on_behalf_of, _instance.c.initiator,
           _instance.c.business_key, _task.c.delegated_by, _DIRECTORY_VERSION)
    .join(_instance, _instance.c.id == _task.c.instance_id)
    .join(_version, _version.c.id == _instance.c.version_id)
)


# Statements are built once with bind parameters: building them per call cost 5x more than running them.
_SELECT_TASK_HANDLE = _TASK_HANDLE.where(_task.c.id == bindparam("b_task"))
# A task page or a web-form completion: the handle's columns, what the page shows of the task, and the
# instance's process data, in one read (`task_with_data`).
_SELECT_TASK_WITH_DATA = (
    _TASK_HANDLE.add_columns(_task.c.name, _task.c.due_at, _task.c.created_at, process_data(_instance.c.id))
    .where(_task.c.id == bindparam("b_task")))
# ... and the instance's engine state, for a completion (one read, whichever worker holds the workflow)
_SELECT_TASK_WITH_STATE = _SELECT_TASK_WITH_DATA.add_columns(_instance.c.state)
_HANDLE_WIDTH = len(_TASK_HANDLE.selected_columns)
_SELECT_INSTANCE_HANDLE = (
    select(_instance.c.id, _instance.c.status, _instance.c.revision, _instance.c.state_key,
           _instance.c.version_id, _version.c.checksum, process_data(_instance.c.id), _instance.c.process_key,
           _instance.c.initiator, _instance.c.business_key)
    .join(_version, _version.c.id == _instance.c.version_id)
    .where(_instance.c.id == bindparam("b_instance")))
_SELECT_STATE = (select(_instance.c.state, process_data(_instance.c.id), _instance.c.revision)
                 .where(_instance.c.id == bindparam("b_instance")))
_SELECT_SPEC = select(_version.c.spec_json).where(_version.c.id == bindparam("b_version"))
_SELECT_PACKAGE = select(_version.c.package).where(_version.c.id == bindparam("b_version"))
_SELECT_LATEST_VERSION = (
    select(_version.c.id, _version.c.checksum)
    .join(_definition, _definition.c.id == _version.c.definition_id)
    .where(_definition.c.key == bindparam("b_key"))
    .order_by(_version.c.number.desc()).limit(1))
_UPDATE_TASK_COMPLETED = (
    update(_task).where(_task.c.id == bindparam("b_task"), _task.c.status == "open")
    .values(status="completed", completed_by=bindparam("b_user"), completed_at=bindparam("b_now")))
_UPDATE_TASK_COMPLETED = Prepared(_UPDATE_TASK_COMPLETED)
_INSERT_TASK = Prepared(insert(_task), by_keys=True)
_INSERT_CANDIDATE = Prepared(insert(_candidate), by_keys=True)
_INSERT_HISTORY = Prepared(insert(_history), by_keys=True)
_INSERT_OUTBOX = Prepared(insert(_outbox), by_keys=True)
_INSERT_NOTIFICATION = Prepared(insert(_notification), by_keys=True)
_SAVE_COLUMNS = ("state", "status", "end_event", "updated_at", "revision", "state_key", "ended_at")
_UPDATE_INSTANCE = (
    update(_instance)
    .where(_instance.c.id == bindparam("b_instance"), _instance.c.revision == bindparam("b_revision"))
    .values({name: bindparam(f"v_{name}") for name in _SAVE_COLUMNS}))
_UPDATE_INSTANCE = Prepared(_UPDATE_INSTANCE)


class StaleInstance(Exception):
    """The instance was saved by someone else since it was read; nothing of this step was written."""


class AlreadyTaken(Exception):
    """The timer this step fires, or the buffered message it takes, was handled already: nothing written."""


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
    # the process data as a change set against what is stored (`data_changes`): only these keys are written
    data_set: list = field(default_factory=list)  # dicts: key, value (JSON text), ord
    data_del: list = field(default_factory=list)  # keys removed
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
    # issue 4: what waits on the clock or a message, and the side effects of the step
    timers_new: list = field(default_factory=list)  # dicts: task_id, element_id, kind, due_at, detail
    timers_cancel: list = field(default_factory=list)  # engine task ids whose pending timers end
    subs_new: list = field(default_factory=list)  # dicts: task_id, element_id, message_name, correlation_key, early
    subs_cancel: list = field(default_factory=list)  # engine task ids that stopped waiting for a message
    fire_timer: int | None = None  # the timer row this step fires: marked fired only if still pending
    consume_message: int | None = None  # the buffered message this step takes: only if still waiting
    outbox: list = field(default_factory=list)  # dicts: event, channel, recipient, payload
    notifications: list = field(default_factory=list)  # dicts: recipient, event, task_id, title, body, link
    approval_items: list = field(default_factory=list)  # dicts: id, task_id, signer, position, weight, status
    directory_version: int | None = None  # read with the step's task row: its look-up may come from cache
    no_waits: bool = False  # an ending instance whose version makes no timers or subscriptions: no clean-up
    cc: list = field(default_factory=list)  # dicts: username, cc_by (copies the diagram makes; once per person)
    # messages thrown by the step's events, kept for routing after the commit: dicts message_name,
    # correlation_key, payload, expires_at (the sender is `thrower(instance id)`)
    thrown: list = field(default_factory=list)
    signals: object = None  # `signal_store.SignalWrites`: subscriptions, thrown signals, the delivery carried out


def write_step(conn: Connection, step: StepWrite) -> int:
    """Write one step atomically and return the instance id; StaleInstance if the revision moved.

    The instance row is written first: its revision check (and, on PostgreSQL, its row lock) comes
    before any other write, so the loser of a race writes nothing. PostgreSQL: one call of
    `liaison_save_step` (migration 0017), one round trip, atomic on its own, so the caller may run
    it in autocommit mode. Other databases: Core statements inside the caller's transaction (which
    must be rolled back on StaleInstance or AlreadyTaken).
    """
    if conn.dialect.name == "postgresql":
        return _write_step_postgres(conn, step)
    instance_id = step.instance_id
    if instance_id is None:
        instance_id = insert_instance(conn, step)
    elif not save_instance(conn, instance_id, step.revision, state=step.state,
                           status=step.status, end_event=step.end_event, now=step.now, state_key=step.state_key):
        raise StaleInstance()
    _write_data(conn, instance_id, step)
    _claim_trigger(conn, step, instance_id)
    if step.complete_task:
        mark_task_completed(conn, step.complete_task, step.user, step.now)  # the revision check covers races
    cancel_tasks(conn, instance_id, step.cancel, step.now)
    if step.approval_items:
        conn.execute(insert(_item), [{"instance_id": instance_id, "created_at": step.now, **i}
                                     for i in step.approval_items])
    if step.cancel:
        conn.execute(update(_item).where(_item.c.instance_id == instance_id, _item.c.task_id.in_(step.cancel),
                                         _item.c.status.in_(["open", "waiting"]))
                     .values(status="cancelled", decided_at=step.now))
    _write_waits_and_effects(conn, step, instance_id)
    insert_tasks(conn, [{**t, "instance_id": instance_id, "status": "open", "completed_by": None,
                         "completed_at": None, "created_at": step.now} for t in step.new_tasks])
    append_history(conn, [{**h, "instance_id": instance_id, "at": step.now} for h in step.history])
    if step.cc:
        statement = sqlite_insert(_cc).on_conflict_do_nothing(index_elements=["instance_id", "username"])
        conn.execute(statement, [{"instance_id": instance_id, "created_at": step.now, **c} for c in step.cc])
    if step.thrown:
        conn.execute(insert(_buffered), [{"sender": thrower(instance_id), "status": "waiting",
                                          "received_at": step.now, **m} for m in step.thrown])
    return instance_id


THROWER_PREFIX = "instance:"


def thrower(instance_id: int) -> str:
    """The `sender` of a kept message that an instance's own throw event sent (never delivered back to it)."""
    return f"{THROWER_PREFIX}{instance_id}"


def not_thrown_by(instance_id_column):
    """A condition: the kept message was not thrown by the instance in `instance_id_column`."""
    return or_(_buffered.c.sender.is_(None),
               _buffered.c.sender != literal(THROWER_PREFIX) + cast(instance_id_column, String))


_UPSERT_DATA = sqlite_insert(_data).values(
    instance_id=bindparam("instance_id"), key=bindparam("key"), ord=bindparam("ord"), value=bindparam("value"))
_UPSERT_DATA = _UPSERT_DATA.on_conflict_do_update(index_elements=[_data.c.instance_id, _data.c.key],
                                                  set_={"value": _UPSERT_DATA.excluded.value})
_UPSERT_DATA = Prepared(_UPSERT_DATA)
_DELETE_DATA = delete(_data).where(_data.c.instance_id == bindparam("b_instance"),
                                   _data.c.key.in_(bindparam("b_keys", expanding=True)))


def _write_data(conn: Connection, instance_id: int, step: StepWrite) -> None:
    """The step's change set of process data (a key set again keeps its place in the order)."""
    if step.data_set:
        _UPSERT_DATA.many(conn, [{"instance_id": instance_id, **row} for row in step.data_set])
    if step.data_del:
        conn.execute(_DELETE_DATA, {"b_instance": instance_id, "b_keys": step.data_del})


_SCALARS = (str, int, float, bool, type(None))


def data_changes(saved: dict, data: dict, revision: int) -> tuple[list[dict], list[str], dict]:
    """`(data_set, data_del, new saved)`: the rows that turn the stored process data `saved` (as
    returned by `saved_data`) into `data`, written by the step that makes `revision`.

    Scalars are compared by type and value (`True` is not `1`), containers by their JSON text, so
    a value changed in place by a script is seen; unchanged scalars cost no encoding. New keys
    are ordered after every stored one, in their order in `data`.
    """
    changed, now = [], {}
    base = revision << 20
    for index, (key, value) in enumerate(data.items()):
        old = saved.get(key, saved)  # `saved` itself: a marker no stored value can equal
        if type(value) in _SCALARS:
            now[key] = value
            if type(old) is type(value) and old == value:
                continue
        else:
            now[key] = encoded = ("json", _json(value))
            if old == encoded:
                continue
            changed.append({"key": key, "value": encoded[1], "ord": base + index})
            continue
        changed.append({"key": key, "value": _json(value), "ord": base + index})
    return changed, [key for key in saved if key not in data], now


def saved_data(data: dict) -> dict:
    """What `data_changes` compares with, for process data as just read from the database."""
    return {k: v if type(v) in _SCALARS else ("json", _json(v)) for k, v in data.items()}


def read_process_data(conn, instance_id: int) -> dict:
    """The process data of one instance (a connection or a session)."""
    return conn.execute(select(process_data(bindparam("b_instance"))), {"b_instance": instance_id}).scalar_one()


_FIRE_TIMER = (update(_timer).where(_timer.c.id == bindparam("b_timer"), _timer.c.status == "pending")
               .values(status="fired", fired_at=bindparam("b_now"), claimed_until=None))
_CONSUME_MESSAGE = (
    update(BufferedMessage.__table__)
    .where(BufferedMessage.__table__.c.id == bindparam("b_message"), BufferedMessage.__table__.c.status == "waiting")
    .values(status="consumed", instance_id=bindparam("b_instance"), consumed_at=bindparam("b_now")))


def _claim_trigger(conn: Connection, step: StepWrite, instance_id: int) -> None:
    """Mark the timer fired / the buffered message taken by this step, or AlreadyTaken."""
    if step.fire_timer is not None and conn.execute(
            _FIRE_TIMER, {"b_timer": step.fire_timer, "b_now": step.now}).rowcount != 1:
        raise AlreadyTaken(f"timer {step.fire_timer} is no longer pending")
    if step.consume_message is not None and conn.execute(
            _CONSUME_MESSAGE, {"b_message": step.consume_message, "b_instance": instance_id,
                               "b_now": step.now}).rowcount != 1:
        raise AlreadyTaken(f"message {step.consume_message} was already taken")


_CANCEL_TIMERS = (update(_timer)
                  .where(_timer.c.instance_id == bindparam("b_instance"), _timer.c.status == "pending",
                         _timer.c.task_id.in_(bindparam("b_tasks", expanding=True)))
                  .values(status="cancelled"))
_DROP_SUBSCRIPTIONS = delete(_subscription).where(
    _subscription.c.instance_id == bindparam("b_instance"),
    _subscription.c.task_id.in_(bindparam("b_tasks", expanding=True)))


def _write_waits_and_effects(conn: Connection, step: StepWrite, instance_id: int) -> None:
    """Timers and message subscriptions of the step (all dropped when the instance ends), outbox, in-app."""
    if step.status != "running":
        if not step.no_waits:
            _end_waits(conn, instance_id)
    else:
        _write_waits(conn, step, instance_id)
    write_effects(conn, instance_id, step.now, step.outbox, step.notifications)


def _end_waits(conn: Connection, instance_id: int) -> None:
    conn.execute(update(_timer).where(_timer.c.instance_id == instance_id, _timer.c.status == "pending")
                     .values(status="cancelled"))
    conn.execute(delete(_subscription).where(_subscription.c.instance_id == instance_id))


def _write_waits(conn: Connection, step: StepWrite, instance_id: int) -> None:
    if step.timers_cancel:
        conn.execute(_CANCEL_TIMERS, {"b_instance": instance_id, "b_tasks": step.timers_cancel})
    if step.subs_cancel:
        conn.execute(_DROP_SUBSCRIPTIONS, {"b_instance": instance_id, "b_tasks": step.subs_cancel})
    if step.timers_new:
        conn.execute(insert(_timer), [{"instance_id": instance_id, "status": "pending", "attempts": 0,
                                       "created_at": step.now, "detail": None, **t} for t in step.timers_new])
    if step.subs_new:
        conn.execute(insert(_subscription), [{"instance_id": instance_id, "created_at": step.now, **s}
                                             for s in step.subs_new])


def write_effects(conn: Connection, instance_id: int | None, now: datetime, outbox: list[dict],
                  notifications: list[dict]) -> None:
    """Outbox rows and in-app notifications outside an engine step (reminders, escalations, operations)."""
    if outbox:
        _INSERT_OUTBOX.many(conn, [{"instance_id": instance_id, "status": "pending", "attempts": 0,
                                        "next_attempt_at": now, "created_at": now, **o} for o in outbox])
    if notifications:
        _INSERT_NOTIFICATION.many(conn, [{"instance_id": instance_id, "created_at": now, "task_id": None,
                                              "body": None, "link": None, **n} for n in notifications])


_SAVE_STEP = text("SELECT liaison_save_step(CAST(:payload AS jsonb))")
# with copies (`StepWrite.cc`): one statement, so atomic in autocommit too; a failing save inserts none
_SAVE_STEP_CC = text("WITH saved AS (SELECT liaison_save_step(CAST(:payload AS jsonb)) AS id),"
                     " copied AS (INSERT INTO cc_record (instance_id, username, cc_by, created_at)"
                     " SELECT saved.id, c.username, c.cc_by, CAST(:now AS timestamptz)"
                     " FROM saved, jsonb_to_recordset(CAST(:cc AS jsonb)) AS c(username text, cc_by text)"
                     " ON CONFLICT (instance_id, username) DO NOTHING)"
                     " SELECT id FROM saved")
# with thrown messages (`StepWrite.thrown`): kept in the same statement, sent by the saved instance
_THROWN_CTE = (", thrown AS (INSERT INTO buffered_message (message_name, correlation_key, payload, sender, status,"
               " received_at, expires_at) SELECT m.message_name, m.correlation_key, m.payload,"
               " :thrower || saved.id, 'waiting', CAST(:now AS timestamptz), m.expires_at"
               " FROM saved, jsonb_to_recordset(CAST(:thrown AS jsonb)) AS m(message_name text,"
               " correlation_key text, payload jsonb, expires_at timestamptz))")


def _save_statement(step: StepWrite) -> tuple:
    """The statement saving the step on PostgreSQL and its extra parameters."""
    folded = step.signals.pg_ctes(step) if step.signals is not None and step.signals.folded else None
    if not step.thrown and folded is None:
        return (_SAVE_STEP_CC, {"now": step.now, "cc": json.dumps(step.cc)}) if step.cc else (_SAVE_STEP, {})
    claim, ctes, params = folded or (None, "", {})
    # a signal delivery this step carries out: the save runs only if the claim took the row
    sql = (f"WITH {claim}, saved AS (SELECT liaison_save_step(CAST(:payload AS jsonb)) AS id FROM claimed)"
           if claim else "WITH saved AS (SELECT liaison_save_step(CAST(:payload AS jsonb)) AS id)") + ctes
    params = {**params, "now": step.now}
    if step.thrown:
        sql += _THROWN_CTE
        params |= {"thrower": THROWER_PREFIX,
                   "thrown": json.dumps([{**m, "expires_at": m["expires_at"].isoformat()} for m in step.thrown],
                                        default=str)}
    if step.cc:
        sql += (", copied AS (INSERT INTO cc_record (instance_id, username, cc_by, created_at)"
                " SELECT saved.id, c.username, c.cc_by, CAST(:now AS timestamptz)"
                " FROM saved, jsonb_to_recordset(CAST(:cc AS jsonb)) AS c(username text, cc_by text)"
                " ON CONFLICT (instance_id, username) DO NOTHING)")
        params["cc"] = json.dumps(step.cc)
    return text(sql + " SELECT id FROM saved"), params


def _write_step_postgres(conn: Connection, step: StepWrite) -> int:
    payload = {
        "instance_id": step.instance_id, "revision": step.revision, "now": step.now.isoformat(),
        "state": step.state, "data_set": step.data_set, "data_del": step.data_del,
        "status": step.status, "state_key": step.state_key,
        "end_event": step.end_event, "complete_task": step.complete_task, "user": step.user,
        "cancel": step.cancel, "new_tasks": step.new_tasks,
        "candidates": _candidates(step.new_tasks),
        "history": [{**h, "data": _json(h["data"]) if h.get("data") is not None else None} for h in step.history],
        "version_id": step.version_id, "process_key": step.process_key, "initiator": step.initiator,
        "business_key": step.business_key,
        "fire_timer": step.fire_timer, "consume_message": step.consume_message,
        "timers_new": step.timers_new,
        "timers_cancel": step.timers_cancel, "subs_new": step.subs_new, "subs_cancel": step.subs_cancel,
        "outbox": step.outbox,
        "notifications": step.notifications, "approval_items": step.approval_items,
        "no_waits": True if step.no_waits else None,
    }
    # the function runs a statement only for a key present: empty lists and nulls stay out
    payload = {k: v for k, v in payload.items() if v is not None and v != []}
    statement, params = _save_statement(step)
    try:
        saved = conn.execute(statement, {"payload": json.dumps(payload, default=str), **params}).scalar()
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == "LI409":
            raise StaleInstance() from exc
        if getattr(exc.orig, "sqlstate", None) == "LI410":
            raise AlreadyTaken(str(exc.orig).splitlines()[0]) from exc
        raise
    if saved is None:  # the signal delivery it claims was carried out already: nothing was written
        raise AlreadyTaken(f"signal delivery {step.signals.claim} was already carried out")
    return saved


def _json(value) -> str:
    return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))


def _candidates(rows: list[dict]) -> list[dict]:
    return [{"task_id": r["id"], "kind": kind, "value": value}
            for r in rows
            for kind, values in (("user", r["candidate_users"]), ("group", r["candidate_groups"]))
            for value in dict.fromkeys(values)]


def task_handle(conn: Connection, task_id: str) -> TaskHandle | None:
    """The task and its instance's lock fields, in one query (once per `caching.read_scope`)."""
    def read() -> TaskHandle | None:
        row = conn.execute(_SELECT_TASK_HANDLE, {"b_task": task_id}).first()
        return None if row is None else TaskHandle(*row)

    return scoped(("task_handle", task_id), read)


def task_with_data(conn, task_id: str, with_state: bool = False) -> tuple[TaskHandle, tuple] | None:
    """The task's handle (as `task_handle`) and `(name, due_at, created_at, process data)`, in one query
    (a connection or a session); None when there is no such task. `with_state`: the handle carries the
    instance's engine state and data as read by the same statement (`TaskHandle.state`)."""
    row = conn.execute(_SELECT_TASK_WITH_STATE if with_state else _SELECT_TASK_WITH_DATA,
                       {"b_task": task_id}).first()
    return task_with_data_of(row, with_state)


def task_with_data_read(task_id: str) -> tuple:
    """`(statement, parameters)` of `task_with_data(..., with_state=True)`, for a caller that reads it along
    with another read (`task_with_data_of` turns its row into the same answer)."""
    return _SELECT_TASK_WITH_STATE, {"b_task": task_id}


def task_with_data_of(row, with_state: bool = True) -> tuple[TaskHandle, tuple] | None:
    """`task_with_data`'s answer from its row (None: no such task)."""
    if row is None:
        return None
    extra = tuple(row[_HANDLE_WIDTH:_HANDLE_WIDTH + 4])
    # the handle's own copy of the data: callers may change theirs (a page drops a preselected decision)
    state = (row[-1], dict(extra[3] or {})) if with_state else None
    return TaskHandle(*row[:_HANDLE_WIDTH], state=state), extra


def instance_handle(conn: Connection, instance_id: int) -> InstanceHandle | None:
    """The instance's lock fields and data, without its state."""
    row = conn.execute(_SELECT_INSTANCE_HANDLE, {"b_instance": instance_id}).first()
    return None if row is None else InstanceHandle(*row)


def instance_state(conn: Connection, instance_id: int) -> tuple[str, dict, int]:
    """`(serialized engine state, process data, revision)` of an instance, read together: the state
    refers to values of that very data."""
    return tuple(conn.execute(_SELECT_STATE, {"b_instance": instance_id}).one())


def version_spec_json(conn: Connection, version_id: int) -> str:
    """The stored, parsed spec of a version."""
    return conn.execute(_SELECT_SPEC, {"b_version": version_id}).scalar_one()


def version_package(conn: Connection, version_id: int) -> dict:
    """The stored package content of a version (meta, forms, notifications, tests)."""
    return conn.execute(_SELECT_PACKAGE, {"b_version": version_id}).scalar_one()


def latest_version(conn: Connection, key: str) -> tuple[int, str] | None:
    """`(version_id, checksum)` of the newest version of process `key`, or None (one query)."""
    row = conn.execute(_SELECT_LATEST_VERSION, {"b_key": key}).first()
    return None if row is None else (row[0], row[1])


def new_state_key() -> str:
    """A fresh random marker identifying one saved state (keys the in-process workflow cache)."""
    return uuid.uuid4().hex


def insert_instance(conn: Connection, step: StepWrite) -> int:
    """Create the instance row of a starting step with its final values (revision 1)."""
    return conn.execute(insert(_instance).values(
        version_id=step.version_id, process_key=step.process_key, status=step.status, initiator=step.initiator,
        business_key=step.business_key, state=step.state, revision=1, state_key=step.state_key,
        end_event=step.end_event, created_at=step.now, updated_at=step.now,
        ended_at=None if step.status == "running" else step.now).returning(_instance.c.id)).scalar_one()


def save_instance(conn: Connection, instance_id: int, expected_revision: int, *, state: str,
                  status: str, end_event: str | None, now: datetime, state_key: str) -> bool:
    """Write the new state if nobody saved since `expected_revision`; False means someone did."""
    values = {"b_instance": instance_id, "b_revision": expected_revision, "v_state": state,
              "v_status": status, "v_end_event": end_event, "v_updated_at": now,
              "v_revision": expected_revision + 1, "v_state_key": state_key,
              "v_ended_at": None if status == "running" else now}
    return _UPDATE_INSTANCE.run(conn, values) == 1


def mark_task_completed(conn: Connection, task_id: str, user: str, now: datetime) -> bool:
    """Close an open task row; False if it was not open any more."""
    params = {"b_task": task_id, "b_user": user, "b_now": now}
    return _UPDATE_TASK_COMPLETED.run(conn, params) == 1


def insert_tasks(conn: Connection, rows: list[dict]) -> None:
    """Create open task rows and their candidate index rows."""
    if not rows:
        return
    _INSERT_TASK.many(conn, rows)
    candidates = _candidates(rows)
    if candidates:
        _INSERT_CANDIDATE.many(conn, candidates)


def cancel_tasks(conn: Connection, instance_id: int, task_ids: list[str], now: datetime) -> None:
    """Close task rows whose engine task went away (a boundary event, a cancel, a terminate)."""
    if task_ids:
        conn.execute(update(_task).where(_task.c.instance_id == instance_id, _task.c.id.in_(task_ids),
                                         _task.c.status == "open")
                     .values(status="cancelled", completed_at=now))


def append_history(conn: Connection, entries: list[dict]) -> None:
    """Append history rows (never updated or deleted)."""
    if entries:
        _INSERT_HISTORY.many(conn, [{"actor": None, "element_id": None, "element_type": None,
                                         "task_id": None, "comment": None, "data": None, **e}
                                        for e in entries])


_buffered = BufferedMessage.__table__
_SELECT_BUFFERED_FOR_INSTANCE = (
    select(_buffered.c.id, _subscription.c.task_id, _buffered.c.message_name, _buffered.c.payload,
           _buffered.c.sender)
    .join(_subscription, and_(
        _subscription.c.message_name == _buffered.c.message_name,
        or_(_subscription.c.correlation_key == _buffered.c.correlation_key,
            and_(_subscription.c.correlation_key.is_(None), _buffered.c.correlation_key.is_(None)))))
    .where(_subscription.c.instance_id == bindparam("b_instance"), _buffered.c.status == "waiting",
           _buffered.c.expires_at > bindparam("b_now"), not_thrown_by(_subscription.c.instance_id))
    .order_by(_buffered.c.received_at, _buffered.c.id))


def buffered_for_instance(conn: Connection, instance_id: int, now: datetime) -> list[tuple]:
    """Kept messages that one of the instance's message subscriptions takes, oldest first:
    `(buffered id, subscription task id, message name, payload, sender)`."""
    return [tuple(r) for r in conn.execute(_SELECT_BUFFERED_FOR_INSTANCE, {"b_instance": instance_id, "b_now": now})]


_SELECT_LATEST_VERSIONS = (
    select(_definition.c.key, _version.c.id, _version.c.checksum)
    .join(_version, _version.c.definition_id == _definition.c.id)
    .where(_version.c.number == select(func.max(_version.c.number))
           .where(_version.c.definition_id == _definition.c.id).correlate(_definition).scalar_subquery()))


def latest_versions(conn: Connection) -> list[tuple[str, int, str]]:
    """`(process key, version id, checksum)` of the newest version of every deployed process."""
    return [tuple(r) for r in conn.execute(_SELECT_LATEST_VERSIONS)]
