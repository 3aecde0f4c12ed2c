"""Instance service: start, complete a task, cancel. Every way in (CLI, web, REST, jobs) calls these.

Each call is one transaction: read the instance's lock fields, restore the workflow, run the
step, then save state, inbox rows and history together. The instance row carries a revision
counter (optimistic lock): the save only applies if nobody saved since the read. A completion
that loses that race is re-applied on the newer state if its task is still open, and refused
with TaskConflictError if someone completed that very task. A step that raises saves nothing;
the failure alone is appended to the history, in its own transaction.

Restored workflows are kept in a small in-process cache keyed by the random `state_key` written
with every save, so the next step of a busy instance skips deserialization; any other writer
changes the key, and the cached object is then ignored.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from . import approvals, assignment, notifications, org, sandbox, store, token_moves, uploads
from . import workflow as wfa
from .errors import (
    InvalidTaskDataError,
    NotFoundError,
    NotPermittedError,
    ProcessRuntimeError,
    TaskConflictError,
)
from .models import ApprovalItem, HistoryEntry, Person, TaskCandidate, WorkTask, utcnow
from .queries import ON_BEHALF_OF_KEY
from .serialization import SPEC_CACHE, dump_state, load_state, new_workflow
from .serials import assign_serials
from .submissions import FORM_CACHE, checked_submission

MAX_DATA_BYTES = 1024 * 1024
MAX_ATTEMPTS = 5


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


def start_instance(sessions: sessionmaker[Session], key: str, data: dict | None = None,
                   user: str | None = None, business_key: str | None = None, lang: str = "en") -> StepResult:
    """Start the latest version of process `key` with start-form `data`, run it until it waits.

    When the start event names a form, `data` must satisfy it (FormInvalidError lists each field's
    messages in `lang`) and the form's cleaned data is what the process receives.
    """
    data = _checked_data(data)
    return _retry_when_locked(lambda: _start_once(sessions, key, data, user, business_key, lang),
                              f"starting `{key}`")


def _forms(conn, version_id: int, checksum: str) -> dict:
    return FORM_CACHE.get(checksum, lambda: store.version_package(conn, version_id))


def _start_once(sessions, key, data, user, business_key, lang="en") -> StepResult:
    with _step_connection(sessions) as conn:
        version = store.latest_version(conn, key)
        if version is None:
            raise NotFoundError(f"no process `{key}` is deployed")
        version_id, checksum = version
        spec, subspecs = _specs(conn, version_id, checksum)
        forms, start_form = _forms(conn, version_id, checksum), wfa.start_form(spec)
        now = wfa.company_now()
        data = checked_submission(forms, start_form, None, data, {}, lang, now.date())
        data = assign_serials(conn, forms.get(start_form), key, data, {}, now)
        workflow = new_workflow(spec, subspecs, wfa.script_engine())
        wfa.set_start_data(workflow, copy.deepcopy(data))
        records = wfa.run_engine(workflow)
        step = store.StepWrite(instance_id=None, revision=0, now=utcnow(), state="", data={}, status="",
                               state_key="", version_id=version_id, process_key=key, initiator=user,
                               business_key=business_key,
                               history=[{"actor": user, "action": "started", "data": data}])
        result = _save(conn, step, workflow, records, None, before=set(), waits=_NO_WAITS, version=(version_id, checksum))
    LIVE_WORKFLOWS.put(_cache_key(sessions, result.instance_id, step.state_key), workflow)
    _take_buffered_messages(sessions, result)
    return result


def complete_task(sessions: sessionmaker[Session], task_id: str, user: str, data: dict | None = None,
                  groups: tuple[str, ...] = (), comment: str | None = None, lang: str = "en",
                  attachments: list[str] | None = None) -> StepResult:
    """Complete an open user task as `user` with form `data`, then run until the process waits.

    If another task of the same instance was saved meanwhile, the completion is re-applied on
    top of it; if this very task was completed by someone else, TaskConflictError says so and
    nothing of this submission is stored. When the task names a form, `data` must satisfy it at
    this node (read-only and hidden fields per the form's `access`); the cleaned data is stored.
    `attachments`: ids of the user's own uploads, attached to the instance and listed in the history
    entry's data (`uploads.HISTORY_KEY`).
    """
    data = _checked_data(data)
    attachments = uploads.clean_ids(attachments)
    try:
        return _retry_when_locked(lambda: _complete_once(sessions, task_id, user, data, groups, comment, lang,
                                                         attachments=attachments),
                                  f"completing task {task_id}")
    except ProcessRuntimeError as exc:
        _record_failure(sessions, task_id, user, exc)
        raise


def _retry_when_locked(step, what: str):
    """Run `step` again when the instance moved on under it, SQLite was busy or a pooled connection died."""
    for _attempt in range(MAX_ATTEMPTS):
        try:
            return step()
        except _Stale:
            continue  # re-read the newer state and re-apply
        except DBAPIError as exc:
            if exc.connection_invalidated:
                continue  # the server dropped a pooled connection (restart, failover): use a fresh one
            message = str(exc).lower()
            if not isinstance(exc, OperationalError) or ("locked" not in message and "busy" not in message):
                raise
    raise TaskConflictError(f"{what}: the instance kept changing while saving; nothing was saved, try again")


class _Stale(Exception):
    """Someone saved the instance between our read and our write."""


def _complete_once(sessions, task_id, user, data, groups, comment, lang="en", fire_timer=None,
                   attachments=None) -> StepResult:
    with _step_connection(sessions) as conn:
        handle = store.task_handle(conn, task_id)
        if handle is None:
            raise NotFoundError(f"no task {task_id}")
        if fire_timer is None and _mode(conn, handle):  # an approval node with several signers
            return _decide_once(sessions, task_id, user, data, comment, lang, attachments)
        if fire_timer is None:  # a timeout decision is the system's, not a person's
            _check_may_complete(handle, user, groups)
        if handle.delegated_by and fire_timer is None and handle.status == "open":
            return _hand_back(sessions, conn, handle, user, data, comment, lang, attachments)
        if handle.status != "open" or handle.instance_status != "running":
            by = f" by {handle.completed_by}" if handle.completed_by else ""
            raise TaskConflictError(f"task {task_id} is already {handle.status}{by}; "
                                    "nothing of this submission was saved")
        result, workflow, state_key = _completion(sessions, conn, handle, user, data, comment, lang, fire_timer,
                                                  attachments=attachments)
    LIVE_WORKFLOWS.put(_cache_key(sessions, handle.instance_id, state_key), workflow)
    _take_buffered_messages(sessions, result)
    return result


def _completion(sessions, conn, handle, user, data, comment, lang, fire_timer=None, extra=None, attachments=None):
    """Complete the node's engine task with `data` (checked against its form) and run on; returns
    `(StepResult, workflow, state key)`. `extra`: values added to what the process receives."""
    task_id = handle.task_id
    workflow = _restore(sessions, conn, handle)
    if handle.form:
        forms, current = _forms(conn, handle.version_id, handle.checksum), wfa.current_data(workflow)
        now = wfa.company_now()
        data = checked_submission(forms, handle.form, handle.element_id, data, current, lang, now.date())
        data = assign_serials(conn, forms.get(handle.form), handle.process_key, data, current, now)
    if extra:
        data = {**data, **extra}
    before = wfa.ready_task_ids(workflow) - {task_id}  # its row is closed, not cancelled
    waits = _waits(workflow)
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
                           process_key=handle.process_key, fire_timer=fire_timer)
    if _has_task_timers(conn, handle):
        step.timers_cancel.append(task_id)  # its reminders end with it
    result = _save(conn, step, workflow, records, user, before=before, waits=waits,
                   version=(handle.version_id, handle.checksum))
    return result, workflow, step.state_key


def _has_task_timers(conn, handle) -> bool:
    """Whether the task's node puts timers on its tasks (reminders, escalation, timeout, due date):
    read from the spec, so a step without them costs no timer query."""
    keys = _node_attributes(conn, handle).keys()
    return "dueDate" in keys or any(name in keys for name in TASK_TIMER_ATTRIBUTES.values())


_NODE_ATTRIBUTES: dict[tuple[str, str], dict] = {}  # (version checksum, element id) -> liaison attributes


def _node_attributes(conn, handle) -> dict:
    """The Liaison attributes of a task's node; versions never change, so each is looked up once
    (a completion asks for the mode and the timers: without this, two scans of the spec a step)."""
    key = (handle.checksum, handle.element_id)
    found = _NODE_ATTRIBUTES.get(key)
    if found is None:
        spec, subspecs = _specs(conn, handle.version_id, handle.checksum)
        found = _NODE_ATTRIBUTES[key] = wfa.element_attributes(spec, handle.element_id, subspecs)
    return found


def cancel_instance(sessions: sessionmaker[Session], instance_id: int, user: str | None,
                    reason: str | None = None, *, action: str = "cancelled", effects=None,
                    attachments: list[str] | None = None) -> StepResult:
    """Cancel a running instance: every open task is withdrawn and the history says who and why.

    `action` names the history entry (`engine.operations`: withdrawn, terminated); `effects(conn, handle)`
    returns `(outbox rows, in-app rows)` written in the cancelling step's own write. `attachments`:
    the user's upload ids, as for `complete_task`.
    """
    attachments = uploads.clean_ids(attachments)
    return _retry_when_locked(lambda: _cancel_once(sessions, instance_id, user, reason, action, effects,
                                                   attachments),
                              f"cancelling instance {instance_id}")


def _cancel_once(sessions, instance_id: int, user: str | None, reason: str | None, action: str = "cancelled",
                 effects=None, attachments=None) -> StepResult:
    with _step_connection(sessions) as conn:
        handle = store.instance_handle(conn, instance_id)
        if handle is None:
            raise NotFoundError(f"no instance {instance_id}")
        if handle.status != "running":
            raise TaskConflictError(f"instance {instance_id} is already {handle.status}")
        outbox, inapp = effects(conn, handle) if effects is not None else ([], [])
        attached = uploads.claim(conn, attachments, user, instance_id) if attachments else []
        workflow = _restore(sessions, conn, handle)
        before = wfa.ready_task_ids(workflow)
        wfa.cancel(workflow)
        step = store.StepWrite(instance_id=instance_id, revision=handle.revision, now=utcnow(), state="",
                               data={}, status="cancelled", state_key="",
                               history=[{"actor": user, "action": action, "comment": reason,
                                         "data": uploads.with_attachments(None, attached)}],
                               initiator=handle.initiator, business_key=handle.business_key,
                               process_key=handle.process_key, outbox=list(outbox), notifications=list(inapp))
        return _save(conn, step, workflow, [], user, before=before, waits=_NO_WAITS, version=(handle.version_id, handle.checksum))


def _save(conn, step: store.StepWrite, workflow, records, actor, *, before: set[str], waits,
          version: tuple[int, str]) -> StepResult:
    """Fill in the step's writes from the workflow (tasks, history, status, state, what waits on the
    clock or a message) and write them."""
    if step.status != "cancelled":
        records = list(records) + _assign(conn, step, workflow, version)
    step.history += [{"actor": actor, "action": "step", "element_id": r.element_id,
                      "element_type": r.element_type, "task_id": r.task_id, "comment": r.name} for r in records]
    ready = [] if step.status == "cancelled" else wfa.ready_user_tasks(workflow)
    open_views = []
    for task in ready:
        view, is_new = wfa.describe_user_task(task)
        open_views.append(view)
        if is_new or view.id not in before:
            step.new_tasks.append({"id": view.id, "element_id": view.element_id, "name": view.name,
                                   "form": view.form, "assignee": view.assignee, "on_behalf_of": None,
                                   "candidate_users": view.candidate_users,
                                   "candidate_groups": view.candidate_groups, "due_at": view.due_at})
    deputies = _redirect_to_deputies(conn, step)
    step.cancel = sorted(before - {v.id for v in open_views})
    step.timers_cancel += step.cancel
    if not step.status:
        if wfa.is_completed(workflow):
            step.status, step.end_event = "completed", wfa.end_event(records)
            step.history.append({"action": "completed", "element_id": step.end_event})
        elif not open_views and not wfa.waiting_elements(workflow):
            raise ProcessRuntimeError("the process stopped with nothing left to do and no end event reached")
        else:
            step.status = "running"
    step.data = wfa.current_data(workflow)
    if step.status == "running":
        _record_waits(step, workflow, waits, open_views)
    _notify(conn, step, version, actor)
    step.state = dump_state(workflow, step.data)
    step.state_key = store.new_state_key()
    try:
        instance_id = store.write_step(conn, step)
    except store.StaleInstance as exc:
        raise _Stale() from exc
    tasks = [{"id": v.id, "element_id": v.element_id, "name": v.name,
              "assignee": deputies.get(v.id, v.assignee)} for v in open_views]
    return StepResult(instance_id, step.status, step.revision + 1, tasks, step.end_event,
                      subscribed=[s["task_id"] for s in step.subs_new])


MAX_SKIPPED_NODES = 100


def _assign(conn, step: store.StepWrite, workflow, version: tuple[int, str]) -> list:
    """Resolve the `liaison:approvers` rule of every user task that just became ready (once per task,
    kept with it). A node whose rule says skip is completed without a person and the process runs on;
    returns the elements passed meanwhile. A rule that must fail raises ProcessRuntimeError (nothing
    of the step is saved; the history says why)."""
    records: list = []
    meta = _package(conn, *version).get("meta") or {}
    repeat_approver = _approver_who_may_repeat(step, meta)
    for _round in range(MAX_SKIPPED_NODES):
        pending = [t for t in wfa.ready_user_tasks(workflow)
                   if wfa.needs_assignment(t) or (repeat_approver and wfa.is_undescribed(t))]
        if not pending:
            return records
        data = wfa.current_data(workflow)
        skipped = False
        for task in pending:
            element = wfa.element_of(task)
            resolution = assignment.resolve_task(
                conn, wfa.task_attributes(task), initiator=step.initiator, data=data, evaluate=sandbox.evaluate,
                process_admins=assignment.process_admins_of(meta), element_id=element)
            if resolution is not None and resolution.skipped:
                record = wfa.complete_user_task(workflow, str(task.id), {})
                step.history.append({"actor": None, "action": "skipped", "element_id": element,
                                     "task_id": str(task.id), "comment": resolution.note})
                records.append(record)
                records += wfa.run_engine(workflow)
                skipped = True
                break  # the process moved on: look at the ready tasks again
            _plan_signers(conn, step, task, element, resolution)
            if resolution is not None and resolution.note:
                step.history.append({"actor": None, "action": "assigned", "element_id": element,
                                     "task_id": str(task.id), "comment": resolution.note})
            view = wfa.describe_user_task(task)[0]
            if repeat_approver and view.assignee == repeat_approver and not view.attributes.get("mode"):
                # the same person approved the node just before: approved again without asking (configured)
                records.append(wfa.complete_user_task(workflow, str(task.id), {"approved": True}))
                step.history.append({"actor": repeat_approver, "action": "auto_approved", "element_id": element,
                                     "task_id": str(task.id), "data": {"approved": True},
                                     "comment": "approved before by the same person"})
                records += wfa.run_engine(workflow)
                skipped = True
                break
        if not skipped:
            return records
    raise ProcessRuntimeError(f"more than {MAX_SKIPPED_NODES} approval nodes in a row were skipped: "
                              "check the approvers rules")


def _approver_who_may_repeat(step: store.StepWrite, meta: dict) -> str | None:
    """With package.yaml `auto_approve: true`, the person whose approval this step records: a next
    node assigned to them alone is approved automatically (DingTalk's "same approver in a row")."""
    if meta.get("auto_approve") is not True or not step.user:
        return None
    completed = next((h for h in step.history if h.get("action") == "task_completed"), None)
    if completed is None or (completed.get("data") or {}).get("approved") is not True:
        return None
    return step.user


def _plan_signers(conn, step: store.StepWrite, task, element: str, resolution) -> None:
    """Give a node that just became ready its people: the resolved approvers, or, with an approval
    mode, one `approval_item` per signer (roles expanded to their members)."""
    attributes = wfa.task_attributes(task)
    mode = attributes.get("mode")
    if not mode:
        if resolution is not None:
            wfa.set_assignment(task, resolution.users, resolution.groups)
        return
    if resolution is None:
        signers = wfa.describe_user_task(task)[0].candidate_users
    else:
        signers = resolution.users + assignment.role_members(conn, resolution.groups)
    signers = list(dict.fromkeys(signers))
    if not signers:
        raise ProcessRuntimeError(f"element `{element}`: the approval node ({mode}) has no signers", element)
    items = approvals.new_items(str(task.id), mode, signers, attributes)
    step.approval_items += items
    wfa.set_assignment(task, [signers[0]] if mode == "sequential" else signers, [])


def _notify(conn, step: store.StepWrite, version: tuple[int, str], actor: str | None) -> None:
    """The step's notifications (task assigned, approved / rejected, finished), rendered into the
    step's own write: the outbox and in-app rows commit with it or not at all."""
    events = []
    for task in step.new_tasks:
        assigned = [task["assignee"]] if task["assignee"] else list(task["candidate_users"])
        events.append(notifications.Event(
            "task_assigned", recipients=assigned, groups=[] if task["assignee"] else list(task["candidate_groups"]),
            task={"id": task["id"], "element_id": task["element_id"], "name": task["name"],
                  "due_at": task["due_at"]}))
    completed = next((h for h in step.history if h.get("action") == "task_completed"), None)
    if completed is not None and step.initiator:
        decision = (completed.get("data") or {}).get("approved")
        if decision is True or decision is False:
            events.append(notifications.Event(
                "approved" if decision else "rejected", recipients=[step.initiator], actor=actor,
                comment=completed.get("comment"),
                task={"id": completed.get("task_id"), "element_id": completed.get("element_id"), "name": None,
                      "due_at": None}))
    if step.status == "completed" and step.initiator:
        events.append(notifications.Event("instance_finished", recipients=[step.initiator]))
    returned = next((h for h in step.history if h.get("action") == "returned"), None)
    if returned is not None and step.initiator:
        events.append(notifications.Event("returned", recipients=[step.initiator], actor=actor,
                                          comment=returned.get("comment")))
    if not events:
        return
    facts = notifications.StepFacts(
        process_key=step.process_key, package=_package(conn, *version), instance_id=step.instance_id,
        initiator=step.initiator, business_key=step.business_key, data=step.data, events=events)
    outbox, inapp = notifications.render_step(conn, facts, step.now)
    step.outbox += outbox
    step.notifications += inapp


class _PackageCache:
    """Stored packages (templates, meta) by version checksum: versions never change."""

    def __init__(self, capacity: int = 128):
        self._items: OrderedDict = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, conn, version_id: int, checksum: str) -> dict:
        with self._lock:
            found = self._items.get(checksum)
        if found is None:
            found = store.version_package(conn, version_id) or {}
            with self._lock:
                self._items[checksum] = found
                while len(self._items) > self._capacity:
                    self._items.popitem(last=False)
        return found


