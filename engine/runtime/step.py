"""One engine step: read the lock fields, restore the workflow, run it, save everything at once.

Every change of a running instance goes through here: `step_connection` (autocommit reads and one
save-function call on PostgreSQL, one transaction elsewhere), `restore` (from the live-workflow
cache when the row's `state_key` matches, else from the stored state), `completion` (a user task
completed with its checked form data), `save_step` (tasks, history, waits, notifications and the
state in one write, applied only if the instance's `revision` is still the one read), and
`retry_when_locked` (the one retry loop: the step runs again on the newer state when someone saved
first, SQLite was busy or a pooled connection died). A step that raises saves nothing.

Restored workflows are kept in a small in-process cache keyed by the random `state_key` written
with every save, so the next step of a busy instance skips deserialization; any other writer
changes the key, and the cached object is then ignored.

The process data is written as a change set (`store.data_changes`): each workflow carries the data
as stored for its state (`STORED_DATA`, set when it is restored and after each save), and a step
writes only the keys that differ from it. This holds because only `store.write_step` writes
process data and every save changes the `state_key`.
"""

from __future__ import annotations

import copy
import json
import threading
from collections import OrderedDict
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache

from sqlalchemy.exc import IntegrityError

from engine.bpmn import token_moves
from engine.bpmn import workflow as wfa
from engine.bpmn.serialization import dump_state, load_state
from engine.config import load_settings
from engine.data import signal_store, store
from engine.data.calendar import FormCalendar, LazyCalendar
from engine.data.models import HistoryEntry, WorkTask, utcnow
from engine.data.retry import is_contention, with_retries
from engine.errors import (
    InstanceDataTooLargeError,
    InvalidTaskDataError,
    NotFoundError,
    NotPermittedError,
    ProcessRuntimeError,
    TaskConflictError,
    TaskDataTooLargeError,
    Username,
    already_closed,
    msg,
)
from engine.notify.recipients import look_up
from engine.results import ON_BEHALF_OF_KEY
from engine.runtime import api_webhooks, uploads
from engine.runtime.cc_events import copy_step
from engine.runtime.effects import notify_step, step_events
from engine.runtime.external_tasks import offered
from engine.runtime.form_people import people_for
from engine.runtime.new_tasks import assign_new_tasks, assignees, redirect_to_deputies
from engine.runtime.serials import assign_serials
from engine.runtime.submissions import checked_submission
from engine.runtime.triggers import add_trigger_writes
from engine.runtime.versions import version_forms, version_may_wait, version_specs
from engine.runtime.waits import (
    has_task_timers,
    record_waits,
    signal_writes,
    version_has_signal_waits,
    waits_of,
)
from engine.runtime.worker_rows import record_external_tasks, version_has_external

task_table = WorkTask.__table__
history_table = HistoryEntry.__table__

MAX_DATA_BYTES = 1024 * 1024


MAX_ATTEMPTS = 5
STORED_DATA = "liaison_stored_data"  # attribute of a workflow object: its process data as stored


@dataclass
class StepResult:
    """The outcome of a start or a completion, as the caller shows it."""

    instance_id: int
    status: str
    revision: int
    open_tasks: list[dict]
    end_event: str | None = None
    subscribed: list[str] = field(default_factory=list)  # message events this step started waiting on


class _LiveWorkflows:
    """Workflows restored or run by this process, by (database, instance, state key)."""

    def __init__(self, capacity: int = 512):
        self._items: OrderedDict = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def take(self, key: tuple):
        """Remove and return the workflow for `key`, so a failing step can never put it back half-run."""
        with self._lock:
            return self._items.pop(key, None)

    def put(self, key: tuple, workflow) -> None:
        with self._lock:
            self._items[key] = workflow
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


LIVE_WORKFLOWS = _LiveWorkflows()


def retry_when_locked(step, what: str):
    """Run `step` again when the instance moved on under it, SQLite was busy or a pooled connection died."""
    return with_retries(step, retry_on=lambda exc: isinstance(exc, _Stale) or is_contention(exc), attempts=MAX_ATTEMPTS,
                        give_up=lambda _exc: TaskConflictError(
                            f"{what}: the instance kept changing while saving; nothing was saved, try again"))


class _Stale(Exception):
    """Someone saved the instance between our read and our write."""


