"""Scoped links, invitation codes and visitor passes: what an outsider enters with.

A link carries a random 256-bit token (`/portal/s/TOKEN`); a code is short, typed on a phone
(`ABCD-EFGH`: 8 characters of an alphabet without 0/O/1/I/L). Only the SHA-256 of either is stored
(`external_grant.token_hash`); the token or code is returned once to the caller, who e-mails or shows it.

Redeeming (`redeem_link`, `redeem_code`) checks the grant (known, not a visitor's pass, not revoked,
within its validity) and that its party, contact and the case's party are still active, counts the use,
logs the attempt (`audit`) and returns the `Principal`; the caller commits. A refusal raises
`ExternalAccessError` after writing its access log row (and for a wrong code its throttle count) on
a connection of its own, committed at once: it stands whatever the caller's transaction does, and
the caller's transaction is left alone. Call these before writing anything in that transaction (on
SQLite the refusal's writer would wait for it).
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, insert, or_, select, update
from sqlalchemy.orm import aliased

from engine.data.external_models import ExternalCase, ExternalContact, ExternalGrant, ExternalParty
from engine.data.models import utcnow

from . import audit
from . import throttle as code_throttle
from .errors import ExternalAccessError
from .identity import SCOPES, Principal, grant_identity

LINK_PATH = "/portal/s/"  # the portal's page for a link: LINK_PATH + token
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud and typed without doubt
CODE_LENGTH = 8
VISITOR_NAME = {"zh": "外部访客", "en": "External visitor"}
_DASHES = dict.fromkeys(map(ord, " -\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\t\r\n"))


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


# -- codes -----------------------------------------------------------------------------------------

def normalize_code(code: str) -> str:
    """What a typed code is compared as: full-width forms folded (NFKC), spaces and dashes dropped, upper-case."""
    return unicodedata.normalize("NFKC", code or "").translate(_DASHES).upper()


def format_code(code: str) -> str:
    """`ABCDEFGH` -> `ABCD-EFGH`, as shown and printed."""
    return f"{code[:4]}-{code[4:]}"


def issue_code(conn: Connection, *, scopes: list[str], valid_until: datetime, instance_id: int | None = None,
               party_id: int | None = None, contact_id: int | None = None, process_key: str | None = None,
               label: str | None = None, recipient: str | None = None, created_by: str | None = None,
               host: str | None = None, now: datetime | None = None) -> tuple[int, str]:
    """Store a new invitation code; returns (grant id, code shown as `ABCD-EFGH`). The code is stored nowhere.
    `host`: the employee a visit asked for with it is with, when not its issuer `created_by`."""
    for _ in range(10):  # 31^8 codes: a clash with a stored one is rare, retried rather than raised
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        digest = token_hash(code)
        if conn.scalar(select(ExternalGrant.id).where(ExternalGrant.token_hash == digest)) is None:
            break
    grant_id = conn.execute(insert(ExternalGrant).values(
        kind="code", token_hash=digest, scopes=list(scopes), valid_from=now or utcnow(), valid_until=valid_until,
        instance_id=instance_id, party_id=party_id, contact_id=contact_id, process_key=process_key, label=label,
        recipient=recipient, created_by=created_by, host=host if host != created_by else None,
        created_at=now or utcnow(), use_count=0,
    ).returning(ExternalGrant.id)).scalar_one()
    return grant_id, format_code(code)


def host_of_code(conn: Connection, grant_id: int) -> str | None:
    """The username of the host a start-form code names: the one it was issued on behalf of, else its issuer."""
    return conn.scalar(select(func.coalesce(ExternalGrant.host, ExternalGrant.created_by))
                       .where(ExternalGrant.id == grant_id))


# -- redeeming -------------------------------------------------------------------------------------

_party, _case_party = aliased(ExternalParty), aliased(ExternalParty)
_GRANT_ROW = (
    select(ExternalGrant.id, ExternalGrant.kind, ExternalGrant.party_id, ExternalGrant.contact_id,
           ExternalGrant.instance_id, ExternalGrant.process_key, ExternalGrant.scopes, ExternalGrant.label,
           ExternalGrant.valid_from, ExternalGrant.valid_until, ExternalGrant.revoked_at,
           _party.kind.label("party_kind"), _party.active.label("party_active"), _party.name.label("party_name"),
           _party.name_en.label("party_name_en"), ExternalContact.active.label("contact_active"),
           ExternalContact.locale.label("contact_locale"), ExternalCase.kind.label("case_kind"),
           ExternalCase.name.label("case_name"), _case_party.active.label("case_party_active"))
    .select_from(ExternalGrant)
    .outerjoin(ExternalContact, ExternalContact.id == ExternalGrant.contact_id)
    .outerjoin(_party, _party.id == func.coalesce(ExternalGrant.party_id, ExternalContact.party_id))
    .outerjoin(ExternalCase, ExternalCase.instance_id == ExternalGrant.instance_id)
    .outerjoin(_case_party, _case_party.id == ExternalCase.party_id))


def grant_row_query():
    """The one query that reads a grant with what decides whether it is usable (sessions add their filter)."""
    return _GRANT_ROW


def refusal(row, now: datetime) -> str | None:
    """Why a row of `grant_row_query` cannot be used now (unknown, revoked, not_yet, expired), or None."""
    if row is None or row.kind == "pass":
        return "unknown"
    if (row.revoked_at is not None or row.party_active is False or row.contact_active is False
            or row.case_party_active is False):
        return "revoked"
    if row.valid_from > now:
        return "not_yet"
    if row.valid_until <= now:
        return "expired"
    return None


def principal_of(row, lang: str = "zh") -> Principal:
    """The principal a usable grant row stands for."""
    name = row.label or (row.party_name_en or row.party_name if lang == "en" else row.party_name) \
        or row.case_name or VISITOR_NAME.get(lang, VISITOR_NAME["zh"])
    return Principal(identity=grant_identity(row.id), kind=row.party_kind or row.case_kind or "visitor",
                     party_id=row.party_id, contact_id=row.contact_id, grant_id=row.id, instance_id=row.instance_id,
                     process_key=row.process_key, scopes=tuple(s for s in SCOPES if s in (row.scopes or ())),
                     display_name=name, locale=row.contact_locale or "zh")


def redeem_link(conn: Connection, token: str, now: datetime, *, client: str | None = None,
                user_agent: str | None = None, lang: str = "zh") -> Principal:
    """The principal of a link's token (`client` is the IP address; `lang` the page's language, for the
    principal's display name); ExternalAccessError, logged, when it cannot be used."""
    if not token or len(token) > 200:
        return _refuse(conn, "unknown", None, "enter_link", client, user_agent, now)
    return _redeem(conn, token_hash(token), "enter_link", now, client, user_agent, kinds=("link",), lang=lang)