PACKAGE_CACHE = _PackageCache()


def _package(conn, version_id: int, checksum: str) -> dict:
    return PACKAGE_CACHE.get(conn, version_id, checksum)


def _step_on(handle, **fields) -> store.StepWrite:
    """A step on an existing instance (an instance or task handle): its lock fields and identity."""
    return store.StepWrite(instance_id=handle.instance_id, revision=handle.revision, now=utcnow(), state="",
                           data={}, status="", state_key="", initiator=handle.initiator,
                           business_key=handle.business_key, process_key=handle.process_key, **fields)


def _after_commit(sessions, result: StepResult, step: store.StepWrite, workflow) -> StepResult:
    """Keep the saved workflow for the next step and let it take the messages kept for it."""
    LIVE_WORKFLOWS.put(_cache_key(sessions, result.instance_id, step.state_key), workflow)
    _take_buffered_messages(sessions, result)
    return result


def _with_on_behalf_of(data: dict, on_behalf_of: str | None) -> dict:
    """The completion's history data: the submission, plus whom the deputy acted for."""
    return {**data, ON_BEHALF_OF_KEY: on_behalf_of} if on_behalf_of else data


def _redirect_to_deputies(conn, step: store.StepWrite) -> dict[str, str]:
    """New tasks assigned to someone out of office go to their deputy (`on_behalf_of` keeps who was
    meant); returns `{task id: deputy}`. Tasks already open when a window starts stay where they are.

    No query when the step creates no assigned task; one indexed EXISTS query when nobody is away.
    """
    assigned = [t for t in step.new_tasks if t["assignee"]]
    if not assigned:
        return {}
    deputies = org.deputies_of(conn, (t["assignee"] for t in assigned), step.now)
    moved = {}
    for task in assigned:
        deputy = deputies.get(task["assignee"])
        if deputy is not None:
            task["on_behalf_of"], task["assignee"] = task["assignee"], deputy
            moved[task["id"]] = deputy
    return moved