def completion(sessions, conn, handle, user, data, comment, lang, fire_timer=None, extra=None, attachments=None):
    """Complete the node's engine task with `data` (checked against its form) and run on; returns
    `(StepResult, workflow, state key)`. `extra`: values added to what the process receives."""
    task_id = handle.task_id
    workflow = restore(sessions, conn, handle)
    if handle.form:
        forms, current = version_forms(conn, handle.version_id, handle.checksum), wfa.current_data(workflow)
        now = wfa.company_now()
        data = checked_submission(forms, handle.form, handle.element_id, data, current, lang, now.date(),
                                  people=people_for(conn, handle.version_id, handle.checksum, handle.initiator, user),
                                  calendar=FormCalendar.of_connection(conn, now.date()))
        data = assign_serials(conn, forms.get(handle.form), handle.process_key, data, current, now)
    if extra:
        data = {**data, **extra}
    before = wfa.ready_task_ids(workflow) - {task_id}  # its row is closed, not cancelled
    waits = waits_of(workflow)
    moved = token_moves.moved_from(workflow, task_id)
    if moved and moved.get("reason") == "return" \
            and token_moves.return_settings(workflow, task_id)["after_return"] == "direct":
        # resubmitted after a return, and the process says: straight back to the node that returned it
        token_moves.move_token(workflow, task_id, moved["element"], data=copy.deepcopy(data), reason="resubmit")
        records = wfa.run_engine(workflow)
        entry = {"actor": user, "action": "resubmitted", "element_id": handle.element_id, "task_id": task_id,
                 "comment": comment, "data": _with_on_behalf_of(data, handle.on_behalf_of)}
    else:
        # the engine gets its own copy: scripts may change nested values in place, the history must not see it
        completed = wfa.complete_user_task(workflow, task_id, copy.deepcopy(data))
        records = wfa.run_engine(workflow)
        entry = {"actor": user, "action": "task_completed", "element_id": completed.element_id,
                 "element_type": completed.element_type, "task_id": task_id, "comment": comment,
                 "data": _with_on_behalf_of(data, handle.on_behalf_of)}
    entry["data"] = uploads.with_attachments(entry["data"], uploads.claim(conn, attachments, user, handle.instance_id))
    step = store.StepWrite(instance_id=handle.instance_id, revision=handle.revision, now=utcnow(), state="",
                           data={}, status="", state_key="", complete_task=task_id, user=user,
                           history=[entry], initiator=handle.initiator, business_key=handle.business_key,
                           process_key=handle.process_key, fire_timer=fire_timer,
                           directory_version=handle.directory_version)
    if has_task_timers(conn, handle):
        step.timers_cancel.append(task_id)  # its reminders end with it
    result = save_step(conn, step, workflow, records, user, before=before, waits=waits,
                   version=(handle.version_id, handle.checksum))
    return result, workflow, step.state_key


