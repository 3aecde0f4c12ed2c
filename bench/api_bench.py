"""REST API latency and throughput: start + complete over HTTP, Liaison vs a naive Flask + SpiffWorkflow app.

Both apps run under gunicorn with 2 workers on PostgreSQL, each in a database of its own
(`liaison_bench_api`, `liaison_bench_naive`, created and dropped here). Liaison runs the real
`leave_request` package: zhang starts over `POST /api/v1/processes/leave_request/instances`, li
approves over `POST /api/v1/tasks/{id}/complete` (the instance then waits at HR's record). The naive
reference, written below, is what a first Flask + SpiffWorkflow app does: one table, the whole
workflow serialized to JSON and saved on every request (`SELECT ... FOR UPDATE`, deserialize,
complete, serialize, `UPDATE`), the same shape of process (start -> approval -> record).

Each app is driven by an async httpx client: first `--instances` starts at `--concurrency`, then
`--low` completions one at a time (the low-load latency), then the rest of the completions at
`--concurrency` (throughput). Only the HTTP round trip is timed, on the same machine as the servers.

    .venv/bin/pip install httpx   # or: pip install -e '.[bench]'
    .venv/bin/python bench/api_bench.py [--instances N] [--concurrency C] [--low L] [--skip-naive]

The last line printed is JSON: {"complete_p50_ms", "complete_p99_ms" (low load), "completions_per_s"
and "starts_per_s" (at the concurrency), ..., "naive": the same keys for the reference}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
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
    naive_database,
    percentile,
    stop,
    wait_until_up,
)

LIAISON_DB = "liaison_bench_api"
NAIVE_DB = "liaison_bench_naive"
START = {"leave_type": "annual", "days": 2, "manager": "li"}
APPROVE = {"action": "approve", "data": {"manager_comment": "ok"}}

def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=600, help="instances started (and one task each completed)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight at once")
    parser.add_argument("--low", type=int, default=100, help="completions sent one at a time (low-load latency)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per app")
    parser.add_argument("--server", default=PG_SERVER, help="PostgreSQL server URL (SQLAlchemy form, no database)")
    parser.add_argument("--skip-naive", action="store_true", help="run Liaison only")
    args = parser.parse_args(argv)
    if args.low >= args.instances:
        parser.error("--low must be below --instances")
    return args


# -- databases and servers ---------------------------------------------------------------------------

def prepare_liaison(url: str) -> dict[str, str]:
    """Migrate, add zhang / li / hu (HR), deploy leave_request; a token for zhang and li."""
    from sqlalchemy import select

    from engine.data import db
    from engine.data.models import Person, PersonRole, Role
    from engine.packages import deployment
    from engine.people import api_tokens

    db.upgrade(url)
    sessions = db.make_session_factory(db.make_engine(url))
    with sessions() as session, session.begin():
        for username, name in (("zhang", "张三"), ("li", "李四"), ("hu", "胡雪")):
            session.add(Person(username=username, name=name))
        hr = Role(key="hr", name="人事", name_en="HR")
        session.add(hr)
        session.flush()
        hu = session.scalar(select(Person.id).where(Person.username == "hu"))
        session.add(PersonRole(person_id=hu, role_id=hr.id))
    deployment.deploy_package(sessions, deployment.load_package(ROOT / "processes" / "leave_request"), "zhang")
    with sessions() as session:
        return {name: api_tokens.create_token(session, name, "bench", list(api_tokens.SCOPES))[1]
                for name in ("zhang", "li")}


# -- the load ------------------------------------------------------------------------------------------

async def run_load(base: str, args, start, complete) -> dict:
    """Starts at the concurrency, `--low` completions one at a time, the rest at the concurrency."""
    import httpx
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        for _ in range(5):  # warm both workers (imports, caches, connections)
            await complete(client, await start(client))
        _lat, start_seconds, started = await drive([lambda: start(client)] * args.instances, args.concurrency)
        low, _seconds, _r = await drive([lambda h=h: complete(client, h) for h in started[:args.low]], 1)
        high, high_seconds, _r = await drive([lambda h=h: complete(client, h) for h in started[args.low:]],
                                              args.concurrency)
    return {"complete_p50_ms": round(statistics.median(low), 2), "complete_p99_ms": round(percentile(low, 99), 2),
            "completions_per_s": round(len(high) / high_seconds, 1),
            "starts_per_s": round(args.instances / start_seconds, 1),
            "loaded_complete_p50_ms": round(statistics.median(high), 2),
            "loaded_complete_p99_ms": round(percentile(high, 99), 2)}


def liaison_calls(tokens: dict[str, str]):
    zhang = {"Authorization": f"Bearer {tokens['zhang']}"}
    li = {"Authorization": f"Bearer {tokens['li']}"}

    async def start(client):
        response = await client.post("/api/v1/processes/leave_request/instances", json={"data": START}, headers=zhang)
        assert response.status_code == 201, response.text
        return response.json()["tasks"][0]["id"]

    async def complete(client, task_id):
        response = await client.post(f"/api/v1/tasks/{task_id}/complete", json=APPROVE, headers=li)
        assert response.status_code == 200, response.text
    return start, complete


def naive_calls():
    async def start(client):
        response = await client.post("/start", json=START)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    async def complete(client, instance_id):
        response = await client.post(f"/instances/{instance_id}/complete", json={"manager_comment": "ok"})
        assert response.status_code == 200, response.text
    return start, complete


def main(argv=None) -> None:
    args = parse_args(argv)
    results = {}
    log = tempfile.NamedTemporaryFile("w+", prefix="api_bench_", suffix=".log", delete=False)  # noqa: SIM115
    try:
        url = create_database(args.server, LIAISON_DB)
        tokens = prepare_liaison(url)
        env = {"LIAISON_DATABASE_URL": url, "LIAISON_SECRET_KEY": "bench", "LIAISON_API_RATE": "1000000/minute"}
        process, base = gunicorn("web:create_app()", env, args.workers, ROOT, log)
        try:
            wait_until_up(base, "/healthz", process)
            results = asyncio.run(run_load(base, args, *liaison_calls(tokens)))
        finally:
            process.terminate()
            process.wait(30)
        print("liaison:", json.dumps(results), flush=True)
        if not args.skip_naive:
            dsn = naive_database(args.server, NAIVE_DB)
            process, base = gunicorn("http_common:naive_app()", {"NAIVE_DSN": dsn}, args.workers, BENCH, log)
            try:
                wait_until_up(base, "/", process)
                naive = asyncio.run(run_load(base, args, *naive_calls()))
            finally:
                stop(process)
            print("naive:  ", json.dumps(naive), flush=True)
            results["naive"] = naive
    finally:
        drop_database(args.server, LIAISON_DB)
        drop_database(args.server, NAIVE_DB)
        print(f"(server logs: {log.name})", file=sys.stderr)
    results.update({"concurrency": args.concurrency, "instances": args.instances, "low": args.low,
                    "workers": args.workers})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
