"""A task completion and a start through the web form over HTTP: Liaison vs a naive Flask + SpiffWorkflow app.

Both apps run under gunicorn (2 sync workers) on PostgreSQL, each in a database of its own
(`liaison_bench_http`, `liaison_bench_http_naive`, created and dropped here). Liaison runs the shipped
`leave_request` package as a browser uses it: zhang and li sign in through `/login` (one session cookie
each, its CSRF token read from a page), zhang starts with the start form (`POST /start/leave_request`),
li approves with the task form (`POST /tasks/<id>`); both answer with a redirect, which is not followed
(only the POST is timed). The naive reference (`http_common.naive_app`) saves the whole workflow per
request and gets the same form fields.

For each app: `--starts-low` starts one at a time, the rest of `--instances` starts at `--concurrency`,
then `--low` completions one at a time, then the rest at `--concurrency` (a bounded local load: an async
httpx client on the same machine, at most `--concurrency` requests in flight). The machine's load
average is printed before and after each app: on a shared machine only the ratio Liaison / naive of one
run means something.

Then, one client, `--pages` GETs each of li's inbox, the page of a task li completed and the instance page of
zhang's request (p50 / p99; Liaison only: the naive app has no pages).

Then, in process (Flask test client on the same database), the SQL statements of one completion, one
start, the inbox and a task page are counted with a `before_cursor_execute` listener (caches warm).

    .venv/bin/pip install httpx   # or: pip install -e '.[bench]'
    .venv/bin/python bench/http_bench.py [--instances 700] [--low 200] [--starts-low 100] [--concurrency 8]

The last line is JSON: {"p50_ms", "p99_ms" (completions, one client), "per_s_8_clients" (completions
per second at the concurrency), "naive_p50_ms", "naive_per_s_8_clients", "queries_per_completion", ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_common import (  # noqa: E402 - after the path set-up
    BENCH,
    PG_SERVER,
    ROOT,
    create_database,
    drive,
    drop_database,
    gunicorn,
    load_average,
    naive_database,
    percentile,
    stop,
    wait_until_up,
)

LIAISON_DB = "liaison_bench_http"
NAIVE_DB = "liaison_bench_http_naive"
PASSWORD = "bench-password-7Qx"
START_FORM = {"leave_type": "annual", "days": "2", "manager": "li", "reason": "bench"}
APPROVE_FORM = {"approved": "true", "manager_comment": "ok", "task-comment": ""}
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
COOKIE = "liaison_session"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=700, help="instances started (one task each completed)")
    parser.add_argument("--low", type=int, default=200, help="completions sent one at a time")
    parser.add_argument("--starts-low", type=int, default=100, help="starts sent one at a time")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight at once")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per app")
    parser.add_argument("--pages", type=int, default=100, help="GETs of each page (inbox, task, instance), one client")
    parser.add_argument("--server", default=PG_SERVER, help="PostgreSQL server URL (SQLAlchemy form, no database)")
    args = parser.parse_args(argv)
    if args.low >= args.instances or args.starts_low >= args.instances:
        parser.error("--low and --starts-low must be below --instances")
    return args


def prepare_liaison(url: str) -> None:
    """Migrate, add zhang / li / hu (HR) with a password, deploy leave_request."""
    from sqlalchemy import select

    from engine.data import db
    from engine.data.models import Person, PersonRole, Role
    from engine.packages import deployment
    from engine.people import accounts

    db.upgrade(url)
    sessions = db.make_session_factory(db.make_engine(url))
    now = datetime.now(UTC)
    with sessions() as session, session.begin():
        for username, name in (("zhang", "张三"), ("li", "李四"), ("hu", "胡雪")):
            accounts.create_person_account(session, username, name, PASSWORD, now)
        hr = Role(key="hr", name="人事", name_en="HR")
        session.add(hr)
        session.flush()
        hu = session.scalar(select(Person.id).where(Person.username == "hu"))
        session.add(PersonRole(person_id=hu, role_id=hr.id))
    deployment.deploy_package(sessions, deployment.load_package(ROOT / "processes" / "leave_request"), "zhang")


def open_tasks_of(url: str, username: str) -> list[str]:
    from sqlalchemy import create_engine, text
    engine = create_engine(url)
    with engine.connect() as conn:
        ids = list(conn.scalars(text("SELECT id FROM work_task WHERE status = 'open' AND assignee = :u ORDER BY id"),
                                {"u": username}))
    engine.dispose()
    return ids


def done_task_of(url: str, username: str) -> tuple[str, int]:
    """A task `username` completed and its instance."""
    from sqlalchemy import create_engine, text
    engine = create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT id, instance_id FROM work_task WHERE status = 'completed' AND completed_by = :u"
                                " ORDER BY id LIMIT 1"), {"u": username}).first()
    engine.dispose()
    return row[0], row[1]


async def sign_in(client, username: str) -> str:
    """Sign `client` in as `username`; the CSRF token of its session."""
    page = await client.get("/login")
    token = _CSRF.search(page.text).group(1)
    response = await client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.text
    page = await client.get("/password")
    return _CSRF.search(page.text).group(1)


def signed_in(client, cookie: str) -> None:
    """Send the session cookie as it was right after signing in. Each POST answers with a redirect whose
    page would show (and so remove) its flash message; the bench does not follow it, so without this the
    cookie would carry one more unread flash per request, and Flask would decode and re-sign a cookie
    growing to tens of KB (a browser keeps it under 4 KB). Called right before `client.post`: the request
    is built before the first await, so concurrent requests cannot interleave here."""
    client.cookies.clear()
    client.cookies.set(COOKIE, cookie)


def _summary(prefix: str, latencies: list[float], seconds: float | None = None) -> dict:
    out = {f"{prefix}_p50_ms": round(statistics.median(latencies), 2),
           f"{prefix}_p99_ms": round(percentile(latencies, 99), 2)}
    if seconds is not None:
        out[f"{prefix}_per_s"] = round(len(latencies) / seconds, 1)
    return out


async def run_liaison(base: str, args, url: str) -> dict:
    import httpx
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as zhang, \
            httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as li:
        zhang_csrf, li_csrf = await sign_in(zhang, "zhang"), await sign_in(li, "li")
        zhang_cookie, li_cookie = zhang.cookies[COOKIE], li.cookies[COOKIE]

        async def start():
            signed_in(zhang, zhang_cookie)
            response = await zhang.post("/start/leave_request", data={**START_FORM, "csrf_token": zhang_csrf})
            assert response.status_code == 302 and "/login" not in response.headers["location"], response.text[:2000]

        async def complete(task_id):
            signed_in(li, li_cookie)
            response = await li.post(f"/tasks/{task_id}", data={**APPROVE_FORM, "csrf_token": li_csrf})
            assert response.status_code == 302 and response.headers["location"].endswith("/inbox/"), \
                (response.headers.get("location"), response.text[:2000])

        found = await _phases(args, start, complete, lambda: open_tasks_of(url, "li"))
        return {**found, **await _pages(args, zhang, li, zhang_cookie, li_cookie, url)}


async def _pages(args, zhang, li, zhang_cookie, li_cookie, url: str) -> dict:
    """The pages a person opens around a completion, one client: li's inbox, the page of a task li
    completed, the instance page of zhang's request (p50 / p99 of `--pages` each, after a warm-up)."""
    task_id, instance_id = done_task_of(url, "li")

    async def inbox():
        signed_in(li, li_cookie)
        assert (await li.get("/inbox/")).status_code == 200

    async def task_page():
        signed_in(li, li_cookie)
        assert (await li.get(f"/tasks/{task_id}")).status_code == 200

    async def instance_page():
        signed_in(zhang, zhang_cookie)
        assert (await zhang.get(f"/instances/{instance_id}")).status_code == 200

    out = {}
    for name, call in (("inbox", inbox), ("task_page", task_page), ("instance_page", instance_page)):
        for _ in range(4):  # both workers
            await call()
        latencies, _s, _r = await drive([call] * args.pages, 1)
        out.update(_summary(name, latencies))
    return out


