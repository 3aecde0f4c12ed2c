"""Visitor passes and the visitor blacklist.

A pass is an `external_grant` row of kind `pass`, bound to the visit's instance and to its check-in
task (`task_id`, unique: one pass per check-in task), valid for the booked slot; entry is allowed
from `EARLY_ENTRY` before it. Its code can be shown again later without being stored: it is derived
from the instance secret and the task id (`pass_code`), and only its SHA-256 is stored.

The blacklist (`visitor_blacklist`) is matched by phone (digits only, exact) or by name and company
(case and spaces ignored).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from engine.config import instance_secret, load_settings
from engine.data import store
from engine.data.external_models import ExternalGrant, VisitorBlacklist
from engine.data.models import Person, ProcessInstance
from engine.errors import NotFoundError, TaskConflictError, msg
from engine.external.grants import token_hash

CODE_LENGTH = 8
EARLY_ENTRY = timedelta(minutes=30)  # a visitor may enter this long before the booked slot
PASS_SCOPES = ["view"]
# The process data a pass shows: the name field is package.yaml `portal.name_field` (given by the
# caller), company and phone have fixed names in every visitor package.
COMPANY_FIELD, PHONE_FIELD, HOST_FIELD = "visitor_company", "visitor_phone", "host"
STATES = ("upcoming", "valid", "expired", "revoked", "checked_in", "checked_out")

_grant = ExternalGrant.__table__
_blacklist = VisitorBlacklist.__table__


def _secret() -> str:
    settings = load_settings()
    return settings.secret_key or instance_secret(settings.instance_dir)


def pass_code(task_id: str, secret: str | None = None) -> str:
    """The pass code of a check-in task: 8 characters of base32(HMAC-SHA256(instance secret, "pass:" + task id)).
    The same every time, so the pass can be shown again; it is stored only hashed."""
    digest = hmac.new((secret or _secret()).encode(), f"pass:{task_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii")[:CODE_LENGTH]


def normalize_code(code: str | None) -> str:
    """A typed code as stored: letters and digits only, upper case ("abcd-efgh " -> "ABCDEFGH")."""
    return re.sub(r"[^0-9A-Za-z]", "", code or "").upper()


def qr_svg(text: str) -> str:
    """An SVG image (a string, no XML declaration) of a QR code holding `text` (segno, error level M)."""
    import segno  # only the pass page draws QR codes

    buffer = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buffer, kind="svg", xmldecl=False, scale=6, border=2)
    return buffer.getvalue().decode("utf-8")


def issue_pass(conn: Connection, *, instance_id: int, task_id: str, valid_from: datetime, valid_until: datetime,
               label: str | None, recipient: str | None, now: datetime) -> tuple[int, str]:
    """The pass of check-in task `task_id`: (grant id, code). Idempotent: a second call for the same
    task returns the pass issued first and changes nothing."""
    grant_id, code, _created = issue_pass_if_new(conn, instance_id=instance_id, task_id=task_id,
                                                 valid_from=valid_from, valid_until=valid_until, label=label,
                                                 recipient=recipient, now=now)
    return grant_id, code


def issue_pass_if_new(conn: Connection, *, instance_id: int, task_id: str, valid_from: datetime,
                      valid_until: datetime, label: str | None, recipient: str | None,
                      now: datetime) -> tuple[int, str, bool]:
    """`issue_pass`, also saying whether this call created the pass (so only its creator sends it)."""
    code = pass_code(task_id)
    found = _pass_of_task(conn, task_id)
    if found is not None:
        return found, code, False
    values = dict(kind="pass", token_hash=token_hash(normalize_code(code)), instance_id=instance_id, task_id=task_id,
                  scopes=list(PASS_SCOPES), label=(label or "")[:200] or None, recipient=recipient,
                  valid_from=valid_from, valid_until=valid_until, created_at=now, use_count=0)
    try:
        with conn.begin_nested():
            grant_id = conn.execute(insert(_grant).values(**values).returning(_grant.c.id)).scalar_one()
    except IntegrityError:  # another issuer got there first: theirs is the pass
        found = _pass_of_task(conn, task_id)
        if found is None:
            raise
        return found, code, False
    return grant_id, code, True


def revoke_other_passes(conn: Connection, instance_id: int, keep: int, now: datetime) -> int:
    """Revoke the instance's earlier passes that were never used (its check-in came round again, e.g.
    after a move): only the newest code opens the door. Returns how many were revoked."""
    return conn.execute(update(_grant).where(_grant.c.instance_id == instance_id, _grant.c.kind == "pass",
                                             _grant.c.id != keep, _grant.c.revoked_at.is_(None),
                                             _grant.c.checked_in_at.is_(None)).values(revoked_at=now)).rowcount


def _pass_of_task(conn: Connection, task_id: str) -> int | None:
    return conn.execute(select(_grant.c.id).where(_grant.c.task_id == task_id, _grant.c.kind == "pass")).scalar()


@dataclass(frozen=True)
class BlacklistEntry:
    """A person reception must not let in."""

    id: int
    name: str
    phone: str | None
    company: str | None
    reason: str
    added_by: str | None
    created_at: datetime


@dataclass(frozen=True)
class PassView:
    """A pass as reception and the pass page show it. `state`: one of `STATES`; `blacklisted`: the
    blacklist entry the visitor matches, or None. `host_name`/`host_name_en`: display names."""

    grant_id: int
    instance_id: int
    task_id: str
    visitor_name: str
    company: str
    phone: str
    host: str | None
    host_name: str
    host_name_en: str
    valid_from: datetime
    valid_until: datetime
    state: str
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    blacklisted: BlacklistEntry | None


def pass_state(row, now: datetime, instance_status: str | None = "running") -> str:
    """The state of a pass row at `now` (the one rule reception and the pass page use)."""
    if row.revoked_at is not None:
        return "revoked"
    if row.checked_out_at is not None:
        return "checked_out"
    if row.checked_in_at is not None:
        return "checked_in"
    if instance_status != "running":
        return "revoked"  # the visit was withdrawn, rejected or ended as a no-show
    if now < row.valid_from - EARLY_ENTRY:
        return "upcoming"
    if now > row.valid_until:
        return "expired"
    return "valid"


def look_up(conn: Connection, code: str, now: datetime, name_field: str = "visitor_name") -> PassView | None:
    """The pass a typed or scanned code opens, or None (unknown code). Two to four indexed queries."""
    normalized = normalize_code(code)
    if len(normalized) != CODE_LENGTH:
        return None
    row = conn.execute(select(_grant).where(_grant.c.token_hash == token_hash(normalized),
                                            _grant.c.kind == "pass")).first()
    return None if row is None else pass_view(conn, row, now, name_field)


def pass_of_instance(conn: Connection, instance_id: int, now: datetime,
                     name_field: str = "visitor_name") -> PassView | None:
    """The latest pass of a visit's instance, or None."""
    row = conn.execute(select(_grant).where(_grant.c.instance_id == instance_id, _grant.c.kind == "pass")
                       .order_by(_grant.c.id.desc()).limit(1)).first()
    return None if row is None else pass_view(conn, row, now, name_field)


