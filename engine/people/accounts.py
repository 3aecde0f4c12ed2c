"""Accounts: argon2id passwords, sign-in with throttling, password changes, session versions.

Sign-in throttling (by client and by account, no hard lock-out) is `engine.people.throttle`;
the sessions a sign-in opens are `engine.people.sessions`.

Every function takes an SQLAlchemy session. `authenticate` commits its own writes (a failed
attempt must be counted even though it raises); the others flush and leave the commit to the
caller, as `packages.deploy` does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.data.models import AdminGrant, Department, Person, PersonRole, Role, utcnow
from engine.errors import LiaisonError, msg
from engine.results import EXTERNAL_PREFIX, SYSTEM_ACTOR

from . import sessions as user_sessions
from . import throttle

MIN_PASSWORD_LENGTH = 10
LOCALES = ("zh", "en")

# The most used passwords of at least 10 characters in public breach lists, plus local favourites.
COMMON_PASSWORDS = frozenset({
    "1234567890", "0123456789", "12345678910", "1234567890a", "a123456789", "qwertyuiop",
    "1q2w3e4r5t", "1qaz2wsx3edc", "qwerty1234", "qwerty12345", "password12", "password123",
    "password1234", "passw0rd123", "iloveyou12", "abcdefghij", "abc1234567", "abcd123456",
    "1111111111", "0000000000", "5201314520", "woaini1314", "aaaaaaaaaa", "admin12345",
    "admin123456", "administrator", "changeme123", "welcome123", "letmein123", "liaison123",
    "liaison1234", "p@ssw0rd123", "zxcvbnm123", "asdfghjkl1", "1234qwerasdf", "qazwsxedc123",
})

# argon2-cffi's defaults are the RFC 9106 low-memory profile of argon2id.
HASHER = PasswordHasher()


class AccountError(LiaisonError):
    """Base of the errors about accounts and signing in."""


class InvalidCredentialsError(AccountError):
    """Unknown username or wrong password (the two are not told apart)."""

    def __init__(self, message: str = "wrong username or password"):
        super().__init__(message)


class SignInThrottledError(AccountError):
    """Too many failed sign-ins for this name or from this client; `retry_at` says when to try again.

    Raised the same way for names that exist and names that do not (see `engine.people.throttle`).
    """

    def __init__(self, retry_at: datetime, now: datetime):
        self.retry_after = max(1, math.ceil((retry_at - now).total_seconds()))
        super().__init__(f"too many failed sign-ins: try again in {self.retry_after} seconds")
        self.retry_at = retry_at


class AccountInactiveError(AccountError):
    """The account is deactivated: it cannot sign in."""

    def __init__(self) -> None:
        super().__init__("this account is deactivated; ask an administrator")


class WeakPasswordError(AccountError):
    """The new password is refused; `reason` is too_short, too_common, is_username or unchanged."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class DuplicateUsernameError(AccountError):
    """Another person already has this username."""

    def __init__(self, username: str):
        super().__init__(f"the username `{username}` is taken")
        self.username = username


@dataclass(frozen=True)
class SessionUser:
    """What a signed-in request knows about its person; built fresh on every request."""

    person_id: int
    username: str
    name: str
    locale: str | None
    groups: tuple[str, ...]  # role keys: the candidate groups of the engine
    is_super_admin: bool
    admin_department_ids: tuple[int, ...]
    session_version: int
    name_en: str | None = None

    # facts about the person that change only with what bumps the directory version, computed once per
    # kept view (`kept_fact`): the view itself is kept per version (`SESSION_USERS`)
    kept: dict = field(default_factory=dict, compare=False, repr=False)
    # the `directory_version` this view was read at (`session_user_at`; None when read without one): a start
    # hands it to the engine, whose look-ups are kept per version
    directory_version: int | None = field(default=None, compare=False)

    def display_name(self, lang: str | None) -> str:
        """The person's name as a page in `lang` shows it (the English name on en pages when there is one)."""
        return self.name_en if lang == "en" and self.name_en else self.name

    def kept_fact(self, name: str, compute):
        """`compute()`, once for this view of the person. Only for a fact read from tables whose writes bump
        `directory_version` (person, role, person_role, admin_grant, designer_grant, process_version...:
        migrations 0019, 0030, 0038), so it is never older than they are."""
        if name not in self.kept:
            self.kept[name] = compute()
        return self.kept[name]

    @property
    def is_admin(self) -> bool:
        """A super admin or the admin of at least one department."""
        return self.is_super_admin or bool(self.admin_department_ids)