@contextmanager
def _step_connection(sessions):
    """The connection one step runs on.

    PostgreSQL: autocommit, since the step's reads need no transaction (the revision check makes
    the single write call safe) and the write is one atomic function call: two round trips a step.
    Other databases: one transaction around the reads and the writes.
    """
    engine = _engine(sessions)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")
    else:
        with engine.begin() as conn:
            yield conn


def _restore(sessions, conn, handle):
    cached = LIVE_WORKFLOWS.take(_cache_key(sessions, handle.instance_id, handle.state_key))
    if cached is not None:
        return cached
    spec, subspecs = _specs(conn, handle.version_id, handle.checksum)
    state, data, revision = store.instance_state(conn, handle.instance_id)
    if revision != handle.revision:
        raise _Stale()  # saved since the handle was read (PostgreSQL reads run in autocommit): read again
    return load_state(state, spec, subspecs, wfa.script_engine(), data)


def _specs(conn, version_id: int, checksum: str) -> tuple:
    return SPEC_CACHE.get(checksum, lambda: store.version_spec_json(conn, version_id))


def _engine(sessions):
    """The Engine behind a session factory: the hot path needs no ORM session."""
    return sessions.kw["bind"]


def _cache_key(sessions, instance_id: int, state_key: str) -> tuple:
    return (str(_engine(sessions).url), instance_id, state_key)


def _check_may_complete(handle, user: str, groups: tuple[str, ...]) -> None:
    if not handle.assignee and not handle.candidate_users and not handle.candidate_groups:
        return  # unassigned tasks are open to any signed-in user
    if handle.assignee:  # assigned (by the diagram or a claim): the assignee alone completes it
        if user == handle.assignee:
            return
        raise NotPermittedError(f"task {handle.task_id} is assigned to {handle.assignee}, not {user}")
    if user in (handle.candidate_users or []):
        return
    if set(groups) & set(handle.candidate_groups or []):
        return
    raise NotPermittedError(f"task {handle.task_id} is not assigned to {user}")


def _checked_data(data) -> dict:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidTaskDataError("task data must be a JSON object")
    try:
        encoded = json.dumps(data)
    except (TypeError, ValueError) as exc:
        raise InvalidTaskDataError(f"task data must be plain JSON: {exc}") from exc
    if len(encoded) > MAX_DATA_BYTES:
        raise InvalidTaskDataError(f"task data is larger than {MAX_DATA_BYTES} bytes")
    bad = [k for k in data if not isinstance(k, str) or not k.isidentifier() or k.startswith("_")]
    if bad:
        raise InvalidTaskDataError(f"field names must be identifiers not starting with '_': {bad}")
    return json.loads(encoded)  # an own copy: later changes by the caller cannot reach the engine


