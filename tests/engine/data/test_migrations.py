"""Migrations run on a database of their own: up, down and up again, keeping what is stored."""

from __future__ import annotations

import os
import uuid

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from engine.data import db
from tests.conftest import PG_SERVER


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request, tmp_path):
    """An empty database (no migration run yet), SQLite or PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    name = f"liaison_test_mig_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "unreachable"
        admin.dispose()
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    yield f"{PG_SERVER}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def _save_function(url: str) -> str | None:
    engine = db.make_engine(url)
    with engine.connect() as conn:
        if engine.dialect.name != "postgresql":
            return None
        source = conn.execute(text("SELECT prosrc FROM pg_proc WHERE proname = 'liaison_save_step'")).scalar_one()
    engine.dispose()
    return source


def test_save_step_downgrade_puts_the_previous_function_back(empty_url):
    db.upgrade(empty_url, "0016")
    before = _save_function(empty_url)
    db.upgrade(empty_url, "0017")
    after = _save_function(empty_url)
    command.downgrade(db.alembic_config(empty_url), "0016")
    assert _save_function(empty_url) == before
    db.upgrade(empty_url)
    if before is not None:
        assert after != before and "no_waits" in after
        assert _save_function(empty_url) == after
