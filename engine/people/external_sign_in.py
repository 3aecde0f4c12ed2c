"""Sign-in checked by a company's directory: an OpenID Connect provider or an LDAP server.

Both are optional (`engine.config.OidcSettings`, `LdapSettings`). Neither creates people: the
person must already exist in Liaison (the imported org chart) and be active, matched by
username. The protocol work of OpenID Connect (redirects, PKCE, state, nonce, the ID token's
signature) is the web layer's (`web.sso`, with Authlib); what it hands here is the verified
username. LDAP is checked here with ldap3: a simple bind as the person, counted by the same
throttle as local passwords (`engine.people.throttle`), with the same answers for unknown names.
"""

from __future__ import annotations

import ssl
from datetime import datetime

from ldap3 import NONE, SIMPLE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.config import LdapSettings
from engine.data.models import Person

from . import accounts, throttle


class UnknownPersonError(accounts.AccountError):
    """The provider vouched for a name that is no person in Liaison (people are not created on sign-in)."""

    def __init__(self, username: str):
        super().__init__(f"`{username}` is not a person in Liaison; ask an administrator to import them")
        self.username = username


class DirectoryUnavailableError(accounts.AccountError):
    """The LDAP server could not be reached or answered with an error."""

    def __init__(self, detail: str):
        super().__init__(f"the directory cannot be reached: {detail}")


def person_for_provider_sign_in(session: Session, username: str | None) -> Person:
    """The active person a verified OpenID Connect username names; refuses unknown and deactivated ones."""
    username = (username or "").strip()
    person = session.scalar(select(Person).where(Person.username == username)) if username else None
    if person is None:
        raise UnknownPersonError(username)
    if not person.active:
        raise accounts.AccountInactiveError()
    return person


# -- LDAP ------------------------------------------------------------------------------------------

def _server(settings: LdapSettings) -> Server:
    tls = Tls(validate=ssl.CERT_REQUIRED if settings.tls_verify else ssl.CERT_NONE,
              ca_certs_file=settings.ca_file)
    return Server(settings.url, use_ssl=settings.url.lower().startswith("ldaps://"), tls=tls,
                  get_info=NONE, connect_timeout=settings.timeout)


def _connection(settings: LdapSettings, server: Server, user: str | None, password: str | None) -> Connection:
    """An open connection (StartTLS done when asked) bound as `user`; raises LDAPException on failure."""
    conn = Connection(server, user=user, password=password, authentication=SIMPLE if user else None,
                      receive_timeout=settings.timeout, raise_exceptions=False, read_only=True)
    conn.open()
    if settings.start_tls and not conn.start_tls():
        conn.unbind()
        raise LDAPException(f"StartTLS refused: {conn.result.get('description')}")
    return conn


def _user_dn(settings: LdapSettings, server: Server, username: str) -> str | None:
    """The person's DN: the template filled in, or the one entry the search finds (None: no such entry)."""
    if settings.user_dn:
        return settings.user_dn.format(username=escape_rdn(username))
    if not settings.search_base:
        raise DirectoryUnavailableError("set LIAISON_LDAP_USER_DN or LIAISON_LDAP_SEARCH_BASE")
    conn = _connection(settings, server, settings.bind_dn, settings.bind_password)
    try:
        if settings.bind_dn and not conn.bind():
            raise DirectoryUnavailableError(f"the search account cannot bind: {conn.result.get('description')}")
        conn.search(settings.search_base, settings.search_filter.format(username=escape_filter_chars(username)),
                    attributes=[], size_limit=2)
        entries = [entry for entry in conn.response or () if entry.get("type") == "searchResEntry"]
        return entries[0]["dn"] if len(entries) == 1 else None
    finally:
        conn.unbind()


def directory_password_ok(settings: LdapSettings, username: str, password: str) -> bool:
    """Whether the directory accepts `password` for `username` (a simple bind as the person's DN).

    An empty password is refused without asking: many servers treat a simple bind with a DN and no
    password as an anonymous bind that "succeeds". Raises DirectoryUnavailableError when the
    server cannot be reached.
    """
    if not username or not password:
        return False
    server = _server(settings)
    try:
        dn = _user_dn(settings, server, username)
        if dn is None:
            return False
        conn = _connection(settings, server, dn, password)
        try:
            return bool(conn.bind())
        finally:
            conn.unbind()
    except LDAPException as exc:
        raise DirectoryUnavailableError(str(exc) or type(exc).__name__) from exc


def authenticate_with_directory(session: Session, settings: LdapSettings, username: str, password: str,
                                now: datetime, client: str | None = None) -> Person:
    """The password form's check when LDAP is on; commits the throttle counts as `accounts.authenticate`.

    The directory is asked for every name, known to Liaison or not, so answers do not tell which
    names exist. A person the directory refuses may use a local password only with
    `local_fallback` (and only when they have one); when the directory is unreachable the same
    fallback applies, else DirectoryUnavailableError.
    """
    username = username.strip()
    retry_at = throttle.blocked_until(session, username, client, now)
    if retry_at is not None:
        raise accounts.SignInThrottledError(retry_at, now)
    unavailable: DirectoryUnavailableError | None = None
    try:
        directory_ok = directory_password_ok(settings, username, password)
    except DirectoryUnavailableError as exc:
        directory_ok, unavailable = False, exc
    person = session.scalar(select(Person).where(Person.username == username))
    ok = directory_ok and person is not None
    if not ok and settings.local_fallback and password:
        ok = accounts._verify(person.password_hash if person is not None else None, password)
    elif not ok:
        accounts._verify(None, password or "-")  # the same hashing work as a local check
    if not ok:
        if unavailable is not None and not settings.local_fallback:
            raise unavailable
        throttle.record_failure(session, username, client, now)
        session.commit()
        raise accounts.InvalidCredentialsError()
    throttle.clear_account(session, username, client)
    session.commit()
    if not person.active:
        raise accounts.AccountInactiveError()
    session.refresh(person)
    return person
