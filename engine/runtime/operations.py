"""Approval operations on a live instance that need no engine step: transfer (转办), urge (催办),
CC (抄送) with read status, withdraw (撤回) and terminate (终止).

Each operation checks who may do it (the rule table is `docs/approvals.md`, "Operations"; anything
else is refused with `NotPermittedError` naming the reason), appends its history entry and writes its
notifications (`notifications.render_step`) in one transaction: the row changes, the history and the
notifications commit together or not at all. Withdraw and terminate end the instance through
`runtime.cancel_instance`, whose step write carries their history entry and notifications.

No Flask, no SpiffWorkflow: every way in (web, CLI, a future REST API) calls these functions. The
actor is a username; whether they are a super admin is read from the database here, so no caller
can claim it.

Just over 600 lines on purpose: the five operations share one rule table (`refusal`), one facts read and
one history/notification write; split per operation, each file would import the others' helpers back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from engine.caching import scoped
from engine.data import store
from engine.data.models import (
    AdminGrant,
    CcRecord,
    DirectoryVersion,
    HistoryEntry,
    Person,
    ProcessDefinition,
    ProcessInstance,
    ProcessVersion,
    TaskCandidate,
    WorkTask,
    utcnow,
)
from engine.data.retry import is_contention, with_retries
from engine.errors import (
    NotFoundError,
    NotPermittedError,
    TaskConflictError,
    Username,
    already_closed,
    msg,
    status_text,
)
from engine.notify import render as notifications
from engine.results import Page, jsonable, localized
from engine.runtime import api_webhooks, uploads
from engine.runtime.instances import cancel_instance
from engine.runtime.node_rules import check_allowed, node_rules_of
from engine.runtime.step import StepResult
from engine.runtime.versions import PACKAGE_CACHE, node_attributes

URGE_INTERVAL = timedelta(minutes=10)  # one urge per instance and person in this window
MAX_CC = 50  # people per CC call
MAX_COMMENT = 2000  # characters of an operation's comment or reason
MAX_PER_PAGE = 200
OPERATIONS = ("transfer", "urge", "cc", "withdraw", "terminate")
ACTIONS = ("transferred", "urged", "cc", "cc_read", "withdrawn", "terminated")  # their history entries

_instance = ProcessInstance.__table__
_version = ProcessVersion.__table__
_definition = ProcessDefinition.__table__
_task = WorkTask.__table__
_candidate = TaskCandidate.__table__
_history = HistoryEntry.__table__
_cc = CcRecord.__table__
_person = Person.__table__
_grant = AdminGrant.__table__


class UrgedTooSoonError(NotPermittedError):
    """The person urged this instance less than `URGE_INTERVAL` ago; `allowed_at` says when they may again."""

    def __init__(self, message: str, allowed_at: datetime):
        super().__init__(message)
        self.allowed_at = allowed_at


# -- facts the rules look at ---------------------------------------------------------------------------

_SUPER_ADMIN = (select(_grant.c.id).join(_person, _person.c.id == _grant.c.person_id)
                .where(_person.c.username == bindparam("b_user"), _person.c.active,
                       _grant.c.department_id.is_(None)).exists())
_PARTICIPANT = (select(_task.c.id).where(  # completed one of its tasks, or holds one open now (DingTalk's 抄送 while deciding)
    _task.c.instance_id == _instance.c.id,
    or_(_task.c.completed_by == bindparam("b_user"),
        (_task.c.assignee == bindparam("b_user")) & (_task.c.status == "open"))).exists())
_FACTS = (select(_instance.c.id, _instance.c.status, _instance.c.initiator, _instance.c.version_id,
                 _version.c.checksum, _instance.c.process_key, _instance.c.business_key,
                 store.process_data(_instance.c.id).label("data"),
                 _SUPER_ADMIN.label("super_admin"), _PARTICIPANT.label("participant"))
          .join(_version, _version.c.id == _instance.c.version_id)
          .where(_instance.c.id == bindparam("b_instance")))
_FACTS_LOCKED = _FACTS.with_for_update(of=_instance)  # PostgreSQL: urges of one instance queue up


@dataclass(frozen=True)
class Facts:
    """What the rules need about an instance and the person acting on it (one query)."""

    instance_id: int
    status: str
    initiator: str | None
    version_id: int
    checksum: str
    process_key: str
    business_key: str | None
    data: dict
    super_admin: bool  # the person holds the super admin grant (and is active)
    participant: bool  # the person completed a task of the instance or holds an open one


def facts(session: Connection | Session, instance_id: int, username: str, lock: bool = False) -> Facts:
    """The instance's facts for `username`; NotFoundError when there is no such instance. Unlocked reads
    are made once per `caching.read_scope`."""
    def read():
        return session.execute(_FACTS_LOCKED if lock else _FACTS, {"b_instance": instance_id, "b_user": username}).first()

    row = read() if lock else scoped(("instance_facts", instance_id, username), read)
    if row is None:
        raise NotFoundError(msg("no instance %(instance)s", instance=instance_id))
    return Facts(row[0], row[1], row[2], row[3], row[4], row[5], row[6], dict(row[7] or {}), bool(row[8]),
                 bool(row[9]))


def refusal(operation: str, found: Facts, username: str) -> str | None:  # a `Message`
    """Why `username` may not do `operation` on the instance (None: they may), by the rule table.

    Only the rules about *who* and the instance's state; the operation itself checks its input
    (target people, rate limit, a task's holder) too.
    """
    iid = found.instance_id
    initiator = found.initiator is not None and found.initiator == username
    if operation == "urge":
        if not (initiator or found.super_admin):
            return msg("only the initiator of instance %(instance)s or a super admin may urge it", instance=iid)
        if found.status != "running":
            return msg("instance %(instance)s has ended (%(status)s): there is nobody to urge", instance=iid,
                       status=status_text(found.status))
    elif operation == "cc":
        if not (initiator or found.participant or found.super_admin):
            return msg("only the initiator of instance %(instance)s, someone who holds or completed one of its "
                       "tasks, or a super admin may copy it to others", instance=iid)
    elif operation == "withdraw":
        if not initiator:
            return msg("only the initiator of instance %(instance)s may withdraw it", instance=iid)
        if found.status != "running":
            return msg("instance %(instance)s has ended (%(status)s): it can no longer be withdrawn", instance=iid,
                       status=status_text(found.status))
    elif operation == "terminate":
        if not found.super_admin:
            return msg("only a super admin may terminate instance %(instance)s", instance=iid)
        if found.status != "running":
            return msg("instance %(instance)s has ended (%(status)s): it can no longer be terminated", instance=iid,
                       status=status_text(found.status))
    else:
        raise ValueError(f"unknown instance operation `{operation}`")
    return None


def available(session: Connection | Session, instance_id: int, username: str) -> set[str]:
    """The instance operations (urge, cc, withdraw, terminate) `username` may start: for showing buttons."""
    found = facts(session, instance_id, username)
    return {op for op in ("urge", "cc", "withdraw", "terminate") if refusal(op, found, username) is None}


def may_transfer(session: Connection | Session, task_id: str, username: str) -> bool:
    """Whether `username` may transfer the task now (it is open and theirs, or they are a super admin, and
    its node allows transfer: `node_rules`)."""
    row = store.task_handle(session, task_id)
    if row is None or row.status != "open":
        return False
    found = facts(session, row.instance_id, username)
    if not (row.assignee == username or found.super_admin):
        return False
    return node_rules_of(session, _Node(found.version_id, found.checksum, row.element_id)).allows("transfer")


# -- transfer (转办) ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Transferred:
    """A task given to another person."""

    task_id: str
    instance_id: int
    from_user: str | None
    to_user: str

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


# with the directory's version: the API's webhook subscriptions are kept per version (`api_webhooks`)
_TASK_ROW = select(_task.c.id, _task.c.status, _task.c.assignee, _task.c.instance_id, _task.c.element_id,
                   _task.c.name, _task.c.due_at, _task.c.completed_by, _task.c.candidate_users,
                   _task.c.candidate_groups,
                   select(DirectoryVersion.version).where(DirectoryVersion.id == 1).scalar_subquery()
                   .label("directory_version")).where(_task.c.id == bindparam("b_task"))
_ACTIVE_PEOPLE = select(_person.c.username).where(_person.c.username.in_(bindparam("b_names", expanding=True)),
                                                  _person.c.active)
# The WHERE clause is the lock: of two transfers of one task, the second finds another assignee.
_TRANSFER = (update(_task)
             .where(_task.c.id == bindparam("b_task"), _task.c.status == "open",
                    _task.c.assignee.is_not_distinct_from(bindparam("b_old")))
             .values(assignee=bindparam("b_new"), on_behalf_of=None, candidate_users=[], candidate_groups=[]))
_DROP_CANDIDATES = delete(_candidate).where(_candidate.c.task_id == bindparam("b_task"))


def _task_row(conn: Connection, task_id: str):
    row = conn.execute(_TASK_ROW, {"b_task": task_id}).first()
    if row is None:
        raise NotFoundError(msg("no task %(task)s", task=task_id))
    return row


def transfer(sessions: sessionmaker[Session], task_id: str, to: str, *, actor: str, comment: str | None = None,
             now: datetime | None = None, attachments: list[str] | None = None) -> Transferred:
    """Give an open task to another active person (转办): they become its only holder.

    Allowed to the task's assignee and to a super admin. The task's candidates are cleared (it is
    nobody's pool task any more) and `on_behalf_of` too; history `transferred` with `{"from", "to"}`;
    the new assignee is notified (`task_assigned`), the API's subscriptions hear `task.assigned`
    (`api_webhooks.write_task_assigned`). Of two concurrent transfers one wins, the other
    gets TaskConflictError and changes nothing. `attachments`: the actor's own unattached upload ids
    (every operation takes them): attached to the instance, listed in the entry's data (`uploads`).
    """
    to = (to or "").strip()
    comment = _comment(comment)
    attachments = uploads.clean_ids(attachments)
    return _retry(lambda: _transfer_once(sessions, task_id, to, actor, comment, now or utcnow(), attachments))


def _transfer_once(sessions, task_id: str, to: str, actor: str, comment: str | None, now: datetime,
                   attachments: list[str] = ()) -> Transferred:
    with _engine(sessions).begin() as conn:
        task = _task_row(conn, task_id)
        if task.status != "open":
            raise TaskConflictError(already_closed(task_id, task.status, task.completed_by))
        found = facts(conn, task.instance_id, actor)
        if task.assignee != actor and not found.super_admin:
            if task.assignee is None:
                raise NotPermittedError(msg("only the assignee of task %(task)s or a super admin may transfer it; "
                                            "nobody holds it yet (claim it first)", task=task_id))
            raise NotPermittedError(msg("only the assignee of task %(task)s or a super admin may transfer it",
                                        task=task_id))
        check_allowed(conn, _Node(found.version_id, found.checksum, task.element_id), "transfer")
        if not to:
            raise NotPermittedError(msg("name the person to transfer task %(task)s to", task=task_id))
        if to == task.assignee:
            raise NotPermittedError(msg("task %(task)s is already assigned to %(person)s", task=task_id, person=Username(to)))
        if not list(conn.execute(_ACTIVE_PEOPLE, {"b_names": [to]})):
            raise NotPermittedError(msg("cannot transfer task %(task)s to `%(person)s`: no active person has that "
                                        "username", task=task_id, person=Username(to)))
        if to == found.initiator and _self_approval(conn, found, task.element_id) != "allow":
            raise NotPermittedError(msg("cannot transfer task %(task)s to `%(person)s`: they started this request, and "
                                        "step `%(step)s` does not let the initiator approve it (liaison:selfApproval)",
                                        task=task_id, person=Username(to), step=task.element_id))
        params = {"b_task": task_id, "b_old": task.assignee, "b_new": to}
        if conn.execute(_TRANSFER, params).rowcount != 1:
            now_row = conn.execute(_TASK_ROW, {"b_task": task_id}).first()
            if now_row.status != "open":
                raise TaskConflictError(msg("task %(task)s was %(status)s meanwhile; nothing was changed",
                                            task=task_id, status=status_text(now_row.status)))
            raise TaskConflictError(msg("task %(task)s was transferred to %(person)s meanwhile; nothing was changed",
                                        task=task_id, person=Username(now_row.assignee)))
        conn.execute(_DROP_CANDIDATES, {"b_task": task_id})
        store.append_history(conn, [{"instance_id": task.instance_id, "at": now, "actor": actor,
                                     "action": "transferred", "element_id": task.element_id, "task_id": task_id,
                                     "comment": comment, "data": uploads.with_attachments(
                                         {"from": task.assignee, "to": to},
                                         uploads.claim(conn, attachments, actor, task.instance_id))}])
        event = notifications.Event("task_assigned", recipients=[to], actor=actor, comment=comment,
                                    task=_task_info(task))
        _write_notifications(conn, found, [event], now)
        pool = (task.candidate_users or [], task.candidate_groups or []) if task.assignee is None else ((), ())
        api_webhooks.write_task_assigned(conn, task_id, previous=task.assignee, actor=actor, operation="transfer",
                                         directory_version=task.directory_version, pool_before=pool, now=now)
    return Transferred(task_id, task.instance_id, task.assignee, to)


def _self_approval(conn: Connection, found: Facts, element_id: str) -> str:
    """The node's `liaison:selfApproval` policy (allow, skip, manager); `allow` when it says none."""
    handle = _Node(found.version_id, found.checksum, element_id)
    return (node_attributes(conn, handle).get("selfApproval") or "allow").strip()


@dataclass(frozen=True)
class _Node:
    version_id: int
    checksum: str
    element_id: str


# -- urge (催办) -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Urged:
    """Who was reminded, per open task."""

    instance_id: int
    tasks: list[dict]  # {"id", "name", "recipients": [usernames], "groups": [role keys]}

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return jsonable(asdict(self))


_OPEN_TASKS = (select(_task.c.id, _task.c.element_id, _task.c.name, _task.c.due_at, _task.c.assignee,
                      _task.c.candidate_users, _task.c.candidate_groups)
               .where(_task.c.instance_id == bindparam("b_instance"), _task.c.status == "open")
               .order_by(_task.c.created_at, _task.c.id))
_LAST_URGE = (select(func.max(_history.c.at))
              .where(_history.c.instance_id == bindparam("b_instance"), _history.c.action == "urged",
                     _history.c.actor == bindparam("b_user"), _history.c.at > bindparam("b_since")))


def urge(sessions: sessionmaker[Session], instance_id: int, *, actor: str, comment: str | None = None,
         now: datetime | None = None, attachments: list[str] | None = None) -> Urged:
    """Remind the holders of the instance's open tasks (催办): the assignee, or the candidates and
    groups of a task nobody holds yet (event `urged`, one per task).

    Allowed to the initiator and a super admin, on a running instance with an open task, once per
    person and instance every `URGE_INTERVAL` (`UrgedTooSoonError` says from when on).
    """
    comment = _comment(comment)
    attachments = uploads.clean_ids(attachments)
    return _retry(lambda: _urge_once(sessions, instance_id, actor, comment, now or utcnow(), attachments))


def _urge_once(sessions, instance_id: int, actor: str, comment: str | None, now: datetime,
               attachments: list[str] = ()) -> Urged:
    with _engine(sessions).begin() as conn:
        found = facts(conn, instance_id, actor, lock=True)
        _refuse(refusal("urge", found, actor))
        last = conn.execute(_LAST_URGE, {"b_instance": instance_id, "b_user": actor,
                                         "b_since": now - URGE_INTERVAL}).scalar()
        if last is not None:
            allowed_at = last + URGE_INTERVAL
            raise UrgedTooSoonError(
                f"you urged instance {instance_id} less than {_minutes(URGE_INTERVAL)} minutes ago; "
                f"you may urge it again from {allowed_at:%Y-%m-%d %H:%M} UTC", allowed_at)
        tasks = list(conn.execute(_OPEN_TASKS, {"b_instance": instance_id}))
        if not tasks:
            raise NotPermittedError(msg("instance %(instance)s waits for no person right now: there is nobody to urge",
                                        instance=instance_id))
        events, urged = [], []
        for task in tasks:
            users = [task.assignee] if task.assignee else list(task.candidate_users or [])
            groups = [] if task.assignee else list(task.candidate_groups or [])
            events.append(notifications.Event("urged", recipients=users, groups=groups, actor=actor,
                                              comment=comment, task=_task_info(task)))
            urged.append({"id": task.id, "name": task.name or task.element_id, "recipients": users,
                          "groups": groups})
        store.append_history(conn, [{"instance_id": instance_id, "at": now, "actor": actor, "action": "urged",
                                     "comment": comment, "data": uploads.with_attachments(
                                         {"tasks": urged}, uploads.claim(conn, attachments, actor, instance_id))}])
        _write_notifications(conn, found, events, now)
    return Urged(instance_id, urged)


def _minutes(interval: timedelta) -> int:
    return int(interval.total_seconds() // 60)


# -- CC (抄送) -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Copied:
    """The people an instance was copied to now, and those it had been copied to already (skipped)."""

    instance_id: int
    added: list[str]
    skipped: list[str]

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


def cc(sessions: sessionmaker[Session], instance_id: int, usernames: Iterable[str], *, actor: str,
       comment: str | None = None, now: datetime | None = None, attachments: list[str] | None = None) -> Copied:
    """Copy the instance to people (抄送), each at most once per instance; they may view it from then on.

    Allowed to the initiator, anyone who holds an open task of it or completed one, and a super admin, in any state
    of the instance. Every name must be an active person other than the actor (at most `MAX_CC`);
    people it was copied to before are skipped and reported. History `cc` with `{"to", "skipped"}`
    (none when everyone was skipped); the new ones are notified (`cc`).
    """
    names = list(dict.fromkeys(n.strip() for n in usernames if n and n.strip()))
    comment = _comment(comment)
    attachments = uploads.clean_ids(attachments)
    return _retry(lambda: _cc_once(sessions, instance_id, names, actor, comment, now or utcnow(), attachments))


def _cc_once(sessions, instance_id: int, names: list[str], actor: str, comment: str | None,
             now: datetime, attachments: list[str] = ()) -> Copied:
    with _engine(sessions).begin() as conn:
        found = facts(conn, instance_id, actor)
        _refuse(refusal("cc", found, actor))
        if not names:
            raise NotPermittedError(msg("name at least one person to copy instance %(instance)s to",
                                        instance=instance_id))
        if len(names) > MAX_CC:
            raise NotPermittedError(msg("at most %(limit)d people can be copied at once, not %(count)d",
                                        limit=MAX_CC, count=len(names)))
        if actor in names:
            raise NotPermittedError(msg("you cannot copy instance %(instance)s to yourself", instance=instance_id))
        active = set(conn.execute(_ACTIVE_PEOPLE, {"b_names": names}).scalars())
        unknown = [n for n in names if n not in active]
        if unknown:
            raise NotPermittedError(msg("cannot copy instance %(instance)s to %(people)s: no active person has "
                                        "that username", instance=instance_id, people=", ".join(unknown)))
        insert_ = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        added = []
        for name in names:  # ON CONFLICT: a concurrent CC of the same person inserts once
            statement = (insert_(_cc).values(instance_id=instance_id, username=name, cc_by=actor, created_at=now)
                         .on_conflict_do_nothing(index_elements=["instance_id", "username"])
                         .returning(_cc.c.username))
            if conn.execute(statement).scalar() is not None:
                added.append(name)
        skipped = [n for n in names if n not in added]
        if added:
            store.append_history(conn, [{"instance_id": instance_id, "at": now, "actor": actor, "action": "cc",
                                         "comment": comment, "data": uploads.with_attachments(
                                             {"to": added, "skipped": skipped},
                                             uploads.claim(conn, attachments, actor, instance_id))}])
            _write_notifications(conn, found, [notifications.Event("cc", recipients=added, actor=actor,
                                                                   comment=comment)], now)
    return Copied(instance_id, added, skipped)


_UNREAD_CC = select(_cc.c.id).where(_cc.c.instance_id == bindparam("b_instance"),
                                    _cc.c.username == bindparam("b_user"), _cc.c.read_at.is_(None))
_MARK_READ = (update(_cc).where(_cc.c.id == bindparam("b_id"), _cc.c.read_at.is_(None))
              .values(read_at=bindparam("b_now")))


def mark_cc_read(sessions: sessionmaker[Session], instance_id: int, username: str,
                 now: datetime | None = None) -> bool:
    """The CC'd person opened the instance: its copy is read from now on, history `cc_read` once.

    True when this call marked it; one indexed read and nothing else for anyone else.
    """
    now = now or utcnow()
    with _engine(sessions).connect() as conn:  # a read alone: no transaction (no BEGIN / ROLLBACK round trips)
        cc_id = conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            _UNREAD_CC, {"b_instance": instance_id, "b_user": username}).scalar()
    if cc_id is None:
        return False
    with _engine(sessions).begin() as conn:
        if conn.execute(_MARK_READ, {"b_id": cc_id, "b_now": now}).rowcount != 1:
            return False  # another page view marked it first
        store.append_history(conn, [{"instance_id": instance_id, "at": now, "actor": username,
                                     "action": "cc_read"}])
    return True


@dataclass
class CcItem:
    """An instance copied to the person, as the inbox lists it."""

    instance_id: int
    process_key: str
    process_name: dict
    initiator: str | None
    business_key: str | None
    status: str
    cc_by: str
    created_at: datetime
    read_at: datetime | None = None

    def process_label(self, lang: str) -> str:
        """The process name in `lang`, else in the other language, else its key."""
        return localized(self.process_name, lang, self.process_key)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return jsonable(asdict(self))


def cc_for(session: Session, username: str, unread_only: bool = False, page: int = 1,
           per_page: int = 20, matching: ColumnElement[bool] | None = None) -> Page:
    """What was copied to `username`, newest first (only the unread ones with `unread_only`; with
    `matching`, a condition on the request's `process_instance` / `process_definition` row, only those:
    the inbox's search, `engine.work.inbox.copied`): one query per page, the list's length from a window count."""
    page, per_page = max(1, int(page)), min(MAX_PER_PAGE, max(1, int(per_page)))
    conditions = [_cc.c.username == username] + ([_cc.c.read_at.is_(None)] if unread_only else [])
    if matching is not None:
        conditions.append(matching)
    source = (_cc.join(_instance, _instance.c.id == _cc.c.instance_id)
              .outerjoin(_definition, _definition.c.key == _instance.c.process_key))
    query = (select(_cc.c.instance_id, _instance.c.process_key, _definition.c.name, _instance.c.initiator,
                    _instance.c.business_key, _instance.c.status, _cc.c.cc_by, _cc.c.created_at, _cc.c.read_at,
                    func.count().over().label("total"))
             .select_from(source)
             .where(*conditions)
             .order_by(_cc.c.created_at.desc(), _cc.c.id.desc())
             .limit(per_page).offset((page - 1) * per_page))
    rows = session.execute(query).all()
    items = [CcItem(r.instance_id, r.process_key, dict(r.name or {}), r.initiator, r.business_key, r.status,
                    r.cc_by, r.created_at, r.read_at) for r in rows]
    if rows:
        total = rows[0].total
    elif page == 1:
        total = 0
    else:
        total = session.execute(select(func.count()).select_from(source).where(*conditions)).scalar_one()
    return Page(items, total, page, per_page)


def cc_unread_count(session: Session, username: str) -> int:
    """How many copies `username` has not opened yet (the recipient index alone)."""
    return session.execute(select(func.count()).select_from(_cc)
                           .where(_cc.c.username == username, _cc.c.read_at.is_(None))).scalar_one()


# -- withdraw (撤回) and terminate (终止) ------------------------------------------------------------------

def withdraw(sessions: sessionmaker[Session], instance_id: int, *, actor: str,
             comment: str | None = None, attachments: list[str] | None = None) -> StepResult:
    """The initiator cancels their own running request (撤回); history `withdrawn`.

    The holders of its open tasks are told it ended (`instance_finished`, `extra.ended` = withdrawn).
    """
    return _end(sessions, instance_id, actor, _comment(comment), "withdraw", "withdrawn", notify_initiator=False,
                attachments=attachments)


def terminate(sessions: sessionmaker[Session], instance_id: int, *, actor: str, reason: str,
              attachments: list[str] | None = None) -> StepResult:
    """A super admin ends any running instance (终止) with a reason; history `terminated`.

    The initiator and the holders of its open tasks are told it ended (`instance_finished`,
    `extra.ended` = terminated, the reason as comment).
    """
    reason = _comment(reason)
    if not reason:
        raise NotPermittedError(msg("a reason is required to terminate instance %(instance)s",
                                    instance=instance_id))
    return _end(sessions, instance_id, actor, reason, "terminate", "terminated", notify_initiator=True,
                attachments=attachments)


def _end(sessions, instance_id: int, actor: str, comment: str | None, operation: str, action: str,
         notify_initiator: bool, attachments: list[str] | None = None) -> StepResult:
    with _engine(sessions).connect() as conn:
        _refuse(refusal(operation, facts(conn, instance_id, actor), actor))

    def effects(conn: Connection, handle) -> tuple[list, list]:
        """The step's notifications: read inside the cancelling step, written by its write."""
        found = facts(conn, instance_id, actor)
        events = []
        for task in conn.execute(_OPEN_TASKS, {"b_instance": instance_id}):
            users = [task.assignee] if task.assignee else list(task.candidate_users or [])
            groups = [] if task.assignee else list(task.candidate_groups or [])
            events.append(notifications.Event("instance_finished", recipients=users, groups=groups, actor=actor,
                                              comment=comment, task=_task_info(task), extra={"ended": action}))
        if notify_initiator and found.initiator:
            events.append(notifications.Event("instance_finished", recipients=[found.initiator], actor=actor,
                                              comment=comment, extra={"ended": action}))
        return _render(conn, found, events, utcnow())

    return cancel_instance(sessions, instance_id, actor, comment, action=action, effects=effects,
                                   attachments=attachments)


# -- helpers ----------------------------------------------------------------------------------------------

def _engine(sessions):
    return sessions.kw["bind"]


def _refuse(reason: str | None) -> None:
    if reason is not None:
        raise NotPermittedError(reason)


def _comment(comment: str | None) -> str | None:
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise NotPermittedError(msg("the comment is too long (%(count)d characters; at most %(limit)d)",
                                    count=len(comment), limit=MAX_COMMENT))
    return comment or None


def _task_info(task) -> dict:
    return {"id": task.id, "element_id": task.element_id, "name": task.name or task.element_id,
            "due_at": task.due_at}


def _render(conn: Connection, found: Facts, events: list, now: datetime) -> tuple[list, list]:
    if not events:
        return [], []
    step_facts = notifications.StepFacts(
        process_key=found.process_key, package=PACKAGE_CACHE.get(conn, found.version_id, found.checksum),
        instance_id=found.instance_id, initiator=found.initiator, business_key=found.business_key,
        data=found.data, events=events)
    return notifications.render_step(conn, step_facts, now)


def _write_notifications(conn: Connection, found: Facts, events: list, now: datetime) -> None:
    outbox, inapp = _render(conn, found, events, now)
    store.write_effects(conn, found.instance_id, now, outbox, inapp)


def _retry(operation: Callable, attempts: int = 5):
    """Run again when SQLite was busy (a concurrent writer); anything else goes up."""
    return with_retries(operation, retry_on=is_contention, attempts=attempts, pause=0.05)

