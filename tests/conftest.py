"""Shared fixtures: a fresh database per test, on SQLite and on the PostgreSQL at 127.0.0.1.

PostgreSQL tests use a database of their own (`liaison_test_<pid>`), created here and dropped
at the end. When PostgreSQL is unreachable they skip locally, and fail in CI (CI=true).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from engine.bpmn.serialization import SPEC_CACHE
from engine.data import db
from engine.data.models import Base
from engine.notify.recipients import LOOK_UPS
from engine.people import api_tokens
from engine.runtime import LIVE_WORKFLOWS, api_webhooks

FIXTURES = Path(__file__).parent / "fixtures"
PG_SERVER = os.environ.get("LIAISON_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
PG_DB = f"liaison_test_{os.getpid()}"


def _pg_unavailable(reason: str):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"PostgreSQL is required in CI and is unreachable: {reason}")
    pytest.skip(f"PostgreSQL unreachable: {reason}")


@pytest.fixture(scope="session")
def pg_url():
    """URL of a migrated PostgreSQL database owned by this test run."""
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}"'))
            conn.execute(text(f'CREATE DATABASE "{PG_DB}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "unreachable"
        admin.dispose()
        _pg_unavailable(" ".join(str(exc).split())[:200])
    url = f"{PG_SERVER}/{PG_DB}"
    db.upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{PG_DB}'"))
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A migrated SQLite file, copied for each test (migrating once is faster)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    db.upgrade(f"sqlite:///{path}")
    return path


# Empty the PostgreSQL test database between tests: TRUNCATE only the tables a test filled (one
# `TRUNCATE` of all 44 tables costs ~0.33 s, most of a small test's time: it replaces every table's
# files), restart every sequence that was used, and put back the one row migration 0019 leaves in
# `directory_version`. One round trip (~0.02 s with nothing to empty).
_RESET = """
DO $$
DECLARE
  name text; filled text[] := '{}'; found boolean; seq record;
BEGIN
  FOREACH name IN ARRAY ARRAY[%s] LOOP
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %%I)', name) INTO found;
    IF found THEN filled := filled || name; END IF;
  END LOOP;
  IF cardinality(filled) > 0 THEN
    EXECUTE 'TRUNCATE ' || (SELECT string_agg(format('%%I', t), ', ') FROM unnest(filled) t) || ' CASCADE';
  END IF;
  FOR seq IN SELECT schemaname, sequencename FROM pg_sequences
             WHERE schemaname = current_schema() AND last_value IS NOT NULL LOOP
    EXECUTE format('ALTER SEQUENCE %%I.%%I RESTART', seq.schemaname, seq.sequencename);
  END LOOP;
  INSERT INTO directory_version (id, version) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET version = 1;
END $$"""


def _truncate_all(url: str) -> None:
    names = ", ".join(f"'{t.name}'" for t in Base.metadata.sorted_tables if t.name != "directory_version")
    engine = db.make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(_RESET % names))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path, sqlite_template):
    """A fresh, migrated database: each test runs once on SQLite and once on PostgreSQL."""
    SPEC_CACHE.clear()
    LIVE_WORKFLOWS.clear()
    LOOK_UPS.clear()  # keyed by database URL and directory version: the PostgreSQL test database starts over
    api_webhooks.KEPT.clear()  # the same
    api_tokens.PEOPLE.clear()  # the same
    if request.param == "sqlite":
        path = tmp_path / "liaison.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_url")
    _truncate_all(url)
    return url


@pytest.fixture
def postgres_url(pg_url):
    """A fresh PostgreSQL database only (for tests about real concurrency)."""
    SPEC_CACHE.clear()
    LIVE_WORKFLOWS.clear()
    LOOK_UPS.clear()
    api_webhooks.KEPT.clear()
    api_tokens.PEOPLE.clear()
    _truncate_all(pg_url)
    return pg_url


@pytest.fixture
def sessions(database_url):
    """A session factory bound to the test's database."""
    engine = db.make_engine(database_url)
    yield db.make_session_factory(engine)
    engine.dispose()


def add_people(sessions, *usernames: str) -> None:
    """Active people with these usernames in the directory (form user fields must name one)."""
    from engine.data.models import Person
    with sessions() as session, session.begin():
        session.add_all(Person(username=name, name=name) for name in usernames)
