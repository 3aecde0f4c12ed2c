"""Approval nodes with several signers (依次 / 会签 / 或签 / 票签): each signer's decision, and adding
or removing signers (加签 / 减签) on a running node.

The node's row is locked first (FOR UPDATE on PostgreSQL; SQLite has one writer at a time), so
decisions on one node are applied one after another, and the decision that settles the node
completes it in the same transaction. A change of who must sign now without completing the node
(the next signer's turn, a signer added, removed or done) is the API's `task.assigned` webhook event,
written in the same transaction (`api_webhooks.write_task_assigned`).
"""

from __future__ import annotations

import uuid
from typing import NamedTuple

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine.data import store
from engine.data.models import ApprovalItem, Person, TaskCandidate, utcnow
from engine.errors import (
    InvalidTaskDataError,
    NotFoundError,
    NotPermittedError,
    TaskConflictError,
    Username,
    msg,
)
from engine.people import org
from engine.runtime import api_webhooks, approvals, uploads
from engine.runtime.effects import notify_signers
from engine.runtime.messages import take_buffered_messages
from engine.runtime.node_rules import check_allowed
from engine.runtime.step import (
    LIVE_WORKFLOWS,
    StepResult,
    cache_key,
    completion,
    db_engine,
    history_table,
    retry_when_locked,
    task_table,
)
from engine.runtime.versions import approval_mode, node_attributes

_item_table = ApprovalItem.__table__


_LOCK_TASK = select(task_table.c.id).where(task_table.c.id == bindparam("b_task")).with_for_update()


ITEMS = (select(_item_table.c.id, _item_table.c.signer, _item_table.c.status, _item_table.c.weight,
                 _item_table.c.position)
          .where(_item_table.c.task_id == bindparam("b_task")).order_by(_item_table.c.position))


class SignerItem(NamedTuple):
    """One signer of an approval node with a mode (a row of `approval_item`), in position order."""

    id: str
    signer: str
    status: str  # waiting / open / approved / rejected / cancelled
    weight: int
    position: int


def signer_items(conn, task_id: str) -> list[SignerItem]:
    """The node's signers in order (one prebuilt query)."""
    return [SignerItem(*row) for row in conn.execute(ITEMS, {"b_task": task_id})]


def decide_once(sessions, task_id: str, user: str, data: dict, comment, lang, attachments=None) -> StepResult:
    """One signer's decision on an approval node with a mode, in one transaction on both databases.

    The node's row is locked first (FOR UPDATE on PostgreSQL; SQLite has one writer at a time), so
    decisions on one node are applied one after another: none is lost, and the decision that
    settles the node is the one that completes it, in the same transaction (an engine step with
    `approved` and the tally). Later deciders get TaskConflictError: "already decided".
    """
    decision = data.get("approved")
    if decision is not True and decision is not False:
        raise InvalidTaskDataError(msg("an approval node needs a decision: `approved` true or false"))
    with db_engine(sessions).begin() as conn:
        conn.execute(_LOCK_TASK, {"b_task": task_id})
        handle = store.task_handle(conn, task_id)  # read again under the lock
        if handle.status != "open" or handle.instance_status != "running":
            raise TaskConflictError(msg("approval node %(task)s is already decided; your decision was not recorded",
                                        task=task_id))
        items = signer_items(conn, task_id)
        mine = own_item(items, user, handle)
        now = utcnow()
        conn.execute(update(_item_table).where(_item_table.c.id == mine.id, _item_table.c.status == "open")
                     .values(status="approved" if decision else "rejected", decided_at=now, comment=comment))
        mine_now = "approved" if decision else "rejected"
        decided = [approvals.Item(i.signer, mine_now if i.id == mine.id else i.status, i.weight) for i in items]
        attributes = node_attributes(conn, handle)
        mode = attributes.get("mode")
        outcome = approvals.outcome(mode, decided, attributes)
        if outcome is None:
            return _continue_node(conn, handle, mode, items, mine, user, decision, comment, now, attachments)
        conn.execute(update(_item_table).where(_item_table.c.task_id == task_id,
                                               _item_table.c.status.in_(["open", "waiting"]))
                     .values(status="cancelled", decided_at=now))
        extra = {"approved": outcome, "votes": approvals.tally(decided)}
        result, workflow, state_key = completion(sessions, conn, handle, user, data, comment, lang, extra=extra,
                                                  attachments=attachments)
    LIVE_WORKFLOWS.put(cache_key(sessions, handle.instance_id, state_key), workflow)
    take_buffered_messages(sessions, result)
    return result


