"""Who may see an instance: the one rule the pages (`engine.work.pages` re-exports it), downloads and the
forms' `related` fields (`form_people`: a request may only link an approval its submitter may see) share.

Works on a Session or a Core connection (a step's), so the runtime can check it inside a step.
"""

from __future__ import annotations

from sqlalchemy import Connection, false, or_, select
from sqlalchemy.orm import Session

from engine.data.models import (
    AdminGrant,
    CcRecord,
    HistoryEntry,
    Person,
    PersonRole,
    ProcessInstance,
    ProcessVersion,
    Role,
    TaskCandidate,
    WorkTask,
)
from engine.results import SYSTEM_ACTOR
from engine.runtime.assignment import process_admins_of
from engine.runtime.versions import PACKAGE_CACHE

Conn = Connection | Session

# History actions a person takes on an approval by their own hand: whoever wrote one keeps seeing the
# instance after the task left them (a transfer, a delegation, a removal as signer, a return...), as
# DingTalk and Feishu keep it under 已处理. Left out on purpose: rows written in a person's name by a
# message, signal or step they set off (`message_received`, `signal_received`, `step`, `started`), which can
# touch instances they never saw (a signal reaches every waiting instance).
ACTED = ("task_completed", "resubmitted", "auto_approved", "transferred", "delegated", "delegation_done",
         "signed", "signer_added", "signer_removed", "returned", "jumped", "taken_back", "claimed", "unclaimed",
         "urged", "cc", "withdrawn", "terminated")
# Actors that are not people: `timers.decide_on_timeout` completes a task as SYSTEM_ACTOR, which no account
# may take (accounts, org import); were one to exist anyway, such rows give it nothing.
NOT_PEOPLE = (SYSTEM_ACTOR,)


def may_view_instance(conn: Conn, instance_id: int, username: str, groups: tuple[str, ...] = (),
                      is_super_admin: bool = False) -> bool:
    """The initiator, anyone who holds, held, completed or is offered one of its tasks, anyone who acted on
    it (a history row of theirs, `ACTED`), anyone it was copied to (`cc_record`), the process's admins
    (package.yaml `admins`), a super admin. Two queries, and the admins' cached package when neither says yes."""
    if is_super_admin:
        return True
    instance = conn.execute(select(ProcessInstance.initiator, ProcessInstance.version_id)
                            .where(ProcessInstance.id == instance_id)).first()
    if instance is None:
        return False
    if instance.initiator == username:
        return True
    offered = select(TaskCandidate.task_id).where(or_(
        (TaskCandidate.kind == "user") & (TaskCandidate.value == username),
        (TaskCandidate.kind == "group") & TaskCandidate.value.in_(list(groups) or [""])))
    involved = select(WorkTask.id).where(WorkTask.instance_id == instance_id, or_(
        WorkTask.assignee == username, WorkTask.completed_by == username, WorkTask.id.in_(offered)))
    copied = select(CcRecord.id).where(CcRecord.instance_id == instance_id, CcRecord.username == username)
    acted = _acted(username, select(HistoryEntry.id).where(HistoryEntry.instance_id == instance_id))
    if conn.scalar(select(or_(involved.exists(), copied.exists(), acted.exists()))):
        return True
    return username in process_admins(conn, instance.version_id)


def may_view_as(conn: Conn, instance_id: int, username: str) -> bool:
    """`may_view_instance` for a person known by username only: their roles and super-admin grant read
    from the directory (an unknown or inactive person is only the initiator, an assignee... by name)."""
    person = conn.execute(select(Person.id).where(Person.username == username, Person.active)).first()
    groups: tuple[str, ...] = ()
    is_super_admin = False
    if person is not None:
        groups = tuple(conn.scalars(select(Role.key).join(PersonRole, PersonRole.role_id == Role.id)
                                    .where(PersonRole.person_id == person.id)))
        is_super_admin = conn.scalar(select(AdminGrant.id).where(
            AdminGrant.person_id == person.id, AdminGrant.department_id.is_(None))) is not None
    return may_view_instance(conn, instance_id, username, groups, is_super_admin)


def process_admins(conn: Conn, version_id: int) -> list[str]:
    """package.yaml's `admins` of a deployed version: they see its instances and may jump them."""
    checksum = conn.scalar(select(ProcessVersion.checksum).where(ProcessVersion.id == version_id))
    if checksum is None:
        return []
    raw = conn.connection() if isinstance(conn, Session) else conn
    meta = PACKAGE_CACHE.get(raw, version_id, checksum).get("meta") or {}
    return process_admins_of(meta)


def visible_instances(conn: Conn, username: str, groups: tuple[str, ...] = (), is_super_admin: bool = False):
    """`may_view_instance` as a WHERE clause over `process_instance` for lists (None: a super admin sees
    every instance). The process admins' part reads each version's package once (cached by checksum)."""
    if is_super_admin:
        return None
    offered = select(TaskCandidate.task_id).where(or_(
        (TaskCandidate.kind == "user") & (TaskCandidate.value == username),
        (TaskCandidate.kind == "group") & TaskCandidate.value.in_(list(groups) or [""])))
    involved = select(WorkTask.instance_id).where(or_(
        WorkTask.assignee == username, WorkTask.completed_by == username, WorkTask.id.in_(offered)))
    copied = select(CcRecord.instance_id).where(CcRecord.username == username)
    acted = _acted(username, select(HistoryEntry.instance_id))
    administered = [version_id for version_id in conn.scalars(select(ProcessVersion.id))
                    if username in process_admins(conn, version_id)]
    return or_(ProcessInstance.initiator == username, ProcessInstance.id.in_(involved),
               ProcessInstance.id.in_(copied), ProcessInstance.id.in_(acted),
               ProcessInstance.version_id.in_(administered or [-1]))


def _acted(username: str, query):
    """`query` over `history_entry` narrowed to `username`'s own acts (`ACTED`; none for `NOT_PEOPLE`),
    served by the index `ix_history_actor` (actor, instance_id)."""
    if username in NOT_PEOPLE:
        return query.where(false())
    return query.where(HistoryEntry.actor == username, HistoryEntry.action.in_(ACTED))
