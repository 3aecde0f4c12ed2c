"""Settings from environment variables (a `.env` file in the working directory is read too).

The CLI, the web app and the jobs read the same settings; every one is optional.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

DEFAULT_INSTANCE_DIR = "instance"
DEFAULT_MAX_INSTANCE_DATA = 2 * 1024 * 1024  # bytes of one instance's stored process data (JSON, UTF-8)


def _read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


@dataclass(frozen=True)
class OidcSettings:
    """Sign-in through an OpenID Connect provider (on when LIAISON_OIDC_ISSUER and the client id are set)."""

    issuer: str  # LIAISON_OIDC_ISSUER: its /.well-known/openid-configuration is read
    client_id: str  # LIAISON_OIDC_CLIENT_ID
    client_secret: str | None = None  # LIAISON_OIDC_CLIENT_SECRET (unset: a public client, PKCE only)
    username_claim: str = "preferred_username"  # LIAISON_OIDC_USERNAME_CLAIM: the claim holding the username
    provider_name: str = "SSO"  # LIAISON_OIDC_PROVIDER_NAME: shown on the button "Sign in with <name>"
    scopes: str = "openid profile email"  # LIAISON_OIDC_SCOPES


@dataclass(frozen=True)
class LdapSettings:
    """Password sign-in checked against an LDAP directory (on when LIAISON_LDAP_URL is set).

    The person's DN is `user_dn` with `{username}` filled in (RDN-escaped), or found by a search
    under `search_base` with `search_filter` (`{username}` filter-escaped), bound as `bind_dn`
    (or anonymously: only the search, never the user's check). The password is checked by a
    simple bind as that DN, never with an empty password.
    """

    url: str  # LIAISON_LDAP_URL: ldap://host:389 or ldaps://host:636
    user_dn: str | None = None  # LIAISON_LDAP_USER_DN, e.g. uid={username},ou=people,dc=example,dc=com
    search_base: str | None = None  # LIAISON_LDAP_SEARCH_BASE, e.g. ou=people,dc=example,dc=com
    search_filter: str = "(uid={username})"  # LIAISON_LDAP_SEARCH_FILTER
    bind_dn: str | None = None  # LIAISON_LDAP_BIND_DN: the account that searches
    bind_password: str | None = None  # LIAISON_LDAP_BIND_PASSWORD
    start_tls: bool = False  # LIAISON_LDAP_START_TLS=1: upgrade an ldap:// connection with StartTLS
    tls_verify: bool = True  # LIAISON_LDAP_TLS_VERIFY=0 turns off certificate checks (test setups only)
    ca_file: str | None = None  # LIAISON_LDAP_CA_FILE: the CA bundle for ldaps:// and StartTLS
    local_fallback: bool = False  # LIAISON_LDAP_LOCAL_FALLBACK=1: people with a local password may use it
    timeout: float = 5.0  # LIAISON_LDAP_TIMEOUT: seconds to connect and to wait for an answer


@dataclass(frozen=True)
class Settings:
    """Liaison's configuration, resolved once per process."""

    database_url: str
    redis_url: str | None
    secret_key: str | None  # None: the web app generates one under instance/ (see instance_secret)
    smtp_url: str | None
    base_url: str
    locale: str
    timezone: str
    instance_dir: Path
    max_instance_data: int = DEFAULT_MAX_INSTANCE_DATA  # LIAISON_MAX_INSTANCE_DATA
    oidc: OidcSettings | None = None  # None: no OpenID Connect sign-in
    ldap: LdapSettings | None = None  # None: passwords are checked locally only


def _positive_int(text: str | None, default: int) -> int:
    try:
        value = int(text) if text else default
    except ValueError:
        return default
    return value if value > 0 else default


def _flag(text: str | None, default: bool) -> bool:
    if not text:
        return default
    return text.strip().lower() in ("1", "true", "yes", "on")


def oidc_settings(env: dict[str, str]) -> OidcSettings | None:
    """The OpenID Connect settings of `env`, or None when LIAISON_OIDC_ISSUER or the client id is unset."""
    issuer, client_id = env.get("LIAISON_OIDC_ISSUER", "").strip(), env.get("LIAISON_OIDC_CLIENT_ID", "").strip()
    if not issuer or not client_id:
        return None
    return OidcSettings(
        issuer=issuer, client_id=client_id, client_secret=env.get("LIAISON_OIDC_CLIENT_SECRET") or None,
        username_claim=env.get("LIAISON_OIDC_USERNAME_CLAIM") or "preferred_username",
        provider_name=env.get("LIAISON_OIDC_PROVIDER_NAME") or "SSO",
        scopes=env.get("LIAISON_OIDC_SCOPES") or "openid profile email")


def ldap_settings(env: dict[str, str]) -> LdapSettings | None:
    """The LDAP settings of `env`, or None when LIAISON_LDAP_URL is unset."""
    url = env.get("LIAISON_LDAP_URL", "").strip()
    if not url:
        return None
    try:
        timeout = float(env.get("LIAISON_LDAP_TIMEOUT") or 5)
    except ValueError:
        timeout = 5.0
    return LdapSettings(
        url=url, user_dn=env.get("LIAISON_LDAP_USER_DN") or None,
        search_base=env.get("LIAISON_LDAP_SEARCH_BASE") or None,
        search_filter=env.get("LIAISON_LDAP_SEARCH_FILTER") or "(uid={username})",
        bind_dn=env.get("LIAISON_LDAP_BIND_DN") or None, bind_password=env.get("LIAISON_LDAP_BIND_PASSWORD") or None,
        start_tls=_flag(env.get("LIAISON_LDAP_START_TLS"), False),
        tls_verify=_flag(env.get("LIAISON_LDAP_TLS_VERIFY"), True),
        ca_file=env.get("LIAISON_LDAP_CA_FILE") or None,
        local_fallback=_flag(env.get("LIAISON_LDAP_LOCAL_FALLBACK"), False),
        timeout=timeout if timeout > 0 else 5.0)


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read settings from `environ` (default: os.environ overlaid on `.env`)."""
    env = dict(_read_dotenv(Path.cwd() / ".env"))
    env.update(os.environ if environ is None else environ)
    instance_dir = Path(env.get("LIAISON_INSTANCE_DIR", DEFAULT_INSTANCE_DIR)).resolve()
    database_url = env.get("LIAISON_DATABASE_URL") or f"sqlite:///{instance_dir / 'liaison.db'}"
    return Settings(
        database_url=database_url,
        redis_url=env.get("LIAISON_REDIS_URL") or None,
        secret_key=env.get("LIAISON_SECRET_KEY") or None,
        smtp_url=env.get("LIAISON_SMTP_URL") or None,
        base_url=env.get("LIAISON_BASE_URL", "http://127.0.0.1:5000"),
        locale=env.get("LIAISON_LOCALE", "zh"),
        timezone=env.get("LIAISON_TIMEZONE", "Asia/Shanghai"),
        instance_dir=instance_dir,
        max_instance_data=_positive_int(env.get("LIAISON_MAX_INSTANCE_DATA"), DEFAULT_MAX_INSTANCE_DATA),
        oidc=oidc_settings(env),
        ldap=ldap_settings(env),
    )


def instance_secret(instance_dir: Path) -> str:
    """A generated secret kept under the instance folder, so sessions survive restarts."""
    path = instance_dir / "secret_key"
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    instance_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key, encoding="utf-8")
    path.chmod(0o600)
    return key