# -- passwords -------------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    """An argon2id hash of `password` with the current parameters."""
    return HASHER.hash(password)


@cache
def _dummy_hash() -> str:
    return HASHER.hash("liaison: no such account")


def _verify(stored: str | None, password: str) -> bool:
    try:
        return HASHER.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def check_password_strength(password: str, username: str | None = None) -> None:
    """Refuse a password under 10 characters, a common one, or one equal to the username."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError("too_short", f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(password)) < 3:
        raise WeakPasswordError("too_common", "this password is too common; choose another one")
    if username and lowered == username.strip().lower():
        raise WeakPasswordError("is_username", "the password must not be the username")


# -- accounts --------------------------------------------------------------------------------------

def create_person_account(session: Session, username: str, name: str, password: str | None = None,
                          now: datetime | None = None, **fields) -> Person:
    """Add a person who can sign in (with `password`) or not yet (None); other columns as `fields`."""
    username = username.strip()
    if not username:
        raise AccountError("the username is empty")
    if username.lower().startswith(EXTERNAL_PREFIX):
        raise AccountError(msg("a username may not start with `%(prefix)s` (kept for external users)",
                               prefix=EXTERNAL_PREFIX))
    if username.lower() == SYSTEM_ACTOR:
        raise AccountError(msg("the username `%(value)s` is kept for the engine's own actions", value=username))
    if session.scalar(select(Person.id).where(Person.username == username)) is not None:
        raise DuplicateUsernameError(username)
    password_hash = None
    if password is not None:
        check_password_strength(password, username)
        password_hash = hash_password(password)
    person = Person(username=username, name=name.strip() or username, password_hash=password_hash,
                    password_changed_at=(now or utcnow()) if password is not None else None, **fields)
    session.add(person)
    session.flush()
    return person


def create_admin(session: Session, username: str, password: str, name: str,
                 now: datetime | None = None) -> Person:
    """Add a super admin: a person with a password and an admin grant over every department."""
    person = create_person_account(session, username, name, password, now)
    session.add(AdminGrant(person_id=person.id, department_id=None))
    session.flush()
    return person


def authenticate(session: Session, username: str, password: str, now: datetime,
                 client: str | None = None) -> Person:
    """Check a sign-in from `client` (an IP address) and return the person; commits the throttle counts.

    Unknown names and wrong passwords raise the same InvalidCredentialsError after the same
    hashing work (the dummy hash); while a throttle key of the name or the client waits, both
    raise the same SignInThrottledError without checking the password. A deactivated account is
    only told apart after the right password.
    """
    username = username.strip()
    retry_at = throttle.blocked_until(session, username, client, now)
    if retry_at is not None:
        raise SignInThrottledError(retry_at, now)
    person = session.scalar(select(Person).where(Person.username == username))
    if not _verify(person.password_hash if person is not None else None, password):
        throttle.record_failure(session, username, client, now)
        session.commit()
        raise InvalidCredentialsError()
    throttle.clear_account(session, username, client)
    if not person.active:
        session.commit()
        raise AccountInactiveError()
    if HASHER.check_needs_rehash(person.password_hash):
        session.execute(update(Person).where(Person.id == person.id)
                        .values(password_hash=hash_password(password)))
    session.commit()
    session.refresh(person)
    return person


def set_password(session: Session, person_id: int, new_password: str, now: datetime) -> Person:
    """Replace a person's password (strength checked) and end every session they have."""
    person = _person(session, person_id)
    check_password_strength(new_password, person.username)
    person.password_hash = hash_password(new_password)
    person.password_changed_at = now
    person.session_version = (person.session_version or 0) + 1
    session.flush()
    user_sessions.revoke_all(session, person_id, now)
    return person


def change_password(session: Session, person_id: int, old_password: str, new_password: str,
                    now: datetime) -> Person:
    """A person's own password change: the old one must match; other sessions end."""
    person = _person(session, person_id)
    if not _verify(person.password_hash, old_password):
        raise InvalidCredentialsError("the current password is wrong")
    if new_password == old_password:
        raise WeakPasswordError("unchanged", "the new password must differ from the current one")
    return set_password(session, person_id, new_password, now)