def save_step(conn, step: store.StepWrite, workflow, records, actor, *, before: set[str], waits,
          version: tuple[int, str]) -> StepResult:
    """Fill in the step's writes from the workflow (tasks, history, status, state, what waits on the
    clock or a message) and write them."""
    ready = []  # the READY user tasks, found once (each search walks the task tree)
    if step.status != "cancelled":
        passed, ready = assign_new_tasks(conn, step, workflow, version)
        records = list(records) + passed
    step.history += [{"actor": actor, "action": "step", "element_id": r.element_id,
                      "element_type": r.element_type, "task_id": r.task_id, "comment": r.name} for r in records]
    open_views = []
    workdays = LazyCalendar(conn)  # read only if a due date or reminder is in workdays
    for task in ready:
        view, is_new = wfa.describe_user_task(task, workdays)
        open_views.append(view)
        if is_new or view.id not in before:
            step.new_tasks.append({"id": view.id, "element_id": view.element_id, "name": view.name,
                                   "form": view.form, "assignee": view.assignee, "on_behalf_of": None,
                                   "candidate_users": view.candidate_users,
                                   "candidate_groups": view.candidate_groups, "due_at": view.due_at})
    external = wfa.ready_external_tasks(workflow) if version_has_external(conn, *version) else None
    waiting_external = {str(t.id) for t in external or ()}  # their `external_task` rows: `worker_rows`
    step.cancel = sorted(before - {v.id for v in open_views} - waiting_external)
    step.timers_cancel += step.cancel
    if not step.status:
        if wfa.is_completed(workflow):
            step.status, step.end_event = "completed", wfa.end_event(records)
            step.history.append({"action": "completed", "element_id": step.end_event})
        elif not open_views and not wfa.waiting_elements(workflow):
            raise ProcessRuntimeError("the process stopped with nothing left to do and no end event reached",
                                      reason=msg("the process stopped before reaching its end"))
        else:
            step.status = "running"
    step.data = wfa.current_data(workflow, ready)
    _record_waits(conn, step, workflow, waits, open_views, workdays, version)
    copies = copy_step(conn, step, records, version)  # CC events of the diagram (liaison:cc)
    # one statement: the people the step notifies, their preferences, and whether an assignee is away
    events = step_events(step, actor) + copies
    directory = look_up(conn, events, assignees(step), step.now, step.directory_version)
    deputies = redirect_to_deputies(conn, step, directory.anyone_away)
    if deputies:  # rare: the tasks went to deputies, who are then notified (looked up by rendering)
        events, directory = step_events(step, actor) + copies, None
    notify_step(conn, step, version, events, directory)
    add_trigger_writes(conn, step, records)  # webhook calls (outbox) and thrown messages
    step.outbox += api_webhooks.step_rows(conn, step)  # the API's webhook subscriptions (outbox)
    step.data_set, step.data_del, stored = store.data_changes(_stored_data(conn, workflow, step), step.data,
                                                              step.revision + 1)
    check_data_size(stored)
    step.state = check_state_size(dump_state(workflow, step.data))
    step.state_key = store.new_state_key()
    if step.signals and conn.dialect.name == "postgresql" and step.signals.foldable(step.instance_id):
        step.signals.folded = True  # in the save statement itself (`SignalWrites.pg_ctes`)
    if external is None and not (step.signals and not step.signals.folded):
        instance_id = _write(conn, step)
    else:
        instance_id = _write_in_transaction(conn, step, external)
    if step.thrown or offered(step.new_tasks) or (step.signals and step.signals.thrown):
        # after the commit: route messages and signals, issue external links
        _note_thrower(instance_id)
    setattr(workflow, STORED_DATA, stored)
    tasks = [{"id": v.id, "element_id": v.element_id, "name": v.name,
              "assignee": deputies.get(v.id, v.assignee)} for v in open_views]
    return StepResult(instance_id, step.status, step.revision + 1, tasks, step.end_event,
                      subscribed=[s["task_id"] for s in step.subs_new])


def _record_waits(conn, step: store.StepWrite, workflow, waits, open_views, workdays, version) -> None:
    """What the step starts and stops waiting on; all of it ends with the instance."""
    if step.status == "running":
        record_waits(step, workflow, waits, open_views, workdays)
        return
    if not version_may_wait(conn, *version):
        step.no_waits = True  # nothing of the version makes timers or message subscriptions: none to end
    if step.instance_id is not None and version_has_signal_waits(conn, *version):
        signal_writes(step).end = True


def _write(conn, step: store.StepWrite) -> int:
    """`store.write_step`; _Stale when someone saved the instance first (then the step runs again)."""
    try:
        return store.write_step(conn, step)
    except store.StaleInstance as exc:
        raise _Stale() from exc
    except IntegrityError as exc:
        if _saved_meanwhile(conn, step):
            raise _Stale() from exc  # a row the winner of a race wrote first: read again (then a conflict)
        raise


def _write_in_transaction(conn, step: store.StepWrite, external: list | None) -> int:
    """`_write`, and the `external_task` rows of the step (`worker_rows`) and its signal rows
    (`signal_store`) in the same transaction: on PostgreSQL the step's connection is in autocommit,
    so they are wrapped in an explicit one."""
    if conn.dialect.name != "postgresql":
        return _write_with_rows(conn, step, external)  # inside the step's own transaction
    conn.exec_driver_sql("BEGIN")
    try:
        instance_id = _write_with_rows(conn, step, external)
    except BaseException:
        with suppress(Exception):  # a dead connection: the original error is the one to raise
            conn.exec_driver_sql("ROLLBACK")
        raise
    conn.exec_driver_sql("COMMIT")
    return instance_id


