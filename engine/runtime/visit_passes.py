"""Visitor passes issued by the runtime: when a user task marked `liaison:pass="true"` (a visit's
check-in at reception) becomes ready, the visitor gets a pass (`engine.external.passes`) and an e-mail
with its code, the booked slot and the link to the portal's pass page.

Runs after the step that made the task ready has committed (`after_step`, called by
`instances.start_instance` / `complete_task`), in a transaction of its own: the pass row, the visit's
`external_case` row (if none) and the e-mail's outbox row commit together. Idempotent (one pass per
check-in task); `sweep` (the dispatcher, about once a minute) issues what a crash in between, or a
step of another kind (a timer, a message, a move), left without a pass.

The visit's data: package.yaml `portal.email_field` / `portal.name_field` (default `visitor_email`,
`visitor_name`), the slot in `visit_start` / `visit_end` (company-local datetimes, as the forms store them).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from engine.bpmn import workflow as wfa
from engine.caching import BoundedCache
from engine.config import load_settings
from engine.data import store
from engine.data.external_models import ExternalCase, ExternalGrant
from engine.data.models import ProcessInstance, ProcessVersion, WorkTask, utcnow
from engine.external import passes
from engine.notify.render import Event, StepFacts, render_step
from engine.runtime.step import db_engine
from engine.runtime.versions import version_package, version_specs
from forms.dates import parse_datetime

log = logging.getLogger(__name__)

PASS_PATH = "/portal/pass"  # the portal's pass page (stage 2): PASS_PATH?code=CODE
PASS_ATTRIBUTE = "pass"
START_FIELD, END_FIELD = "visit_start", "visit_end"
SWEEP_LIMIT = 200

_task = WorkTask.__table__
_grant = ExternalGrant.__table__
_case = ExternalCase.__table__
_instance = ProcessInstance.__table__

PASS_ELEMENTS: BoundedCache[frozenset] = BoundedCache(256)  # version checksum -> ids of its pass tasks


def pass_elements(conn, version_id: int, checksum: str) -> frozenset[str]:
    """The ids of a version's user tasks marked `liaison:pass="true"` (looked up once per version)."""
    def compute() -> frozenset[str]:
        spec, subspecs = version_specs(conn, version_id, checksum)
        found = wfa.elements_with_attribute(spec, PASS_ATTRIBUTE, subspecs)
        return frozenset(e for e, attributes in found.items() if str(attributes.get(PASS_ATTRIBUTE)).lower() == "true")

    return PASS_ELEMENTS.get(checksum, compute)


def pass_link(base_url: str, code: str) -> str:
    """The absolute link to the pass page with the code filled in."""
    return f"{base_url.rstrip('/')}{PASS_PATH}?code={code}"


def after_step(sessions, result, version: tuple[int, str] | None = None) -> None:
    """After a start or a completion committed: issue the passes of check-in tasks it made ready.
    `version`: the step's (version id, checksum); with it, a version without check-in tasks costs no
    query (the answer is cached per version). Never fails the committed step (the sweep issues what
    fails here)."""
    if result.status != "running" or not result.open_tasks:
        return
    elements = {t["element_id"] for t in result.open_tasks}
    try:
        if version is not None and not _has_pass_task(sessions, version, elements):
            return
        issue_for_instance(sessions, result.instance_id, elements)
    except Exception:  # noqa: BLE001 - the step is committed; the sweep retries
        log.exception("visitor pass of instance %s: not issued now; the sweep retries", result.instance_id)


def _has_pass_task(sessions, version: tuple[int, str], elements: set[str]) -> bool:
    def compute() -> frozenset[str]:
        with db_engine(sessions).connect() as conn:
            return pass_elements(conn, *version)

    return bool(PASS_ELEMENTS.get(version[1], compute) & elements)


def issue_for_instance(sessions, instance_id: int, elements: set[str] | None = None,
                       now: datetime | None = None) -> list[int]:
    """Issue (once) and send the pass of every open check-in task of the instance; returns the ids of
    passes created now. `elements`: the open tasks' element ids when the caller knows them (a version
    without pass tasks then costs one query)."""
    now = now or utcnow()
    with db_engine(sessions).begin() as conn:
        handle = store.instance_handle(conn, instance_id)
        if handle is None or handle.status != "running":
            return []
        marked = pass_elements(conn, handle.version_id, handle.checksum)
        if not marked or (elements is not None and not marked & set(elements)):
            return []
        rows = conn.execute(select(_task.c.id).where(_task.c.instance_id == instance_id, _task.c.status == "open",
                                                     _task.c.element_id.in_(sorted(marked)))).scalars().all()
        return [grant for task_id in rows if (grant := _issue(conn, handle, task_id, now)) is not None]


