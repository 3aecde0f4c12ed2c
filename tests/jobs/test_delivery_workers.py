"""Outbox delivery by `liaison worker` processes: a worker killed mid-send loses nothing; Redis outages delay."""

from __future__ import annotations

import signal

from sqlalchemy import func, insert, select

from engine import runtime
from engine.data import db
from engine.data.models import OutboxMessage, Person, utcnow
from engine.packages import deployment as packages
from tests.engine.conftest import flow, write_package
from tests.jobs.conftest import wait_for

COUNT = 20


def email_rows(count: int, prefix: str = "person") -> list[dict]:
    """Outbox e-mail rows as engine.notifications writes them (payload ready to send)."""
    rows = []
    for i in range(count):
        address = f"{prefix}{i:02d}@example.com"
        rows.append({"event": "task_assigned", "channel": "email", "recipient": address, "status": "pending",
                     "attempts": 0, "next_attempt_at": utcnow(), "created_at": utcnow(),
                     "payload": {"subject": f"Task {i}", "text": f"Please approve {i}.", "html": None,
                                 "lang": "en", "to": address, "username": None, "message_id": None,
                                 "headers": {"X-Liaison-Event": "task_assigned"}}})
    return rows


def statuses(sessions) -> dict[str, int]:
    with sessions() as session:
        return dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())


def test_worker_killed_mid_delivery_loses_and_repeats_nothing(postgres_url, redis_server, smtp_server, workers):
    handler, smtp_url = smtp_server(delay=0.3)
    engine = db.make_engine(postgres_url)
    sessions = db.make_session_factory(engine)
    with engine.begin() as conn:
        conn.execute(insert(OutboxMessage), email_rows(COUNT))
    env = {"LIAISON_SMTP_URL": smtp_url, "LIAISON_JOB_LEASE_SECONDS": "2"}

    first = workers.start(postgres_url, redis_server.url, "first", **env)
    wait_for(lambda: len(handler.messages) >= 3 and handler.entered.is_set(), 30,
             lambda: f"three e-mails and a fourth in DATA\n{workers.logs()}")
    workers.kill(first, signal.SIGKILL)  # the machine dies while the server is inside DATA
    first.wait(10)
    # aiosmtpd cancels the DATA handler when the client's connection drops: that message was not taken.
    wait_for(lambda: handler.cancelled >= 1, 10, "aiosmtpd to cancel the interrupted DATA")
    received_before = len(handler.messages)
    assert 3 <= received_before < COUNT
    assert statuses(sessions).get("sending", 0) == 1  # the interrupted row, leased to the dead worker

    workers.start(postgres_url, redis_server.url, "second", **env)
    # The interrupted row comes back when the lease of its send runs out (LIAISON_JOB_LEASE_SECONDS
    # when engine.delivery.deliver takes a `lease`, else delivery.LEASE, 60 s).
    wait_for(lambda: statuses(sessions) == {"sent": COUNT}, 90,
             lambda: f"every row sent: {statuses(sessions)}\n{workers.logs()}")
    engine.dispose()
    expected = sorted(f"person{i:02d}@example.com" for i in range(COUNT))
    assert sorted(handler.recipients()) == expected  # each exactly once, none lost


TWO_STEPS = "\n".join([
    '<bpmn:startEvent id="start"/>',
    '<bpmn:userTask id="first" name="First" liaison:assignee="alice"/>',
    '<bpmn:userTask id="second" name="Second" liaison:assignee="bob"/>',
    '<bpmn:endEvent id="end"/>',
    flow("start", "first"), flow("first", "second"), flow("second", "end"),
])


def add_people(sessions, *usernames: str) -> None:
    """People with an e-mail address each (username@example.com)."""
    with sessions() as session, session.begin():
        session.add_all(Person(username=name, name=name.title(), email=f"{name}@example.com") for name in usernames)


def test_redis_outage_delays_notifications_and_the_worker_reconnects(tmp_path, postgres_url, redis_server,
                                                                       smtp_server, workers):
    handler, smtp_url = smtp_server()
    engine = db.make_engine(postgres_url)
    sessions = db.make_session_factory(engine)
    add_people(sessions, "alice", "bob")
    packages.deploy_package(sessions, packages.load_package(write_package(tmp_path, "two", {"two": TWO_STEPS})),
                            "admin")
    worker = workers.start(postgres_url, redis_server.url, "steady", LIAISON_SMTP_URL=smtp_url)
    log = workers.processes[-1][1]
    started = runtime.start_instance(sessions, "two", {}, "carol")
    wait_for(lambda: "alice@example.com" in handler.recipients(), 30,
             lambda: f"alice's e-mail\n{workers.logs()}")

    redis_server.kill()
    [task] = started.open_tasks
    runtime.complete_task(sessions, task["id"], "alice", {})  # the engine does not need Redis
    with sessions() as session:
        waiting = session.scalars(select(OutboxMessage.status).where(
            OutboxMessage.recipient == "bob@example.com")).all()
    assert waiting == ["pending"]
    wait_for(lambda: "job queue unavailable" in log.read_text(), 30, "the dispatcher to notice Redis is gone")
    assert worker.poll() is None, workers.logs()
    assert "bob@example.com" not in handler.recipients()

    redis_server.start()  # same port, empty: nothing of the old queue survives
    wait_for(lambda: "bob@example.com" in handler.recipients(), 60,
             lambda: f"bob's e-mail after Redis came back\n{workers.logs()}")
    wait_for(lambda: set(statuses(sessions)) == {"sent"}, 30, lambda: f"rows sent: {statuses(sessions)}")
    engine.dispose()
    assert sorted(handler.recipients()) == ["alice@example.com", "bob@example.com"]
    assert worker.poll() is None
    assert workers.stop(worker) == 0, workers.logs()
