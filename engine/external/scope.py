"""Which instances an outsider may touch: the one owner of that rule (issue 17).

- a contact (`ext:contact:ID`): the instances whose `external_case.party_id` is the contact's party,
  while the contact and the party are active;
- a grant (`ext:grant:ID`): its `instance_id` only (a link or a code), the instances it started itself
  (a start-form grant, `process_key`, even when it names the party it files them under), or, bound to a
  party and neither an instance nor a start form, the party's instances like a contact (read-only unless
  its scopes say otherwise);
- always: the grant not revoked, now within `[valid_from, valid_until]`, its party and contact active.

The rows are read on every call (never from the `Principal`, which a cookie may hold for hours), so
revoking a grant or deactivating a party or a contact takes effect on the next request.
Scopes: `view` (the progress page), `fill` (the open external task of the instance), `upload`,
`submit` (start a new request).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, and_, exists, false, literal, or_, select

from engine.data.external_models import ExternalCase, ExternalContact, ExternalGrant, ExternalParty
from engine.data.models import (
    ProcessDefinition,
    ProcessInstance,
    ProcessVersion,
    TaskCandidate,
    WorkTask,
    utcnow,
)
from engine.external.identity import Principal, grant_identity

_case, _contact, _party, _grant = (ExternalCase.__table__, ExternalContact.__table__, ExternalParty.__table__,
                                   ExternalGrant.__table__)


def _contact_active(contact_id: int):
    return exists().where(_contact.c.id == contact_id, _contact.c.active.is_(True),
                          exists().where(_party.c.id == _contact.c.party_id, _party.c.active.is_(True)))


def _grant_valid(grant_id: int, now: datetime):
    """The grant's row: not revoked, within its window, its party and contact (when it has them) active."""
    return exists().where(
        _grant.c.id == grant_id, _grant.c.revoked_at.is_(None), _grant.c.valid_from <= now,
        _grant.c.valid_until >= now,
        or_(_grant.c.party_id.is_(None), exists().where(_party.c.id == _grant.c.party_id, _party.c.active.is_(True))),
        or_(_grant.c.contact_id.is_(None),
            exists().where(_contact.c.id == _grant.c.contact_id, _contact.c.active.is_(True))))


def active(conn, principal: Principal, now: datetime | None = None) -> bool:
    """Whether the principal's contact or grant is still good (the portal asks on every request)."""
    now = now or utcnow()
    if principal.contact_id is not None and principal.grant_id is None:
        return bool(conn.execute(select(_contact_active(principal.contact_id))).scalar())
    if principal.grant_id is not None:
        return bool(conn.execute(select(_grant_valid(principal.grant_id, now))).scalar())
    return False


def case_ids(principal: Principal, now: datetime | None = None) -> Select:
    """A SELECT of the ids of the instances the principal may see (empty when it is no longer good):
    for lists, `... WHERE process_instance.id IN (case_ids(p))`."""
    now = now or utcnow()
    if principal.grant_id is None:
        if principal.contact_id is None or principal.party_id is None:
            return select(_case.c.instance_id).where(false())
        return select(_case.c.instance_id).where(_case.c.party_id == principal.party_id,
                                                 _contact_active(principal.contact_id))
    grant = _grant.alias("scope_grant")
    by_instance = select(grant.c.instance_id.label("instance_id")).where(
        grant.c.id == principal.grant_id, grant.c.instance_id.is_not(None))
    started = select(ProcessInstance.id.label("instance_id")).where(
        ProcessInstance.initiator == grant_identity(principal.grant_id))
    of_party = select(_case.c.instance_id.label("instance_id")).join(  # not a start-form code's: what it started
        grant, and_(grant.c.id == principal.grant_id, grant.c.instance_id.is_(None), grant.c.process_key.is_(None),
                    grant.c.party_id.is_not(None), grant.c.party_id == _case.c.party_id))
    union = by_instance.union(started, of_party).subquery()
    return select(union.c.instance_id).where(_grant_valid(principal.grant_id, now))


def may_view_case(conn, principal: Principal, instance_id: int, now: datetime | None = None) -> bool:
    """Scope `view` and the instance in the principal's cases."""
    return principal.allows("view") and _in_scope(conn, principal, instance_id, now)


def may_fill_task(conn, principal: Principal, task_id: str, now: datetime | None = None) -> bool:
    """Scope `fill`; the task open, offered to the principal's group, its instance running and in scope."""
    if not principal.allows("fill"):
        return False
    row = conn.execute(select(WorkTask.instance_id).join(ProcessInstance, ProcessInstance.id == WorkTask.instance_id)
                       .where(WorkTask.id == task_id, WorkTask.status == "open",
                              ProcessInstance.status == "running",
                              exists().where(TaskCandidate.task_id == WorkTask.id, TaskCandidate.kind == "group",
                                             TaskCandidate.value.in_(principal.groups)))).first()
    return row is not None and _in_scope(conn, principal, row[0], now)


def _in_scope(conn, principal: Principal, instance_id: int, now: datetime | None) -> bool:
    ids = case_ids(principal, now).subquery()
    return conn.execute(select(literal(1)).where(ids.c.instance_id == instance_id).limit(1)).first() is not None


def portal_settings(package: dict | None) -> dict:
    """package.yaml `portal` of a stored package (`{}` when it has none)."""
    portal = ((package or {}).get("meta") or {}).get("portal")
    return portal if isinstance(portal, dict) else {}


def may_start(conn, principal: Principal, process_key: str, now: datetime | None = None) -> bool:
    """A contact: scope `submit`, the latest version's package has `portal.start: true` and `portal.party`
    is the contact's party kind. A grant: scope `submit`, bound to this very `process_key`."""
    if not principal.allows("submit") or not active(conn, principal, now):
        return False
    if principal.grant_id is not None:
        bound = conn.execute(select(_grant.c.process_key).where(_grant.c.id == principal.grant_id)).scalar()
        return bound == process_key
    portal = portal_settings(latest_package(conn, process_key))
    return portal.get("start") is True and portal.get("party") == principal.kind


def latest_package(conn, process_key: str) -> dict | None:
    """The stored package of the latest version of `process_key` (None: not deployed)."""
    return conn.execute(select(ProcessVersion.package).join(ProcessDefinition,
                                                           ProcessDefinition.id == ProcessVersion.definition_id)
                        .where(ProcessDefinition.key == process_key)
                        .order_by(ProcessVersion.number.desc()).limit(1)).scalar()

