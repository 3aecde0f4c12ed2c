"""Webhook subscriptions of the REST API (issue 13): create, list, delete, a test `ping`, the delivery
log, the outbox rows of a step, and those of an operation that changes who holds a task. The API
(`web/api/webhooks.py`) and the pages (`web/webhooks.py`) call these functions.

A subscription (`ApiWebhook`) belongs to a person and owns a generic `webhook_endpoint` named
`api-webhook-<hex>` that holds its URL and HMAC secret (the secret is returned once, at creation).
Events are not delivered here: `step_rows` turns what a step did (instance started, completed,
withdrawn or terminated; tasks created or completed) into outbox rows of the step's own write, so
they commit with the step or not at all, and `engine.notify.delivery` signs (`X-Liaison-Signature`)
and retries them like every package webhook. There is one delivery mechanism. The operations that
change who holds a task without an engine step (claim, unclaim, transfer, delegate, the delegate's
hand-back, a signer's decision, add / remove signer) call `write_task_assigned` in their own
transaction: `task.assigned`, matched to the subscriptions by the same rule (`_endpoints`).

A task offered to a group concerns the group's members (they may see it: `runtime.visibility`), so
their subscriptions hear its `task.created`. The subscriptions and their owners' groups are read with
two queries per step (none when there is no subscription), and kept per directory version when the
step knows it (task completions): creating or deleting a subscription, and any role change, bumps
`directory_version`.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from engine.data import store
from engine.data.models import (
    DirectoryVersion,
    OutboxMessage,
    Person,
    PersonRole,
    ProcessInstance,
    Role,
    WebhookEndpoint,
    WorkTask,
    utcnow,
)
from engine.data.webhook_models import ApiWebhook
from engine.errors import LiaisonError, NotFoundError, msg
from engine.notify import delivery

EVENTS = ("instance.started", "instance.completed", "instance.withdrawn", "instance.terminated",
          "instance.cancelled", "task.created", "task.assigned", "task.completed")
# what changed who holds a task outside a step (`write_task_assigned`), the payload's `operation`
OPERATIONS = ("claim", "unclaim", "transfer", "delegate", "hand_back", "sign", "add_signer", "remove_signer")
ENDED_BY = {"withdrawn": "instance.withdrawn", "terminated": "instance.terminated"}
MAX_URL = 1000
ENDPOINT_PREFIX = "api-webhook-"


class InvalidWebhookError(LiaisonError):
    """A subscription request that cannot be honoured: bad URL, no or unknown events."""


@dataclass(frozen=True)
class Subscription:
    """A subscription as the API lists it (never the secret)."""

    id: int
    owner: str
    url: str
    events: tuple[str, ...]
    process_key: str | None
    all_instances: bool
    created_at: object

    def to_dict(self) -> dict:
        return {"id": self.id, "owner": self.owner, "url": self.url, "events": list(self.events),
                "process": self.process_key, "all_instances": self.all_instances,
                "created_at": self.created_at.isoformat() if self.created_at else None}


def create_subscription(session: Session, username: str, url: str, events: list[str],
                        process_key: str | None = None, all_instances: bool = False) -> tuple[Subscription, str]:
    """Subscribe `username` to `events` (of `process_key`'s instances, or of all) at `url`; returns the
    subscription and its HMAC secret (shown once). InvalidWebhookError for a bad URL or event.

    The events are those of instances `username` started and of tasks offered to or completed by them;
    `all_instances` (the caller checks the person is a super administrator): of every instance."""
    unknown = sorted(set(events) - set(EVENTS))
    if not events or unknown:
        raise InvalidWebhookError(msg("unknown webhook events: %(events)s (known: %(known)s)",
                                      events=", ".join(unknown) or "-", known=", ".join(EVENTS)))
    if len(url or "") > MAX_URL:
        raise InvalidWebhookError(msg("the webhook URL may have at most %(count)s characters", count=MAX_URL))
    person = session.scalar(select(Person).where(Person.username == username))
    if person is None:
        raise NotFoundError(msg("no person with username `%(person)s`", person=username))
    secret = "whsec_" + secrets.token_urlsafe(32)
    try:
        endpoint = delivery.add_endpoint(session, ENDPOINT_PREFIX + uuid.uuid4().hex[:16], url, "generic", secret)
    except delivery.EndpointError:
        raise InvalidWebhookError(msg("the webhook URL must be an http:// or https:// URL")) from None
    row = ApiWebhook(person_id=person.id, endpoint_id=endpoint.id, events=sorted(set(events)),
                     process_key=process_key or None, all_instances=all_instances)
    session.add(row)
    _bump(session)
    session.commit()
    return (Subscription(row.id, username, url, tuple(row.events), row.process_key, all_instances,
                         row.created_at), secret)


def list_subscriptions(session: Session, username: str | None) -> list[Subscription]:
    """The subscriptions of `username` (None: everyone's, for an administrator), oldest first."""
    query = (select(ApiWebhook, Person.username, WebhookEndpoint.url)
             .join(Person, Person.id == ApiWebhook.person_id)
             .join(WebhookEndpoint, WebhookEndpoint.id == ApiWebhook.endpoint_id).order_by(ApiWebhook.id))
    if username is not None:
        query = query.where(Person.username == username)
    return [Subscription(w.id, owner, url, tuple(w.events), w.process_key, w.all_instances, w.created_at)
            for w, owner, url in session.execute(query)]


def delete_subscription(session: Session, username: str | None, subscription_id: int) -> None:
    """End a subscription of `username` (None: anyone's); NotFoundError when it is not theirs. Its
    endpoint is deactivated, so deliveries still pending are given up, not sent."""
    _subscription, endpoint_id, _name = _owned(session, username, subscription_id)
    session.execute(delete(ApiWebhook).where(ApiWebhook.id == subscription_id))
    session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).values(active=False))
    _bump(session)
    session.commit()


