"""Portal sessions (`external_session`): a browser that entered with a link or a code, or a contact
who signed in. The cookie holds a random token (256 bits), the row its SHA-256, as for employees
(`engine.people.sessions`), but in a table, a cookie and a principal of their own: a portal session
is never an employee's session.

`load` re-reads in ONE query what decides whether the session still stands: the session row, its
grant (not revoked, within its validity), its contact and the parties involved (still active). A
party or contact revoked, a grant withdrawn: its sessions end on the next request even before
`revoke_where` marks them. Every function leaves the commit to the caller.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, insert, or_, select, update
from sqlalchemy.orm import aliased

from engine.data.external_models import (
    ExternalCase,
    ExternalContact,
    ExternalGrant,
    ExternalParty,
    ExternalSession,
)

from . import grants
from .identity import SCOPES, Principal, contact_identity

DEFAULT_LIFETIME = timedelta(hours=8)
TOUCH_EVERY = timedelta(minutes=5)
KEEP_ENDED = timedelta(days=30)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def start(conn: Connection, principal: Principal, *, ip: str | None, user_agent: str | None, now: datetime,
          lifetime: timedelta = DEFAULT_LIFETIME) -> str:
    """Open a session for a contact's or a grant's principal; returns the cookie's token (stored nowhere).
    A grant's session ends no later than the grant's validity."""
    token = secrets.token_urlsafe(32)
    expires = now + lifetime
    if principal.contact_id is None and principal.grant_id is None:
        raise ValueError("a portal session needs a contact or a grant")
    if principal.grant_id is not None:
        until = conn.scalar(select(ExternalGrant.valid_until).where(ExternalGrant.id == principal.grant_id))
        expires = min(expires, until) if until is not None else expires
    owner = (ExternalSession.grant_id == principal.grant_id if principal.grant_id is not None
             else ExternalSession.contact_id == principal.contact_id)
    conn.execute(delete(ExternalSession).where(owner, ExternalSession.expires_at < now - KEEP_ENDED))  # stays small
    conn.execute(insert(ExternalSession).values(
        id=_hash(token), contact_id=None if principal.grant_id is not None else principal.contact_id,
        grant_id=principal.grant_id, created_at=now, last_seen_at=now, expires_at=expires,
        ip=(ip or "")[:64] or None, user_agent=(user_agent or "")[:300] or None))
    return token


_party, _case_party = aliased(ExternalParty), aliased(ExternalParty)
# the labels of `grants.grant_row_query`, so `grants.refusal` and `grants.principal_of` read a grant's session
_LOAD = (
    select(ExternalSession.contact_id.label("session_contact_id"), ExternalSession.expires_at.label("session_expires_at"),
           ExternalSession.revoked_at.label("session_revoked_at"),
           ExternalSession.last_seen_at.label("session_last_seen_at"),
           ExternalGrant.id, ExternalGrant.kind, ExternalGrant.party_id, ExternalGrant.contact_id,
           ExternalGrant.instance_id, ExternalGrant.process_key, ExternalGrant.scopes, ExternalGrant.label,
           ExternalGrant.valid_from, ExternalGrant.valid_until, ExternalGrant.revoked_at,
           _party.id.label("contact_party_id"), _party.kind.label("party_kind"), _party.active.label("party_active"),
           _party.name.label("party_name"), _party.name_en.label("party_name_en"),
           ExternalContact.active.label("contact_active"), ExternalContact.locale.label("contact_locale"),
           ExternalContact.name.label("contact_name"), ExternalCase.kind.label("case_kind"),
           ExternalCase.name.label("case_name"), _case_party.active.label("case_party_active"))
    .select_from(ExternalSession)
    .outerjoin(ExternalGrant, ExternalGrant.id == ExternalSession.grant_id)
    .outerjoin(ExternalContact, ExternalContact.id == func.coalesce(ExternalSession.contact_id, ExternalGrant.contact_id))
    .outerjoin(_party, _party.id == func.coalesce(ExternalGrant.party_id, ExternalContact.party_id))
    .outerjoin(ExternalCase, ExternalCase.instance_id == ExternalGrant.instance_id)
    .outerjoin(_case_party, _case_party.id == ExternalCase.party_id))


def load(conn: Connection, token: str, now: datetime, lang: str = "zh") -> Principal | None:
    """The principal of a live session, or None (unknown, ended, expired, or what it stands on revoked).
    One query; `last_seen_at` is written at most every TOUCH_EVERY."""
    if not token or len(token) > 200:
        return None
    key = _hash(token)
    row = conn.execute(_LOAD.where(ExternalSession.id == key)).first()
    if row is None or row.session_revoked_at is not None or row.session_expires_at <= now:
        return None
    if row.session_contact_id is not None:
        if not (row.contact_active and row.party_active):
            return None
        principal = contact_principal(row.session_contact_id, row.contact_party_id, row.party_kind,
                                      row.party_name, row.party_name_en, row.contact_name, row.contact_locale, lang)
    elif row.id is None or grants.refusal(row, now) is not None:
        return None
    else:
        principal = grants.principal_of(row, lang)
    if now - row.session_last_seen_at >= TOUCH_EVERY:
        conn.execute(update(ExternalSession).where(ExternalSession.id == key).values(last_seen_at=now))
    return principal


def contact_principal(contact_id: int, party_id: int, kind: str, party_name: str, party_name_en: str | None,
                      contact_name: str, locale: str, lang: str = "zh") -> Principal:
    """A signed-in contact: every scope, on the cases of their party."""
    party = (party_name_en or party_name) if lang == "en" else party_name
    return Principal(identity=contact_identity(contact_id), kind=kind, party_id=party_id, contact_id=contact_id,
                     scopes=SCOPES, display_name=f"{party} · {contact_name}", locale=locale or "zh")


def revoke(conn: Connection, token: str, now: datetime) -> bool:
    """End the session of `token` (signing out); False when there was no live one."""
    return conn.execute(update(ExternalSession).where(ExternalSession.id == _hash(token or ""),
                                                      ExternalSession.revoked_at.is_(None))
                        .values(revoked_at=now)).rowcount == 1


def revoke_where(conn: Connection, now: datetime, *, grant_ids: list[int] | None = None,
                 contact_ids: list[int] | None = None) -> int:
    """End every live session of these grants or contacts (a revocation); returns how many."""
    conditions = []
    if grant_ids:
        conditions.append(ExternalSession.grant_id.in_(grant_ids))
    if contact_ids:
        conditions.append(ExternalSession.contact_id.in_(contact_ids))
    if not conditions:
        return 0
    return conn.execute(update(ExternalSession).where(ExternalSession.revoked_at.is_(None), or_(*conditions))
                        .values(revoked_at=now)).rowcount