def _record_failure(sessions, task_id: str, user: str, exc: ProcessRuntimeError) -> None:
    with _engine(sessions).begin() as conn:
        handle = store.task_handle(conn, task_id)
        if handle is not None:
            store.append_history(conn, [{"instance_id": handle.instance_id, "actor": user, "action": "failed",
                                         "element_id": exc.element_id, "task_id": task_id, "comment": str(exc),
                                         "at": utcnow()}])


# -- claiming a task offered to a pool ---------------------------------------------------------------

_task_table = WorkTask.__table__
_history_table = HistoryEntry.__table__
# The WHERE clause is the lock: of two claimers the second finds `assignee` set and updates nothing.
_CLAIM = (update(_task_table)
          .where(_task_table.c.id == bindparam("b_task"), _task_table.c.assignee.is_(None),
                 _task_table.c.status == "open")
          .values(assignee=bindparam("b_user")))
_UNCLAIM = (update(_task_table)
            .where(_task_table.c.id == bindparam("b_task"), _task_table.c.assignee == bindparam("b_user"),
                   _task_table.c.status == "open")
            .values(assignee=None))
_ASSIGNEE = select(_task_table.c.assignee).where(_task_table.c.id == bindparam("b_task"))
_LAST_CLAIM = (select(_history_table.c.actor, _history_table.c.action)
               .where(_history_table.c.instance_id == bindparam("b_instance"),
                      _history_table.c.task_id == bindparam("b_task"),
                      _history_table.c.action.in_(["claimed", "unclaimed"]))
               .order_by(_history_table.c.id.desc()).limit(1))


def claim_task(sessions: sessionmaker[Session], task_id: str, user: str,
               groups: tuple[str, ...] = ()) -> None:
    """Take a task offered to `user` or one of their `groups`: it becomes assigned to them alone.

    Claiming a task one already holds does nothing; if someone else claimed it first,
    TaskConflictError names them. The history records who claimed it.
    """
    _retry_when_locked(lambda: _claim_once(sessions, task_id, user, tuple(groups)),
                       f"claiming task {task_id}")


def _claim_once(sessions, task_id: str, user: str, groups: tuple[str, ...]) -> None:
    with _engine(sessions).begin() as conn:  # a transaction on PostgreSQL too: update and history together
        handle = _open_task(conn, task_id)
        offered = (user in (handle.candidate_users or [])
                   or bool(set(groups) & set(handle.candidate_groups or [])))
        if _mode(conn, handle):
            raise NotPermittedError(f"task {task_id} is an approval node with several signers: each signs it, "
                                    "nobody claims it")
        if handle.assignee == user:
            return
        if not offered:
            raise NotPermittedError(f"task {task_id} is not offered to {user} or their groups")
        holder = handle.assignee
        if holder is None and conn.execute(_CLAIM, {"b_task": task_id, "b_user": user}).rowcount != 1:
            holder = conn.execute(_ASSIGNEE, {"b_task": task_id}).scalar()  # the winner of the race
        if holder is not None:
            raise TaskConflictError(f"task {task_id} is already claimed by {holder}")
        _append_claim_history(conn, handle, user, "claimed")


def unclaim_task(sessions: sessionmaker[Session], task_id: str, user: str) -> None:
    """Give a claimed task back to its pool; only the person who claimed it may."""
    _retry_when_locked(lambda: _unclaim_once(sessions, task_id, user), f"giving back task {task_id}")


def _unclaim_once(sessions, task_id: str, user: str) -> None:
    with _engine(sessions).begin() as conn:
        handle = _open_task(conn, task_id)
        if handle.assignee != user:
            raise NotPermittedError(f"task {task_id} is not claimed by {user}")
        last = conn.execute(_LAST_CLAIM, {"b_instance": handle.instance_id, "b_task": task_id}).first()
        if last is None or tuple(last) != (user, "claimed"):
            raise NotPermittedError(f"task {task_id} was assigned to {user}, not claimed from a pool: "
                                    "it has no pool to go back to")
        if conn.execute(_UNCLAIM, {"b_task": task_id, "b_user": user}).rowcount != 1:
            raise TaskConflictError(f"task {task_id} changed while giving it back; nothing was changed")
        _append_claim_history(conn, handle, user, "unclaimed")


def _open_task(conn, task_id: str) -> store.TaskHandle:
    handle = store.task_handle(conn, task_id)
    if handle is None:
        raise NotFoundError(f"no task {task_id}")
    if handle.status != "open" or handle.instance_status != "running":
        by = f" by {handle.completed_by}" if handle.completed_by else ""
        raise TaskConflictError(f"task {task_id} is already {handle.status}{by}")
    return handle


def _append_claim_history(conn, handle: store.TaskHandle, user: str, action: str) -> None:
    store.append_history(conn, [{"instance_id": handle.instance_id, "at": utcnow(), "actor": user,
                                 "action": action, "element_id": handle.element_id,
                                 "task_id": handle.task_id}])


# -- timers and messages (issue 4) -------------------------------------------------------------------

_NO_WAITS: tuple[dict, dict] = ({}, {})
# user-task attributes that put a timer on the task: kind -> attribute (an ISO 8601 duration after creation)
TASK_TIMER_ATTRIBUTES = {"remind": "remindAfter", "escalate": "escalateAfter", "timeout": "timeoutAfter"}
TIMEOUT_ACTIONS = ("approve", "reject")


def _waits(workflow) -> tuple[dict, dict]:
    """What the workflow waits on now: `({(task id, due iso): TimerWait}, {task id: MessageWait})`."""
    return ({(w.task_id, w.due_at.isoformat()): w for w in wfa.waiting_timers(workflow)},
            {w.task_id: w for w in wfa.waiting_messages(workflow)})


def _record_waits(step: store.StepWrite, workflow, before: tuple[dict, dict], open_views) -> None:
    """Timer rows and message subscriptions to add and end, by comparing before and after the step."""
    timers_before, messages_before = before
    timers_after, messages_after = _waits(workflow)
    waiting_timer_tasks = {task_id for task_id, _ in timers_after}
    step.timers_cancel += sorted({task_id for task_id, _ in timers_before} - waiting_timer_tasks)
    step.timers_new += [{"task_id": w.task_id, "element_id": w.element_id, "kind": "event", "due_at": w.due_at,
                         "detail": None}
                        for key, w in timers_after.items() if key not in timers_before]
    step.subs_cancel += sorted(set(messages_before) - set(messages_after))
    step.subs_new += [{"task_id": w.task_id, "element_id": w.element_id, "message_name": w.message_name,
                       "correlation_key": wfa.correlation_value(workflow, w.task_id, w.correlation,
                                                                step.business_key),
                       "early": "keep"}
                      for task_id, w in messages_after.items() if task_id not in messages_before]
    new_ids = {t["id"] for t in step.new_tasks}
    for view in open_views:
        if view.id in new_ids:
            step.timers_new += _task_timers(view, step.now)


def _task_timers(view, now: datetime) -> list[dict]:
    """Reminder, escalation, overdue and timeout timers of a user task that just became ready."""
    rows = []
    for kind, attribute in TASK_TIMER_ATTRIBUTES.items():
        after = view.attributes.get(attribute)
        if after:
            detail = {"action": view.attributes.get("timeoutAction", "reject")} if kind == "timeout" else None
            rows.append({"task_id": view.id, "element_id": view.element_id, "kind": kind,
                         "due_at": now + wfa.duration(after), "detail": detail})
    if view.due_at is not None:
        rows.append({"task_id": view.id, "element_id": view.element_id, "kind": "overdue", "due_at": view.due_at,
                     "detail": None})
    return rows


def fire_event_timer(sessions: sessionmaker[Session], timer_id: int, instance_id: int, task_id: str) -> StepResult:
    """Fire a waiting timer event and run the process on; the timer row is marked fired in the
    same write, only if it is still pending (store.AlreadyTaken otherwise: nothing written)."""
    return _retry_when_locked(lambda: _fire_once(sessions, timer_id, instance_id, task_id),
                              f"firing timer {timer_id}")


