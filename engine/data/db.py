"""Database connections and schema upgrades (SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

import json
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def normalize_url(url: str) -> str:
    """Use the psycopg 3 driver for plain `postgresql://` URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _json_dumps(value) -> str:
    return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout for concurrent writers."""
    url = normalize_url(url)
    kwargs.setdefault("json_serializer", _json_dumps)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        kwargs.pop("pool_size", None)  # sized for PostgreSQL's server connections only
        kwargs.pop("max_overflow", None)
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping: it costs a round trip per step. A connection the server dropped fails the
    # step's first statement instead, SQLAlchemy invalidates it, and the engine's retry loop
    # (engine.runtime.step.retry_when_locked) runs the step again on a fresh connection.
    kwargs.setdefault("pool_recycle", 3600)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def make_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for a request's short reads (who is signed in, the task being completed). On PostgreSQL
    their connection is in autocommit: each statement is its own round trip, with no BEGIN before it and
    no COMMIT / ROLLBACK after (psycopg switches autocommit on the client, no round trip either). A write
    made through such a session is committed at once: use them for reads and single-statement writes.
    SQLite keeps the ordinary sessions (its transactions cost no round trip)."""
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    factory = sessionmaker(engine, expire_on_commit=False)
    event.listen(factory, "loaded_as_persistent", _keep_loaded)
    return factory


def _keep_loaded(session: Session, instance) -> None:
    """A read session keeps what it loaded for its (short) life: the ORM's identity map holds objects
    weakly, so without this a page whose helpers each `session.get` the same instance or version would
    read it again as soon as the previous helper's local reference went away."""
    session.info.setdefault("liaison_loaded", []).append(instance)


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at Liaison's migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database schema up to `revision` (creating the SQLite file if needed)."""
    make_engine(url).dispose()  # creates the SQLite parent folder
    command.upgrade(alembic_config(url), revision)
