"""One-time links to set a password: invitations for people without one, and admins' resets.

An imported person has no password. An admin (or the operator, `liaison people invite`) issues a
link: a random 256-bit token of which only the SHA-256 is stored (`account_token`), valid for
INVITE_LIFETIME (a person with no password yet) or RESET_LIFETIME (a reset), once. Issuing a new
link voids the person's earlier unused ones. The link is e-mailed through the outbox when the
person has an e-mail address, and returned to the caller, who shows it once (the admin passes it
on when there is no e-mail). The person opens it, chooses a password (`redeem`), and every session
they had ends. An admin never types someone else's password.

Who may issue: a super admin for anyone; a department admin for the people of their departments'
subtrees (`org.may_administer`) who hold no admin grant themselves (else a department admin could
take over a super admin's account through a reset link).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from engine.data.models import AccountToken, AdminGrant, OutboxMessage, Person
from engine.errors import NotFoundError, NotPermittedError, Username, msg

from . import accounts, org

INVITE_LIFETIME = timedelta(days=7)
RESET_LIFETIME = timedelta(days=1)
PATH = "/account/password/"  # the web app's page for a link: PATH + token


class LinkError(accounts.AccountError):
    """The link cannot be used: `reason` is unknown, used or expired."""

    def __init__(self, reason: str):
        super().__init__({"unknown": "this link is not valid", "used": "this link was already used",
                          "expired": "this link has expired"}[reason])
        self.reason = reason


@dataclass(frozen=True)
class Issued:
    """A link just issued; `link` is shown once and stored nowhere (the outbox e-mail aside)."""

    username: str
    name: str
    purpose: str  # invite | reset
    link: str
    expires_at: datetime
    emailed_to: str | None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def check_may_issue(session: Session, actor: str | None, person: Person) -> None:
    """NotPermittedError unless `actor` may issue links for (and otherwise manage) `person`;
    `actor` None is the operator at the command line."""
    if actor is None or org.is_super_admin(session, actor):
        return
    if not org.may_administer(session, actor, person.username):
        raise NotPermittedError(msg("you do not administer %(person)s", person=Username(person.username)))
    if session.scalar(select(AdminGrant.id).where(AdminGrant.person_id == person.id).limit(1)) is not None:
        raise NotPermittedError(msg("%(person)s is an admin: only a super admin may do this",
                                    person=Username(person.username)))


def issue(session: Session, actor: str | None, username: str, now: datetime, base_url: str) -> Issued:
    """Issue a link for `username` (an invitation without a password yet, a reset with one); flushes."""
    person = org.person_by_username(session, username.strip())
    if person is None:
        raise NotFoundError(msg("Nobody has the username %(username)s.", username=username))
    check_may_issue(session, actor, person)
    if not person.active:
        raise accounts.AccountInactiveError()
    purpose = "invite" if person.password_hash is None else "reset"
    session.execute(delete(AccountToken).where(AccountToken.person_id == person.id, AccountToken.used_at.is_(None)))
    token = secrets.token_urlsafe(32)
    expires_at = now + (INVITE_LIFETIME if purpose == "invite" else RESET_LIFETIME)
    session.add(AccountToken(token_hash=_hash(token), person_id=person.id, purpose=purpose, created_by=actor,
                             created_at=now, expires_at=expires_at))
    link = base_url.rstrip("/") + PATH + token
    if person.email:
        session.add(OutboxMessage(event=f"account_{purpose}", channel="email", recipient=person.email,
                                  payload=_email(person, purpose, link, expires_at), next_attempt_at=now,
                                  created_at=now))
    session.flush()
    return Issued(username=person.username, name=person.name, purpose=purpose, link=link, expires_at=expires_at,
                  emailed_to=person.email or None)


def _email(person: Person, purpose: str, link: str, expires_at: datetime) -> dict:
    until = f"{expires_at:%Y-%m-%d %H:%M} UTC"
    if purpose == "invite":
        zh = (f"{person.name}，您好：\n\n您已受邀使用 Liaison。请打开下面的链接设置密码（{until} 前有效，只能使用一次）：\n"
              f"{link}\n")
        en = (f"Hello {person.name_en or person.name},\n\nYou are invited to Liaison. Open this link to choose "
              f"your password (valid until {until}, once):\n{link}\n")
        subject = "Liaison 账号邀请 / Your Liaison account"
    else:
        zh = (f"{person.name}，您好：\n\n管理员为您重置了 Liaison 密码。请打开下面的链接设置新密码（{until} 前有效，"
              f"只能使用一次）：\n{link}\n")
        en = (f"Hello {person.name_en or person.name},\n\nAn administrator reset your Liaison password. Open this "
              f"link to choose a new one (valid until {until}, once):\n{link}\n")
        subject = "Liaison 密码重置 / Reset your Liaison password"
    parts = [en, zh] if person.locale == "en" else [zh, en]
    text = "\n----\n\n".join(parts)
    html = "<hr>".join(f"<p>{escape(p).replace(chr(10), '<br>')}</p>" for p in parts)
    return {"subject": subject, "text": text, "html": html}


def _valid(session: Session, token: str, now: datetime) -> tuple[AccountToken, Person]:
    if not token or len(token) > 200:
        raise LinkError("unknown")
    row = session.scalar(select(AccountToken).where(AccountToken.token_hash == _hash(token)))
    if row is None:
        raise LinkError("unknown")
    if row.used_at is not None:
        raise LinkError("used")
    person = session.get(Person, row.person_id)
    if row.expires_at <= now or person is None or not person.active:
        raise LinkError("expired")
    return row, person


def look_up(session: Session, token: str, now: datetime) -> tuple[str, Person]:
    """The link's purpose and person; LinkError when it cannot be used."""
    row, person = _valid(session, token, now)
    return row.purpose, person


def redeem(session: Session, token: str, new_password: str, now: datetime) -> Person:
    """Set the password through the link (strength checked; every session of the person ends); flushes.

    The link is marked used by a conditional update, so two submissions of it cannot both succeed.
    """
    row, person = _valid(session, token, now)
    accounts.check_password_strength(new_password, person.username)
    taken = session.execute(update(AccountToken).where(AccountToken.id == row.id, AccountToken.used_at.is_(None))
                            .values(used_at=now))
    if taken.rowcount != 1:
        raise LinkError("used")
    return accounts.set_password(session, person.id, new_password, now)