def own_item(items: list[SignerItem], user: str, handle) -> SignerItem:
    """The caller's open item (a deputy acts on the item of the person they stand in for)."""
    for item in items:
        if item.status == "open" and (item.signer == user
                                      or (item.signer == handle.on_behalf_of and handle.assignee == user)):
            return item
    if any(i.signer == user and i.status in ("approved", "rejected") for i in items):
        raise TaskConflictError(msg("you already decided on approval node %(task)s", task=handle.task_id))
    if any(i.signer == user and i.status == "waiting" for i in items):
        raise NotPermittedError(msg("approval node %(task)s: it is not your turn yet (sequential approval)",
                                    task=handle.task_id))
    raise NotPermittedError(msg("approval node %(task)s has no open signature for %(person)s", task=handle.task_id,
                                person=Username(user)))


def _continue_node(conn, handle, mode: str, items, mine, user: str, decision: bool, comment, now,
                   attachments=None) -> StepResult:
    """A decision that does not settle the node yet: recorded, the node's row updated (the next
    signer of a sequential node gets it; others lose it from their inbox), the history says so."""
    task_id = handle.task_id
    if mode == "sequential":
        _hand_to_next(conn, handle, next(i for i in items if i.status == "waiting"), now)
    else:
        _drop_candidate(conn, handle, mine.signer)
    store.append_history(conn, [{"instance_id": handle.instance_id, "at": now, "actor": user, "action": "signed",
                                 "element_id": handle.element_id, "task_id": task_id, "comment": comment,
                                 "data": uploads.with_attachments(
                                     {"approved": decision, "mode": mode},
                                     uploads.claim(conn, attachments, user, handle.instance_id))}])
    api_webhooks.write_task_assigned(conn, task_id, previous=handle.assignee, actor=user, operation="sign",
                                     directory_version=handle.directory_version, now=now)
    return StepResult(handle.instance_id, "running", handle.revision, [{"id": task_id, "element_id": handle.element_id,
                                                                        "name": None, "assignee": None}])


SIGNER_PLACES = ("before", "after", "alongside")


_person_table = Person.__table__


ACTIVE_PERSON = select(_person_table.c.username).where(_person_table.c.username == bindparam("b_user"),
                                                        _person_table.c.active)


_ADDED_BY = (select(history_table.c.actor, history_table.c.data)
             .where(history_table.c.instance_id == bindparam("b_instance"),
                    history_table.c.task_id == bindparam("b_task"),
                    history_table.c.action == "signer_added"))


def add_signer(sessions: sessionmaker[Session], task_id: str, actor: str, signer: str, place: str,
               comment: str | None = None) -> None:
    """A signer of an approval node adds someone: before me / after me (前加签 / 后加签: sequential
    nodes) or alongside (并加签: all, any, vote). Only a signer whose turn it is may; the added
    person must be active and not a signer of the node already."""
    if place not in SIGNER_PLACES:
        raise InvalidTaskDataError(msg("where to add a signer: one of %(places)s, not `%(place)s`",
                                       places=", ".join(SIGNER_PLACES), place=place))
    retry_when_locked(lambda: _add_signer_once(sessions, task_id, actor, signer, place, comment),
                       f"adding a signer to task {task_id}")