def _write_with_rows(conn, step: store.StepWrite, external: list | None) -> int:
    instance_id = _write(conn, step)
    if external is not None:
        record_external_tasks(conn, instance_id, external, step)
    if step.signals:
        signal_store.write(conn, instance_id, step.signals, step.now, store.thrower(instance_id))
    return instance_id


def _saved_meanwhile(conn, step: store.StepWrite) -> bool:
    """After a unique-key violation: whether another step saved the instance since this one read it,
    so the violation is a lost race (TaskConflictError after the re-read), not a bug. Read on a
    connection of its own: the step's may be in a failed transaction."""
    if step.instance_id is None:
        return False
    with conn.engine.connect() as other:
        handle = store.instance_handle(other, step.instance_id)
    return handle is not None and handle.revision != step.revision


STATE_SIZE_FACTOR = 8  # the engine state (task tree, data of tasks) may be this many times the data limit


@cache
def max_instance_data() -> int:
    """LIAISON_MAX_INSTANCE_DATA, read once per process."""
    return load_settings().max_instance_data


def check_data_size(stored: dict) -> None:
    """InstanceDataTooLargeError if process data as `store.data_changes` returns it (scalars, and
    containers as their JSON text) is more than `max_instance_data()` bytes of UTF-8 JSON."""
    limit = max_instance_data()
    size = 0
    for key, value in stored.items():
        kind = type(value)
        text = value[1] if kind is tuple else value if kind is str else None
        size += len(key) + 4 + (len(text.encode("utf-8", "surrogatepass")) + 2 if text is not None else 8)
        if size > limit:
            break
    if size > limit:
        raise InstanceDataTooLargeError(
            f"the process data would be more than {limit:,} bytes (at `{key}`); the limit is {limit:,}"
            " (LIAISON_MAX_INSTANCE_DATA); nothing was saved", limit)


def check_state_size(state: str) -> str:
    """`state`, unless it is beyond STATE_SIZE_FACTOR times the data limit (InstanceDataTooLargeError)."""
    limit = STATE_SIZE_FACTOR * max_instance_data()
    if len(state) > limit:
        raise InstanceDataTooLargeError(f"the instance's engine state would be {len(state):,} characters;"
                                        f" the limit is {limit:,}; nothing was saved", max_instance_data())
    return state


def _stored_data(conn, workflow, step: store.StepWrite) -> dict:
    """The process data as stored for the state `workflow` was restored from (none for a new instance)."""
    stored = getattr(workflow, STORED_DATA, None)
    if stored is None:
        stored = {} if step.instance_id is None else store.saved_data(store.read_process_data(conn, step.instance_id))
    return stored


def step_on(handle, **fields) -> store.StepWrite:
    """A step on an existing instance (an instance or task handle): its lock fields and identity."""
    return store.StepWrite(instance_id=handle.instance_id, revision=handle.revision, now=utcnow(), state="",
                           data={}, status="", state_key="", initiator=handle.initiator,
                           business_key=handle.business_key, process_key=handle.process_key, **fields)


def _with_on_behalf_of(data: dict, on_behalf_of: str | None) -> dict:
    """The completion's history data: the submission, plus whom the deputy acted for."""
    return {**data, ON_BEHALF_OF_KEY: on_behalf_of} if on_behalf_of else data



@contextmanager
def step_connection(sessions):
    """The connection one step runs on.

    PostgreSQL: autocommit, since the step's reads need no transaction (the revision check makes
    the single write call safe) and the write is one atomic function call: two round trips a step.
    Other databases: one transaction around the reads and the writes.
    """
    engine = db_engine(sessions)
    throwers: list[int] = []
    token = _THROWERS.set(throwers)
    try:
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                yield conn.execution_options(isolation_level="AUTOCOMMIT")
        else:
            with engine.begin() as conn:
                yield conn
    finally:
        _THROWERS.reset(token)
    if throwers:  # committed: route what the step threw (`engine.runtime.thrown`)
        for hook in AFTER_COMMIT:
            hook(sessions, throwers)


# Called with (sessions, [instance ids]) after a step that threw messages committed; `engine.runtime.thrown`
# registers the router here (it delivers by running further steps, so it cannot be imported by this module).
AFTER_COMMIT: list = []
_THROWERS: ContextVar[list | None] = ContextVar("liaison_step_throwers", default=None)


def _note_thrower(instance_id: int) -> None:
    throwers = _THROWERS.get()
    if throwers is not None:
        throwers.append(instance_id)


