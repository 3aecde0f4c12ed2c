"""A contact signs in to the portal with a one-time code e-mailed to their address.

`request_code` answers nothing about the address: it returns None whether or not a contact has it
(the page always says "if this address is known, a code was sent"), so the portal tells nobody who
is a contact. For a known address it voids the contact's earlier unused codes, stores a new 6-digit
code (its SHA-256 only, salted with the contact's id; valid CODE_LIFETIME, MAX_ATTEMPTS wrong
entries) and writes one e-mail to the outbox in the contact's language (the other one below it). At
most MAX_REQUESTS codes are sent to one address per CODE_LIFETIME; further requests send nothing.

One address, several parties: an address may be a contact of several parties (a trading company
that supplies and buys). Each of those contacts gets a code of its own, all listed in the one e-mail
with their party's name; the code typed decides which party the person signs in for (a session is
always one contact of one party, so a party never sees another's cases through a shared address).

`verify_code` checks a typed code against the live codes of the address. Wrong codes are counted
on those codes (a code is void after MAX_ATTEMPTS) and throttled per address and per client
(`engine.external.throttle`); like redeeming a link or a code (`engine.external.grants`), a refusal
is counted and logged on a connection of its own, committed at once, before it raises.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from datetime import datetime, timedelta
from html import escape

from sqlalchemy import Connection, delete, func, insert, select, update

from engine.data.external_models import ExternalContact, ExternalParty, ExternalSignInCode
from engine.data.models import OutboxMessage
from engine.errors import msg

from . import audit, sessions
from . import throttle as code_throttle
from .errors import ExternalAccessError
from .identity import Principal

CODE_LIFETIME = timedelta(minutes=10)
MAX_ATTEMPTS = 5
MAX_REQUESTS = 3  # codes e-mailed to one address per CODE_LIFETIME
KEEP = timedelta(days=1)  # a contact's older code rows are deleted at the next request
PORTAL_PATH = "/portal/"
WRONG_CODE = "The code is wrong or has expired: request a new one."


def _hash(contact_id: int, code: str) -> str:
    return hashlib.sha256(f"{contact_id}:{code}".encode()).hexdigest()


def normalize_email(email: str | None) -> str:
    return unicodedata.normalize("NFKC", email or "").strip().lower()[:254]


def _live_contacts(conn: Connection, email: str):
    return conn.execute(
        select(ExternalContact.id, ExternalContact.name, ExternalContact.locale, ExternalParty.id.label("party_id"),
               ExternalParty.kind, ExternalParty.name.label("party_name"), ExternalParty.name_en)
        .join(ExternalParty, ExternalParty.id == ExternalContact.party_id)
        .where(ExternalContact.email == email, ExternalContact.active, ExternalParty.active)
        .order_by(ExternalContact.id)).all()


def request_code(conn: Connection, email: str, *, client: str | None, now: datetime, base_url: str) -> None:
    """E-mail a sign-in code to `email` when active contacts have it; the same (None) either way. The
    caller commits."""
    email = normalize_email(email)
    contacts = _live_contacts(conn, email) if email else []
    ids = [c.id for c in contacts]
    recent = conn.scalar(select(func.count()).where(ExternalSignInCode.contact_id.in_(ids),
                                                    ExternalSignInCode.created_at > now - CODE_LIFETIME)) if ids else 0
    if not contacts or recent >= MAX_REQUESTS * len(ids):
        audit.record(conn, action="sign_in_request", outcome="unknown" if not contacts else "throttled",
                     contact_id=ids[0] if ids else None, ip=client, now=now)
        return
    conn.execute(delete(ExternalSignInCode).where(ExternalSignInCode.contact_id.in_(ids),
                                                  ExternalSignInCode.created_at < now - KEEP))
    conn.execute(update(ExternalSignInCode).where(ExternalSignInCode.contact_id.in_(ids),  # void, kept for counting
                                                  ExternalSignInCode.used_at.is_(None))
                 .values(attempts=MAX_ATTEMPTS))
    codes: dict[int, str] = {}
    for contact in contacts:
        code = f"{secrets.randbelow(10**6):06d}"
        while code in codes.values():
            code = f"{secrets.randbelow(10**6):06d}"
        codes[contact.id] = code
        conn.execute(insert(ExternalSignInCode).values(contact_id=contact.id, code_hash=_hash(contact.id, code),
                                                       created_at=now, expires_at=now + CODE_LIFETIME, attempts=0))
    conn.execute(insert(OutboxMessage).values(
        event="external_sign_in", channel="email", recipient=email, next_attempt_at=now, created_at=now,
        payload=_email(contacts, codes, base_url.rstrip("/") + PORTAL_PATH, contacts[0].locale)))
    audit.record(conn, action="sign_in_request", outcome="ok", contact_id=ids[0], party_id=contacts[0].party_id,
                 ip=client, now=now)


def _email(contacts, codes: dict[int, str], url: str, locale: str) -> dict:
    minutes = int(CODE_LIFETIME.total_seconds() // 60)
    if len(contacts) == 1:
        zh_codes = en_codes = codes[contacts[0].id]
    else:
        zh_codes = "\n" + "\n".join(f"  {c.party_name}：{codes[c.id]}" for c in contacts)
        en_codes = "\n" + "\n".join(f"  {c.name_en or c.party_name}: {codes[c.id]}" for c in contacts)
    name = contacts[0].name
    zh = (f"{name}，您好：\n\n您的 Liaison 门户登录验证码：{zh_codes}\n\n{minutes} 分钟内有效，只能使用一次。"
          f"请在 {url} 输入。若不是您本人操作，请忽略本邮件。\n")
    en = (f"Hello {name},\n\nYour Liaison portal sign-in code: {en_codes}\n\nValid for {minutes} minutes, once. "
          f"Enter it at {url}. If you did not ask for it, ignore this e-mail.\n")
    parts = [en, zh] if locale == "en" else [zh, en]
    return {"subject": "Liaison 门户登录验证码 / Your Liaison portal sign-in code",
            "text": "\n----\n\n".join(parts),
            "html": "<hr>".join(f"<p>{escape(p).replace(chr(10), '<br>')}</p>" for p in parts)}


def verify_code(conn: Connection, email: str, code: str, *, client: str | None, now: datetime,
                user_agent: str | None = None, lang: str = "zh") -> Principal:
    """The contact whose live code `code` is; ExternalAccessError (unknown, or throttled) otherwise,
    committed and logged. A right code is used up and the contact's `last_sign_in_at` set."""
    email = normalize_email(email)
    subject = code_throttle.sign_in_subject(email)
    try:
        code_throttle.check(conn, subject, client, now)
    except ExternalAccessError as exc:
        with conn.engine.begin() as own:
            audit.record(own, action="sign_in", outcome="throttled", ip=client, user_agent=user_agent, now=now)
        raise exc from None
    typed = "".join(ch for ch in unicodedata.normalize("NFKC", code or "") if ch.isdigit())[:12]
    live = (select(ExternalSignInCode.id, ExternalSignInCode.code_hash, ExternalContact.id.label("contact_id"),
                   ExternalContact.name, ExternalContact.locale, ExternalParty.id.label("party_id"),
                   ExternalParty.kind, ExternalParty.name.label("party_name"), ExternalParty.name_en)
            .join(ExternalContact, ExternalContact.id == ExternalSignInCode.contact_id)
            .join(ExternalParty, ExternalParty.id == ExternalContact.party_id)
            .where(ExternalContact.email == email, ExternalContact.active, ExternalParty.active,
                   ExternalSignInCode.used_at.is_(None), ExternalSignInCode.expires_at > now,
                   ExternalSignInCode.attempts < MAX_ATTEMPTS))
    rows = conn.execute(live).all() if email else []
    match = next((r for r in rows if len(typed) == 6 and secrets.compare_digest(r.code_hash,
                                                                                 _hash(r.contact_id, typed))), None)
    taken = match is not None and conn.execute(
        update(ExternalSignInCode).where(ExternalSignInCode.id == match.id, ExternalSignInCode.used_at.is_(None))
        .values(used_at=now)).rowcount == 1
    if not taken:
        with conn.engine.begin() as own:  # committed now, whatever the caller's transaction does
            if rows:
                own.execute(update(ExternalSignInCode).where(ExternalSignInCode.id.in_([r.id for r in rows]))
                            .values(attempts=ExternalSignInCode.attempts + 1))
            code_throttle.failure(own, subject, client, now)
            audit.record(own, action="sign_in", outcome="unknown", contact_id=rows[0].contact_id if rows else None,
                         ip=client, user_agent=user_agent, now=now)
        raise ExternalAccessError("unknown", message=msg(WRONG_CODE))
    code_throttle.success(conn, subject, client)
    conn.execute(update(ExternalContact).where(ExternalContact.id == match.contact_id).values(last_sign_in_at=now))
    principal = sessions.contact_principal(match.contact_id, match.party_id, match.kind, match.party_name,
                                           match.name_en, match.name, match.locale, lang)
    audit.record(conn, action="sign_in", outcome="ok", principal=principal, ip=client, user_agent=user_agent, now=now)
    return principal