def pass_view(conn: Connection, row, now: datetime, name_field: str = "visitor_name") -> PassView:
    """A pass row with the visit's data, its host and its blacklist match."""
    instance = conn.execute(select(ProcessInstance.status, ProcessInstance.initiator)
                            .where(ProcessInstance.id == row.instance_id)).first()
    data = store.read_process_data(conn, row.instance_id) or {}
    name, company, phone = (_text(data.get(name_field)), _text(data.get(COMPANY_FIELD)),
                            _text(data.get(PHONE_FIELD)))
    host = data.get(HOST_FIELD) or (instance.initiator if instance else None)
    person = conn.execute(select(Person.name, Person.name_en).where(Person.username == host)).first() if host else None
    return PassView(
        grant_id=row.id, instance_id=row.instance_id, task_id=row.task_id, visitor_name=name, company=company,
        phone=phone, host=host, host_name=person.name if person else "", host_name_en=(person.name_en or person.name)
        if person else "", valid_from=row.valid_from, valid_until=row.valid_until,
        state=pass_state(row, now, instance.status if instance else None), checked_in_at=row.checked_in_at,
        checked_out_at=row.checked_out_at, blacklisted=blacklist_match(conn, name, phone, company))


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def mark_checked_in(conn: Connection, grant_id: int, by: str, now: datetime) -> None:
    """Record the visitor's entry on the pass; TaskConflictError if it was checked in already."""
    _mark(conn, grant_id, _grant.c.checked_in_at.is_(None),
          {"checked_in_at": now, "checked_in_by": by, "last_used_at": now, "use_count": _grant.c.use_count + 1},
          msg("this visitor is already checked in"))


