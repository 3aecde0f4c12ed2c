"""Scoped links, invitation codes and visitor passes: what an outsider enters with.

A link carries a random 256-bit token (`/portal/s/TOKEN`); a code is short, typed on a phone. Only
the SHA-256 of either is stored (`external_grant.token_hash`); the token or code is returned once
to the caller, who e-mails or shows it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import Connection, insert

from engine.data.external_models import ExternalGrant
from engine.data.models import utcnow

LINK_PATH = "/portal/s/"  # the portal's page for a link: LINK_PATH + token


def token_hash(secret: str) -> str:
    """The stored digest of a link token or of a normalized code."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def link_url(base_url: str, token: str) -> str:
    return base_url.rstrip("/") + LINK_PATH + token


def issue_link(conn: Connection, *, scopes: list[str], valid_until: datetime, instance_id: int | None = None,
               task_id: str | None = None, party_id: int | None = None, contact_id: int | None = None,
               process_key: str | None = None, label: str | None = None, recipient: str | None = None,
               created_by: str | None = None, now: datetime | None = None) -> tuple[int, str]:
    """Store a new link grant; returns (grant id, token). The token is stored nowhere."""
    token = secrets.token_urlsafe(32)
    grant_id = conn.execute(insert(ExternalGrant).values(
        kind="link", token_hash=token_hash(token), scopes=list(scopes), valid_from=now or utcnow(),
        valid_until=valid_until, instance_id=instance_id, task_id=task_id, party_id=party_id,
        contact_id=contact_id, process_key=process_key, label=label, recipient=recipient,
        created_by=created_by, created_at=now or utcnow(), use_count=0,
    ).returning(ExternalGrant.id)).scalar_one()
    return grant_id, token
