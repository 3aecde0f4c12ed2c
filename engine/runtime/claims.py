"""Claiming (认领) a task offered to a pool, and giving it back: a conditional update decides the race.
Either writes its history entry and the API's `task.assigned` webhook rows with it."""

from __future__ import annotations

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine.data import store
from engine.data.models import utcnow
from engine.errors import (
    NotPermittedError,
    TaskConflictError,
    Username,
    msg,
)
from engine.runtime import api_webhooks
from engine.runtime.step import db_engine, history_table, open_task, retry_when_locked, task_table
from engine.runtime.versions import approval_mode

# The WHERE clause is the lock: of two claimers the second finds `assignee` set and updates nothing.
_CLAIM = (update(task_table)
          .where(task_table.c.id == bindparam("b_task"), task_table.c.assignee.is_(None),
                 task_table.c.status == "open")
          .values(assignee=bindparam("b_user")))


_UNCLAIM = (update(task_table)
            .where(task_table.c.id == bindparam("b_task"), task_table.c.assignee == bindparam("b_user"),
                   task_table.c.status == "open")
            .values(assignee=None))


_ASSIGNEE = select(task_table.c.assignee).where(task_table.c.id == bindparam("b_task"))


_LAST_CLAIM = (select(history_table.c.actor, history_table.c.action)
               .where(history_table.c.instance_id == bindparam("b_instance"),
                      history_table.c.task_id == bindparam("b_task"),
                      history_table.c.action.in_(["claimed", "unclaimed"]))
               .order_by(history_table.c.id.desc()).limit(1))


def claim_task(sessions: sessionmaker[Session], task_id: str, user: str,
               groups: tuple[str, ...] = ()) -> None:
    """Take a task offered to `user` or one of their `groups`: it becomes assigned to them alone.

    Claiming a task one already holds does nothing; if someone else claimed it first,
    TaskConflictError names them. The history records who claimed it.
    """
    retry_when_locked(lambda: _claim_once(sessions, task_id, user, tuple(groups)),
                       f"claiming task {task_id}")


def _claim_once(sessions, task_id: str, user: str, groups: tuple[str, ...]) -> None:
    with db_engine(sessions).begin() as conn:  # a transaction on PostgreSQL too: update and history together
        handle = open_task(conn, task_id)
        offered = (user in (handle.candidate_users or [])
                   or bool(set(groups) & set(handle.candidate_groups or [])))
        if approval_mode(conn, handle):
            raise NotPermittedError(msg("task %(task)s is an approval node with several signers: each signs it, "
                                        "nobody claims it", task=task_id))
        if handle.assignee == user:
            return
        if not offered:
            raise NotPermittedError(msg("task %(task)s is not offered to %(person)s or their groups", task=task_id,
                                        person=Username(user)))
        holder = handle.assignee
        if holder is None and conn.execute(_CLAIM, {"b_task": task_id, "b_user": user}).rowcount != 1:
            holder = conn.execute(_ASSIGNEE, {"b_task": task_id}).scalar()  # the winner of the race
        if holder is not None:
            raise TaskConflictError(msg("task %(task)s is already claimed by %(person)s", task=task_id, person=Username(holder)))
        _append_claim_history(conn, handle, user, "claimed")
        api_webhooks.write_task_assigned(conn, task_id, previous=None, actor=user, operation="claim",
                                         directory_version=handle.directory_version)


def unclaim_task(sessions: sessionmaker[Session], task_id: str, user: str) -> None:
    """Give a claimed task back to its pool; only the person who claimed it may."""
    retry_when_locked(lambda: _unclaim_once(sessions, task_id, user), f"giving back task {task_id}")


def _unclaim_once(sessions, task_id: str, user: str) -> None:
    with db_engine(sessions).begin() as conn:
        handle = open_task(conn, task_id)
        if handle.assignee != user:
            raise NotPermittedError(msg("task %(task)s is not claimed by %(person)s", task=task_id, person=Username(user)))
        last = conn.execute(_LAST_CLAIM, {"b_instance": handle.instance_id, "b_task": task_id}).first()
        if last is None or tuple(last) != (user, "claimed"):
            raise NotPermittedError(msg("task %(task)s was assigned to %(person)s, not claimed from a pool: "
                                        "it has no pool to go back to", task=task_id, person=Username(user)))
        if conn.execute(_UNCLAIM, {"b_task": task_id, "b_user": user}).rowcount != 1:
            raise TaskConflictError(msg("task %(task)s changed while giving it back; nothing was changed",
                                        task=task_id))
        _append_claim_history(conn, handle, user, "unclaimed")
        api_webhooks.write_task_assigned(conn, task_id, previous=user, actor=user, operation="unclaim",
                                         directory_version=handle.directory_version)


def _append_claim_history(conn, handle: store.TaskHandle, user: str, action: str) -> None:
    store.append_history(conn, [{"instance_id": handle.instance_id, "at": utcnow(), "actor": user,
                                 "action": action, "element_id": handle.element_id,
                                 "task_id": handle.task_id}])