async def run_naive(base: str, args) -> dict:
    import httpx
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        started = []

        async def start():
            response = await client.post("/start", data=START_FORM)
            assert response.status_code == 201, response.text
            started.append(response.json()["id"])

        async def complete(instance_id):
            response = await client.post(f"/instances/{instance_id}/complete", data=APPROVE_FORM)
            assert response.status_code == 200, response.text

        return await _phases(args, start, complete, lambda: sorted(started))


async def _phases(args, start, complete, waiting) -> dict:
    """Warm-up, starts at 1 and at the concurrency, completions at 1 and at the concurrency."""
    for _ in range(4):  # both workers: imports, caches, connections
        await start()
    for handle in waiting()[:4]:
        await complete(handle)
    low_starts, _s, _r = await drive([start] * args.starts_low, 1)
    high_starts, high_starts_s, _r = await drive([start] * (args.instances - args.starts_low), args.concurrency)
    handles = waiting()[:args.instances]
    low, _s, _r = await drive([lambda h=h: complete(h) for h in handles[:args.low]], 1)
    high, high_s, _r = await drive([lambda h=h: complete(h) for h in handles[args.low:]], args.concurrency)
    return {**_summary("complete", low), **_summary("complete_loaded", high, high_s),
            **_summary("start", low_starts), **_summary("start_loaded", high_starts, high_starts_s)}


