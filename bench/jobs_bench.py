"""Background jobs: e-mails delivered per second and timers fired per second, on PostgreSQL.

Uses a database of its own (`liaison_bench_jobs`, created and dropped here), a redis-server of
its own on a free port (no persistence) and an aiosmtpd server in this process that accepts
every message at once. Workers are real `liaison worker` processes.

1. e-mail: --emails outbox rows inserted straight into `outbox`, then delivered by --workers
   RQ workers; and the same again by the in-process runner (no Redis, 2 threads).
2. timers: --timers instances of a process whose user task has a 1-second interrupting boundary
   timer are started (4 threads), the bench waits until every timer is due, then --workers RQ
   workers fire them (each firing is one engine step: timer row fired, task cancelled, instance
   completed, history).

The rate is counted from the first to the last `sent_at` / `fired_at` written, so process start
is not in it; "wall" is from starting the workers until the last row is done.

    .venv/bin/python bench/jobs_bench.py [--emails N] [--timers N] [--workers W] [--keep]

The last line printed is JSON with the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402

from engine import runtime  # noqa: E402
from engine.data import db
from engine.data.models import OutboxMessage, Timer, utcnow  # noqa: E402
from engine.jobs import dispatch as jobs
from engine.packages import deployment as packages

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
DB_NAME = "liaison_bench_jobs"
REDIS_SERVER = "/usr/bin/redis-server"
LIAISON = Path(sys.executable).parent / "liaison"
TIMER_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:liaison="https://liaison.dev/schema/bpmn/1.0" id="defs" targetNamespace="https://liaison.dev/bench">
<bpmn:process id="bench_timer" isExecutable="true">
  <bpmn:startEvent id="start"/>
  <bpmn:userTask id="task" name="Approve" liaison:assignee="nobody"/>
  <bpmn:boundaryEvent id="late" attachedToRef="task" cancelActivity="true">
    <bpmn:timerEventDefinition><bpmn:timeDuration>"PT1S"</bpmn:timeDuration></bpmn:timerEventDefinition>
  </bpmn:boundaryEvent>
  <bpmn:endEvent id="done"/>
  <bpmn:endEvent id="timed_out"/>
  <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="task"/>
  <bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="done"/>
  <bpmn:sequenceFlow id="f3" sourceRef="late" targetRef="timed_out"/>
</bpmn:process>
</bpmn:definitions>
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def create_database(server: str) -> str:
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}"'))
        conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    admin.dispose()
    url = f"{server}/{DB_NAME}"
    db.upgrade(url)
    return url


def drop_database(server: str) -> None:
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                     {"name": DB_NAME})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}"'))
    admin.dispose()


class Redis:
    """A redis-server of the bench's own."""

    def __init__(self, folder: Path):
        self.port = free_port()
        self.process = subprocess.Popen([REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no", "--dir", str(folder)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


class CountingHandler:
    """aiosmtpd handler accepting every message at once."""

    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.count += 1
        return "250 OK"


def start_workers(count: int, database_url: str, redis_url: str, smtp_url: str, folder: Path) -> list:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIAISON_")}
    env.update(LIAISON_REDIS_URL=redis_url, LIAISON_SMTP_URL=smtp_url, LIAISON_INSTANCE_DIR=str(folder))
    return [subprocess.Popen([str(LIAISON), "--database-url", database_url, "worker", "--name", f"bench{i}"],
                             env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=open(folder / f"w{i}.log", "w"),
                             start_new_session=True) for i in range(count)]


def stop_workers(processes: list) -> None:
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        process.wait(60)


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def email_rows(count: int) -> list[dict]:
    now = utcnow()
    return [{"event": "task_assigned", "channel": "email", "recipient": f"p{i}@example.com", "status": "pending",
             "attempts": 0, "next_attempt_at": now, "created_at": now,
             "payload": {"subject": f"Task {i}", "text": "Please approve.\n\nhttp://127.0.0.1:5000/tasks/x",
                         "html": "<p>Please approve.</p>", "lang": "en", "to": f"p{i}@example.com",
                         "username": None, "message_id": None, "headers": {"X-Liaison-Event": "task_assigned"}}}
            for i in range(count)]


def span_rate(sessions, column, where, count: int) -> float:
    with sessions() as session:
        first, last = session.execute(select(func.min(column), func.max(column)).where(where)).one()
    seconds = (last - first).total_seconds()
    return count / seconds if seconds > 0 else float("inf")


def bench_emails(sessions, url: str, redis: Redis, smtp_url: str, handler, count: int, workers: int,
                 folder: Path) -> dict:
    results = {}
    sent = OutboxMessage.status == "sent"

    def all_sent() -> bool:
        with sessions() as session:
            return session.scalar(select(func.count()).select_from(OutboxMessage).where(sent)) >= count

    for mode in ("rq", "in_process"):
        with sessions() as session, session.begin():
            session.execute(OutboxMessage.__table__.delete())
            session.execute(insert(OutboxMessage), email_rows(count))
        handler.count = 0
        started = time.perf_counter()
        if mode == "rq":
            processes = start_workers(workers, url, redis.url, smtp_url, folder)
            wait_until(all_sent, 600, "e-mails")
            wall = time.perf_counter() - started
            stop_workers(processes)
        else:
            os.environ["LIAISON_SMTP_URL"] = smtp_url
            with jobs.InProcessRunner(sessions, workers=2, interval=0.05):
                wait_until(all_sent, 600, "e-mails")
            wall = time.perf_counter() - started
        assert handler.count == count, (handler.count, count)
        results[mode] = {"per_second": round(span_rate(sessions, OutboxMessage.sent_at, sent, count), 1),
                         "wall_s": round(wall, 2)}
    return results


def bench_timers(sessions, url: str, redis: Redis, smtp_url: str, count: int, workers: int, folder: Path) -> dict:
    package_dir = folder / "bench_timer"
    package_dir.mkdir(exist_ok=True)
    (package_dir / "package.yaml").write_text("id: bench_timer\nname: {en: Timer bench, zh: 定时器}\n")
    (package_dir / "bench_timer.bpmn").write_text(TIMER_PROCESS)
    packages.deploy_package(sessions, packages.load_package(package_dir), "bench")
    started = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _i: runtime.start_instance(sessions, "bench_timer", {}, "bench"), range(count)))
    create_s = time.perf_counter() - started
    with sessions() as session:
        last_due = session.scalar(select(func.max(Timer.due_at)))
    while utcnow() < last_due:
        time.sleep(0.1)
    fired = Timer.status == "fired"

    def all_fired() -> bool:
        with sessions() as session:
            return session.scalar(select(func.count()).select_from(Timer).where(fired)) >= count

    started = time.perf_counter()
    processes = start_workers(workers, url, redis.url, smtp_url, folder)
    wait_until(all_fired, 1800, "timers")
    wall = time.perf_counter() - started
    stop_workers(processes)
    return {"per_second": round(span_rate(sessions, Timer.fired_at, fired, count), 1), "wall_s": round(wall, 2),
            "create_s": round(create_s, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--timers", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--postgres", default=os.environ.get("LIAISON_BENCH_PG", PG_SERVER))
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    from aiosmtpd.controller import Controller

    folder = Path(tempfile.mkdtemp(prefix="liaison-jobs-bench-"))
    url = create_database(args.postgres)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    redis = Redis(folder)
    handler = CountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    smtp_url = f"smtp://127.0.0.1:{controller.port}"
    try:
        emails = bench_emails(sessions, url, redis, smtp_url, handler, args.emails, args.workers, folder)
        timers = bench_timers(sessions, url, redis, smtp_url, args.timers, args.workers, folder)
    finally:
        controller.stop()
        redis.stop()
        engine.dispose()
        if not args.keep:
            drop_database(args.postgres)
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\n{'case':44} {'per second':>11} {'wall s':>8}")
    print(f"{f'e-mails, {args.workers} RQ worker(s), {args.emails} rows':44} "
          f"{emails['rq']['per_second']:11.1f} {emails['rq']['wall_s']:8.2f}")
    print(f"{f'e-mails, in process (2 threads), {args.emails} rows':44} "
          f"{emails['in_process']['per_second']:11.1f} {emails['in_process']['wall_s']:8.2f}")
    print(f"{f'timers, {args.workers} RQ worker(s), {args.timers} due':44} "
          f"{timers['per_second']:11.1f} {timers['wall_s']:8.2f}")
    print(json.dumps({"emails": args.emails, "timers": args.timers, "workers": args.workers,
                      "email": emails, "timer": timers}))


if __name__ == "__main__":
    main()
