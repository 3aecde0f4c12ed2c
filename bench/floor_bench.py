"""The floor under issues 12 and 13's speed goals: what Flask alone, and one durable PostgreSQL transaction
through Flask with no engine at all, reach on this machine with the benches' own client and server settings.

Issue 12 lists these two rows as references ("bare Flask endpoint", "one PostgreSQL transaction (lock row,
update JSON state, close one task row, insert the next, enqueue a job), no engine": "about the floor of a
durable step through Flask on this machine"); this script measures them again, the way `http_bench.py` and
`api_bench.py` measure Liaison and the naive app: gunicorn with `--workers` sync workers, an async httpx client
on the same machine, `--low` requests at one client (p50 / p99), `--high` at `--concurrency` (per second).

- `ping`: `POST /ping` with the completion's form fields, answered `ok` (Flask parses the form).
- `floor`: `POST /complete/<id>` with the same fields: one transaction on one kept psycopg connection (no
  pool, no ORM): `SELECT ... FOR UPDATE` the instance's JSON state, `UPDATE` it, close the open task row,
  insert the next, insert a job row (a durable queue row in the same database, cheaper than a Redis
  enqueue), `COMMIT` (durable: `synchronous_commit` as the server has it), answer 303 like a form post.

A Liaison completion does everything `floor` does and more (a signed-in session, CSRF, form validation,
SpiffWorkflow's step, history, inbox rows, notifications), so `floor`'s numbers bound what it can reach:

    .venv/bin/python bench/floor_bench.py [--low 1000] [--high 4000] [--concurrency 8] [--workers 2]

The last line is JSON: {"ping_p50_ms", "ping_p99_ms", "ping_per_s", "floor_p50_ms", "floor_p99_ms",
"floor_per_s", "concurrency", "workers"}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_common import (  # noqa: E402 - after the path set-up
    BENCH,
    PG_SERVER,
    create_database,
    drive,
    drop_database,
    gunicorn,
    load_average,
    percentile,
    stop,
    wait_until_up,
)

FLOOR_DB = "liaison_bench_floor"
FORM = {"approved": "true", "manager_comment": "ok", "task-comment": ""}
STATE = json.dumps({"data": {"leave_type": "annual", "days": 2, "manager": "li", "reason": "bench"},
                    "tasks": {f"t{i}": {"state": "COMPLETED", "spec": f"step_{i}"} for i in range(12)}})


def ping_app():
    """Flask alone: parse the posted form, answer `ok`."""
    from flask import Flask, request
    app = Flask("ping")

    @app.post("/ping")
    def ping():
        request.form.to_dict()
        return "ok"

    return app


def floor_app():
    """One durable transaction per request, no engine: the floor of a step through Flask."""
    import psycopg
    from flask import Flask, redirect, request
    dsn = os.environ["FLOOR_DSN"]
    local = threading.local()  # a connection per thread (gthread workers)
    app = Flask("floor")

    def connection():
        if getattr(local, "conn", None) is None or local.conn.closed:
            local.conn = psycopg.connect(dsn)
        return local.conn

    @app.get("/")
    def up():
        return "ok"

    @app.post("/complete/<int:instance_id>")
    def complete(instance_id: int):
        fields = request.form.to_dict()
        conn = connection()
        with conn.transaction():
            state = json.loads(conn.execute("SELECT state FROM instance WHERE id = %s FOR UPDATE",
                                            (instance_id,)).fetchone()[0])
            state["data"].update(fields)
            conn.execute("UPDATE instance SET state = %s, revision = revision + 1 WHERE id = %s",
                         (json.dumps(state), instance_id))
            conn.execute("UPDATE task SET status = 'done', data = %s WHERE instance_id = %s AND status = 'open'",
                         (json.dumps(fields), instance_id))
            conn.execute("INSERT INTO task (instance_id, status, assignee) VALUES (%s, 'open', 'hr')", (instance_id,))
            conn.execute("INSERT INTO job (kind, instance_id) VALUES ('notify', %s)", (instance_id,))
        return redirect("/", 303)

    return app


def floor_database(server: str, instances: int) -> str:
    import psycopg
    dsn = create_database(server, FLOOR_DB).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE instance (id serial PRIMARY KEY, state text NOT NULL, revision int NOT NULL DEFAULT 0)")
        conn.execute("CREATE TABLE task (id serial PRIMARY KEY, instance_id int NOT NULL REFERENCES instance, "
                     "status text NOT NULL, assignee text, data text)")
        conn.execute("CREATE INDEX ix_task_open ON task (instance_id, status)")
        conn.execute("CREATE TABLE job (id serial PRIMARY KEY, kind text NOT NULL, instance_id int NOT NULL, "
                     "created_at timestamptz NOT NULL DEFAULT now())")
        conn.execute("INSERT INTO instance (state) SELECT %s FROM generate_series(1, %s)", (STATE, instances))
        conn.execute("INSERT INTO task (instance_id, status, assignee) SELECT id, 'open', 'li' FROM instance")
        conn.execute("ANALYZE")
    return dsn


def _summary(prefix: str, latencies: list[float], seconds: float | None = None) -> dict:
    out = {f"{prefix}_p50_ms": round(percentile(latencies, 50), 2), f"{prefix}_p99_ms": round(percentile(latencies, 99), 2)}
    if seconds:
        out[f"{prefix}_per_s"] = round(len(latencies) / seconds, 1)
    return out


async def measure(base: str, path_of, args, prefix: str) -> dict:
    import httpx
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        async def post(n: int):
            response = await client.post(path_of(n), data=FORM)
            assert response.status_code in (200, 303), response.text

        await drive([lambda n=n: post(n) for n in range(1, 21)], 2)  # warm-up: both workers, their connections
        low, _s, _r = await drive([lambda n=n: post(n) for n in range(21, 21 + args.low)], 1)
        first = 21 + args.low
        high, seconds, _r = await drive([lambda n=n: post(n) for n in range(first, first + args.high)], args.concurrency)
    return {**_summary(prefix, low), f"{prefix}_per_s": round(len(high) / seconds, 1),
            f"{prefix}_loaded_p99_ms": round(percentile(high, 99), 2)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--low", type=int, default=1000, help="requests at one client")
    parser.add_argument("--high", type=int, default=4000, help="requests at --concurrency")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--server", default=PG_SERVER)
    parser.add_argument("--threads", type=int, default=0,
                        help="gthread workers with this many threads each (keep-alive) instead of sync workers")
    args = parser.parse_args(argv)
    log = tempfile.NamedTemporaryFile("w+", prefix="floor_bench_", suffix=".log", delete=False)  # noqa: SIM115
    extra = ("-k", "gthread", "--threads", str(args.threads)) if args.threads else ()
    results: dict = {}
    try:
        print("start:", load_average(), flush=True)
        process, base = gunicorn("floor_bench:ping_app()", {}, args.workers, BENCH, log, extra)
        try:
            wait_until_up(base, "/", process)
            results.update(asyncio.run(measure(base, lambda n: "/ping", args, "ping")))
        finally:
            stop(process)
        print("ping: ", json.dumps(results), "|", load_average(), flush=True)
        dsn = floor_database(args.server, 20 + args.low + args.high + 10)
        process, base = gunicorn("floor_bench:floor_app()", {"FLOOR_DSN": dsn}, args.workers, BENCH, log, extra)
        try:
            wait_until_up(base, "/", process)
            floor = asyncio.run(measure(base, lambda n: f"/complete/{n}", args, "floor"))
        finally:
            stop(process)
        print("floor:", json.dumps(floor), "|", load_average(), flush=True)
        results.update(floor)
    finally:
        drop_database(args.server, FLOOR_DB)
        print(f"(server logs: {log.name})", file=sys.stderr)
    print(json.dumps({**results, "concurrency": args.concurrency, "workers": args.workers, "threads": args.threads}))


if __name__ == "__main__":
    main()
