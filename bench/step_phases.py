"""Where the time of one engine step goes: the 10-step approval of engine_throughput.py, timed per phase.

    .venv/bin/python bench/step_phases.py [sqlite|postgres] [--instances N]

Wraps the engine's store and workflow functions with timers (so the total is a little higher
than in engine_throughput.py) and prints milliseconds per step for each phase. The rest of the
total is the transaction itself (BEGIN, COMMIT, connection checkout) and the glue between phases.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import engine_throughput as bench  # noqa: E402

from engine import runtime  # noqa: E402
from engine.bpmn import workflow as wfa  # noqa: E402
from engine.data import (
    db,
    store,  # noqa: E402
)
from engine.runtime import step  # noqa: E402

TIMES: dict[str, float] = collections.defaultdict(float)


def _timed(module, name: str, label: str) -> None:
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        begin = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            TIMES[label] += time.perf_counter() - begin

    setattr(module, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("backend", nargs="?", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--instances", type=int, default=100)
    args = parser.parse_args()
    for name in ("task_handle", "write_step", "latest_version", "instance_state"):
        if hasattr(store, name):
            _timed(store, name, f"sql {name}")
    _timed(step, "dump_state", "serialize state")
    _timed(step, "restore", "restore (cache hit)")
    for name in ("complete_user_task", "run_engine", "current_data", "ready_task_ids"):
        _timed(wfa, name, f"engine {name}")

    tmp = Path(tempfile.mkdtemp(prefix="liaison-phases-"))
    folder = bench.make_package(tmp, "approval10", 10)
    url = f"sqlite:///{tmp / 'phases.db'}" if args.backend == "sqlite" else bench.fresh_pg(
        bench.PG_SERVER, "liaison_phases")
    bench.deploy(url, folder)
    sessions = db.make_session_factory(db.make_engine(url))
    rng = random.Random(1)
    datas = [[bench.form_data(s + 1, rng) for s in range(10)] for _ in range(args.instances + 10)]

    def run(count: int, offset: int = 0) -> None:
        for i in range(count):
            result = runtime.start_instance(sessions, "approval10", {"amount": 1}, user="initiator")
            for step_number in range(10):
                result = runtime.complete_task(sessions, result.open_tasks[0]["id"], "approver",
                                               datas[offset + i][step_number])

    run(10)
    TIMES.clear()
    begin = time.perf_counter()
    run(args.instances, 10)
    steps = args.instances * 11
    total = time.perf_counter() - begin
    print(f"{args.backend}: {1000 * total / steps:.3f} ms per step (start or completion), "
          f"{args.instances} instances")
    accounted = 0.0
    for label, seconds in sorted(TIMES.items(), key=lambda item: -item[1]):
        accounted += seconds
        print(f"  {label:32s} {1000 * seconds / steps:.3f} ms")
    print(f"  {'transaction and glue':32s} {1000 * (total - accounted) / steps:.3f} ms")


if __name__ == "__main__":
    main()
