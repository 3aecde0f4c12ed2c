"""Bearer tokens of the REST API (issue 13): create (the secret is returned once), verify, revoke, list.

A token acts as one person (an employee or an integration's system account) and carries scopes:
`read` (lists and reads), `start` (start instances, send messages), `work` (complete tasks and run
approval operations), `deploy` (deploy and export packages), `admin` (operations that need an
administrator, such as terminate and jump; the engine still checks the person's own rights). Only the
SHA-256 digest of the secret is stored, so a database leak gives no usable token; a token is refused
once revoked, expired, or when its person is deactivated. The web page (`web/tokens.py`), the CLI
(`liaison token`) and the API's guard all call these functions.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.data.api_models import ApiToken
from engine.data.models import DirectoryVersion, Person, utcnow
from engine.errors import LiaisonError, NotFoundError, NotPermittedError, Username, msg
from engine.people.accounts import SESSION_USERS, SessionUser, session_user_at

SCOPES = ("read", "start", "work", "deploy", "admin")
PREFIX = "lia_"
LAST_USED_EVERY = timedelta(minutes=1)  # `last_used_at` is written at most this often per token
MAX_NAME = 100


class InvalidTokenRequestError(LiaisonError):
    """A token request that cannot be honoured: unknown scope, empty name, expiry in the past."""


@dataclass(frozen=True)
class TokenInfo:
    """A token as lists show it (never the secret)."""

    id: int
    username: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    created_by: str | None
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def state(self, now: datetime | None = None) -> str:
        """active, expired or revoked."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or utcnow()):
            return "expired"
        return "active"

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"id": self.id, "username": self.username, "name": self.name, "prefix": self.prefix,
                "scopes": list(self.scopes), "created_at": _iso(self.created_at), "created_by": self.created_by,
                "expires_at": _iso(self.expires_at), "revoked_at": _iso(self.revoked_at),
                "last_used_at": _iso(self.last_used_at), "state": self.state()}


@dataclass(frozen=True)
class TokenIdentity:
    """Who a verified token acts as and what it may do."""

    token_id: int
    user: SessionUser
    scopes: frozenset[str]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def digest(secret: str) -> str:
    """The stored form of a secret (hex SHA-256)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def checked_scopes(scopes) -> tuple[str, ...]:
    """The scopes in their canonical order; an unknown one is refused by name."""
    wanted = {s.strip().lower() for s in scopes if s and s.strip()}
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise InvalidTokenRequestError(msg("unknown scope %(scope)s (known: %(known)s)",
                                           scope=", ".join(unknown), known=", ".join(SCOPES)))
    if not wanted:
        raise InvalidTokenRequestError(msg("a token needs at least one scope"))
    return tuple(s for s in SCOPES if s in wanted)


def create_token(session: Session, username: str, name: str, scopes, expires_at: datetime | None = None,
                 created_by: str | None = None, now: datetime | None = None) -> tuple[TokenInfo, str]:
    """A new token for `username` and its secret, which is returned here only; commits."""
    now = now or utcnow()
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidTokenRequestError(msg("a token needs a name of 1 to %(count)s characters", count=MAX_NAME))
    if expires_at is not None and expires_at <= now:
        raise InvalidTokenRequestError(msg("the expiry date must be in the future"))
    person = session.scalar(select(Person).where(Person.username == username))
    if person is None or not person.active:
        raise NotFoundError(msg("no active person %(person)s", person=Username(username)))
    secret = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(person_id=person.id, name=name, token_hash=digest(secret), prefix=secret[:10],
                   scopes=list(checked_scopes(scopes)), created_at=now, created_by=created_by,
                   expires_at=expires_at)
    session.add(row)
    session.commit()
    return _info(row, person.username), secret


# The person of a token is kept per (database URL, person, directory version) (`accounts.session_user_at`,
# whose dict this is). The token row itself is read on every request: revocation and expiry take effect at once.
PEOPLE = SESSION_USERS
_TOKEN = (select(ApiToken, DirectoryVersion.version)
          .join(DirectoryVersion, DirectoryVersion.id == 1).where(ApiToken.token_hash == bindparam("b_hash")))


def verify_token(session: Session, secret: str, now: datetime | None = None) -> TokenIdentity | None:
    """The identity of a live token (not revoked or expired, its person active), or None. One read of
    the token with the directory's version, plus the person's when not kept (`PEOPLE`); `last_used_at`
    is written (and committed) at most once a minute."""
    if not secret or not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    now = now or utcnow()
    found = session.execute(_TOKEN, {"b_hash": digest(secret)}).first()
    if found is None:
        return None
    row, version = found
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    user = session_user_at(session, row.person_id, version)
    if user is None:
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        row.last_used_at = now
        session.commit()
    return TokenIdentity(row.id, user, frozenset(row.scopes or ()))


def revoke_token(session: Session, token_id: int, actor: SessionUser | None, now: datetime | None = None) -> None:
    """Revoke a token: its owner or a super admin (`actor` None: the command line, which trusts its
    operator). Revoking twice is harmless; commits."""
    row = session.get(ApiToken, token_id)
    if row is None or (actor is not None and not actor.is_super_admin and row.person_id != actor.person_id):
        raise NotFoundError(msg("no token %(id)s", id=token_id))
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
        session.commit()


def list_tokens(session: Session, viewer: SessionUser | None, everyone: bool = False) -> list[TokenInfo]:
    """Tokens newest first: the viewer's own, or with `everyone` every token (super admins and the CLI)."""
    query = (select(ApiToken, Person.username).join(Person, Person.id == ApiToken.person_id)
             .order_by(ApiToken.created_at.desc(), ApiToken.id.desc()))
    if everyone:
        if viewer is not None and not viewer.is_super_admin:
            raise NotPermittedError(msg("only super admins see every token"))
    elif viewer is not None:
        query = query.where(ApiToken.person_id == viewer.person_id)
    return [_info(row, username) for row, username in session.execute(query)]


def _info(row: ApiToken, username: str) -> TokenInfo:
    return TokenInfo(row.id, username, row.name, row.prefix, tuple(row.scopes or ()), row.created_at,
                     row.created_by, row.expires_at, row.revoked_at, row.last_used_at)
