"""Throttling of code entry in the portal (invitation codes, e-mailed sign-in codes).

Reuses the employees' sign-in throttle (`engine.people.throttle`, table `sign_in_throttle`): every
wrong code counts under the client (its IP address; 20 free, then an exponential back-off up to 15
minutes), under what was typed from that client, and under what was typed from any client. For
sign-in codes "what was typed" is the e-mail address (`sign_in_subject`); for invitation codes it
is the normalized code (`code_subject`), so one client trying many codes is slowed by its client
key. Client keys are prefixed (`portal|`), so a portal guesser never slows an employee's sign-in
from the same address and the reverse; subjects start with `ext:`, which no username may.
"""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from engine.people import throttle

from .errors import ExternalAccessError
from .identity import PREFIX


def code_subject(code: str) -> str:
    return f"{PREFIX}code:{code}"


def sign_in_subject(email: str) -> str:
    return f"{PREFIX}email:{email}"


def _client(client: str | None) -> str:
    return f"portal|{client or '-'}"


def _session(conn: Connection) -> Session:
    return Session(bind=conn, join_transaction_mode="conditional_savepoint")


def check(conn: Connection, subject: str, client: str | None, now: datetime) -> None:
    """ExternalAccessError("throttled") with the wait while a key of `subject` or `client` waits."""
    until = throttle.blocked_until(_session(conn), subject, _client(client), now)
    if until is not None:
        raise ExternalAccessError("throttled", wait_seconds=max(1, math.ceil((until - now).total_seconds())))


def failure(conn: Connection, subject: str, client: str | None, now: datetime) -> None:
    """Count a wrong code under every key; the caller commits."""
    session = _session(conn)
    throttle.record_failure(session, subject, _client(client), now)
    session.flush()


def success(conn: Connection, subject: str, client: str | None) -> None:
    """A right code: forget the subject's counts (not the client's)."""
    throttle.clear_account(_session(conn), subject, _client(client))
