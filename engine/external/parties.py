"""External parties (suppliers, customers) and their contacts, managed like the org chart.

A party's `key` is what process data and imports name it by; it never changes. E-mail addresses
are stored lower-case. Revoking a party or a contact is immediate and complete: it is marked
inactive, every live grant it holds is withdrawn (for a party also the links of its cases), its
portal sessions end and its unused sign-in codes are voided, in the caller's transaction.
Reactivating lets it sign in again; withdrawn grants stay withdrawn (new ones are issued).
Every function leaves the commit to the caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select, update

from engine.data.external_models import ExternalContact, ExternalParty, ExternalSignInCode
from engine.data.models import utcnow
from engine.errors import LiaisonError, NotFoundError, msg

from . import grants, sessions
from .identity import PARTY_KINDS

LOCALES = ("zh", "en")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
KEY_MAX, NAME_MAX, CONTACT_NAME_MAX, EMAIL_MAX, PHONE_MAX = 100, 300, 200, 254, 50


class PartyError(LiaisonError):
    """A party or contact was refused; `reason` says why (bad_kind, bad_key, key_taken, bad_name, bad_email,
    email_taken, bad_locale, too_long)."""

    def __init__(self, reason: str, message):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class PartyInfo:
    id: int
    kind: str
    key: str
    name: str
    name_en: str | None
    active: bool
    contacts: int = 0  # active contacts

    def display(self, lang: str = "zh") -> str:
        return (self.name_en or self.name) if lang == "en" else self.name


@dataclass(frozen=True)
class ContactInfo:
    id: int
    party_id: int
    name: str
    email: str
    phone: str | None
    locale: str
    active: bool
    last_sign_in_at: datetime | None


@dataclass(frozen=True)
class Revoked:
    """What a revocation ended."""

    grants: int
    sessions: int


# -- checks ----------------------------------------------------------------------------------------

def check_kind(kind: str) -> str:
    kind = (kind or "").strip().lower()
    if kind not in PARTY_KINDS:
        raise PartyError("bad_kind", msg("The kind must be supplier or customer, not `%(kind)s`.", kind=kind))
    return kind


def check_key(key: str) -> str:
    key = (key or "").strip()
    if not key or len(key) > KEY_MAX or re.search(r"\s", key):
        raise PartyError("bad_key", msg("A party key has 1 to %(n)s characters and no spaces.", n=KEY_MAX))
    return key


def check_name(name: str | None, limit: int, required: bool = True) -> str | None:
    name = (name or "").strip()
    if required and not name:
        raise PartyError("bad_name", msg("The name is empty."))
    if len(name) > limit:
        raise PartyError("too_long", msg("The name is longer than %(n)s characters.", n=limit))
    return name or None


def check_email(email: str) -> str:
    email = (email or "").strip().lower()
    if len(email) > EMAIL_MAX or not EMAIL.match(email):
        raise PartyError("bad_email", msg("`%(value)s` is not an e-mail address.", value=email))
    return email


def check_locale(locale: str | None) -> str:
    locale = (locale or "zh").strip().lower()[:2]
    if locale not in LOCALES:
        raise PartyError("bad_locale", msg("The language must be zh or en."))
    return locale


def check_phone(phone: str | None) -> str | None:
    phone = (phone or "").strip()
    if len(phone) > PHONE_MAX:
        raise PartyError("too_long", msg("The phone number is longer than %(n)s characters.", n=PHONE_MAX))
    return phone or None


# -- parties ---------------------------------------------------------------------------------------

def create_party(conn: Connection, *, kind: str, key: str, name: str, name_en: str | None = None,
                 now: datetime | None = None) -> int:
    """Add a supplier or customer; returns its id. A taken key is refused."""
    kind, key = check_kind(kind), check_key(key)
    name, name_en = check_name(name, NAME_MAX), check_name(name_en, NAME_MAX, required=False)
    if conn.scalar(select(ExternalParty.id).where(ExternalParty.key == key)) is not None:
        raise PartyError("key_taken", msg("The party key %(key)s is taken.", key=key))
    now = now or utcnow()
    return conn.execute(insert(ExternalParty).values(kind=kind, key=key, name=name, name_en=name_en, active=True,
                                                     created_at=now, updated_at=now)
                        .returning(ExternalParty.id)).scalar_one()


def update_party(conn: Connection, party_id: int, *, kind: str | None = None, name: str | None = None,
                 name_en: str | None = None, now: datetime | None = None) -> None:
    """Change a party's kind or names (its key stays); None leaves a value as it is."""
    _party(conn, party_id)
    values: dict = {"updated_at": now or utcnow()}
    if kind is not None:
        values["kind"] = check_kind(kind)
    if name is not None:
        values["name"] = check_name(name, NAME_MAX)
    if name_en is not None:
        values["name_en"] = check_name(name_en, NAME_MAX, required=False)
    conn.execute(update(ExternalParty).where(ExternalParty.id == party_id).values(**values))