def get_subscription(session: Session, username: str | None, subscription_id: int) -> Subscription:
    """One subscription of `username` (None: anyone's); NotFoundError when it is not theirs."""
    return _owned(session, username, subscription_id)[0]


def _owned(session: Session, username: str | None, subscription_id: int) -> tuple[Subscription, int, str]:
    """(the subscription, its endpoint's id and name), only when `username` (None: anyone) owns it."""
    query = (select(ApiWebhook, Person.username, WebhookEndpoint.url, WebhookEndpoint.id, WebhookEndpoint.name)
             .join(Person, Person.id == ApiWebhook.person_id)
             .join(WebhookEndpoint, WebhookEndpoint.id == ApiWebhook.endpoint_id)
             .where(ApiWebhook.id == subscription_id))
    if username is not None:
        query = query.where(Person.username == username)
    found = session.execute(query).first()
    if found is None:
        raise NotFoundError(msg("no webhook subscription %(id)s", id=subscription_id))
    w, owner, url, endpoint_id, name = found
    return (Subscription(w.id, owner, url, tuple(w.events), w.process_key, w.all_instances, w.created_at),
            endpoint_id, name)


# -- test deliveries and the delivery log ------------------------------------------------------------

PING = "ping"
MAX_DELIVERIES = 100


@dataclass(frozen=True)
class Delivery:
    """One outbox row of a subscription: what was (or will be) sent, and how it went."""

    id: int
    event: str
    status: str  # pending | sending | sent | failed (the outbox's)
    attempts: int
    last_error: str | None
    instance_id: int | None
    created_at: object
    sent_at: object
    next_attempt_at: object

    def to_dict(self) -> dict:
        def when(value):
            return value.isoformat() if value else None
        return {"id": self.id, "event": self.event, "status": self.status, "attempts": self.attempts,
                "last_error": self.last_error, "instance_id": self.instance_id,
                "created_at": when(self.created_at), "sent_at": when(self.sent_at),
                "next_attempt_at": when(self.next_attempt_at) if self.status == "pending" else None}


def send_ping(session: Session, username: str | None, subscription_id: int, now=None) -> Delivery:
    """Queue a `ping` event for a subscription of `username` (None: anyone's) through the outbox, signed
    and retried like every event; its delivery. A ping still waiting is not queued twice (that one is
    returned), so pressing the button again does not pile calls on the receiver."""
    subscription, _endpoint_id, name = _owned(session, username, subscription_id)
    waiting = session.scalar(select(OutboxMessage.id).where(
        OutboxMessage.recipient == name, OutboxMessage.event == PING,
        OutboxMessage.status.in_(("pending", "sending"))).limit(1))
    if waiting is not None:
        return _delivery(session, waiting)
    now = now or utcnow()
    row = OutboxMessage(event=PING, channel="webhook", recipient=name, status="pending", next_attempt_at=now,
                        created_at=now, payload={
                            "event": PING, "delivery": uuid.uuid4().hex, "subscription": subscription.id,
                            "owner": subscription.owner, "events": list(subscription.events),
                            "at": now.isoformat(), "title": PING, "text": ""})
    session.add(row)
    session.commit()
    return _delivery(session, row.id)


