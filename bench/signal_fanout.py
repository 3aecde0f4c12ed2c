"""Signal fan-out on PostgreSQL: N instances wait on one signal; how long until all of them moved.

Two rounds on a fresh database, each with N fresh waiting instances (`tests/fixtures/bpmn/signals/waiter.bpmn`):

1. **thrown**: an instance's throw event sends the signal. Timed apart: the throwing step alone (its
   one transaction writes the `signal_event` and N `signal_delivery` rows), then the deliveries
   (N engine steps, one transaction each, as the router runs them after the commit).
2. **sent**: `send_signal` from outside (what `liaison signal send` / `POST /api/v1/signals` call),
   from the call until it returns with every waiter moved.

    .venv/bin/python bench/signal_fanout.py [--instances N] [--postgres URL]

The last line printed is JSON: {"instances", "throw_step_ms", "thrown_all_moved_s", "sent_all_moved_s",
"deliveries_per_s", "moved"}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

from bench.engine_throughput import PG_SERVER, fresh_pg  # noqa: E402
from engine import runtime  # noqa: E402
from engine.data import db  # noqa: E402
from engine.data.models import HistoryEntry  # noqa: E402
from engine.packages import deployment  # noqa: E402
from engine.runtime import signals, step  # noqa: E402

SIGNALS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "bpmn" / "signals"


def _waiters(sessions, n: int) -> None:
    for _ in range(n):
        runtime.start_instance(sessions, "sig_waiter", {"fail_on": "no"}, user="bench")


def _moved(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(HistoryEntry)
                              .where(HistoryEntry.action == "signal_received"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--postgres", default=os.environ.get("LIAISON_BENCH_PG", PG_SERVER))
    args = parser.parse_args()
    url = fresh_pg(args.postgres, "liaison_bench_signals")
    db.upgrade(url)
    sessions = db.make_session_factory(db.make_engine(url))
    for name in ("thrower", "waiter"):
        deployment.deploy_package(sessions, deployment.load_package(SIGNALS / f"{name}.bpmn"), "bench")
    n = args.instances

    # 1. thrown by an instance: the throwing step, then the deliveries the router runs after its commit
    _waiters(sessions, n)
    thrower = runtime.start_instance(sessions, "sig_thrower", {"boom": False}, user="ann")
    hooks = list(step.AFTER_COMMIT)
    step.AFTER_COMMIT[:] = [hook for hook in hooks if hook is not signals.route_thrown]
    began = time.perf_counter()
    runtime.complete_task(sessions, thrower.open_tasks[0]["id"], "ann", {"boom": False})
    throw_step = time.perf_counter() - began
    step.AFTER_COMMIT[:] = hooks
    began = time.perf_counter()
    signals.route_thrown(sessions, [thrower.instance_id])
    thrown = time.perf_counter() - began
    moved_thrown = _moved(sessions)

    # 2. sent from outside
    _waiters(sessions, n)
    began = time.perf_counter()
    result = signals.send_signal(sessions, "recall", {"lot": "L-1"}, sender="bench")
    sent = time.perf_counter() - began
    moved = _moved(sessions)

    print(f"{n} waiting instances on PostgreSQL")
    print(f"thrown: throwing step {throw_step * 1000:.1f} ms (signal_event + {n} deliveries written), "
          f"all moved after {thrown:.2f} s ({n / thrown:.0f} deliveries/s), moved {moved_thrown}")
    print(f"sent:   send_signal returned after {sent:.2f} s ({n / sent:.0f} deliveries/s), reached {result.reached}")
    print(json.dumps({"instances": n, "throw_step_ms": round(throw_step * 1000, 1),
                      "thrown_all_moved_s": round(thrown, 3), "sent_all_moved_s": round(sent, 3),
                      "deliveries_per_s": round(n / sent, 1), "moved": moved}))


if __name__ == "__main__":
    main()