def _running_instance(conn, instance_id: int) -> store.InstanceHandle:
    handle = store.instance_handle(conn, instance_id)
    if handle is None or handle.status != "running":
        raise TaskConflictError(f"instance {instance_id} is not running")
    return handle


def _fire_once(sessions, timer_id: int, instance_id: int, task_id: str) -> StepResult:
    with _step_connection(sessions) as conn:
        handle = _running_instance(conn, instance_id)
        workflow = _restore(sessions, conn, handle)
        before, waits = wfa.ready_task_ids(workflow), _waits(workflow)
        element = wfa.fire_timer_task(workflow, task_id)
        records = wfa.run_engine(workflow)
        step = _step_on(handle, fire_timer=timer_id,
                        history=[{"actor": None, "action": "timer_fired", "element_id": element, "task_id": task_id}])
        result = _save(conn, step, workflow, records, None, before=before, waits=waits,
                       version=(handle.version_id, handle.checksum))
    return _after_commit(sessions, result, step, workflow)


def decide_on_timeout(sessions: sessionmaker[Session], timer_id: int, task_id: str, action: str) -> StepResult:
    """Complete a user task whose time ran out with `{"approved": action == "approve"}`, as the system."""
    if action not in TIMEOUT_ACTIONS:
        raise InvalidTaskDataError(f"timeout action `{action}` is not one of {', '.join(TIMEOUT_ACTIONS)}")
    data = {"approved": action == "approve"}
    return _retry_when_locked(
        lambda: _complete_once(sessions, task_id, "system", data, (), f"timed out: {action}", "en", timer_id),
        f"deciding task {task_id} on timeout")


def deliver_message(sessions: sessionmaker[Session], instance_id: int, task_id: str, name: str, payload: dict,
                    sender: str | None = None, buffered_id: int | None = None) -> StepResult:
    """Hand a message to the waiting event `task_id` of an instance and run on (one step).

    `buffered_id`: the kept message this delivers, marked taken in the same write (only once).
    """
    payload = _checked_data(payload)
    return _retry_when_locked(
        lambda: _deliver_once(sessions, instance_id, task_id, name, payload, sender, buffered_id),
        f"delivering message `{name}` to instance {instance_id}")


def _deliver_once(sessions, instance_id, task_id, name, payload, sender, buffered_id) -> StepResult:
    with _step_connection(sessions) as conn:
        handle = _running_instance(conn, instance_id)
        workflow = _restore(sessions, conn, handle)
        before, waits = wfa.ready_task_ids(workflow), _waits(workflow)
        records = wfa.deliver_message(workflow, task_id, name, copy.deepcopy(payload))
        step = _step_on(handle, consume_message=buffered_id,
                        history=[{"actor": sender, "action": "message_received", "task_id": task_id,
                                  "element_id": find_element(workflow, task_id, records),
                                  "comment": name, "data": payload}])
        result = _save(conn, step, workflow, records, sender, before=before, waits=waits,
                       version=(handle.version_id, handle.checksum))
    return _after_commit(sessions, result, step, workflow)


def find_element(workflow, task_id: str, records) -> str | None:
    """The BPMN id of the message event that took a message (it may have been compacted away)."""
    for record in records:
        if record.task_id == task_id:
            return record.element_id
    return None


def start_by_message(sessions: sessionmaker[Session], key: str, name: str, payload: dict,
                     business_key: str | None, sender: str | None = None,
                     buffered_id: int | None = None) -> StepResult:
    """Start process `key` at its message start event `name`, the payload as its first data."""
    payload = _checked_data(payload)
    return _retry_when_locked(
        lambda: _start_by_message_once(sessions, key, name, payload, business_key, sender, buffered_id),
        f"starting `{key}` by message `{name}`")


def _start_by_message_once(sessions, key, name, payload, business_key, sender, buffered_id) -> StepResult:
    with _step_connection(sessions) as conn:
        version = store.latest_version(conn, key)
        if version is None:
            raise NotFoundError(f"no process `{key}` is deployed")
        version_id, checksum = version
        spec, subspecs = _specs(conn, version_id, checksum)
        workflow = new_workflow(spec, subspecs, wfa.script_engine())
        records = wfa.start_by_message(workflow, name, copy.deepcopy(payload))
        step = store.StepWrite(instance_id=None, revision=0, now=utcnow(), state="", data={}, status="",
                               state_key="", version_id=version_id, process_key=key, initiator=sender,
                               business_key=business_key, consume_message=buffered_id,
                               history=[{"actor": sender, "action": "started", "comment": f"message {name}",
                                         "data": payload}])
        result = _save(conn, step, workflow, records, sender, before=set(), waits=_NO_WAITS, version=(version_id, checksum))
    LIVE_WORKFLOWS.put(_cache_key(sessions, result.instance_id, step.state_key), workflow)
    _take_buffered_messages(sessions, result)
    return result


def message_starts(sessions: sessionmaker[Session], name: str) -> list[str]:
    """Keys of the deployed processes whose latest version starts on message `name`."""
    keys = []
    with _engine(sessions).connect() as conn:
        for key, version_id, checksum in store.latest_versions(conn):
            spec, _subspecs = _specs(conn, version_id, checksum)
            if name in wfa.message_start_names(spec):
                keys.append(key)
    return keys


def _take_buffered_messages(sessions, result: StepResult) -> None:
    """A step that started waiting for messages takes those already kept for it, oldest first.

    Runs after the step's commit; if this process dies in between, the periodic sweep
    (`engine.messages.sweep`) does the same. Taking a kept message is marked in the delivering
    step's own write, so a message is taken once whoever gets there first.
    """
    if not result.subscribed or result.status != "running":
        return
    with _engine(sessions).connect() as conn:
        matches = store.buffered_for_instance(conn, result.instance_id, utcnow())
    for buffered_id, task_id, name, payload, sender in matches:
        try:
            deliver_message(sessions, result.instance_id, task_id, name, payload, sender, buffered_id)
        except (store.AlreadyTaken, TaskConflictError):
            continue  # someone else took it, or the event stopped waiting
        return  # the delivering step takes any further kept messages itself


# -- approval nodes with several signers (issue 6: 依次 / 会签 / 或签 / 票签) ------------------------------

_item_table = ApprovalItem.__table__
_LOCK_TASK = select(_task_table.c.id).where(_task_table.c.id == bindparam("b_task")).with_for_update()
_ITEMS = (select(_item_table.c.id, _item_table.c.signer, _item_table.c.status, _item_table.c.weight,
                 _item_table.c.position)
          .where(_item_table.c.task_id == bindparam("b_task")).order_by(_item_table.c.position))


def _mode(conn, handle) -> str | None:
    """The approval mode of the task's node (from the spec: no query), or None."""
    return _node_attributes(conn, handle).get("mode")


def _decide_once(sessions, task_id: str, user: str, data: dict, comment, lang, attachments=None) -> StepResult:
    """One signer's decision on an approval node with a mode, in one transaction on both databases.

    The node's row is locked first (FOR UPDATE on PostgreSQL; SQLite has one writer at a time), so
    decisions on one node are applied one after another: none is lost, and the decision that
    settles the node is the one that completes it, in the same transaction (an engine step with
    `approved` and the tally). Later deciders get TaskConflictError: "already decided".
    """
    decision = data.get("approved")
    if decision is not True and decision is not False:
        raise InvalidTaskDataError("an approval node needs a decision: `approved` true or false")
    with _engine(sessions).begin() as conn:
        conn.execute(_LOCK_TASK, {"b_task": task_id})
        handle = store.task_handle(conn, task_id)  # read again under the lock
        if handle.status != "open" or handle.instance_status != "running":
            raise TaskConflictError(f"approval node {task_id} is already decided; your decision was not recorded")
        items = [tuple(r) for r in conn.execute(_ITEMS, {"b_task": task_id})]
        mine = _own_item(items, user, handle)
        now = utcnow()
        conn.execute(update(_item_table).where(_item_table.c.id == mine[0], _item_table.c.status == "open")
                     .values(status="approved" if decision else "rejected", decided_at=now, comment=comment))
        mine_now = "approved" if decision else "rejected"
        decided = [approvals.Item(signer, mine_now if item_id == mine[0] else status, weight)
                   for item_id, signer, status, weight, _position in items]
        attributes = _node_attributes(conn, handle)
        mode = attributes.get("mode")
        outcome = approvals.outcome(mode, decided, attributes)
        if outcome is None:
            return _continue_node(conn, handle, mode, items, mine, user, decision, comment, now, attachments)
        conn.execute(update(_item_table).where(_item_table.c.task_id == task_id,
                                               _item_table.c.status.in_(["open", "waiting"]))
                     .values(status="cancelled", decided_at=now))
        extra = {"approved": outcome, "votes": approvals.tally(decided)}
        result, workflow, state_key = _completion(sessions, conn, handle, user, data, comment, lang, extra=extra,
                                                  attachments=attachments)
    LIVE_WORKFLOWS.put(_cache_key(sessions, handle.instance_id, state_key), workflow)
    _take_buffered_messages(sessions, result)
    return result