def mark_checked_out(conn: Connection, grant_id: int, by: str, now: datetime) -> None:
    """Record the visitor's exit on the pass; TaskConflictError unless checked in and not yet out."""
    _mark(conn, grant_id, _grant.c.checked_in_at.is_not(None) & _grant.c.checked_out_at.is_(None),
          {"checked_out_at": now, "checked_out_by": by, "last_used_at": now},
          msg("this visitor is not checked in, or is already checked out"))


def _mark(conn: Connection, grant_id: int, condition, values: dict, refusal) -> None:
    changed = conn.execute(update(_grant).where(_grant.c.id == grant_id, _grant.c.kind == "pass", condition)
                           .values(**values)).rowcount
    if changed != 1:
        if conn.execute(select(_grant.c.id).where(_grant.c.id == grant_id, _grant.c.kind == "pass")).first() is None:
            raise NotFoundError(msg("no visitor pass %(grant)s", grant=grant_id))
        raise TaskConflictError(refusal)


# -- the blacklist --------------------------------------------------------------------------------

def phone_digits(phone: str | None) -> str:
    """A phone number as compared: its digits only, a leading 86 country code dropped from 13 digits."""
    digits = re.sub(r"\D", "", phone or "")
    return digits[2:] if len(digits) == 13 and digits.startswith("86") else digits


def _folded(text: str | None) -> str:
    return re.sub(r"\s+", "", text or "").casefold()


def add_to_blacklist(conn: Connection, *, name: str, reason: str, phone: str | None = None,
                     company: str | None = None, added_by: str | None = None, now: datetime) -> int:
    """Add a person to the blacklist; returns the entry's id. The phone is stored as its digits."""
    name, reason = (name or "").strip(), (reason or "").strip()
    if not name or not reason:
        raise ValueError("a blacklist entry needs a name and a reason")
    return conn.execute(insert(_blacklist).values(
        name=name[:200], phone=phone_digits(phone) or None, company=(company or "").strip()[:300] or None,
        reason=reason[:500], active=True, added_by=added_by, created_at=now).returning(_blacklist.c.id)).scalar_one()


def remove_from_blacklist(conn: Connection, entry_id: int) -> bool:
    """Deactivate an entry (kept for the record); False when there is no active entry `entry_id`."""
    return conn.execute(update(_blacklist).where(_blacklist.c.id == entry_id, _blacklist.c.active.is_(True))
                        .values(active=False)).rowcount == 1


def blacklist(conn: Connection) -> list[BlacklistEntry]:
    """The active entries, newest first."""
    rows = conn.execute(select(_blacklist).where(_blacklist.c.active.is_(True))
                        .order_by(_blacklist.c.created_at.desc(), _blacklist.c.id.desc()))
    return [_entry(r) for r in rows]


def blacklist_match(conn: Connection, name: str | None, phone: str | None, company: str | None) -> BlacklistEntry | None:
    """The active entry a visitor matches: the same phone (digits), or the same name and company; or None."""
    digits, name_key, company_key = phone_digits(phone), _folded(name), _folded(company)
    if not digits and not name_key:
        return None
    query = select(_blacklist).where(_blacklist.c.active.is_(True)).order_by(_blacklist.c.id)
    if digits:
        hit = conn.execute(query.where(_blacklist.c.phone == digits)).first()
        if hit is not None:
            return _entry(hit)
    if not name_key or not company_key:
        return None
    # names are few per blacklist; compare folded in Python so spacing and case never let one through
    for row in conn.execute(query.where(_blacklist.c.company.is_not(None))):
        if _folded(row.name) == name_key and _folded(row.company) == company_key:
            return _entry(row)
    return None


def _entry(row) -> BlacklistEntry:
    return BlacklistEntry(id=row.id, name=row.name, phone=row.phone, company=row.company, reason=row.reason,
                          added_by=row.added_by, created_at=row.created_at)