def count_statements(url: str) -> dict:
    """SQL statements of one completion, one start, the inbox and a task page (Flask test client, in
    process, on the bench's database; each measured after one warm-up of the same request)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from web import create_app

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": False})
    counted = []

    def count(*_args):
        counted.append(1)

    def csrf(client, path="/password"):
        return _CSRF.search(client.get(path).get_data(as_text=True)).group(1)

    clients = {}
    for name in ("zhang", "li"):
        client = app.test_client()
        client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": csrf(client, "/login")})
        clients[name] = (client, csrf(client))

    def measured(call) -> int:
        call()  # warm
        counted.clear()
        event.listen(Engine, "before_cursor_execute", count)
        try:
            call()
        finally:
            event.remove(Engine, "before_cursor_execute", count)
        return len(counted)

    zhang, zhang_csrf = clients["zhang"]
    li, li_csrf = clients["li"]

    def start():
        assert zhang.post("/start/leave_request", data={**START_FORM, "csrf_token": zhang_csrf}).status_code == 302

    out = {"queries_per_start": measured(start)}
    start()
    tasks = iter(open_tasks_of(url, "li"))

    def complete():
        assert li.post(f"/tasks/{next(tasks)}", data={**APPROVE_FORM, "csrf_token": li_csrf}).status_code == 302

    out["queries_per_completion"] = measured(complete)
    task_id = next(tasks)
    out["queries_task_page"] = measured(lambda: li.get(f"/tasks/{task_id}"))
    out["queries_inbox"] = measured(lambda: li.get("/inbox/"))
    return out


def main(argv=None) -> None:
    args = parse_args(argv)
    log = tempfile.NamedTemporaryFile("w+", prefix="http_bench_", suffix=".log", delete=False)  # noqa: SIM115
    results: dict = {}
    try:
        print("start:", load_average(), flush=True)
        url = create_database(args.server, LIAISON_DB)
        prepare_liaison(url)
        env = {"LIAISON_DATABASE_URL": url, "LIAISON_SECRET_KEY": "bench"}
        process, base = gunicorn("web:create_app()", env, args.workers, ROOT, log)
        try:
            wait_until_up(base, "/healthz", process)
            liaison = asyncio.run(run_liaison(base, args, url))
        finally:
            stop(process)
        print("liaison:", json.dumps(liaison), "|", load_average(), flush=True)
        dsn = naive_database(args.server, NAIVE_DB)
        process, base = gunicorn("http_common:naive_app()", {"NAIVE_DSN": dsn}, args.workers, BENCH, log)
        try:
            wait_until_up(base, "/", process)
            naive = asyncio.run(run_naive(base, args))
        finally:
            stop(process)
        print("naive:  ", json.dumps(naive), "|", load_average(), flush=True)
        counts = count_statements(url)
        print("statements:", json.dumps(counts), flush=True)
    finally:
        drop_database(args.server, LIAISON_DB)
        drop_database(args.server, NAIVE_DB)
        print(f"(server logs: {log.name})", file=sys.stderr)
    results = {"p50_ms": liaison["complete_p50_ms"], "p99_ms": liaison["complete_p99_ms"],
               "per_s_8_clients": liaison["complete_loaded_per_s"],
               "naive_p50_ms": naive["complete_p50_ms"], "naive_per_s_8_clients": naive["complete_loaded_per_s"],
               "queries_per_completion": counts["queries_per_completion"],
               "start_p50_ms": liaison["start_p50_ms"], "starts_per_s_8_clients": liaison["start_loaded_per_s"],
               "naive_start_p50_ms": naive["start_p50_ms"],
               "naive_starts_per_s_8_clients": naive["start_loaded_per_s"],
               "inbox_p50_ms": liaison["inbox_p50_ms"], "task_page_p50_ms": liaison["task_page_p50_ms"],
               "instance_page_p50_ms": liaison["instance_page_p50_ms"],
               "queries_inbox": counts["queries_inbox"], "queries_task_page": counts["queries_task_page"],
               "p50_ratio": round(liaison["complete_p50_ms"] / naive["complete_p50_ms"], 2),
               "per_s_ratio": round(liaison["complete_loaded_per_s"] / naive["complete_loaded_per_s"], 2),
               "concurrency": args.concurrency, "instances": args.instances, "workers": args.workers}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