_DELIVERY_COLUMNS = (OutboxMessage.id, OutboxMessage.event, OutboxMessage.status, OutboxMessage.attempts,
                     OutboxMessage.last_error, OutboxMessage.instance_id, OutboxMessage.created_at,
                     OutboxMessage.sent_at, OutboxMessage.next_attempt_at)


def _delivery(session: Session, outbox_id: int) -> Delivery:
    return Delivery(*session.execute(select(*_DELIVERY_COLUMNS).where(OutboxMessage.id == outbox_id)).one())


def recent_deliveries(session: Session, username: str | None, subscription_id: int, limit: int = 20,
                      offset: int = 0) -> list[Delivery]:
    """The subscription's deliveries, newest first (`limit` of them after `offset`); NotFoundError when
    it is not `username`'s (None: anyone's). One index range (`ix_outbox_recipient`)."""
    _subscription, _endpoint_id, name = _owned(session, username, subscription_id)
    limit = max(1, min(limit, MAX_DELIVERIES + 1))
    rows = session.execute(select(*_DELIVERY_COLUMNS).where(OutboxMessage.recipient == name)
                           .order_by(OutboxMessage.id.desc()).offset(max(0, offset)).limit(limit))
    return [Delivery(*row) for row in rows]


def _bump(session: Session) -> None:
    """Steps keep the subscriptions per directory version: a change makes them read again."""
    session.execute(update(DirectoryVersion).where(DirectoryVersion.id == 1)
                    .values(version=DirectoryVersion.version + 1))


# -- the step's rows -------------------------------------------------------------------------------

_ACTIVE = (select(WebhookEndpoint.name, ApiWebhook.events, ApiWebhook.process_key, ApiWebhook.all_instances,
                  Person.username)
           .join(WebhookEndpoint, WebhookEndpoint.id == ApiWebhook.endpoint_id)
           .join(Person, Person.id == ApiWebhook.person_id)
           .where(WebhookEndpoint.active.is_(True)))
_GROUPS = (select(Person.username, Role.key).join(PersonRole, PersonRole.person_id == Person.id)
           .join(Role, Role.id == PersonRole.role_id)
           .where(Person.id.in_(select(ApiWebhook.person_id)), Person.active.is_(True)))
KEPT: dict[tuple[str, int], list] = {}  # (database URL, directory version) -> subscriptions
_lock = threading.Lock()


def _subscriptions(conn, directory_version: int | None) -> list:
    """(endpoint name, events, process key, owner or None for all, the owner's groups) of every active
    subscription; kept per directory version (role memberships bump it too)."""
    key = (str(conn.engine.url), directory_version) if directory_version is not None else None
    if key is not None and key in KEPT:
        return KEPT[key]
    rows = conn.execute(_ACTIVE).all()
    groups: dict[str, set[str]] = {}
    if rows:
        for username, role in conn.execute(_GROUPS):
            groups.setdefault(username, set()).add(role)
    found = [(name, frozenset(events or ()), process, None if everything else owner,
              frozenset(groups.get(owner, ())))
             for name, events, process, everything, owner in rows]
    if key is not None:
        with _lock:
            if len(KEPT) > 32:
                KEPT.clear()
            KEPT[key] = found
    return found


def step_events(step: store.StepWrite) -> list[tuple[str, dict, set, set]]:
    """(event, details, people concerned besides the initiator, groups concerned) of what the step
    did, in order. A task offered to a group concerns its members: they may see it (`visibility`)."""
    events = []
    if step.instance_id is None:
        events.append(("instance.started", {"initiator": step.initiator}, set(), set()))
    for entry in step.history:
        if entry.get("action") == "task_completed":
            events.append(("task.completed", {"task": {"id": entry.get("task_id"),
                                                        "element_id": entry.get("element_id")},
                                               "actor": entry.get("actor")}, {entry.get("actor")}, set()))
    for task in step.new_tasks:
        events.append(("task.created", {"task": {"id": task["id"], "element_id": task["element_id"],
                                                 "name": task["name"], "assignee": task["assignee"],
                                                 "candidate_users": list(task["candidate_users"]),
                                                 "candidate_groups": list(task["candidate_groups"])}},
                       {task["assignee"], *task["candidate_users"]}, set(task["candidate_groups"])))
    if step.status == "completed":
        events.append(("instance.completed", {"end_event": step.end_event}, set(), set()))
    elif step.status == "cancelled":
        ended = next((h for h in step.history if h.get("action") in ENDED_BY), None)
        events.append((ENDED_BY[ended["action"]] if ended else "instance.cancelled",
                       {"actor": ended.get("actor") if ended else None,
                        "comment": ended.get("comment") if ended else None}, set(), set()))
    return events


