"""Messages from outside (another system, a supplier's confirmation, a REST call) to processes.

A message has a name, a correlation key and a payload. Liaison routes it with its own index of
waiting message events (`message_subscription`: message name + exact key, the key being the
event's `liaison:correlationKey` expression over the process data, or else the instance's
business key), never with SpiffWorkflow's own matching, which lets the first message with any
key in. Then:

- one instance waits for it: the message is delivered to exactly that event (one step);
- two or more instances wait with the same name and key: refused with their ids (`AmbiguousMessageError`);
- none waits, and a deployed process starts on that message: a new instance starts (business key = the key);
- none waits and nothing starts: the message is kept for a while (package.yaml
  `messages: {name: {keep_for: P1D}}`, default `DEFAULT_KEEP`) and taken by the first instance
  that reaches a matching event; a package may declare `early: refuse` instead, and the sender
  gets `MessageNotCorrelatedError` saying so.

A kept message is taken in the same write as the step that delivers it (once only); `sweep`
(run by the job scheduler about once a minute) expires old ones and delivers any a waiting
instance could take (the instance's own step normally does this right after it commits).
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn import workflow as wfa
from engine.bpmn.serialization import new_workflow
from engine.bpmn.workflow import duration
from engine.data import store
from engine.data.models import (
    BufferedMessage,
    MessageSubscription,
    utcnow,
)
from engine.errors import (
    LiaisonError,
    NotFoundError,
    TaskConflictError,
)
from engine.runtime import room_sync
from engine.runtime.step import (
    LIVE_WORKFLOWS,
    StepResult,
    cache_key,
    checked_data,
    db_engine,
    restore,
    retry_when_locked,
    running_instance,
    save_step,
    step_connection,
    step_on,
)
from engine.runtime.triggers import DEFAULT_KEEP
from engine.runtime.versions import PACKAGE_CACHE, version_specs
from engine.runtime.waits import NO_WAITS, waits_of

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 200

_buffered = BufferedMessage.__table__
_subscription = MessageSubscription.__table__


class MessageNotCorrelatedError(LiaisonError):
    """No instance waits for the message and its process refuses early messages."""


class AmbiguousMessageError(LiaisonError):
    """More than one instance waits for the same message name and key."""

    def __init__(self, message: str, instance_ids: list[int]):
        super().__init__(message)
        self.instance_ids = instance_ids


@dataclass
class MessageResult:
    """What became of a message: delivered to / started an instance, or kept until `expires_at`."""

    status: str  # delivered | started | kept
    instance_id: int | None = None
    buffered_id: int | None = None
    expires_at: datetime | None = None

    def describe(self, name: str, key: str | None) -> str:
        """One line for the sender."""
        what = f"message `{name}`" + (f" for key `{key}`" if key is not None else "")
        if self.status == "delivered":
            return f"{what} delivered to instance {self.instance_id}"
        if self.status == "started":
            return f"{what} started instance {self.instance_id}"
        return (f"{what}: no instance waits for it yet; kept until {self.expires_at:%Y-%m-%d %H:%M} UTC "
                f"for one that reaches its message event (id {self.buffered_id})")


def _key_is(column, key):
    return column.is_(None) if key is None else column == key


def _waiting(conn, name: str, key: str | None) -> list[tuple[int, str]]:
    query = (select(_subscription.c.instance_id, _subscription.c.task_id)
             .where(_subscription.c.message_name == name, _key_is(_subscription.c.correlation_key, key))
             .order_by(_subscription.c.id))
    return [tuple(r) for r in conn.execute(query)]


def waiting_for(sessions: sessionmaker[Session], name: str, key: str | None) -> list[tuple[int, str]]:
    """`(instance id, event task id)` of the message events waiting for `name` with exactly `key`, oldest first."""
    with sessions.kw["bind"].connect() as conn:
        return _waiting(conn, name, key)


def send_message(sessions: sessionmaker[Session], name: str, correlation_key: str | None = None,
                 payload: dict | None = None, sender: str | None = None,
                 now: datetime | None = None) -> MessageResult:
    """Correlate and deliver one message (see the module doc for what happens when)."""
    name = str(name or "").strip()
    if not name:
        raise LiaisonError("a message needs a name")
    key = None if correlation_key is None else str(correlation_key)
    if key is not None and len(key) > MAX_KEY_LENGTH:
        raise LiaisonError(f"correlation key longer than {MAX_KEY_LENGTH} characters")
    payload = dict(payload or {})
    for _attempt in range(3):
        with sessions.kw["bind"].connect() as conn:
            waiting = _waiting(conn, name, key)
        instances = sorted({instance_id for instance_id, _ in waiting})
        if len(instances) > 1:
            raise AmbiguousMessageError(
                f"message `{name}` for key `{key}` matches {len(instances)} waiting instances "
                f"({', '.join(map(str, instances))}); nothing was delivered — make the key unique", instances)
        if not waiting:
            break
        instance_id, task_id = waiting[0]
        try:
            deliver_message(sessions, instance_id, task_id, name, payload, sender)
        except TaskConflictError:
            continue  # the event stopped waiting between the lookup and the step: look again
        return MessageResult("delivered", instance_id)
    return _start_or_keep(sessions, name, key, payload, sender, now or utcnow())


def _start_or_keep(sessions, name: str, key: str | None, payload: dict, sender, now: datetime) -> MessageResult:
    starts = message_starts(sessions, name)
    if len(starts) > 1:
        raise AmbiguousMessageError(f"message `{name}` starts {len(starts)} processes ({', '.join(starts)}); "
                                    "nothing was started", [])
    if starts:
        result = start_by_message(sessions, starts[0], name, payload, key, sender)
        return MessageResult("started", result.instance_id)
    rule = _declared_rule(sessions, name)
    if rule.get("early") == "refuse":
        raise MessageNotCorrelatedError(
            f"no instance waits for message `{name}`" + (f" with key `{key}`" if key is not None else "")
            + f"; refused, as process `{rule['_process']}` declares (messages.{name}.early: refuse)")
    keep = duration(rule["keep_for"]) if rule.get("keep_for") else DEFAULT_KEEP
    with sessions.kw["bind"].begin() as conn:
        buffered_id = conn.execute(insert(_buffered).values(
            message_name=name, correlation_key=key, payload=payload, sender=sender, status="waiting",
            received_at=now, expires_at=now + keep).returning(_buffered.c.id)).scalar_one()
    result = MessageResult("kept", buffered_id=buffered_id, expires_at=now + keep)
    # an instance may have started waiting between our lookup and the insert: let it take the message
    _deliver_kept(sessions, now, only=buffered_id)
    with sessions.kw["bind"].connect() as conn:
        row = conn.execute(select(_buffered.c.status, _buffered.c.instance_id)
                           .where(_buffered.c.id == buffered_id)).first()
    if row.status == "consumed":
        return MessageResult("delivered", row.instance_id, buffered_id)
    return result


def _declared_rule(sessions, name: str) -> dict:
    """The `messages.<name>` rule of the deployed processes that catch this message (first one found)."""
    with sessions.kw["bind"].connect() as conn:
        for key, version_id, checksum in store.latest_versions(conn):
            meta = PACKAGE_CACHE.get(conn, version_id, checksum).get("meta") or {}
            rule = (meta.get("messages") or {}).get(name)
            if isinstance(rule, dict):
                return {**rule, "_process": key}
    return {}


_MATCHES = (
    select(_buffered.c.id, _subscription.c.instance_id, _subscription.c.task_id, _buffered.c.message_name,
           _buffered.c.payload, _buffered.c.sender)
    .join(_subscription, and_(
        _subscription.c.message_name == _buffered.c.message_name,
        or_(_subscription.c.correlation_key == _buffered.c.correlation_key,
            and_(_subscription.c.correlation_key.is_(None), _buffered.c.correlation_key.is_(None)))))
    .where(_buffered.c.status == "waiting", _buffered.c.expires_at > bindparam("b_now"),
           store.not_thrown_by(_subscription.c.instance_id))
    .order_by(_buffered.c.received_at, _buffered.c.id))


def _deliver_kept(sessions, now: datetime, only: int | None = None) -> int:
    query = _MATCHES if only is None else _MATCHES.where(_buffered.c.id == only)
    with sessions.kw["bind"].connect() as conn:
        matches = [tuple(r) for r in conn.execute(query, {"b_now": now})]
    delivered, taken = 0, set()
    for buffered_id, instance_id, task_id, name, payload, sender in matches:
        if buffered_id in taken:
            continue
        try:
            deliver_message(sessions, instance_id, task_id, name, payload, sender, buffered_id)
        except (store.AlreadyTaken, TaskConflictError):
            continue
        taken.add(buffered_id)
        delivered += 1
    return delivered


def sweep(sessions: sessionmaker[Session], now: datetime | None = None) -> int:
    """Expire kept messages past their time and deliver those a waiting instance can take."""
    now = now or utcnow()
    expired = expire(sessions, now)
    delivered = _deliver_kept(sessions, now)
    if expired or delivered:
        log.info("messages: %s expired, %s delivered from the buffer", expired, delivered)
    return expired + delivered


def expire(sessions: sessionmaker[Session], now: datetime | None = None) -> int:
    """Mark kept messages whose time is up as expired; returns how many."""
    now = now or utcnow()
    with sessions.kw["bind"].begin() as conn:
        return conn.execute(update(_buffered).where(_buffered.c.status == "waiting", _buffered.c.expires_at <= now)
                            .values(status="expired")).rowcount


def kept_messages(sessions: sessionmaker[Session], status: str = "waiting", limit: int = 100) -> list[dict]:
    """Kept messages for an operator (`liaison message list`)."""
    with sessions.kw["bind"].connect() as conn:
        rows = conn.execute(select(_buffered).where(_buffered.c.status == status)
                            .order_by(_buffered.c.id.desc()).limit(limit))
        return [dict(r._mapping) for r in rows]


# -- engine steps: delivering and starting by messages ------------------------------------------------------------


def after_commit(sessions, result: StepResult, step: store.StepWrite, workflow) -> StepResult:
    """Keep the saved workflow for the next step and let it take the messages kept for it."""
    LIVE_WORKFLOWS.put(cache_key(sessions, result.instance_id, step.state_key), workflow)
    take_buffered_messages(sessions, result)
    room_sync.after_step(sessions, result.instance_id)  # room bookings follow the process (a timer, a message)
    return result


def deliver_message(sessions: sessionmaker[Session], instance_id: int, task_id: str, name: str, payload: dict,
                    sender: str | None = None, buffered_id: int | None = None) -> StepResult:
    """Hand a message to the waiting event `task_id` of an instance and run on (one step).

    `buffered_id`: the kept message this delivers, marked taken in the same write (only once).
    """
    payload = checked_data(payload)
    return retry_when_locked(
        lambda: _deliver_once(sessions, instance_id, task_id, name, payload, sender, buffered_id),
        f"delivering message `{name}` to instance {instance_id}")


def _deliver_once(sessions, instance_id, task_id, name, payload, sender, buffered_id) -> StepResult:
    with step_connection(sessions) as conn:
        handle = running_instance(conn, instance_id)
        workflow = restore(sessions, conn, handle)
        before, waits = wfa.ready_task_ids(workflow), waits_of(workflow)
        records = wfa.deliver_message(workflow, task_id, name, copy.deepcopy(payload))
        step = step_on(handle, consume_message=buffered_id,
                        history=[{"actor": sender, "action": "message_received", "task_id": task_id,
                                  "element_id": find_element(workflow, task_id, records),
                                  "comment": name, "data": payload}])
        result = save_step(conn, step, workflow, records, sender, before=before, waits=waits,
                       version=(handle.version_id, handle.checksum))
    return after_commit(sessions, result, step, workflow)


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
    payload = checked_data(payload)
    return retry_when_locked(
        lambda: _start_by_message_once(sessions, key, name, payload, business_key, sender, buffered_id),
        f"starting `{key}` by message `{name}`")


def _start_by_message_once(sessions, key, name, payload, business_key, sender, buffered_id) -> StepResult:
    with step_connection(sessions) as conn:
        version = store.latest_version(conn, key)
        if version is None:
            raise NotFoundError(f"no process `{key}` is deployed")
        version_id, checksum = version
        spec, subspecs = version_specs(conn, version_id, checksum)
        workflow = new_workflow(spec, subspecs, wfa.script_engine())
        records = wfa.start_by_message(workflow, name, copy.deepcopy(payload))
        step = store.StepWrite(instance_id=None, revision=0, now=utcnow(), state="", data={}, status="",
                               state_key="", version_id=version_id, process_key=key, initiator=sender,
                               business_key=business_key, consume_message=buffered_id,
                               history=[{"actor": sender, "action": "started", "comment": f"message {name}",
                                         "data": payload}])
        result = save_step(conn, step, workflow, records, sender, before=set(), waits=NO_WAITS, version=(version_id, checksum))
    LIVE_WORKFLOWS.put(cache_key(sessions, result.instance_id, step.state_key), workflow)
    take_buffered_messages(sessions, result)
    return result


def message_starts(sessions: sessionmaker[Session], name: str) -> list[str]:
    """Keys of the deployed processes whose latest version starts on message `name`."""
    keys = []
    with db_engine(sessions).connect() as conn:
        for key, version_id, checksum in store.latest_versions(conn):
            spec, _subspecs = version_specs(conn, version_id, checksum)
            if name in wfa.message_start_names(spec):
                keys.append(key)
    return keys


def take_buffered_messages(sessions, result: StepResult) -> None:
    """A step that started waiting for messages takes those already kept for it, oldest first.

    Runs after the step's commit; if this process dies in between, the periodic sweep
    (`engine.messages.sweep`) does the same. Taking a kept message is marked in the delivering
    step's own write, so a message is taken once whoever gets there first.
    """
    if not result.subscribed or result.status != "running":
        return
    with db_engine(sessions).connect() as conn:
        matches = store.buffered_for_instance(conn, result.instance_id, utcnow())
    for buffered_id, task_id, name, payload, sender in matches:
        try:
            deliver_message(sessions, result.instance_id, task_id, name, payload, sender, buffered_id)
        except (store.AlreadyTaken, TaskConflictError):
            continue  # someone else took it, or the event stopped waiting
        return  # the delivering step takes any further kept messages itself
