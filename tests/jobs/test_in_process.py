"""The embedded default: `InProcessRunner` fires timers and delivers e-mail with no Redis, on SQLite."""

from __future__ import annotations

import shutil
from datetime import timedelta

from sqlalchemy import select

from engine import runtime
from engine.data import db
from engine.data.models import HistoryEntry, OutboxMessage, ProcessInstance, Timer, WorkTask, utcnow
from engine.jobs import dispatch as jobs
from engine.packages import deployment as packages
from tests.jobs.conftest import wait_for
from tests.jobs.test_delivery_workers import add_people
from tests.jobs.test_timer_workers import timer_package


def test_in_process_runner_fires_and_delivers_without_redis(tmp_path, sqlite_template, smtp_server, monkeypatch):
    handler, smtp_url = smtp_server()
    monkeypatch.setenv("LIAISON_SMTP_URL", smtp_url)
    monkeypatch.delenv("LIAISON_REDIS_URL", raising=False)
    shutil.copy(sqlite_template, tmp_path / "liaison.db")
    engine = db.make_engine(f"sqlite:///{tmp_path / 'liaison.db'}")
    sessions = db.make_session_factory(engine)
    add_people(sessions, "alice")
    packages.deploy_package(sessions, packages.load_package(timer_package(tmp_path)), "admin")

    runner = jobs.InProcessRunner(sessions, workers=2, interval=0.2, lease=timedelta(seconds=5))
    with runner:
        result = runtime.start_instance(sessions, "timeout", {}, "bob")
        [task] = result.open_tasks
        wait_for(lambda: "alice@example.com" in handler.recipients(), 30, "alice's task e-mail")

        def instance_status():
            with sessions() as session:
                return session.scalar(select(ProcessInstance.status).where(ProcessInstance.id == result.instance_id))

        wait_for(lambda: instance_status() == "completed", 30, "the 2-second timer to end the instance")
    with sessions() as session:
        assert session.scalars(select(Timer.status).where(Timer.kind == "event")).all() == ["fired"]
        assert session.scalar(select(WorkTask.status).where(WorkTask.id == task["id"])) == "cancelled"
        assert session.scalars(select(HistoryEntry.action).where(
            HistoryEntry.action == "timer_fired")).all() == ["timer_fired"]
        assert set(session.scalars(select(OutboxMessage.status))) == {"sent"}
    engine.dispose()
    assert handler.recipients() == ["alice@example.com"]
    assert runner.outcomes.get("timer:fired") == 1
    assert runner.outcomes.get("delivery:sent") == 1


def test_run_due_is_one_round_in_this_thread(tmp_path, sqlite_template, smtp_server, monkeypatch):
    handler, smtp_url = smtp_server()
    monkeypatch.setenv("LIAISON_SMTP_URL", smtp_url)
    shutil.copy(sqlite_template, tmp_path / "liaison.db")
    engine = db.make_engine(f"sqlite:///{tmp_path / 'liaison.db'}")
    sessions = db.make_session_factory(engine)
    add_people(sessions, "alice")
    packages.deploy_package(sessions, packages.load_package(timer_package(tmp_path)), "admin")
    runtime.start_instance(sessions, "timeout", {}, "bob")
    assert jobs.run_due(sessions) == {"delivery:sent": 1}  # the timer is not due yet
    later = jobs.run_due(sessions, now=utcnow() + timedelta(seconds=5))
    engine.dispose()
    assert later == {"timer:fired": 1}
    assert handler.recipients() == ["alice@example.com"]
