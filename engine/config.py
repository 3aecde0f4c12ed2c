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


def _positive_int(text: str | None, default: int) -> int:
    try:
        value = int(text) if text else default
    except ValueError:
        return default
    return value if value > 0 else default


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
