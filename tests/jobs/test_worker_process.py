"""`liaison worker` as a process: Redis down at start, Redis back, SIGTERM; `--burst`."""

from __future__ import annotations

import os
import subprocess

import pytest
from sqlalchemy import insert, select

from engine.data import db
from engine.data.models import OutboxMessage
from tests.jobs.conftest import IN_CI, LIAISON, REDIS_SERVER, RedisServer, free_port, wait_for
from tests.jobs.test_delivery_workers import email_rows


def test_worker_waits_for_redis_says_so_once_and_stops_on_sigterm(tmp_path, workers):
    if not os.access(REDIS_SERVER, os.X_OK):
        (pytest.fail if IN_CI else pytest.skip)(f"redis-server not found at {REDIS_SERVER}")
    folder = tmp_path / "redis"
    folder.mkdir()
    server = RedisServer(free_port(), folder)  # not started: Redis is down when the worker starts
    database_url = f"sqlite:///{tmp_path / 'liaison.db'}"
    process = workers.start(database_url, server.url, "early")
    log = workers.processes[-1][1]
    try:
        wait_for(lambda: "is unreachable" in log.read_text(), 30, "the worker to report Redis unreachable")
        assert process.poll() is None, workers.logs()
        server.start()
        wait_for(lambda: "reachable again" in log.read_text(), 60, "the worker to reconnect")
        assert workers.stop(process) == 0, workers.logs()
    finally:
        server.kill()
    text = log.read_text()
    assert text.count("is unreachable") == 1, text
    assert "worker stopped" in text


def test_burst_worker_delivers_what_is_due_and_exits(tmp_path, redis_server, smtp_server):
    handler, smtp_url = smtp_server()
    database_url = f"sqlite:///{tmp_path / 'liaison.db'}"
    db.upgrade(database_url)
    engine = db.make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(insert(OutboxMessage), email_rows(3))
    env = {key: value for key, value in os.environ.items() if not key.startswith("LIAISON_")}
    env.update(LIAISON_REDIS_URL=redis_server.url, LIAISON_SMTP_URL=smtp_url)
    done = subprocess.run([str(LIAISON), "--database-url", database_url, "worker", "--burst"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    with engine.connect() as conn:
        assert conn.scalars(select(OutboxMessage.status)).all() == ["sent"] * 3
    engine.dispose()
    assert sorted(handler.recipients()) == [f"person{i:02d}@example.com" for i in range(3)]
