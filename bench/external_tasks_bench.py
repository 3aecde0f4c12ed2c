"""External tasks on PostgreSQL: N instances wait on an external task; W threads fetch-and-lock (max M
each call) and complete what they got until none is left. Prints the fetch and complete latencies.

    .venv/bin/python bench/external_tasks_bench.py [--instances N] [--workers W] [--max M] [--postgres URL]

The last line printed is JSON: {"instances", "workers", "fetch_p50_ms", "complete_p50_ms",
"complete_p99_ms", "completed_per_s", "double_locks"}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.engine_throughput import PG_SERVER, fresh_pg  # noqa: E402
from engine import runtime  # noqa: E402
from engine.data import db  # noqa: E402
from engine.data.models import Person  # noqa: E402
from engine.packages import deployment  # noqa: E402
from engine.runtime import worker_tasks  # noqa: E402

PACKAGE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "packages" / "credit_check"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=400)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--max", type=int, default=5)
    parser.add_argument("--postgres", default=os.environ.get("LIAISON_BENCH_PG", PG_SERVER))
    args = parser.parse_args()
    url = fresh_pg(args.postgres, "liaison_bench_external")
    db.upgrade(url)
    engine = db.make_engine(url, pool_size=args.workers + 2)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        session.add_all([Person(username="zhang", name="zhang"), Person(username="li", name="li")])
    deployment.deploy_package(sessions, deployment.load_package(PACKAGE), "zhang")
    for n in range(args.instances):
        runtime.start_instance(sessions, "credit_check", {"n": n}, user="zhang")
    fetches, completes, seen, lock = [], [], [], threading.Lock()

    def work(worker: str) -> None:
        while True:
            began = time.perf_counter()
            tasks = worker_tasks.fetch_and_lock(sessions, worker, [("credit-check", 60)], args.max)
            fetched = time.perf_counter()
            if not tasks:
                return
            mine = []
            for task in tasks:
                start = time.perf_counter()
                worker_tasks.complete(sessions, task["id"], worker, {"score": 1})
                mine.append(time.perf_counter() - start)
            with lock:
                fetches.append(fetched - began)
                completes.extend(mine)
                seen.extend(task["id"] for task in tasks)

    began = time.perf_counter()
    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(args.workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.perf_counter() - began
    completes.sort()
    result = {"instances": args.instances, "workers": args.workers,
              "fetch_p50_ms": round(statistics.median(fetches) * 1000, 2),
              "complete_p50_ms": round(statistics.median(completes) * 1000, 2),
              "complete_p99_ms": round(completes[int(len(completes) * 0.99) - 1] * 1000, 2),
              "completed_per_s": round(len(completes) / took, 1), "double_locks": len(seen) - len(set(seen))}
    print(f"{len(completes)} external tasks completed by {args.workers} workers in {took:.2f} s")
    print(json.dumps(result))
    engine.dispose()


if __name__ == "__main__":
    main()