def redeem_code(conn: Connection, code: str, now: datetime, *, client: str | None = None,
                user_agent: str | None = None, lang: str = "zh") -> Principal:
    """The principal of a typed invitation code; wrong codes are throttled per client (IP) and per code,
    and refused with reason `throttled` while a key waits."""
    normalized = normalize_code((code or "")[:64])[:64]
    subject = code_throttle.code_subject(normalized)
    try:
        code_throttle.check(conn, subject, client, now)
    except ExternalAccessError as exc:
        return _refuse(conn, "throttled", None, "enter_code", client, user_agent, now, error=exc)
    principal = _redeem(conn, token_hash(normalized), "enter_code", now, client, user_agent, kinds=("code",),
                        subject=subject, lang=lang)
    code_throttle.success(conn, subject, client)
    return principal


def _redeem(conn: Connection, digest: str, action: str, now: datetime, client, user_agent, *, kinds,
            subject: str | None = None, lang: str = "zh") -> Principal:
    row = conn.execute(_GRANT_ROW.where(ExternalGrant.token_hash == digest)).first()
    reason = "unknown" if row is not None and row.kind not in kinds else refusal(row, now)
    if reason is not None:  # a wrong code is counted; an expired or withdrawn one was not guessed
        return _refuse(conn, reason, row.id if row is not None and reason != "unknown" else None, action,
                       client, user_agent, now, subject=subject if reason == "unknown" else None)
    conn.execute(update(ExternalGrant).where(ExternalGrant.id == row.id)
                 .values(use_count=ExternalGrant.use_count + 1, last_used_at=now))
    principal = principal_of(row, lang)
    audit.record(conn, action=action, outcome="ok", principal=principal, ip=client, user_agent=user_agent, now=now)
    return principal