def _own_item(items: list[tuple], user: str, handle) -> tuple:
    """The caller's open item (a deputy acts on the item of the person they stand in for)."""
    for item in items:
        item_id, signer, status, _weight, _position = item
        if status == "open" and (signer == user or (signer == handle.on_behalf_of and handle.assignee == user)):
            return item
    if any(signer == user and status in ("approved", "rejected") for _i, signer, status, _w, _p in items):
        raise TaskConflictError(f"you already decided on approval node {handle.task_id}")
    if any(signer == user and status == "waiting" for _i, signer, status, _w, _p in items):
        raise NotPermittedError(f"approval node {handle.task_id}: it is not your turn yet (sequential approval)")
    raise NotPermittedError(f"approval node {handle.task_id} has no open signature for {user}")


def _continue_node(conn, handle, mode: str, items, mine, user: str, decision: bool, comment, now,
                   attachments=None) -> StepResult:
    """A decision that does not settle the node yet: recorded, the node's row updated (the next
    signer of a sequential node gets it; others lose it from their inbox), the history says so."""
    task_id = handle.task_id
    if mode == "sequential":
        _hand_to_next(conn, handle, next(i for i in items if i[2] == "waiting"), now)
    else:
        _drop_candidate(conn, handle, mine[1])
    store.append_history(conn, [{"instance_id": handle.instance_id, "at": now, "actor": user, "action": "signed",
                                 "element_id": handle.element_id, "task_id": task_id, "comment": comment,
                                 "data": uploads.with_attachments(
                                     {"approved": decision, "mode": mode},
                                     uploads.claim(conn, attachments, user, handle.instance_id))}])
    return StepResult(handle.instance_id, "running", handle.revision, [{"id": task_id, "element_id": handle.element_id,
                                                                        "name": None, "assignee": None}])


# -- changing the signers of a running approval node (加签 / 减签) -------------------------------------

SIGNER_PLACES = ("before", "after", "alongside")
_person_table = Person.__table__
_ACTIVE_PERSON = select(_person_table.c.username).where(_person_table.c.username == bindparam("b_user"),
                                                        _person_table.c.active)
_ADDED_BY = (select(_history_table.c.actor, _history_table.c.data)
             .where(_history_table.c.instance_id == bindparam("b_instance"),
                    _history_table.c.task_id == bindparam("b_task"),
                    _history_table.c.action == "signer_added"))


def add_signer(sessions: sessionmaker[Session], task_id: str, actor: str, signer: str, place: str,
               comment: str | None = None) -> None:
    """A signer of an approval node adds someone: before me / after me (前加签 / 后加签: sequential
    nodes) or alongside (并加签: all, any, vote). Only a signer whose turn it is may; the added
    person must be active and not a signer of the node already."""
    if place not in SIGNER_PLACES:
        raise InvalidTaskDataError(f"where to add a signer: one of {', '.join(SIGNER_PLACES)}, not `{place}`")
    _retry_when_locked(lambda: _add_signer_once(sessions, task_id, actor, signer, place, comment),
                       f"adding a signer to task {task_id}")


def _locked_node(conn, task_id: str):
    conn.execute(_LOCK_TASK, {"b_task": task_id})
    handle = store.task_handle(conn, task_id)
    if handle is None:
        raise NotFoundError(f"no task {task_id}")
    if handle.status != "open" or handle.instance_status != "running":
        raise TaskConflictError(f"approval node {task_id} is already decided")
    mode = _mode(conn, handle)
    if not mode:
        raise NotPermittedError(f"task {task_id} has one approver; signers are added to approval nodes with a "
                                "mode (liaison:mode sequential, all, any or vote)")
    return handle, mode, [tuple(r) for r in conn.execute(_ITEMS, {"b_task": task_id})]


def _add_signer_once(sessions, task_id, actor, signer, place, comment) -> None:
    with _engine(sessions).begin() as conn:
        handle, mode, items = _locked_node(conn, task_id)
        mine = _own_item(items, actor, handle)
        if (place == "alongside") == (mode == "sequential"):
            allowed = "alongside" if mode != "sequential" else "before or after"
            raise NotPermittedError(f"a {mode} node takes signers {allowed} you, not {place}")
        if conn.execute(_ACTIVE_PERSON, {"b_user": signer}).first() is None:
            raise NotFoundError(f"no active person `{signer}`")
        if any(s == signer and st != "cancelled" for _i, s, st, _w, _p in items):
            raise TaskConflictError(f"{signer} already signs approval node {task_id}")
        now = utcnow()
        position = {"before": mine[4], "after": mine[4] + 1, "alongside": max(p for *_r, p in items) + 1}[place]
        conn.execute(update(_item_table).where(_item_table.c.task_id == task_id, _item_table.c.position >= position)
                     .values(position=_item_table.c.position + 1))
        status = "waiting" if place == "after" else "open"
        conn.execute(_item_table.insert().values(
            id=str(uuid.uuid4()), task_id=task_id, instance_id=handle.instance_id, signer=signer, position=position,
            weight=1, status=status, created_at=now))
        if place == "before":  # the added person signs first; the node comes back to me after them
            conn.execute(update(_item_table).where(_item_table.c.id == mine[0]).values(status="waiting"))
            conn.execute(update(_task_table).where(_task_table.c.id == task_id)
                         .values(assignee=signer, on_behalf_of=None))
        elif place == "alongside":
            conn.execute(update(_task_table).where(_task_table.c.id == task_id)
                         .values(candidate_users=[*(handle.candidate_users or []), signer]))
            conn.execute(TaskCandidate.__table__.insert().values(task_id=task_id, kind="user", value=signer))
        store.append_history(conn, [{"instance_id": handle.instance_id, "at": now, "actor": actor,
                                     "action": "signer_added", "element_id": handle.element_id,
                                     "task_id": task_id, "comment": comment,
                                     "data": {"signer": signer, "place": place}}])
        if status == "open":
            _notify_signers(conn, handle, [signer], now)


def remove_signer(sessions: sessionmaker[Session], task_id: str, actor: str, signer: str,
                  comment: str | None = None) -> StepResult | None:
    """Take an undecided signer off an approval node (减签): whoever added them, or a super admin.
    When the remaining decisions settle the node, it completes (the StepResult is returned)."""
    return _retry_when_locked(lambda: _remove_signer_once(sessions, task_id, actor, signer, comment),
                              f"removing a signer from task {task_id}")


