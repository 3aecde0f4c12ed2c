"""Sign-in throttling by client and by account, kept in the database (`sign_in_throttle`).

Why throttling and not a lock-out: a hard lock after N failures lets anyone lock anyone out
(knowing a colleague's username is enough), and "locked" answered only for existing names told
which usernames exist. Instead every failed sign-in is counted under three keys, and a key that
has had more than its free failures within WINDOW is slowed down with an exponential back-off
(each further failure doubles the wait, up to a cap); while a key waits, sign-ins that would
count under it are refused without checking the password:

- the account *from one client* (`PAIR_FREE` = 5 free, back-off up to 15 minutes): the usual
  guesser, from one address, is slowed hard; the owner signing in from their own computer or
  phone (another client) is not affected at all;
- the *client* (`CLIENT_FREE` = 20 free over any usernames, up to 15 minutes): one address trying
  many accounts (password spraying) is slowed;
- the *account from every client* (`ACCOUNT_FREE` = 20 free, at most `ACCOUNT_CAP` = 60 seconds):
  guesses spread over many addresses are held to about one a minute, while the owner waits at most
  a minute after the last failure and then gets in with the right password.

Keys are computed the same way for names that exist and names that do not (the typed name is
normalised and hashed), so the answers - "wrong username or password" and "too many attempts,
try again in N seconds" - and their timing never depend on whether the account exists. State in
the database works with the embedded SQLite default and with several web workers. A success
clears the account's keys (not the client's: signing in to one's own account must not reset a
spraying client's count).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.data.models import SignInThrottle

WINDOW = timedelta(minutes=15)  # a key's count starts over after this long without a failure
PAIR_FREE, CLIENT_FREE, ACCOUNT_FREE = 5, 20, 20
PAIR_CAP = CLIENT_CAP = timedelta(minutes=15)
ACCOUNT_CAP = timedelta(seconds=60)


@dataclass(frozen=True)
class _Key:
    key: str
    free: int
    cap: timedelta


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:64]


def _keys(username: str, client: str | None) -> list[_Key]:
    name = username.strip().casefold()
    client = client or "-"
    return [_Key("p" + _digest("pair", name, client)[:63], PAIR_FREE, PAIR_CAP),
            _Key("c" + _digest("client", client)[:63], CLIENT_FREE, CLIENT_CAP),
            _Key("a" + _digest("account", name)[:63], ACCOUNT_FREE, ACCOUNT_CAP)]


def delay(failures: int, free: int, cap: timedelta) -> timedelta:
    """The wait after the `failures`-th failure: none before the `free`-th, then 1 s, 2 s, 4 s... up to `cap`."""
    if failures < free:
        return timedelta(0)
    return min(cap, timedelta(seconds=2 ** min(failures - free, 20)))


def blocked_until(session: Session, username: str, client: str | None, now: datetime) -> datetime | None:
    """When the next sign-in as `username` from `client` is allowed, or None when it is allowed now."""
    keys = [k.key for k in _keys(username, client)]
    until = session.scalar(select(func.max(SignInThrottle.blocked_until)).where(SignInThrottle.key.in_(keys)))
    return until if until is not None and until > now else None


def record_failure(session: Session, username: str, client: str | None, now: datetime) -> None:
    """Count a failed sign-in under every key (atomic increments); flushes, the caller commits."""
    stale = now - WINDOW
    session.execute(delete(SignInThrottle).where(
        SignInThrottle.last_failure_at < stale,
        or_(SignInThrottle.blocked_until.is_(None), SignInThrottle.blocked_until < now)))
    for key in _keys(username, client):
        failures = _increment(session, key.key, now, stale)
        wait = delay(failures, key.free, key.cap)
        if wait:
            session.execute(update(SignInThrottle).where(SignInThrottle.key == key.key)
                            .values(blocked_until=now + wait))


def _increment(session: Session, key: str, now: datetime, stale: datetime) -> int:
    bump = (update(SignInThrottle).where(SignInThrottle.key == key)
            .values(failures=case((SignInThrottle.last_failure_at < stale, 1), else_=SignInThrottle.failures + 1),
                    last_failure_at=now)
            .returning(SignInThrottle.failures))
    failures = session.execute(bump).scalar()
    if failures is not None:
        return failures
    try:
        with session.begin_nested():
            session.add(SignInThrottle(key=key, failures=1, last_failure_at=now))
        return 1
    except IntegrityError:  # another worker inserted it first
        return session.execute(bump).scalar_one()


def clear_account(session: Session, username: str, client: str | None) -> None:
    """A success: forget the account's counts (its own and from this client), not the client's."""
    keys = [k.key for k in _keys(username, client) if k.key[0] in "pa"]
    session.execute(delete(SignInThrottle).where(SignInThrottle.key.in_(keys)))