def sign_out_everywhere(session: Session, person_id: int, now: datetime | None = None) -> int:
    """End every session of the person (revoked, and the session version raised); returns the new version."""
    version = session.execute(
        update(Person).where(Person.id == person_id)
        .values(session_version=Person.session_version + 1).returning(Person.session_version)).scalar()
    if version is None:
        raise AccountError(f"no person with id {person_id}")
    user_sessions.revoke_all(session, person_id, now or utcnow())
    return version


def set_locale(session: Session, person_id: int, locale: str | None) -> None:
    """Store the person's interface language (zh, en, or None for the browser's)."""
    if locale is not None and locale not in LOCALES:
        raise AccountError(f"unknown language `{locale}`; use one of {', '.join(LOCALES)}")
    session.execute(update(Person).where(Person.id == person_id).values(locale=locale))


def _person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise AccountError(f"no person with id {person_id}")
    return person


# -- who is signed in ------------------------------------------------------------------------------

def load_session_user(session: Session, person_id: int) -> SessionUser | None:
    """The signed-in view of an active person, or None when the person is gone or deactivated."""
    person = session.get(Person, person_id)
    if person is None or not person.active:
        return None
    groups = session.scalars(select(Role.key).join(PersonRole, PersonRole.role_id == Role.id)
                             .where(PersonRole.person_id == person_id).order_by(Role.key)).all()
    grants = session.scalars(select(AdminGrant.department_id).where(AdminGrant.person_id == person_id)).all()
    return SessionUser(
        person_id=person.id, username=person.username, name=person.name, locale=person.locale,
        groups=tuple(groups), is_super_admin=any(g is None for g in grants),
        admin_department_ids=tuple(sorted(g for g in grants if g is not None)),
        session_version=person.session_version, name_en=person.name_en)


# The signed-in view of a person as `load_session_user` reads it (three queries), kept per (database URL,
# person, directory version): every write to person (name, locale, active...), role, person_role,
# admin_grant, designer_grant and process_version bumps the version (migrations 0019, 0030, 0038), so a
# kept view (and its `kept_fact`s) is never older than the directory. Whether the session or token itself is live (revoked, expired, signed out everywhere) is read
# on every request by the caller; only the groups and grants are kept. Shared by browser sessions and API
# tokens (`api_tokens.PEOPLE` is this dict).
SESSION_USERS: dict[tuple[str, int, int], SessionUser | None] = {}
MAX_SESSION_USERS = 2000


def session_user_at(session: Session, person_id: int, directory_version: int) -> SessionUser | None:
    """`load_session_user` of the person, read once per directory version (`SESSION_USERS`)."""
    key = (str(session.get_bind().url), person_id, directory_version)
    if key in SESSION_USERS:
        return SESSION_USERS[key]
    user = load_session_user(session, person_id)
    if user is not None:
        user = replace(user, directory_version=directory_version)
    if len(SESSION_USERS) >= MAX_SESSION_USERS:
        SESSION_USERS.clear()
    SESSION_USERS[key] = user
    return user


def signed_in_user(session: Session, token: str, now: datetime) -> SessionUser | None:
    """The person of a live browser session `token`, or None: one query while the directory is unchanged
    (the session row with the directory's version), the person's groups and grants kept per version.
    The caller commits (`last_seen_at`)."""
    live = user_sessions.live_person(session, token, now)
    return None if live is None else session_user_at(session, *live)


def signed_in_user_along(session: Session, token: str, now: datetime, along, params: dict):
    """`(signed_in_user(...), the row of the select `along`)` from one statement
    (`sessions.live_person_along`): the row only for a live session."""
    live, row = user_sessions.live_person_along(session, token, now, along, params)
    return (None, None) if live is None else (session_user_at(session, *live), row)


def administers_department(session: Session, user: SessionUser, department_id: int) -> bool:
    """True for a super admin, or an admin of the department or of one above it."""
    if user.is_super_admin:
        return True
    if not user.admin_department_ids:
        return False
    path = session.scalar(select(Department.path).where(Department.id == department_id))
    if path is None:
        return False
    chain = {int(part) for part in path.strip("/").split("/") if part.isdigit()}
    return bool(chain & set(user.admin_department_ids)) or department_id in user.admin_department_ids