def restore(sessions, conn, handle):
    """The handle's workflow: from the live-workflow cache when this process saved its current state,
    else from the state the handle carries (`TaskHandle.state`) or, without one, read now."""
    cached = LIVE_WORKFLOWS.take(cache_key(sessions, handle.instance_id, handle.state_key))
    if cached is not None:
        return cached
    spec, subspecs = version_specs(conn, handle.version_id, handle.checksum)
    prefetched = getattr(handle, "state", None)
    if prefetched is not None:  # read with the handle, by the same statement: same revision
        state, data = prefetched
    else:
        state, data, revision = store.instance_state(conn, handle.instance_id)
        if revision != handle.revision:
            raise _Stale()  # saved since the handle was read (PostgreSQL reads run in autocommit): read again
    workflow = load_state(state, spec, subspecs, wfa.script_engine(), data)
    setattr(workflow, STORED_DATA, store.saved_data(data))
    return workflow


def db_engine(sessions):
    """The Engine behind a session factory: the hot path needs no ORM session."""
    return sessions.kw["bind"]


def cache_key(sessions, instance_id: int, state_key: str) -> tuple:
    return (str(db_engine(sessions).url), instance_id, state_key)


def may_complete(assignee: str | None, candidate_users, candidate_groups, user: str,
                 groups: tuple[str, ...] = ()) -> bool:
    """The one rule for who may act on an open task: its assignee alone once it has one (by the
    diagram or a claim); else a candidate user or a member of a candidate group; a task with no
    people at all, anyone who can reach it (the pages show it only to who may see the instance)."""
    if assignee:
        return user == assignee
    if not candidate_users and not candidate_groups:
        return True
    return user in (candidate_users or []) or bool(set(groups) & set(candidate_groups or []))


def check_may_complete(handle, user: str, groups: tuple[str, ...]) -> None:
    """NotPermittedError unless `may_complete` lets `user` act on the task of `handle`."""
    if may_complete(handle.assignee, handle.candidate_users, handle.candidate_groups, user, groups):
        return
    if handle.assignee:
        raise NotPermittedError(msg("task %(task)s is assigned to %(person)s, not %(user)s", task=handle.task_id,
                                    person=Username(handle.assignee), user=Username(user)))
    raise NotPermittedError(msg("task %(task)s is not assigned to %(user)s", task=handle.task_id,
                                user=Username(user)))


def checked_data(data) -> dict:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidTaskDataError(msg("task data must be a JSON object"))
    try:
        encoded = json.dumps(data)
    except (TypeError, ValueError) as exc:
        raise InvalidTaskDataError(msg("task data must be plain JSON: %(error)s", error=str(exc))) from exc
    if len(encoded) > MAX_DATA_BYTES:
        raise TaskDataTooLargeError(f"task data is {len(encoded):,} bytes of JSON; the limit is {MAX_DATA_BYTES:,}",
                                    MAX_DATA_BYTES)
    bad = [k for k in data if not isinstance(k, str) or not k.isidentifier() or k.startswith("_")]
    if bad:
        raise InvalidTaskDataError(msg("field names must be identifiers not starting with '_': %(names)s",
                                       names=str(bad)))
    return json.loads(encoded)  # an own copy: later changes by the caller cannot reach the engine


def record_failure(sessions, task_id: str, user: str, exc: ProcessRuntimeError) -> None:
    with db_engine(sessions).begin() as conn:
        handle = store.task_handle(conn, task_id)
        if handle is not None:
            store.append_history(conn, [{"instance_id": handle.instance_id, "actor": user, "action": "failed",
                                         "element_id": exc.element_id, "task_id": task_id, "comment": str(exc),
                                         "at": utcnow()}])


def open_task(conn, task_id: str) -> store.TaskHandle:
    handle = store.task_handle(conn, task_id)
    if handle is None:
        raise NotFoundError(msg("no task %(task)s", task=task_id))
    if handle.status != "open" or handle.instance_status != "running":
        raise TaskConflictError(already_closed(task_id, handle.status, handle.completed_by))
    return handle


def running_instance(conn, instance_id: int) -> store.InstanceHandle:
    handle = store.instance_handle(conn, instance_id)
    if handle is None or handle.status != "running":
        raise TaskConflictError(msg("instance %(instance)s is not running", instance=instance_id))
    return handle