def _refuse(conn: Connection, reason: str, grant_id: int | None, action: str, client, user_agent, now, *,
            subject: str | None = None, error: ExternalAccessError | None = None):
    with conn.engine.begin() as own:  # committed now, whatever the caller's transaction does
        if subject is not None:
            code_throttle.failure(own, subject, client, now)
        audit.record(own, action=action, outcome=reason, grant_id=grant_id, ip=client, user_agent=user_agent,
                     now=now)
    raise error or ExternalAccessError(reason)


# -- managing --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GrantInfo:
    """A grant as the admin pages list it (never its token)."""

    id: int
    kind: str
    party_id: int | None
    contact_id: int | None
    instance_id: int | None
    task_id: str | None
    process_key: str | None
    scopes: tuple[str, ...]
    label: str | None
    recipient: str | None
    valid_from: datetime
    valid_until: datetime
    created_by: str | None
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    last_used_at: datetime | None
    use_count: int
    host: str | None = None  # a visitor's code issued on behalf of this host (None: the issuer is the host)


def revoke_grant(conn: Connection, grant_id: int, by: str | None, now: datetime) -> bool:
    """Withdraw a grant and end its portal sessions; False when it was already revoked or does not exist."""
    from . import sessions  # sessions reads grants' rows

    done = conn.execute(update(ExternalGrant).where(ExternalGrant.id == grant_id, ExternalGrant.revoked_at.is_(None))
                        .values(revoked_at=now, revoked_by=by)).rowcount == 1
    sessions.revoke_where(conn, now, grant_ids=[grant_id])
    return done


def grant_exists(conn: Connection, grant_id: int) -> bool:
    return conn.scalar(select(ExternalGrant.id).where(ExternalGrant.id == grant_id)) is not None


def revoke_grants_where(conn: Connection, by: str | None, now: datetime, *, party_id: int | None = None,
                        contact_id: int | None = None) -> list[int]:
    """Revoke every live grant of a party (its own, its contacts' and its cases') or of a contact; returns
    their ids."""
    if party_id is not None:  # the party's own grants, its contacts' and the links of its cases
        owned = or_(ExternalGrant.party_id == party_id,
                    ExternalGrant.contact_id.in_(select(ExternalContact.id).where(ExternalContact.party_id == party_id)),
                    ExternalGrant.instance_id.in_(
                        select(ExternalCase.instance_id).where(ExternalCase.party_id == party_id)))
    else:
        owned = ExternalGrant.contact_id == contact_id
    ids = list(conn.scalars(select(ExternalGrant.id).where(ExternalGrant.revoked_at.is_(None), owned)))
    if ids:
        conn.execute(update(ExternalGrant).where(ExternalGrant.id.in_(ids)).values(revoked_at=now, revoked_by=by))
    return ids


def grants_of(conn: Connection, *, instance_id: int | None = None, party_id: int | None = None,
              process_key: str | None = None, created_by: str | None = None, kind: str | None = None,
              bound_to_process: bool = False, held_by: str | None = None) -> list[GrantInfo]:
    """The grants of an instance, of a party, bound to a start form (`bound_to_process`: to any), issued by
    one person (`created_by`) or held by one (`held_by`: issued by them or on their behalf, `host`), of one kind
    or all (passes included), newest first."""
    query = select(*(getattr(ExternalGrant, f) for f in GrantInfo.__dataclass_fields__)).order_by(
        ExternalGrant.id.desc())
    if instance_id is not None:
        query = query.where(ExternalGrant.instance_id == instance_id)
    if party_id is not None:
        query = query.where(ExternalGrant.party_id == party_id)
    if process_key is not None:
        query = query.where(ExternalGrant.process_key == process_key)
    if bound_to_process:
        query = query.where(ExternalGrant.process_key.is_not(None))
    if created_by is not None:
        query = query.where(ExternalGrant.created_by == created_by)
    if held_by is not None:
        query = query.where(or_(ExternalGrant.created_by == held_by, ExternalGrant.host == held_by))
    if kind is not None:
        query = query.where(ExternalGrant.kind == kind)
    return [GrantInfo(**{**row, "scopes": tuple(row["scopes"] or ())}) for row in conn.execute(query).mappings()]
