"""Trigger nodes: what a step's service operations and throw events send out, written with the step.

- **Webhook calls** (`liaison:operation="webhook"`): the operation only leaves the call with the step
  record (`engine.bpmn.services.webhook`); here it becomes an outbox row of the step's own write, so
  the delivery job sends it (signed, retried) once the step commits, never for a step that failed or
  ran again after a lost race. An endpoint name nobody configured fails the step (the service-error
  path: nothing is saved, the person acting is told, the history records the failure).
- **Thrown messages** (a message intermediate throw or end event): kept as `buffered_message` rows
  in the step's own write, sent by `instance:ID`; after the commit `engine.runtime.thrown` routes them
  like `liaison message send` (see there).
- **Thrown signals** (a signal intermediate throw or end event): a `signal_event` row in the step's own
  write with one `signal_delivery` row per instance then waiting on it (the thrower excepted: its own
  catch events got it from SpiffWorkflow in the step) and per deployed process starting on it; after
  the commit `engine.runtime.signals` delivers them (see there).
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from engine.bpmn import workflow as wfa
from engine.bpmn.workflow import duration
from engine.caching import BoundedCache
from engine.data import store
from engine.data.models import WebhookEndpoint
from engine.errors import ProcessRuntimeError, msg
from engine.runtime.versions import PACKAGE_CACHE, version_specs
from engine.runtime.waits import signal_writes

WEBHOOK_EVENT = "process_webhook"  # the outbox `event` of a call without its own event name
MAX_KEY_LENGTH = 200
DEFAULT_KEEP = timedelta(days=1)  # how long a message nobody waits for is kept (package.yaml `messages` may say)


def add_trigger_writes(conn, step: store.StepWrite, records) -> None:
    """Put the webhook calls and thrown messages of the step's `records` into its write."""
    calls = [(record, effect) for record in records for effect in record.effects if effect.get("kind") == "webhook"]
    if calls:
        step.outbox += webhook_rows(conn, step, calls)
    thrown = [record for record in records if record.message]
    if thrown:
        step.thrown += [_kept(conn, step, record) for record in thrown]
    signals = [record for record in records if record.signal]
    if signals:
        signal_writes(step).thrown += [_signal(conn, record) for record in signals]


def _signal(conn, record) -> dict:
    payload = record.payload if record.payload is not None else {}
    if not isinstance(payload, dict):
        raise ProcessRuntimeError(f"element `{record.element_id}`: the payload of signal `{record.signal}` must be "
                                  f"a dict, not {type(payload).__name__}", record.element_id)
    return {"name": record.signal, "payload": payload, "starts": signal_starts(conn, record.signal)}


SIGNAL_STARTS: BoundedCache[dict] = BoundedCache(256)  # version checksum -> {signal name: start event id}


def signal_starts(conn, name: str) -> list[str]:
    """Keys of the deployed processes whose latest version starts on signal `name`."""
    return [key for key, version_id, checksum in store.latest_versions(conn)
            if name in SIGNAL_STARTS.get(checksum, lambda v=version_id, c=checksum:
                                         wfa.signal_start_names(version_specs(conn, v, c)[0]))]


def webhook_rows(conn, step: store.StepWrite, calls: list) -> list[dict]:
    """The outbox rows of the step's webhook calls; ProcessRuntimeError naming the element when an
    endpoint is not configured."""
    names = sorted({effect["endpoint"] for _record, effect in calls})
    known = set(conn.scalars(select(WebhookEndpoint.name).where(WebhookEndpoint.name.in_(names))))
    rows = []
    for record, effect in calls:
        name = effect["endpoint"]
        if name not in known:
            raise ProcessRuntimeError(
                f"element `{record.element_id}`: no webhook endpoint named `{name}` is configured; an admin adds it "
                f"with `liaison webhook add {name} URL` (nothing was saved: the step runs again when retried)",
                record.element_id, reason=msg("the webhook endpoint %(name)s is not configured", name=name))
        event = effect.get("event") or WEBHOOK_EVENT
        payload = effect.get("payload")
        rows.append({"event": event, "channel": "webhook", "recipient": name, "payload": {
            "event": event, "delivery": effect["delivery"], "process": step.process_key,
            "instance_id": step.instance_id, "business_key": step.business_key, "element_id": record.element_id,
            "data": payload, "title": event,
            "text": json.dumps(payload, ensure_ascii=False, default=str) if payload is not None else ""}})
    return rows


def _kept(conn, step: store.StepWrite, record) -> dict:
    message = record.message
    key = message["correlation_key"]
    if key is not None and len(key) > MAX_KEY_LENGTH:
        raise ProcessRuntimeError(f"element `{record.element_id}`: the correlation key of message "
                                  f"`{message['name']}` is longer than {MAX_KEY_LENGTH} characters",
                                  record.element_id)
    rule = message_rule(conn, message["name"])
    keep = duration(rule["keep_for"]) if rule.get("keep_for") else DEFAULT_KEEP
    return {"message_name": message["name"], "correlation_key": key, "payload": message["payload"],
            "expires_at": step.now + keep}


def message_rule(conn, name: str) -> dict:
    """The `messages.<name>` rule of package.yaml of the deployed processes (first one found), `{}` if none."""
    for key, version_id, checksum in store.latest_versions(conn):
        meta = PACKAGE_CACHE.get(conn, version_id, checksum).get("meta") or {}
        rule = (meta.get("messages") or {}).get(name)
        if isinstance(rule, dict):
            return {**rule, "_process": key}
    return {}
