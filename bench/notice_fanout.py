"""Notice fan-out and read receipts at 5,000 recipients, on PostgreSQL.

Creates a demo-like company (a head office, 8 departments of 4 teams each, 5,000 people with e-mail
addresses), sends one notice (confirmation asked) to everyone, and measures:

- `create_s`: the request's part, `create_notice` (audience checked and counted, one row) and its commit;
- `fanout_s`: from the commit until every recipient has their `notice_recipient` row and in-app item and
  every e-mail row is queued in the outbox: the dispatcher's `claim_due` and `run_job` (batches of 500);
- the receipts page (`GET /notices/ID/receipts` through the Flask test client, signed in as the sender)
  after 60% have read and 40% confirmed: p50 / p95 of `--requests` requests, and the engine's
  `receipts.receipts` alone.

    .venv/bin/python bench/notice_fanout.py [--people 5000] [--requests 50] [--postgres SERVER_URL]

PostgreSQL gets a database of its own (liaison_bench_notice), created and dropped here. Not run by the
test suite. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402

from engine.data import db  # noqa: E402
from engine.data.models import Department, Notification, OutboxMessage, Person, utcnow  # noqa: E402
from engine.data.notice_models import NoticeRecipient  # noqa: E402
from engine.notices import receipts, sending  # noqa: E402
from engine.people import accounts  # noqa: E402

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_DB = "liaison_bench_notice"
PASSWORD = "bench password 1"


def company(sessions, people: int) -> None:
    """Head office > 8 departments > 4 teams each; people spread over the teams; the sender `sender`."""
    with sessions() as session, session.begin():
        root = Department(code="hq", name="总部", name_en="Head office", path="")
        session.add(root)
        session.flush()
        root.path = f"/{root.id}/"
        teams = []
        for d in range(8):
            dept = Department(code=f"d{d}", name=f"部门{d}", name_en=f"Department {d}", parent_id=root.id, path="")
            session.add(dept)
            session.flush()
            dept.path = f"{root.path}{dept.id}/"
            for t in range(4):
                team = Department(code=f"d{d}t{t}", name=f"部门{d}-{t}组", parent_id=dept.id, path="")
                session.add(team)
                session.flush()
                team.path = f"{dept.path}{team.id}/"
                teams.append(team.id)
        now = utcnow()
        session.execute(insert(Person.__table__), [
            {"username": f"u{i:05d}", "name": f"员工{i}", "email": f"u{i:05d}@example.com", "active": True,
             "department_id": teams[i % len(teams)], "locale": "zh", "session_version": 1, "failed_logins": 0,
             "created_at": now, "updated_at": now} for i in range(people - 1)])
        accounts.create_person_account(session, "sender", "发送人", PASSWORD, now, department_id=root.id,
                                       email="sender@example.com")


def fan_out(sessions) -> tuple[int, float, float]:
    started = time.perf_counter()
    with sessions() as session, session.begin():
        notice_id = sending.create_notice(session, "sender", "关于调整考勤制度的通知", {"everyone": True},
                                          body="自下月起执行**新考勤制度**，请各位阅读并确认。", ack_required=True)
    created = time.perf_counter()
    while sending.claim_due(sessions):
        sending.run_job(sessions, notice_id)
    done = time.perf_counter()
    return notice_id, created - started, done - created


def check(sessions, notice_id: int, people: int) -> dict:
    with sessions() as session:
        counts = {
            "recipients": session.scalar(select(func.count()).select_from(NoticeRecipient)),
            "inapp": session.scalar(select(func.count()).select_from(Notification)),
            "emails": session.scalar(select(func.count()).select_from(OutboxMessage)
                                     .where(OutboxMessage.channel == "email")),
        }
    assert counts == {"recipients": people, "inapp": people, "emails": people}, counts
    return counts


def read_some(sessions, notice_id: int) -> None:
    """60% read, 40% confirmed (by id: a spread over every department)."""
    with sessions() as session, session.begin():
        session.execute(text("UPDATE notice_recipient SET read_at = now() WHERE notice_id = :n AND id % 5 < 3"),
                        {"n": notice_id})
        session.execute(text("UPDATE notice_recipient SET acknowledged_at = now() WHERE notice_id = :n "
                             "AND id % 5 < 2"), {"n": notice_id})
        session.execute(text("ANALYZE notice_recipient"))


def page_times(url: str, notice_id: int, requests: int) -> list[float]:
    from web import create_app
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "bench"})
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[-1].split('"')[0] \
        if 'type="hidden" value="' in page else page.split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post("/login", data={"username": "sender", "password": PASSWORD, "csrf_token": token}).status_code == 302
    times = []
    for _ in range(requests + 3):
        started = time.perf_counter()
        response = client.get(f"/notices/{notice_id}/receipts")
        times.append(time.perf_counter() - started)
        assert response.status_code == 200
    return times[3:]  # the first requests compile templates


def engine_times(sessions, notice_id: int, requests: int) -> list[float]:
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        with sessions() as session:
            receipts.receipts(session, "sender", notice_id)
        times.append(time.perf_counter() - started)
    return times


def plan(sessions, notice_id: int) -> str:
    """PostgreSQL's plan of the receipts' GROUP BY (it should read the (notice, department) index)."""
    with sessions() as session:
        rows = session.execute(text("EXPLAIN (ANALYZE, COSTS OFF) SELECT department_id, count(*), count(read_at), "
                                    "count(acknowledged_at) FROM notice_recipient WHERE notice_id = :n "
                                    "GROUP BY department_id"), {"n": notice_id}).scalars().all()
    return "\n".join(rows)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--postgres", default=PG_SERVER)
    args = parser.parse_args()
    admin = create_engine(f"{args.postgres}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}"'))
        conn.execute(text(f'CREATE DATABASE "{PG_DB}"'))
    url = f"{args.postgres}/{PG_DB}"
    try:
        db.upgrade(url)
        engine = db.make_engine(url)
        sessions = db.make_session_factory(engine)
        company(sessions, args.people)
        notice_id, create_s, fanout_s = fan_out(sessions)
        counts = check(sessions, notice_id, args.people)
        read_some(sessions, notice_id)
        page = page_times(url, notice_id, args.requests)
        core = engine_times(sessions, notice_id, args.requests)
        print(plan(sessions, notice_id))
        result = {"people": args.people, **counts, "create_s": round(create_s, 3), "fanout_s": round(fanout_s, 2),
                  "page_p50_ms": round(1000 * statistics.median(page), 1),
                  "page_p95_ms": round(1000 * percentile(page, 0.95), 1),
                  "receipts_p50_ms": round(1000 * statistics.median(core), 1),
                  "receipts_p95_ms": round(1000 * percentile(core, 0.95), 1)}
        print(f"fan-out of one notice to {args.people}: request {create_s:.3f} s, background {fanout_s:.2f} s")
        print(f"receipts page p50 {result['page_p50_ms']} ms, p95 {result['page_p95_ms']} ms "
              f"(engine alone p50 {result['receipts_p50_ms']} ms)")
        print(json.dumps(result))
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{PG_DB}'"))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}"'))
        admin.dispose()


if __name__ == "__main__":
    main()