def _remove_signer_once(sessions, task_id, actor, signer, comment):
    with _engine(sessions).begin() as conn:
        handle, mode, items = _locked_node(conn, task_id)
        target = next((i for i in items if i[1] == signer and i[2] in ("open", "waiting")), None)
        if target is None:
            raise NotFoundError(f"{signer} has no undecided signature on approval node {task_id}")
        added_by = [actor_ for actor_, data in conn.execute(_ADDED_BY, {"b_instance": handle.instance_id,
                                                                         "b_task": task_id})
                    if (data or {}).get("signer") == signer]
        if actor not in added_by and not org.is_super_admin(conn, actor):
            raise NotPermittedError(f"only whoever added {signer}, or a super admin, may remove them")
        undecided = [i for i in items if i[2] in ("open", "waiting") and i[0] != target[0]]
        decided = [i for i in items if i[2] in ("approved", "rejected")]
        if not undecided and not decided:
            raise NotPermittedError(f"{signer} is the node's last signer: it needs at least one")
        now = utcnow()
        conn.execute(update(_item_table).where(_item_table.c.id == target[0])
                     .values(status="cancelled", decided_at=now, comment=comment))
        store.append_history(conn, [{"instance_id": handle.instance_id, "at": now, "actor": actor,
                                     "action": "signer_removed", "element_id": handle.element_id,
                                     "task_id": task_id, "comment": comment, "data": {"signer": signer}}])
        remaining = [approvals.Item(s, "cancelled" if i == target[0] else st, w) for i, s, st, w, _p in items]
        outcome = approvals.outcome(mode, remaining, _node_attributes(conn, handle))
        if outcome is None:
            _after_removal(conn, handle, mode, items, target, now)
            return None
        conn.execute(update(_item_table).where(_item_table.c.task_id == task_id,
                                               _item_table.c.status.in_(["open", "waiting"]))
                     .values(status="cancelled", decided_at=now))
        extra = {"approved": outcome, "votes": approvals.tally(remaining)}
        result, workflow, state_key = _completion(sessions, conn, handle, actor, {}, comment, "en", extra=extra)
    LIVE_WORKFLOWS.put(_cache_key(sessions, handle.instance_id, state_key), workflow)
    return result


def _after_removal(conn, handle, mode, items, target, now) -> None:
    """The node's row after a signer left: the next signer's turn, or one candidate less."""
    if mode != "sequential":
        _drop_candidate(conn, handle, target[1])
    elif target[2] == "open":
        _hand_to_next(conn, handle, next(i for i in items if i[2] == "waiting" and i[0] != target[0]), now)


def _hand_to_next(conn, handle, following: tuple, now) -> None:
    """A sequential node's turn passes to the `following` item's signer, who is told."""
    conn.execute(update(_item_table).where(_item_table.c.id == following[0]).values(status="open"))
    conn.execute(update(_task_table).where(_task_table.c.id == handle.task_id)
                 .values(assignee=following[1], on_behalf_of=None))
    _notify_signers(conn, handle, [following[1]], now)


def _drop_candidate(conn, handle, signer: str) -> None:
    """A signer of an all / any / vote node leaves the node's candidates (their inbox) after signing or removal."""
    conn.execute(update(_task_table).where(_task_table.c.id == handle.task_id)
                 .values(candidate_users=[c for c in (handle.candidate_users or []) if c != signer]))
    conn.execute(TaskCandidate.__table__.delete().where(
        TaskCandidate.__table__.c.task_id == handle.task_id, TaskCandidate.__table__.c.kind == "user",
        TaskCandidate.__table__.c.value == signer))


def _notify_signers(conn, handle, signers: list[str], now) -> None:
    event = notifications.Event("task_assigned", recipients=signers,
                                task={"id": handle.task_id, "element_id": handle.element_id, "name": None,
                                      "due_at": None})
    instance = store.instance_handle(conn, handle.instance_id)
    facts = notifications.StepFacts(process_key=handle.process_key,
                                    package=_package(conn, handle.version_id, handle.checksum),
                                    instance_id=handle.instance_id, initiator=handle.initiator,
                                    business_key=handle.business_key, data=instance.data, events=[event])
    store.write_effects(conn, handle.instance_id, now, *notifications.render_step(conn, facts, now))



# -- delegation (委派): someone else handles the task, then it comes back ---------------------------------

_DELEGATE = (update(_task_table)
             .where(_task_table.c.id == bindparam("b_task"), _task_table.c.assignee == bindparam("b_actor"),
                    _task_table.c.status == "open", _task_table.c.delegated_by.is_(None))
             .values(assignee=bindparam("b_to"), delegated_by=bindparam("b_actor"), on_behalf_of=None))
_HAND_BACK = (update(_task_table)
              .where(_task_table.c.id == bindparam("b_task"), _task_table.c.assignee == bindparam("b_user"),
                     _task_table.c.status == "open", _task_table.c.delegated_by == bindparam("b_back"))
              .values(assignee=bindparam("b_back"), delegated_by=None))


def delegate_task(sessions: sessionmaker[Session], task_id: str, actor: str, to: str,
                  comment: str | None = None, attachments: list[str] | None = None) -> None:
    """The assignee of a task has `to` handle it (委派); when `to` submits, the task comes back to
    the assignee, who decides. Approval nodes with several signers are not delegated (transfer or add
    a signer instead); a delegated task is not delegated again. `attachments`: the actor's upload ids
    (see `complete_task`)."""
    attachments = uploads.clean_ids(attachments)
    with _engine(sessions).begin() as conn:
        handle = _open_task(conn, task_id)
        if handle.delegated_by:
            raise TaskConflictError(f"task {task_id} is already delegated by {handle.delegated_by} to "
                                    f"{handle.assignee}")
        if handle.assignee != actor:
            raise NotPermittedError(f"only the task's assignee delegates it; task {task_id} is "
                                    f"{'assigned to ' + handle.assignee if handle.assignee else 'not assigned'}")
        if _mode(conn, handle):
            raise NotPermittedError(f"task {task_id} is an approval node with several signers: add a signer "
                                    "or transfer it instead")
        if to == actor:
            raise InvalidTaskDataError("a task is delegated to someone else")
        if conn.execute(_ACTIVE_PERSON, {"b_user": to}).first() is None:
            raise NotFoundError(f"no active person `{to}`")
        if conn.execute(_DELEGATE, {"b_task": task_id, "b_actor": actor, "b_to": to}).rowcount != 1:
            raise TaskConflictError(f"task {task_id} changed meanwhile; nothing was delegated")
        now = utcnow()
        conn.execute(TaskCandidate.__table__.delete().where(TaskCandidate.__table__.c.task_id == task_id))
        store.append_history(conn, [{"instance_id": handle.instance_id, "at": now, "actor": actor,
                                     "action": "delegated", "element_id": handle.element_id, "task_id": task_id,
                                     "comment": comment, "data": uploads.with_attachments(
                                         {"to": to}, uploads.claim(conn, attachments, actor, handle.instance_id))}])
        _notify_signers(conn, handle, [to], now)


def _hand_back(sessions, conn, handle, user: str, data: dict, comment, lang, attachments=None) -> StepResult:
    """The delegate submits: their answers and comment go to the history and the task goes back to
    the person who delegated it (no engine step: the delegator decides)."""
    if handle.form:
        workflow = _restore(sessions, conn, handle)
        forms, current = _forms(conn, handle.version_id, handle.checksum), wfa.current_data(workflow)
        data = checked_submission(forms, handle.form, handle.element_id, data, current, lang,
                                  wfa.company_now().date())
        LIVE_WORKFLOWS.put(_cache_key(sessions, handle.instance_id, handle.state_key), workflow)
    now = utcnow()
    with _engine(sessions).begin() as tx:
        if tx.execute(_HAND_BACK, {"b_task": handle.task_id, "b_user": user,
                                   "b_back": handle.delegated_by}).rowcount != 1:
            raise TaskConflictError(f"task {handle.task_id} changed meanwhile; nothing of your answer was saved")
        store.append_history(tx, [{"instance_id": handle.instance_id, "at": now, "actor": user,
                                   "action": "delegation_done", "element_id": handle.element_id,
                                   "task_id": handle.task_id, "comment": comment,
                                   "data": uploads.with_attachments(
                                       data, uploads.claim(tx, attachments, user, handle.instance_id))}])
        _notify_signers(tx, handle, [handle.delegated_by], now)
    return StepResult(handle.instance_id, "running", handle.revision,
                      [{"id": handle.task_id, "element_id": handle.element_id, "name": None,
                        "assignee": handle.delegated_by}])


