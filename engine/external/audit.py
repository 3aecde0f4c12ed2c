"""The access log (`external_access`): every access by an outsider and every refused attempt.

Redeeming a link or a code and signing in record here themselves (success and refusal); the portal
records the rest (view, fill, upload, download, submit) with `record`. Rows name ids without foreign
keys, so the log outlives what it names. Every function leaves the commit to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from engine.data.external_models import ExternalAccess
from engine.data.models import utcnow

from .identity import Principal

MAX_LIMIT = 1000


def record(conn: Connection, *, action: str, outcome: str, principal: Principal | None = None,
           grant_id: int | None = None, contact_id: int | None = None, party_id: int | None = None,
           instance_id: int | None = None, path: str | None = None, ip: str | None = None,
           user_agent: str | None = None, detail: str | None = None, now: datetime | None = None) -> None:
    """Append one row; ids not given are taken from `principal`. One insert."""
    if principal is not None:
        grant_id = grant_id if grant_id is not None else principal.grant_id
        contact_id = contact_id if contact_id is not None else principal.contact_id
        party_id = party_id if party_id is not None else principal.party_id
        instance_id = instance_id if instance_id is not None else principal.instance_id
    conn.execute(insert(ExternalAccess).values(
        at=now or utcnow(), action=action[:40], outcome=outcome[:20], grant_id=grant_id, contact_id=contact_id,
        party_id=party_id, instance_id=instance_id, path=(path or "")[:500] or None, ip=(ip or "")[:64] or None,
        user_agent=(user_agent or "")[:300] or None, detail=detail))


@dataclass(frozen=True)
class Access:
    """One row of the access log, for the admin page."""

    id: int
    at: datetime
    action: str
    outcome: str
    grant_id: int | None
    contact_id: int | None
    party_id: int | None
    instance_id: int | None
    path: str | None
    ip: str | None
    user_agent: str | None
    detail: str | None


def accesses(conn: Connection, *, party_id: int | None = None, grant_id: int | None = None,
             contact_id: int | None = None, limit: int = 200, before_id: int | None = None,
             outcome: str | None = None) -> list[Access]:
    """The newest accesses first, filtered by party, grant, contact or outcome (`ok`, `refused`: every
    other outcome, or one reason); page on with `before_id` (the last id shown). One query on the log's
    indexes."""
    query = select(ExternalAccess.__table__).order_by(ExternalAccess.id.desc()).limit(max(1, min(limit, MAX_LIMIT)))
    if party_id is not None:
        query = query.where(ExternalAccess.party_id == party_id)
    if grant_id is not None:
        query = query.where(ExternalAccess.grant_id == grant_id)
    if contact_id is not None:
        query = query.where(ExternalAccess.contact_id == contact_id)
    if before_id is not None:
        query = query.where(ExternalAccess.id < before_id)
    if outcome == "refused":
        query = query.where(ExternalAccess.outcome != "ok")
    elif outcome:
        query = query.where(ExternalAccess.outcome == outcome)
    return [Access(**row) for row in conn.execute(query).mappings()]
