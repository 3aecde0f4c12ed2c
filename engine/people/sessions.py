"""Server-side sessions: a signed-in browser is a `user_session` row that can be revoked.

The browser's cookie holds a random token (256 bits); the row's primary key is its SHA-256, so a
copy of the table signs nobody in. Every request reads that one row by primary key with its
person (`load`); `last_seen_at` is written at most every `TOUCH_EVERY`, not on every request.
Signing out revokes this row (`revoke`); signing out everywhere, a password change, a password
set through a link and deactivation revoke every row of the person (`revoke_all`).

Every function takes an SQLAlchemy session and leaves the commit to the caller.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, literal, select, true, update
from sqlalchemy.orm import Session

from engine.data.models import DirectoryVersion, Person, UserSession

TOUCH_EVERY = timedelta(minutes=5)
DEFAULT_LIFETIME = timedelta(hours=12)
MAX_USER_AGENT = 300
KEEP_ENDED = timedelta(days=30)  # ended sessions stay listed this long


def token_hash(token: str) -> str:
    """The stored form of a session token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class LiveSession:
    """A valid session row with its (active) person."""

    id: str
    person_id: int
    expires_at: datetime
    person: Person


def start(session: Session, person_id: int, now: datetime, lifetime: timedelta = DEFAULT_LIFETIME,
          user_agent: str | None = None, ip: str | None = None) -> str:
    """Open a session for the person; returns the token for the cookie (shown nowhere else)."""
    token = secrets.token_urlsafe(32)
    cutoff = now - KEEP_ENDED
    session.execute(delete(UserSession).where(  # the person's long-ended rows: the table stays small
        UserSession.person_id == person_id, (UserSession.expires_at < cutoff) | (UserSession.revoked_at < cutoff)))
    version = session.scalar(select(Person.session_version).where(Person.id == person_id))
    session.add(UserSession(id=token_hash(token), person_id=person_id, session_version=version or 1,
                            created_at=now, last_seen_at=now,
                            expires_at=now + lifetime, user_agent=(user_agent or "")[:MAX_USER_AGENT] or None,
                            ip=(ip or "")[:64] or None))
    session.execute(update(Person).where(Person.id == person_id).values(last_sign_in_at=now))
    session.flush()
    return token


def load(session: Session, token: str, now: datetime) -> LiveSession | None:
    """The session of `token` when it is neither revoked nor expired and its person is active.

    One primary-key read joined to the person (whose `session_version` must still be the one the
    session started with: the org import raises it to sign someone out everywhere); the person stays
    in `session` (and in the result), so reading it again by id costs no query. `last_seen_at` is
    updated only when older than TOUCH_EVERY, so most requests write nothing; the caller commits.
    """
    if not token or len(token) > 200:
        return None
    key = token_hash(token)
    # the person is read in the same query: `accounts.load_session_user` then finds it in the session
    row = session.execute(
        select(Person, UserSession.person_id, UserSession.expires_at, UserSession.revoked_at,
               UserSession.last_seen_at)
        .select_from(UserSession).join(Person, Person.id == UserSession.person_id)
        .where(UserSession.id == key, Person.active,
               UserSession.session_version == Person.session_version)).first()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        session.execute(update(UserSession).where(UserSession.id == key).values(last_seen_at=now))
    return LiveSession(id=key, person_id=row.person_id, expires_at=row.expires_at, person=row.Person)


# The hot path of every signed-in request: the session row, its person still active with the session's
# version, and the directory's version (which keys the person's kept groups and grants), in one read.
_LIVE = (select(UserSession.person_id, UserSession.expires_at, UserSession.revoked_at, UserSession.last_seen_at,
                DirectoryVersion.version)
         .select_from(UserSession).join(Person, Person.id == UserSession.person_id)
         .join(DirectoryVersion, DirectoryVersion.id == 1)
         .where(UserSession.id == bindparam("b_id"), Person.active,
                UserSession.session_version == Person.session_version))


def live_person(session: Session, token: str, now: datetime) -> tuple[int, int] | None:
    """`(person id, directory version)` of a live session of `token` (not revoked or expired, its person
    active and not signed out everywhere since), or None: one query. `last_seen_at` is touched as in `load`;
    the caller commits."""
    if not token or len(token) > 200:
        return None
    key = token_hash(token)
    return _live(session, key, session.execute(_LIVE, {"b_id": key}).first(), now)


def live_person_along(session: Session, token: str, now: datetime, along, params: dict):
    """`(live_person(...), the row of the select `along`)`, both read by one statement: a request's
    session check and its first read in one round trip. The row is None when the session is not live
    (nothing read along is handed to anyone not signed in) or when `along` finds nothing. `along`: a
    module-level select (its combined statement is built once); its bind names must not be `b_id`."""
    if not token or len(token) > 200:
        return None, None
    combined = _ALONG.get(id(along))
    if combined is None:
        live, other = _LIVE.subquery("live"), along.subquery("along")
        combined = _ALONG[id(along)] = (
            select(*live.c, *other.c).select_from(select(literal(1).label("one")).subquery("one"))
            .outerjoin(live, true()).outerjoin(other, true()), len(live.c), along)  # `along` kept: its id stays its own
    statement, width, _along = combined
    key = token_hash(token)
    row = session.execute(statement, {**params, "b_id": key}).first()
    person = _live(session, key, row[:width] if row is not None and row[0] is not None else None, now)
    if person is None:
        return None, None
    rest = row[width:]
    return person, (rest if any(value is not None for value in rest) else None)


_ALONG: dict = {}  # id of an `along` select -> (combined statement, width of the session part, the select)


def _live(session: Session, key: str, row, now: datetime) -> tuple[int, int] | None:
    """`live_person`'s answer from the row of `_LIVE` (None: no such session, or its person inactive)."""
    if row is None:
        return None
    person_id, expires_at, revoked_at, last_seen_at, version = row
    if revoked_at is not None or expires_at <= now:
        return None
    if now - last_seen_at >= TOUCH_EVERY:
        session.execute(update(UserSession).where(UserSession.id == key).values(last_seen_at=now))
    return person_id, version


def revoke(session: Session, token: str, now: datetime) -> bool:
    """End the session of `token`; False when there was no live one."""
    result = session.execute(update(UserSession)
                             .where(UserSession.id == token_hash(token), UserSession.revoked_at.is_(None))
                             .values(revoked_at=now))
    return result.rowcount == 1


def revoke_all(session: Session, person_id: int, now: datetime) -> int:
    """End every session of the person (sign out everywhere, new password, deactivation)."""
    result = session.execute(update(UserSession)
                             .where(UserSession.person_id == person_id, UserSession.revoked_at.is_(None))
                             .values(revoked_at=now))
    return result.rowcount
