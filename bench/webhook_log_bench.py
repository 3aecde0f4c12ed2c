"""A webhook subscription's delivery log on PostgreSQL (`api_webhooks.recent_deliveries`: the newest 21
outbox rows of one recipient) with and without `ix_outbox_recipient` (migration 0036), on an outbox of
N rows over 200 recipients: a busy recipient, one with 30 recent rows, and a new one with none.

    .venv/bin/python bench/webhook_log_bench.py [--rows N] [--postgres URL]

Uses its own database `liaison_bench_webhook_log` (dropped at the end). The last line is JSON:
{"rows", "with_index_ms": {recipient: ms}, "without_index_ms": {recipient: ms}}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402

from engine.data import db  # noqa: E402

NAME = "liaison_bench_webhook_log"
READ = text("SELECT id, event, status, attempts, last_error, instance_id, created_at, sent_at, next_attempt_at "
            "FROM outbox WHERE recipient = :r ORDER BY id DESC LIMIT 21")
RECIPIENTS = {"busy": "api-webhook-7", "recent": "api-webhook-rare", "new": "api-webhook-new"}


def _timed(engine, repeat: int = 20) -> dict[str, float]:
    found = {}
    with engine.connect() as conn:
        for label, recipient in RECIPIENTS.items():
            conn.execute(READ, {"r": recipient}).all()
            start = time.perf_counter()
            for _ in range(repeat):
                conn.execute(READ, {"r": recipient}).all()
            found[label] = round((time.perf_counter() - start) / repeat * 1000, 2)
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {NAME}"))
        conn.execute(text(f"CREATE DATABASE {NAME}"))
    url = args.postgres.rsplit("/", 1)[0] + "/" + NAME
    try:
        db.upgrade(url)
        engine = db.make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("""INSERT INTO outbox (instance_id, event, channel, recipient, payload, status, attempts,
                next_attempt_at, created_at) SELECT g, 'task.created', 'webhook', 'api-webhook-' || (g % 200),
                '{}'::json, 'sent', 1, now(), now() FROM generate_series(1, :n) g"""), {"n": args.rows})
            conn.execute(text("""INSERT INTO outbox (instance_id, event, channel, recipient, payload, status, attempts,
                next_attempt_at, created_at) SELECT g, 'ping', 'webhook', 'api-webhook-rare', '{}'::json, 'sent', 1,
                now(), now() FROM generate_series(1, 30) g"""))
            conn.execute(text("ANALYZE outbox"))
        with_index = _timed(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_outbox_recipient"))
            conn.execute(text("ANALYZE outbox"))
        without_index = _timed(engine)
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {NAME}"))
    print(json.dumps({"rows": args.rows, "with_index_ms": with_index, "without_index_ms": without_index}))


if __name__ == "__main__":
    main()