def _issue(conn, handle, task_id: str, now: datetime) -> int | None:
    package = version_package(conn, handle.version_id, handle.checksum)
    portal = (package.get("meta") or {}).get("portal") or {}
    data = handle.data or {}
    email = _text(data.get(portal.get("email_field") or "visitor_email"))
    name = _text(data.get(portal.get("name_field") or "visitor_name"))
    slot = visit_slot(data)
    if slot is None:
        log.warning("instance %s: no visit slot (%s, %s) in the data: no pass issued", handle.instance_id,
                    START_FIELD, END_FIELD)
        return None
    grant_id, code, created = passes.issue_pass_if_new(
        conn, instance_id=handle.instance_id, task_id=task_id, valid_from=slot[0], valid_until=slot[1],
        label=name or None, recipient=email or None, now=now)
    if not created:
        return None
    passes.revoke_other_passes(conn, handle.instance_id, grant_id, now)
    _ensure_case(conn, handle.instance_id, email, name, now)
    if email:
        _send(conn, handle, package, data, email, name, code, slot, now)
    return grant_id


def visit_slot(data: dict) -> tuple[datetime, datetime] | None:
    """The booked slot (aware datetimes) from the visit's data, read in the company's time zone; None if absent."""
    try:
        start = parse_datetime(data.get(START_FIELD), wfa.company_zone())
        end = parse_datetime(data.get(END_FIELD), wfa.company_zone())
    except (TypeError, ValueError):
        return None
    return (start, end) if end > start else None


def slot_text(slot: tuple[datetime, datetime]) -> str:
    """"2026-12-03 09:00–11:30" on the company's clock."""
    zone = wfa.company_zone()
    start, end = slot[0].astimezone(zone), slot[1].astimezone(zone)
    tail = end.strftime("%H:%M") if end.date() == start.date() else end.strftime("%Y-%m-%d %H:%M")
    return f"{start.strftime('%Y-%m-%d %H:%M')}–{tail}"


def _ensure_case(conn, instance_id: int, email: str, name: str, now: datetime) -> None:
    if conn.execute(select(_case.c.instance_id).where(_case.c.instance_id == instance_id)).first() is not None:
        return
    try:
        with conn.begin_nested():
            conn.execute(insert(_case).values(instance_id=instance_id, kind="visitor", email=email[:254] or None,
                                              name=name[:200] or None, created_at=now))
    except IntegrityError:
        pass  # written meanwhile by whoever else records the case


def _send(conn, handle, package: dict, data: dict, email: str, name: str, code: str, slot, now: datetime) -> None:
    settings = load_settings()
    when = slot_text(slot)
    extra = {
        "emails": [email], "link": pass_link(settings.base_url, code), "code": code, "slot": when,
        "visitor_name": name, "kind": "visitor_pass",
        # the built-in template's words (a package's notifications/external_link.yaml may use the values above)
        "title": "访客通行证 / Visitor pass",
        "text": f"{name} 您好，您的访客通行码：{code}，时间：{when}。请在前台出示通行码或二维码。\n"
                f"Hello {name}, your visitor pass code is {code}, for {when}. Show the code or its QR image "
                "at reception.",
    }
    facts = StepFacts(process_key=handle.process_key, package=package, instance_id=handle.instance_id,
                      initiator=handle.initiator, business_key=handle.business_key, data=data,
                      events=[Event("external_link", extra=extra)])
    outbox, inapp = render_step(conn, facts, now, settings=settings)
    store.write_effects(conn, handle.instance_id, now, outbox, inapp)


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def sweep(sessions, now: datetime | None = None, limit: int = SWEEP_LIMIT) -> int:
    """Issue the passes of open check-in tasks that have none (a crash after the step's commit, or a
    step of a timer, a message or a move); returns how many were created. One query for the versions
    with running instances, one per version that has check-in tasks."""
    with db_engine(sessions).connect() as conn:
        versions = conn.execute(select(ProcessVersion.id, ProcessVersion.checksum)
                                .where(ProcessVersion.id.in_(select(_instance.c.version_id)
                                                             .where(_instance.c.status == "running")))).all()
        instances: set[int] = set()
        for version_id, checksum in versions:
            marked = pass_elements(conn, version_id, checksum)
            if marked:
                instances |= set(_without_pass(conn, version_id, marked, limit))
    created = 0
    for instance_id in sorted(instances)[:limit]:
        try:
            created += len(issue_for_instance(sessions, instance_id, now=now))
        except Exception:  # noqa: BLE001 - one broken instance must not stop the others
            log.exception("visitor pass of instance %s: not issued by the sweep", instance_id)
    return created


def _without_pass(conn, version_id: int, marked: frozenset[str], limit: int) -> list[int]:
    has_pass = select(_grant.c.id).where(_grant.c.task_id == _task.c.id).exists()
    return conn.execute(select(_task.c.instance_id).join(_instance, _instance.c.id == _task.c.instance_id)
                        .where(_instance.c.version_id == version_id, _instance.c.status == "running",
                               _task.c.status == "open", _task.c.element_id.in_(sorted(marked)), ~has_pass)
                        .distinct().limit(limit)).scalars().all()