def _party(conn: Connection, party_id: int) -> PartyInfo:
    row = conn.execute(select(*_PARTY_COLUMNS).where(ExternalParty.id == party_id)).first()
    if row is None:
        raise NotFoundError(msg("There is no party %(id)s.", id=party_id))
    return PartyInfo(*row)


def get_party(conn: Connection, party_id: int) -> PartyInfo:
    """One party (active or not); NotFoundError when there is none. Its `contacts` count is not filled."""
    return _party(conn, party_id)


_PARTY_COLUMNS = (ExternalParty.id, ExternalParty.kind, ExternalParty.key, ExternalParty.name, ExternalParty.name_en,
                  ExternalParty.active)


def party_by_key(conn: Connection, key: str) -> PartyInfo | None:
    """The party named by `key` (active or not), with its active contacts counted."""
    parties = _list(conn, ExternalParty.key == (key or "").strip())
    return parties[0] if parties else None


def list_parties(conn: Connection, *, kind: str | None = None, active: bool | None = None,
                 search: str | None = None) -> list[PartyInfo]:
    """Parties by key, each with its number of active contacts; one query."""
    where = []
    if kind:
        where.append(ExternalParty.kind == kind)
    if active is not None:
        where.append(ExternalParty.active == active)
    if search:
        like = f"%{search.strip().lower()}%"
        where.append(func.lower(ExternalParty.key).like(like) | func.lower(ExternalParty.name).like(like)
                     | func.lower(func.coalesce(ExternalParty.name_en, "")).like(like))
    return _list(conn, *where)


def _list(conn: Connection, *where) -> list[PartyInfo]:
    counts = (select(ExternalContact.party_id, func.count().label("n")).where(ExternalContact.active)
              .group_by(ExternalContact.party_id).subquery())
    query = (select(*_PARTY_COLUMNS, func.coalesce(counts.c.n, 0))
             .outerjoin(counts, counts.c.party_id == ExternalParty.id).where(*where).order_by(ExternalParty.key))
    return [PartyInfo(*row) for row in conn.execute(query)]


def revoke_party(conn: Connection, party_id: int, by: str | None, now: datetime) -> Revoked:
    """Mark the party inactive, withdraw its grants (and its cases' links), end its contacts' and grants'
    sessions and void their sign-in codes, at once."""
    _party(conn, party_id)
    conn.execute(update(ExternalParty).where(ExternalParty.id == party_id).values(active=False, updated_at=now))
    grant_ids = grants.revoke_grants_where(conn, by, now, party_id=party_id)
    contact_ids = list(conn.scalars(select(ExternalContact.id).where(ExternalContact.party_id == party_id)))
    _void_codes(conn, contact_ids, now)
    ended = sessions.revoke_where(conn, now, grant_ids=grant_ids, contact_ids=contact_ids)
    return Revoked(len(grant_ids), ended)


def reactivate_party(conn: Connection, party_id: int, now: datetime) -> None:
    """Let the party's active contacts sign in again (withdrawn grants stay withdrawn)."""
    _party(conn, party_id)
    conn.execute(update(ExternalParty).where(ExternalParty.id == party_id).values(active=True, updated_at=now))


# -- contacts --------------------------------------------------------------------------------------