def step_rows(conn, step: store.StepWrite) -> list[dict]:
    """The outbox rows of the step's events for the subscriptions that want them (none read when no
    subscription exists at all, the common case)."""
    subscriptions = _subscriptions(conn, step.directory_version)
    if not subscriptions:
        return []
    instance = _Instance(step.process_key, step.instance_id, step.business_key, step.status, step.initiator)
    return [row for event, details, concerned, groups in step_events(step)
            for row in _rows(subscriptions, event, instance, step.now, details, concerned, groups)]


@dataclass(frozen=True)
class _Instance:
    """What a payload says of the instance, and whose subscriptions hear all of it (its initiator's)."""

    process_key: str | None
    instance_id: int | None
    business_key: str | None
    status: str
    initiator: str | None


def _endpoints(subscriptions: list, event: str, instance: _Instance, concerned: set, groups: set):
    """The one matching rule: the endpoints of the subscriptions that want `event` of this instance's
    process and may see it (all instances, the initiator's, or a person or group `concerned`)."""
    for endpoint, events, process, owner, member_of in subscriptions:
        if event in events and (process is None or process == instance.process_key) and (
                owner is None or owner == instance.initiator or owner in concerned or member_of & groups):
            yield endpoint


def _rows(subscriptions: list, event: str, instance: _Instance, now, details: dict, concerned: set,
          groups: set) -> list[dict]:
    """One outbox row (channel `webhook`, a fresh delivery id) per matching subscription."""
    return [{"event": event, "channel": "webhook", "recipient": endpoint, "payload": {
                "event": event, "delivery": uuid.uuid4().hex, "process": instance.process_key,
                "instance_id": instance.instance_id, "business_key": instance.business_key,
                "status": instance.status, "at": now.isoformat(), **details, "title": event, "text": ""}}
            for endpoint in _endpoints(subscriptions, event, instance, concerned, groups)]


# -- who holds a task, changed by an operation outside a step -----------------------------------------

_task = WorkTask.__table__
_instance = ProcessInstance.__table__
_HELD = (select(_task.c.id, _task.c.element_id, _task.c.name, _task.c.assignee, _task.c.candidate_users,
                _task.c.candidate_groups, _instance.c.process_key, _instance.c.id, _instance.c.business_key,
                _instance.c.status, _instance.c.initiator)
         .join(_instance, _instance.c.id == _task.c.instance_id).where(_task.c.id == bindparam("b_task")))


def write_task_assigned(conn, task_id: str, *, previous: str | None, actor: str, operation: str,
                        directory_version: int | None = None, signer: str | None = None,
                        pool_before: tuple = ((), ()), now=None) -> int:
    """After `operation` (one of `OPERATIONS`) changed who holds task `task_id` in `conn`'s transaction
    (its row already written): a `task.assigned` outbox row per subscription concerned, in that same
    transaction, so the event commits with the operation or not at all; how many.

    The payload is task.created's `task` as the row now stands (its assignee, its candidates) with
    `previous_assignee`, `actor`, `operation` and, for a signer operation, the `signer` added or
    removed. Concerned: the new and the previous assignee, the actor, that signer, and the pool (the
    candidate users and the members of the candidate groups) when nobody is assigned before or after:
    a claim takes the task from the pool, an unclaim gives it back, a parallel node's signer leaves it;
    `pool_before`, (users, groups), names a pool the operation cleared (a transfer of a pool task).
    Cost: the subscriptions' read (kept per `directory_version` when given) and nothing else when no
    subscription exists; else one read of the task row.
    """
    subscriptions = _subscriptions(conn, directory_version)
    if not subscriptions:
        return 0
    row = conn.execute(_HELD, {"b_task": task_id}).one()
    task = {"id": row[0], "element_id": row[1], "name": row[2], "assignee": row[3],
            "candidate_users": list(row[4] or []), "candidate_groups": list(row[5] or [])}
    concerned, groups = {task["assignee"], previous, actor, signer} - {None}, set(pool_before[1])
    concerned |= set(pool_before[0])
    if task["assignee"] is None or previous is None:
        concerned |= set(task["candidate_users"])
        groups |= set(task["candidate_groups"])
    details = {"task": task, "previous_assignee": previous, "actor": actor, "operation": operation,
               **({"signer": signer} if signer else {})}
    now = now or utcnow()
    rows = _rows(subscriptions, "task.assigned", _Instance(*row[6:]), now, details, concerned, groups)
    store.write_effects(conn, row[7], now, rows, [])
    return len(rows)
