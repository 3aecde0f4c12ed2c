"""Instance service: start, complete a task, cancel. Every way in (CLI, web, REST, jobs) calls these.

Each call is one transaction: load the instance row, restore the workflow, run the step, save
the new state, the inbox rows and the history together. The instance row carries a revision
counter (optimistic lock): if another completion saved first, this one fails with
TaskConflictError and nothing of it is stored. A step that raises stores nothing either; the
failure alone is appended to the history, in its own transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from . import workflow as wfa
from .errors import (
    InvalidTaskDataError,
    NotFoundError,
    NotPermittedError,
    ProcessRuntimeError,
    TaskConflictError,
)
from .models import HistoryEntry, ProcessInstance, ProcessVersion, TaskCandidate, WorkTask, utcnow
from .packages import latest_version
from .serialization import SPEC_CACHE, dump_state, load_state, new_workflow

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


def start_instance(sessions: sessionmaker[Session], key: str, data: dict | None = None,
                   user: str | None = None, business_key: str | None = None) -> StepResult:
    """Start the latest version of process `key` with start-form `data`, run it until it waits."""
    data = _checked_data(data)
    with sessions() as session, session.begin():
        version = latest_version(session, key)
        spec, subspecs = _specs(session, version)
        workflow = new_workflow(spec, subspecs, wfa.script_engine())
        wfa.set_start_data(workflow, data)
        records = wfa.run_engine(workflow)
        instance = ProcessInstance(version_id=version.id, process_key=key, status="running",
                                   initiator=user, business_key=business_key, state="")
        session.add(instance)
        session.flush()
        session.add(HistoryEntry(instance_id=instance.id, actor=user, action="started",
                                 data=json.loads(json.dumps(data))))
        return _save(session, instance, workflow, records, actor=None)


def complete_task(sessions: sessionmaker[Session], task_id: str, user: str, data: dict | None = None,
                  groups: tuple[str, ...] = (), comment: str | None = None) -> StepResult:
    """Complete an open user task as `user` with form `data`, then run until the process waits.

    If another task of the same instance was saved meanwhile, the completion is re-applied on
    top of it; if this very task was completed by someone else, TaskConflictError says so and
    nothing of this submission is stored.
    """
    data = _checked_data(data)
    for _attempt in range(MAX_ATTEMPTS):
        try:
            return _complete_once(sessions, task_id, user, data, groups, comment)
        except StaleDataError:
            continue  # the instance moved on under us: read it again and re-apply
        except OperationalError as exc:
            if "locked" not in str(exc).lower():
                raise
        except ProcessRuntimeError as exc:
            _record_failure(sessions, task_id, user, exc)
            raise
    raise TaskConflictError(f"the instance of task {task_id} kept changing while saving; "
                            "nothing of this submission was saved, try again")


def _complete_once(sessions, task_id, user, data, groups, comment) -> StepResult:
    with sessions() as session, session.begin():
        row = session.get(WorkTask, task_id)
        if row is None:
            raise NotFoundError(f"no task {task_id}")
        _check_may_complete(row, user, groups)
        instance = session.get(ProcessInstance, row.instance_id)
        if row.status != "open" or instance.status != "running":
            by = f" by {row.completed_by}" if row.completed_by else ""
            raise TaskConflictError(f"task {task_id} is already {row.status}{by}; "
                                    "nothing of this submission was saved")
        workflow = _restore(session, instance)
        completed = wfa.complete_user_task(workflow, task_id, data)
        records = wfa.run_engine(workflow)
        session.add(HistoryEntry(instance_id=instance.id, actor=user, action="task_completed",
                                 element_id=completed.element_id, element_type=completed.element_type,
                                 task_id=task_id, comment=comment, data=json.loads(json.dumps(data))))
        row.status, row.completed_by, row.completed_at = "completed", user, utcnow()
        return _save(session, instance, workflow, records, actor=user)


def cancel_instance(sessions: sessionmaker[Session], instance_id: int, user: str | None,
                    reason: str | None = None) -> StepResult:
    """Cancel a running instance: every open task is withdrawn and the history says who and why."""
    try:
        with sessions() as session, session.begin():
            instance = session.get(ProcessInstance, instance_id)
            if instance is None:
                raise NotFoundError(f"no instance {instance_id}")
            if instance.status != "running":
                raise TaskConflictError(f"instance {instance_id} is already {instance.status}")
            workflow = _restore(session, instance)
            wfa.cancel(workflow)
            session.add(HistoryEntry(instance_id=instance.id, actor=user, action="cancelled", comment=reason))
            instance.status = "cancelled"
            return _save(session, instance, workflow, [], actor=user, status="cancelled")
    except StaleDataError as exc:
        raise TaskConflictError(f"instance {instance_id} changed meanwhile; nothing was saved") from exc


def _save(session: Session, instance: ProcessInstance, workflow, records, actor, status=None) -> StepResult:
    now = utcnow()
    for record in records:
        session.add(HistoryEntry(instance_id=instance.id, actor=actor, action="step", at=now,
                                 element_id=record.element_id, element_type=record.element_type,
                                 task_id=record.task_id, comment=record.name))
    open_views = _sync_tasks(session, instance, [] if status else wfa.ready_user_tasks(workflow), now)
    if status is None:
        if wfa.is_completed(workflow):
            status, instance.end_event = "completed", wfa.end_event(records)
            session.add(HistoryEntry(instance_id=instance.id, action="completed", at=now,
                                     element_id=instance.end_event))
        elif not open_views and not wfa.waiting_elements(workflow):
            raise ProcessRuntimeError("the process stopped with nothing left to do and no end event reached")
        else:
            status = "running"
    instance.status = status
    if status != "running":
        instance.ended_at = now
    instance.state = dump_state(workflow)
    instance.data = json.loads(json.dumps(wfa.current_data(workflow), default=str))
    instance.updated_at = now
    session.flush()
    return StepResult(instance.id, status, instance.revision,
                      [{"id": v.id, "element_id": v.element_id, "name": v.name, "assignee": v.assignee}
                       for v in open_views], instance.end_event)


def _sync_tasks(session: Session, instance: ProcessInstance, ready, now) -> list:
    """Make the open task rows match the workflow's READY user tasks; return the open ones.

    Only new tasks are described (assignee expressions evaluated, due date computed), so a
    task's assignment and due date are fixed when it becomes ready.
    """
    existing = {t.id: t for t in session.scalars(
        select(WorkTask).where(WorkTask.instance_id == instance.id, WorkTask.status == "open"))}
    views = []
    for task in ready:
        task_id = str(task.id)
        if task_id in existing:
            row = existing[task_id]
            views.append(wfa.UserTaskView(row.id, row.element_id, row.name, row.form, row.assignee,
                                          row.candidate_users, row.candidate_groups, row.due_at))
            continue
        view = wfa.describe_user_task(task)
        views.append(view)
        row = WorkTask(id=view.id, instance_id=instance.id, element_id=view.element_id, name=view.name,
                       form=view.form, assignee=view.assignee, candidate_users=view.candidate_users,
                       candidate_groups=view.candidate_groups, due_at=view.due_at, created_at=now)
        row.candidates = ([TaskCandidate(kind="user", value=u) for u in dict.fromkeys(view.candidate_users)]
                          + [TaskCandidate(kind="group", value=g) for g in dict.fromkeys(view.candidate_groups)])
        session.add(row)
    live = {v.id for v in views}
    for task_id, row in existing.items():
        if task_id not in live:
            row.status, row.completed_at = "cancelled", now
    return views


def _restore(session: Session, instance: ProcessInstance):
    spec, subspecs = _specs(session, session.get(ProcessVersion, instance.version_id))
    return load_state(instance.state, spec, subspecs, wfa.script_engine())


def _specs(session: Session, version: ProcessVersion) -> tuple:
    return SPEC_CACHE.get(version.id, lambda: version.spec_json)


def _check_may_complete(row: WorkTask, user: str, groups: tuple[str, ...]) -> None:
    if not row.assignee and not row.candidate_users and not row.candidate_groups:
        return  # unassigned tasks are open to any signed-in user
    if user == row.assignee or user in (row.candidate_users or []):
        return
    if set(groups) & set(row.candidate_groups or []):
        return
    raise NotPermittedError(f"task {row.id} is not assigned to {user}")


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
    return data


def _record_failure(sessions, task_id: str, user: str, exc: ProcessRuntimeError) -> None:
    with sessions() as session, session.begin():
        row = session.get(WorkTask, task_id)
        if row is not None:
            session.add(HistoryEntry(instance_id=row.instance_id, actor=user, action="failed",
                                     element_id=exc.element_id, task_id=task_id, comment=str(exc)))