def _locked_node(conn, task_id: str):
    conn.execute(_LOCK_TASK, {"b_task": task_id})
    handle = store.task_handle(conn, task_id)
    if handle is None:
        raise NotFoundError(msg("no task %(task)s", task=task_id))
    if handle.status != "open" or handle.instance_status != "running":
        raise TaskConflictError(msg("approval node %(task)s is already decided", task=task_id))
    mode = approval_mode(conn, handle)
    if not mode:
        raise NotPermittedError(msg("task %(task)s has one approver; signers are added to approval nodes with a "
                                    "mode (liaison:mode sequential, all, any or vote)", task=task_id))
    return handle, mode, signer_items(conn, task_id)


def _add_signer_once(sessions, task_id, actor, signer, place, comment) -> None:
    with db_engine(sessions).begin() as conn:
        handle, mode, items = _locked_node(conn, task_id)
        check_allowed(conn, handle, "addSigner")
        mine = own_item(items, actor, handle)
        if (place == "alongside") == (mode == "sequential"):
            raise NotPermittedError(msg("a %(mode)s node takes signers alongside you, not %(place)s", mode=mode,
                                        place=place) if mode != "sequential" else
                                    msg("a %(mode)s node takes signers before or after you, not %(place)s", mode=mode,
                                        place=place))
        if conn.execute(ACTIVE_PERSON, {"b_user": signer}).first() is None:
            raise NotFoundError(msg("no active person `%(person)s`", person=Username(signer)))
        if any(i.signer == signer and i.status != "cancelled" for i in items):
            raise TaskConflictError(msg("%(person)s already signs approval node %(task)s", person=Username(signer), task=task_id))
        now = utcnow()
        position = {"before": mine.position, "after": mine.position + 1,
                    "alongside": max(i.position for i in items) + 1}[place]
        conn.execute(update(_item_table).where(_item_table.c.task_id == task_id, _item_table.c.position >= position)
                     .values(position=_item_table.c.position + 1))
        status = "waiting" if place == "after" else "open"
        conn.execute(_item_table.insert().values(
            id=str(uuid.uuid4()), task_id=task_id, instance_id=handle.instance_id, signer=signer, position=position,
            weight=1, status=status, created_at=now))
        if place == "before":  # the added person signs first; the node comes back to me after them
            conn.execute(update(_item_table).where(_item_table.c.id == mine.id).values(status="waiting"))
            conn.execute(update(task_table).where(task_table.c.id == task_id)
                         .values(assignee=signer, on_behalf_of=None))
        elif place == "alongside":
            conn.execute(update(task_table).where(task_table.c.id == task_id)
                         .values(candidate_users=[*(handle.candidate_users or []), signer]))
            conn.execute(TaskCandidate.__table__.insert().values(task_id=task_id, kind="user", value=signer))
        store.append_history(conn, [{"instance_id": handle.instance_id, "at": now, "actor": actor,
                                     "action": "signer_added", "element_id": handle.element_id,
                                     "task_id": task_id, "comment": comment,
                                     "data": {"signer": signer, "place": place}}])
        if status == "open":
            notify_signers(conn, handle, [signer], now)
            api_webhooks.write_task_assigned(conn, task_id, previous=handle.assignee, actor=actor,
                                             operation="add_signer", signer=signer,
                                             directory_version=handle.directory_version, now=now)


def remove_signer(sessions: sessionmaker[Session], task_id: str, actor: str, signer: str,
                  comment: str | None = None) -> StepResult | None:
    """Take an undecided signer off an approval node (减签): whoever added them, or a super admin.
    When the remaining decisions settle the node, it completes (the StepResult is returned)."""
    return retry_when_locked(lambda: _remove_signer_once(sessions, task_id, actor, signer, comment),
                              f"removing a signer from task {task_id}")


