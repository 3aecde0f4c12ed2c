"""Migrations run on a database of their own: up, down and up again, keeping what is stored."""

from __future__ import annotations

import json
import os
import uuid

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from engine.data import db, store
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


DATA = {"zeta": 1, "amount": 12.5, "ok": True, "none": None, "name": "张三", "order": {"qty": [1, "a"]}}


def test_upgrade_copies_each_instance_data_and_downgrade_puts_it_back(empty_url):
    db.upgrade(empty_url, "0016")
    engine = db.make_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO process_definition (id, key, name, category, created_at) "
                          "VALUES (1, 'p', '{}', 'c', CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO process_version (id, definition_id, number, process_id, checksum, package, "
                          "bpmn, spec_json, deployed_at) VALUES (1, 1, 1, 'p', 'x', '{}', '{}', '', CURRENT_TIMESTAMP)"))
        for instance_id, data in ((1, DATA), (2, {})):
            conn.execute(text("INSERT INTO process_instance (id, version_id, process_key, status, state, data, "
                              "revision, state_key, created_at, updated_at) VALUES (:id, 1, 'p', 'running', '', "
                              ":data, 3, '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                         {"id": instance_id, "data": json.dumps(DATA if instance_id == 1 else data,
                                                                ensure_ascii=False)})
    engine.dispose()

    db.upgrade(empty_url)
    engine = db.make_engine(empty_url)
    with engine.connect() as conn:
        copied = store.read_process_data(conn, 1)
        assert store.read_process_data(conn, 2) == {}
    engine.dispose()
    assert copied == DATA and list(copied) == list(DATA)

    command.downgrade(db.alembic_config(empty_url), "0016")
    engine = db.make_engine(empty_url)
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT id, data FROM process_instance")).all())
    engine.dispose()
    back = {k: json.loads(v) if isinstance(v, str) else v for k, v in rows.items()}
    assert back == {1: DATA, 2: {}} and list(back[1]) == list(DATA)


def test_0041_fills_the_pinyin_keys_of_existing_people_and_departments(empty_url):
    db.upgrade(empty_url, "0040")
    engine = db.make_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO department (id, code, name, path, updated_at) VALUES (1, 'd', '单证部', '/1/', "
                          "CURRENT_TIMESTAMP)"))
        for i, name in enumerate(("张三", "曾强", "Alice")):
            conn.execute(text("INSERT INTO person (id, username, name, active, session_version, failed_logins, "
                              "created_at, updated_at) VALUES (:i, :u, :n, true, 1, 0, CURRENT_TIMESTAMP, "
                              "CURRENT_TIMESTAMP)"),
                         {"i": i + 1, "u": f"p{i}", "n": name})
    db.upgrade(empty_url)
    with engine.connect() as conn:
        assert dict(conn.execute(text("SELECT name, sort_key FROM person")).all()) == {
            "张三": "zhang san", "曾强": "zeng qiang", "Alice": "alice"}
        assert conn.execute(text("SELECT sort_key FROM department")).scalar() == "dan zheng bu"
    engine.dispose()