def add_contact(conn: Connection, party_id: int, *, name: str, email: str, phone: str | None = None,
                locale: str | None = "zh", now: datetime | None = None) -> int:
    """Add a contact to a party; returns its id. The same address twice in one party is refused."""
    _party(conn, party_id)
    name, email = check_name(name, CONTACT_NAME_MAX), check_email(email)
    _check_email_free(conn, party_id, email, None)
    return conn.execute(insert(ExternalContact).values(
        party_id=party_id, name=name, email=email, phone=check_phone(phone), locale=check_locale(locale),
        active=True, created_at=now or utcnow()).returning(ExternalContact.id)).scalar_one()


def update_contact(conn: Connection, contact_id: int, *, name: str | None = None, email: str | None = None,
                   phone: str | None = None, locale: str | None = None) -> None:
    """Change a contact's name, address, phone or language; None leaves a value as it is."""
    contact = _contact(conn, contact_id)
    values: dict = {}
    if name is not None:
        values["name"] = check_name(name, CONTACT_NAME_MAX)
    if email is not None:
        values["email"] = check_email(email)
        _check_email_free(conn, contact.party_id, values["email"], contact_id)
    if phone is not None:
        values["phone"] = check_phone(phone)
    if locale is not None:
        values["locale"] = check_locale(locale)
    if values:
        conn.execute(update(ExternalContact).where(ExternalContact.id == contact_id).values(**values))


def _check_email_free(conn: Connection, party_id: int, email: str, contact_id: int | None) -> None:
    query = select(ExternalContact.id).where(ExternalContact.party_id == party_id, ExternalContact.email == email)
    if contact_id is not None:
        query = query.where(ExternalContact.id != contact_id)
    if conn.scalar(query) is not None:
        raise PartyError("email_taken", msg("%(email)s is already a contact of this party.", email=email))


_CONTACT_COLUMNS = (ExternalContact.id, ExternalContact.party_id, ExternalContact.name, ExternalContact.email,
                    ExternalContact.phone, ExternalContact.locale, ExternalContact.active,
                    ExternalContact.last_sign_in_at)


def _contact(conn: Connection, contact_id: int) -> ContactInfo:
    row = conn.execute(select(*_CONTACT_COLUMNS).where(ExternalContact.id == contact_id)).first()
    if row is None:
        raise NotFoundError(msg("There is no contact %(id)s.", id=contact_id))
    return ContactInfo(*row)


def get_contact(conn: Connection, contact_id: int) -> ContactInfo:
    """One contact (active or not); NotFoundError when there is none."""
    return _contact(conn, contact_id)


def contacts_of(conn: Connection, party_id: int) -> list[ContactInfo]:
    """A party's contacts (active or not) by name."""
    query = select(*_CONTACT_COLUMNS).where(ExternalContact.party_id == party_id).order_by(
        ExternalContact.name, ExternalContact.id)
    return [ContactInfo(*row) for row in conn.execute(query)]


def contacts_by_email(conn: Connection, email: str) -> list[ContactInfo]:
    """Every contact (of any party) with this address."""
    query = select(*_CONTACT_COLUMNS).where(ExternalContact.email == (email or "").strip().lower())
    return [ContactInfo(*row) for row in conn.execute(query.order_by(ExternalContact.id))]


def revoke_contact(conn: Connection, contact_id: int, by: str | None, now: datetime) -> Revoked:
    """Mark the contact inactive, withdraw the grants issued to them, end their sessions, void their codes."""
    _contact(conn, contact_id)
    conn.execute(update(ExternalContact).where(ExternalContact.id == contact_id).values(active=False))
    grant_ids = grants.revoke_grants_where(conn, by, now, contact_id=contact_id)
    _void_codes(conn, [contact_id], now)
    ended = sessions.revoke_where(conn, now, grant_ids=grant_ids, contact_ids=[contact_id])
    return Revoked(len(grant_ids), ended)


def reactivate_contact(conn: Connection, contact_id: int) -> None:
    """Let the contact sign in again."""
    _contact(conn, contact_id)
    conn.execute(update(ExternalContact).where(ExternalContact.id == contact_id).values(active=True))


def _void_codes(conn: Connection, contact_ids: list[int], now: datetime) -> None:
    if contact_ids:
        conn.execute(delete(ExternalSignInCode).where(ExternalSignInCode.contact_id.in_(contact_ids),
                                                      ExternalSignInCode.used_at.is_(None)))