def _remove_signer_once(sessions, task_id, actor, signer, comment):
    with db_engine(sessions).begin() as conn:
        handle, mode, items = _locked_node(conn, task_id)
        check_allowed(conn, handle, "removeSigner")
        target = next((i for i in items if i.signer == signer and i.status in ("open", "waiting")), None)
        if target is None:
            raise NotFoundError(msg("%(person)s has no undecided signature on approval node %(task)s", person=Username(signer),
                                    task=task_id))
        added_by = [actor_ for actor_, data in conn.execute(_ADDED_BY, {"b_instance": handle.instance_id,
                                                                         "b_task": task_id})
                    if (data or {}).get("signer") == signer]
        if actor not in added_by and not org.is_super_admin(conn, actor):
            raise NotPermittedError(msg("only whoever added %(person)s, or a super admin, may remove them",
                                        person=Username(signer)))
        undecided = [i for i in items if i.status in ("open", "waiting") and i.id != target.id]
        decided = [i for i in items if i.status in ("approved", "rejected")]
        if not undecided and not decided:
            raise NotPermittedError(msg("%(person)s is the node's last signer: it needs at least one", person=Username(signer)))
        now = utcnow()
        conn.execute(update(_item_table).where(_item_table.c.id == target.id)
                     .values(status="cancelled", decided_at=now, comment=comment))
        store.append_history(conn, [{"instance_id": handle.instance_id, "at": now, "actor": actor,
                                     "action": "signer_removed", "element_id": handle.element_id,
                                     "task_id": task_id, "comment": comment, "data": {"signer": signer}}])
        remaining = [approvals.Item(i.signer, "cancelled" if i.id == target.id else i.status, i.weight)
                     for i in items]
        outcome = approvals.outcome(mode, remaining, node_attributes(conn, handle))
        if outcome is None:
            _after_removal(conn, handle, mode, items, target, actor, now)
            return None
        conn.execute(update(_item_table).where(_item_table.c.task_id == task_id,
                                               _item_table.c.status.in_(["open", "waiting"]))
                     .values(status="cancelled", decided_at=now))
        extra = {"approved": outcome, "votes": approvals.tally(remaining)}
        result, workflow, state_key = completion(sessions, conn, handle, actor, {}, comment, "en", extra=extra)
    LIVE_WORKFLOWS.put(cache_key(sessions, handle.instance_id, state_key), workflow)
    return result


def _after_removal(conn, handle, mode, items, target, actor: str, now) -> None:
    """The node's row after a signer left: the next signer's turn, or one candidate less (then the
    API's `task.assigned`); a sequential signer still waiting for their turn held nothing yet."""
    if mode != "sequential":
        _drop_candidate(conn, handle, target.signer)
    elif target.status == "open":
        _hand_to_next(conn, handle, next(i for i in items if i.status == "waiting" and i.id != target.id), now)
    else:
        return
    api_webhooks.write_task_assigned(conn, handle.task_id, previous=handle.assignee, actor=actor,
                                     operation="remove_signer", signer=target.signer,
                                     directory_version=handle.directory_version, now=now)


def _hand_to_next(conn, handle, following: SignerItem, now) -> None:
    """A sequential node's turn passes to the `following` item's signer, who is told."""
    conn.execute(update(_item_table).where(_item_table.c.id == following.id).values(status="open"))
    conn.execute(update(task_table).where(task_table.c.id == handle.task_id)
                 .values(assignee=following.signer, on_behalf_of=None))
    notify_signers(conn, handle, [following.signer], now)


def _drop_candidate(conn, handle, signer: str) -> None:
    """A signer of an all / any / vote node leaves the node's candidates (their inbox) after signing or removal."""
    conn.execute(update(task_table).where(task_table.c.id == handle.task_id)
                 .values(candidate_users=[c for c in (handle.candidate_users or []) if c != signer]))
    conn.execute(TaskCandidate.__table__.delete().where(
        TaskCandidate.__table__.c.task_id == handle.task_id, TaskCandidate.__table__.c.kind == "user",
        TaskCandidate.__table__.c.value == signer))


def node_mode(sessions: sessionmaker[Session], task_id: str) -> str | None:
    """The approval mode of a task's node (sequential, all, any, vote), or None for a one-person task."""
    with db_engine(sessions).connect() as conn:
        handle = store.task_handle(conn, task_id)
        return None if handle is None else approval_mode(conn, handle)
