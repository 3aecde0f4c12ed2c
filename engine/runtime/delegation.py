"""Delegation (委派): someone else handles the task, then it comes back to the delegator, who decides.
Both moves are the API's `task.assigned` webhook event, written in the move's own transaction."""

from __future__ import annotations

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn import workflow as wfa
from engine.data import store
from engine.data.calendar import FormCalendar
from engine.data.models import TaskCandidate, utcnow
from engine.errors import (
    InvalidTaskDataError,
    LiaisonError,
    NotFoundError,
    NotPermittedError,
    TaskConflictError,
    Username,
    msg,
)
from engine.runtime import api_webhooks, uploads
from engine.runtime.effects import notify_signers
from engine.runtime.form_people import people_for
from engine.runtime.node_rules import check_allowed
from engine.runtime.signers import ACTIVE_PERSON
from engine.runtime.step import (
    LIVE_WORKFLOWS,
    StepResult,
    cache_key,
    db_engine,
    open_task,
    restore,
    task_table,
)
from engine.runtime.submissions import checked_submission
from engine.runtime.versions import approval_mode, version_forms

_DELEGATE = (update(task_table)
             .where(task_table.c.id == bindparam("b_task"), task_table.c.assignee == bindparam("b_actor"),
                    task_table.c.status == "open", task_table.c.delegated_by.is_(None))
             .values(assignee=bindparam("b_to"), delegated_by=bindparam("b_actor"), on_behalf_of=None))


_HAND_BACK = (update(task_table)
              .where(task_table.c.id == bindparam("b_task"), task_table.c.assignee == bindparam("b_user"),
                     task_table.c.status == "open", task_table.c.delegated_by == bindparam("b_back"))
              .values(assignee=bindparam("b_back"), delegated_by=None))


def _check_may_delegate(conn, handle, actor: str) -> None:
    """The one rule for who may delegate a task: its assignee, once, on a node without an approval mode
    that allows delegation (`node_rules`)."""
    task_id = handle.task_id
    if handle.delegated_by:
        raise TaskConflictError(msg("task %(task)s is already delegated by %(by)s to %(person)s", task=task_id,
                                    by=Username(handle.delegated_by), person=Username(handle.assignee)))
    if handle.assignee != actor:
        raise NotPermittedError(msg("only the task's assignee delegates it; task %(task)s is assigned to %(person)s",
                                    task=task_id, person=Username(handle.assignee)) if handle.assignee else
                                msg("only the task's assignee delegates it; task %(task)s is not assigned",
                                    task=task_id))
    if approval_mode(conn, handle):
        raise NotPermittedError(msg("task %(task)s is an approval node with several signers: add a signer "
                                    "or transfer it instead", task=task_id))
    check_allowed(conn, handle, "delegate")


def may_delegate(sessions: sessionmaker[Session], task_id: str, actor: str) -> bool:
    """Whether `actor` may delegate task `task_id` now (for showing the form; `delegate_task` checks again)."""
    with db_engine(sessions).connect() as conn:
        try:
            _check_may_delegate(conn, open_task(conn, task_id), actor)
        except LiaisonError:
            return False
    return True


def delegate_task(sessions: sessionmaker[Session], task_id: str, actor: str, to: str,
                  comment: str | None = None, attachments: list[str] | None = None) -> None:
    """The assignee of a task has `to` handle it (委派); when `to` submits, the task comes back to
    the assignee, who decides. Approval nodes with several signers are not delegated (transfer or add
    a signer instead); a delegated task is not delegated again. `attachments`: the actor's upload ids
    (see `complete_task`)."""
    attachments = uploads.clean_ids(attachments)
    with db_engine(sessions).begin() as conn:
        handle = open_task(conn, task_id)
        _check_may_delegate(conn, handle, actor)
        if to == actor:
            raise InvalidTaskDataError(msg("a task is delegated to someone else"))
        if conn.execute(ACTIVE_PERSON, {"b_user": to}).first() is None:
            raise NotFoundError(msg("no active person `%(person)s`", person=to))
        if conn.execute(_DELEGATE, {"b_task": task_id, "b_actor": actor, "b_to": to}).rowcount != 1:
            raise TaskConflictError(msg("task %(task)s changed meanwhile; nothing was delegated", task=task_id))
        now = utcnow()
        conn.execute(TaskCandidate.__table__.delete().where(TaskCandidate.__table__.c.task_id == task_id))
        store.append_history(conn, [{"instance_id": handle.instance_id, "at": now, "actor": actor,
                                     "action": "delegated", "element_id": handle.element_id, "task_id": task_id,
                                     "comment": comment, "data": uploads.with_attachments(
                                         {"to": to}, uploads.claim(conn, attachments, actor, handle.instance_id))}])
        notify_signers(conn, handle, [to], now)
        api_webhooks.write_task_assigned(conn, task_id, previous=actor, actor=actor, operation="delegate",
                                         directory_version=handle.directory_version, now=now)


def hand_back(sessions, conn, handle, user: str, data: dict, comment, lang, attachments=None) -> StepResult:
    """The delegate submits: their answers and comment go to the history and the task goes back to
    the person who delegated it (no engine step: the delegator decides)."""
    if handle.form:
        workflow = restore(sessions, conn, handle)
        forms, current = version_forms(conn, handle.version_id, handle.checksum), wfa.current_data(workflow)
        today = wfa.company_now().date()
        data = checked_submission(forms, handle.form, handle.element_id, data, current, lang, today,
                                  people=people_for(conn, handle.version_id, handle.checksum, handle.initiator, user),
                                  calendar=FormCalendar.of_connection(conn, today))
        LIVE_WORKFLOWS.put(cache_key(sessions, handle.instance_id, handle.state_key), workflow)
    now = utcnow()
    with db_engine(sessions).begin() as tx:
        if tx.execute(_HAND_BACK, {"b_task": handle.task_id, "b_user": user,
                                   "b_back": handle.delegated_by}).rowcount != 1:
            raise TaskConflictError(msg("task %(task)s changed meanwhile; nothing of your answer was saved",
                                        task=handle.task_id))
        store.append_history(tx, [{"instance_id": handle.instance_id, "at": now, "actor": user,
                                   "action": "delegation_done", "element_id": handle.element_id,
                                   "task_id": handle.task_id, "comment": comment,
                                   "data": uploads.with_attachments(
                                       data, uploads.claim(tx, attachments, user, handle.instance_id))}])
        notify_signers(tx, handle, [handle.delegated_by], now)
        api_webhooks.write_task_assigned(tx, handle.task_id, previous=user, actor=user, operation="hand_back",
                                         directory_version=handle.directory_version, now=now)
    return StepResult(handle.instance_id, "running", handle.revision,
                      [{"id": handle.task_id, "element_id": handle.element_id, "name": None,
                        "assignee": handle.delegated_by}])