# -- moving the token: return (退回), jump (跳转), take back (拿回) -------------------------------------------

MOVE_ACTIONS = {"return": "returned", "jump": "jumped", "take_back": "taken_back"}
_TASK_HISTORY = (select(_history_table.c.actor, _history_table.c.action, _history_table.c.element_id,
                        _history_table.c.task_id)
                 .where(_history_table.c.instance_id == bindparam("b_instance"))
                 .order_by(_history_table.c.id))


def move_task(sessions: sessionmaker[Session], task_id: str, actor: str, kind: str, target: str | None = None,
              comment: str | None = None, groups: tuple[str, ...] = ()) -> StepResult:
    """Move the token of an open task (one engine step, like a completion):

    - `return`: the task's holder sends it back to `target`: "previous" (the last person's node),
      "initiator" (the process's `liaison:resubmit` node) or the id of a node already passed; a
      comment is required;
    - `jump`: a super admin or one of the package's `admins` moves it to any node (a reason is required);
    - `take_back`: whoever completed the previous node pulls it back while nobody acted on this one.

    The task's row is cancelled, the target's new row is assigned like any new task, the history
    says who moved what where; a return notifies the initiator.
    """
    if kind not in MOVE_ACTIONS:
        raise InvalidTaskDataError(f"a token move is one of {', '.join(MOVE_ACTIONS)}, not `{kind}`")
    if kind in ("return", "jump") and not (comment or "").strip():
        raise InvalidTaskDataError(f"a {kind} needs a comment saying why")
    return _retry_when_locked(lambda: _move_once(sessions, task_id, actor, kind, target, comment, tuple(groups)),
                              f"moving task {task_id}")


def _move_once(sessions, task_id, actor, kind, target, comment, groups) -> StepResult:
    with _step_connection(sessions) as conn:
        handle = _open_task(conn, task_id)
        history = [tuple(r) for r in conn.execute(_TASK_HISTORY, {"b_instance": handle.instance_id})]
        workflow = _restore(sessions, conn, handle)
        path = [element for _actor, action, element, _task in history if action in ("step", "task_completed")]
        targets = {t["id"]: t for t in token_moves.movable_targets(workflow, task_id, path)}
        element = _move_target(conn, handle, kind, target, targets, actor, groups, history, workflow)
        before, waits = wfa.ready_task_ids(workflow), _waits(workflow)
        token_moves.move_token(workflow, task_id, element, reason=kind)
        records = wfa.run_engine(workflow)
        step = _step_on(handle, history=[{"actor": actor, "action": MOVE_ACTIONS[kind],
                                          "element_id": handle.element_id, "task_id": task_id, "comment": comment,
                                          "data": {"from": handle.element_id, "to": element}}])
        result = _save(conn, step, workflow, records, actor, before=before, waits=waits,
                       version=(handle.version_id, handle.checksum))
    LIVE_WORKFLOWS.put(_cache_key(sessions, handle.instance_id, step.state_key), workflow)
    return result


def _move_target(conn, handle, kind, target, targets: dict, actor, groups, history, workflow) -> str:
    """Check who may move the token where; the target element's id."""
    previous = next((t for t in targets.values() if t.get("previous")), None)
    if kind == "jump":
        return _jump_target(conn, handle, target, actor)
    if kind == "take_back":
        return _take_back_target(conn, handle, previous, actor, history)
    return _return_target(conn, handle, target, targets, previous, actor, groups, workflow)


def _jump_target(conn, handle, target, actor) -> str:
    meta = _package(conn, handle.version_id, handle.checksum).get("meta") or {}
    if not org.is_super_admin(conn, actor) and actor not in assignment.process_admins_of(meta):
        raise NotPermittedError("only a super admin or the process's admins move a request to any node")
    if not target:
        raise InvalidTaskDataError("a jump needs the node to go to")
    return target


_ACTED = ("claimed", "signed", "delegated", "transferred", "signer_added", "signer_removed")


def _take_back_target(conn, handle, previous, actor, history) -> str:
    task_id = handle.task_id
    if previous is None:
        raise NotPermittedError(f"task {task_id} has no previous node to take back")
    last = next((a for a, action, element, _t in reversed(history)
                 if action == "task_completed" and element == previous["id"]), None)
    if last != actor:
        raise NotPermittedError(f"only {last or 'whoever completed the previous node'} may take it back")
    if any(t == task_id and action in _ACTED for _a, action, _e, t in history):
        raise TaskConflictError(f"someone already acted on task {task_id}: it cannot be taken back")
    return previous["id"]


def _return_target(conn, handle, target, targets, previous, actor, groups, workflow) -> str:
    task_id = handle.task_id
    if _mode(conn, handle):
        _own_item([tuple(r) for r in conn.execute(_ITEMS, {"b_task": task_id})], actor, handle)
    else:
        _check_may_complete(handle, actor, groups)
    if target in (None, "previous"):
        if previous is None:
            raise NotPermittedError(f"task {task_id} has no previous node to return to")
        return previous["id"]
    if target == "initiator":
        resubmit = token_moves.return_settings(workflow, task_id)["resubmit"]
        if not resubmit:
            raise NotPermittedError("the process names no node for the initiator's rework "
                                    "(liaison:resubmit on its start event)")
        return resubmit
    found = targets.get(target)
    if found is None or not (found.get("passed") or found.get("resubmit")):
        allowed = ", ".join(t for t, v in targets.items() if v.get("passed") or v.get("resubmit")) or "none"
        raise NotPermittedError(f"`{target}` is not a node this request already passed (possible: {allowed})")
    return target


def move_options(sessions: sessionmaker[Session], task_id: str) -> dict:
    """Where an open task can be returned to, for the task page: `{"previous": {id, name} | None,
    "initiator": bool, "passed": [{id, name}], "all": [{id, name}] (where an admin may jump)}`
    (nothing is changed)."""
    with _engine(sessions).connect() as conn:
        handle = _open_task(conn, task_id)
        history = [tuple(r) for r in conn.execute(_TASK_HISTORY, {"b_instance": handle.instance_id})]
        workflow = _restore(sessions, conn, handle)
        try:
            path = [element for _a, action, element, _t in history if action in ("step", "task_completed")]
            targets = token_moves.movable_targets(workflow, task_id, path)
            resubmit = token_moves.return_settings(workflow, task_id)["resubmit"]
        finally:
            LIVE_WORKFLOWS.put(_cache_key(sessions, handle.instance_id, handle.state_key), workflow)
    previous = next(({"id": t["id"], "name": t["name"]} for t in targets if t.get("previous")), None)
    return {"previous": previous, "initiator": bool(resubmit),
            "passed": [{"id": t["id"], "name": t["name"]} for t in targets
                       if t.get("passed") and not t.get("current") and t["id"] != resubmit],
            "all": [{"id": t["id"], "name": t["name"]} for t in targets if not t.get("current")]}


def take_back_candidate(sessions: sessionmaker[Session], instance_id: int, user: str) -> str | None:
    """The open task `user` may take back now (they completed the node before it and nobody acted
    on it), or None: for showing the button; `move_task` checks again."""
    with _engine(sessions).connect() as conn:
        open_tasks = conn.execute(select(_task_table.c.id).where(_task_table.c.instance_id == instance_id,
                                                                 _task_table.c.status == "open")).scalars().all()
        history = [tuple(r) for r in conn.execute(_TASK_HISTORY, {"b_instance": instance_id})]
    if len(open_tasks) != 1:
        return None
    last = next(((a, element) for a, action, element, _t in reversed(history) if action == "task_completed"), None)
    if last is None or last[0] != user or any(t == open_tasks[0] and action in _ACTED for _a, action, _e, t in history):
        return None
    return open_tasks[0]


def node_mode(sessions: sessionmaker[Session], task_id: str) -> str | None:
    """The approval mode of a task's node (sequential, all, any, vote), or None for a one-person task."""
    with _engine(sessions).connect() as conn:
        handle = store.task_handle(conn, task_id)
        return None if handle is None else _mode(conn, handle)
