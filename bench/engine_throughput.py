"""Engine throughput: a 10-step approval run N times, raw SpiffWorkflow vs Liaison on SQLite and PostgreSQL.

Each step is a user task completed with ~2 KB of form data, followed by an exclusive gateway.
Liaison saves the instance after every step, as in production (one transaction per step:
state, inbox rows, history). Also measures the stored engine state per waiting instance and,
on a 100-step process, how the cost of the last step compares with the first.

    .venv/bin/python bench/engine_throughput.py [--instances N] [--postgres URL]

The last line printed is JSON: {"raw", "sqlite", "postgres", "state_bytes", "growth", ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import string
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from SpiffWorkflow.bpmn import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine  # noqa: E402
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from engine import runtime  # noqa: E402
from engine.bpmn.serialization import SPEC_CACHE  # noqa: E402
from engine.data import db
from engine.data.models import ProcessInstance  # noqa: E402
from engine.packages import deployment as packages

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def approval_bpmn(steps: int, key: str) -> str:
    """A linear approval: user task then exclusive gateway, `steps` times; reject ends early."""
    parts = ['<bpmn:startEvent id="start"/>', '<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="step1"/>']
    for i in range(1, steps + 1):
        nxt = f"step{i + 1}" if i < steps else "approved"
        parts += [
            f'<bpmn:userTask id="step{i}" name="Approval {i}" liaison:assignee="approver"/>',
            f'<bpmn:sequenceFlow id="f{i}a" sourceRef="step{i}" targetRef="gw{i}"/>',
            f'<bpmn:exclusiveGateway id="gw{i}" default="f{i}ok"/>',
            f'<bpmn:sequenceFlow id="f{i}no" sourceRef="gw{i}" targetRef="rejected{i}">'
            f"<bpmn:conditionExpression>decision{i} == 'reject'</bpmn:conditionExpression></bpmn:sequenceFlow>",
            f'<bpmn:endEvent id="rejected{i}"/>',
            f'<bpmn:sequenceFlow id="f{i}ok" sourceRef="gw{i}" targetRef="{nxt}"/>',
        ]
    parts.append('<bpmn:endEvent id="approved"/>')
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'xmlns:liaison="https://liaison.dev/schema/bpmn/1.0" id="defs" targetNamespace="bench">'
            f'<bpmn:process id="{key}" isExecutable="true">' + "".join(parts) + "</bpmn:process></bpmn:definitions>")


def form_data(step: int, rng: random.Random, keep_all: bool = True) -> dict:
    """About 2 KB of form data for one step.

    keep_all: every step adds its own fields, so the process data grows by ~2 KB a step (the
    10-step benchmark). Otherwise the long note goes to one shared field, so the data stays
    the same size and only the instance's history grows (the growth measurement).
    """
    note = "".join(rng.choices(string.ascii_letters + " ", k=1900))
    suffix = step if keep_all else ""
    return {f"decision{step}": "approve", f"note{suffix}": note, f"score{suffix}": rng.randint(1, 5)}


def run_raw(xml: str, key: str, steps: int, n: int, seed: int) -> float:
    """Instances per second, SpiffWorkflow in memory with its default script engine, no persistence."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(xml.encode())
    spec = parser.get_spec(key)
    rng = random.Random(seed)
    datas = [[form_data(s, rng) for s in range(1, steps + 1)] for _ in range(n)]
    begin = time.perf_counter()
    for i in range(n):
        workflow = BpmnWorkflow(spec, {}, script_engine=PythonScriptEngine())
        workflow.do_engine_steps()
        for step in range(steps):
            task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
            task.data.update(datas[i][step])
            task.run()
            workflow.do_engine_steps()
        assert workflow.is_completed()
    return n / (time.perf_counter() - begin)


def deploy(url: str, folder: Path) -> None:
    """Migrate the database and deploy the bench package."""
    db.upgrade(url)
    sessions = db.make_session_factory(db.make_engine(url))
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(folder), "bench")


def run_liaison(url: str, key: str, steps: int, n: int, seed: int,
                keep_all: bool = True) -> tuple[float, list[int], list[list[float]]]:
    """Instances per second through the engine API with a save per step; state sizes; per-step times."""
    sessions = db.make_session_factory(db.make_engine(url))
    rng = random.Random(seed)
    datas = [[form_data(s, rng, keep_all) for s in range(1, steps + 1)] for _ in range(n)]
    sizes, step_times = [], []
    begin = time.perf_counter()
    for i in range(n):
        result = runtime.start_instance(sessions, key, {"amount": 100}, user="initiator")
        times = []
        for step in range(steps):
            t0 = time.perf_counter()
            result = runtime.complete_task(sessions, result.open_tasks[0]["id"], "approver", datas[i][step])
            times.append(time.perf_counter() - t0)
        step_times.append(times)
        assert result.status == "completed", result
    elapsed = time.perf_counter() - begin
    with sessions() as session:  # sizes of waiting instances: start a few and stop mid-way
        for _ in range(3):
            result = runtime.start_instance(sessions, key, {"amount": 100}, user="initiator")
            for step in range(min(steps, 10) - 1):
                result = runtime.complete_task(sessions, result.open_tasks[0]["id"], "approver",
                                               form_data(step + 1, rng))
                row = session.get(ProcessInstance, result.instance_id)
                session.refresh(row)
                sizes.append(len(row.state.encode()))
    return n / elapsed, sizes, step_times


def make_package(root: Path, key: str, steps: int) -> Path:
    folder = root / key
    folder.mkdir(parents=True)
    (folder / "package.yaml").write_text(f"id: {key}\nname: {{en: Bench {steps}, zh: 基准 {steps}}}\n")
    (folder / f"{key}.bpmn").write_text(approval_bpmn(steps, key))
    return folder


def fresh_pg(server: str, name: str) -> str:
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{server}/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--postgres", default=os.environ.get("LIAISON_BENCH_PG", PG_SERVER))
    parser.add_argument("--growth-steps", type=int, default=100)
    args = parser.parse_args()
    n, seed = args.instances, 7
    tmp = Path(tempfile.mkdtemp(prefix="liaison-bench-"))
    folder = make_package(tmp, "approval10", 10)
    long_folder = make_package(tmp, "approval100", args.growth_steps)

    raw = run_raw(approval_bpmn(10, "approval10"), "approval10", 10, n, seed)
    print(f"raw SpiffWorkflow in memory : {raw:8.1f} instances/s")

    sqlite_url = f"sqlite:///{tmp / 'bench.db'}"
    deploy(sqlite_url, folder)
    deploy(sqlite_url, long_folder)
    SPEC_CACHE.clear()
    sqlite, sizes, _ = run_liaison(sqlite_url, "approval10", 10, n, seed)
    print(f"Liaison on SQLite           : {sqlite:8.1f} instances/s  ({sqlite / raw:.2f}x raw)")

    pg_url = fresh_pg(args.postgres, "liaison_bench")
    deploy(pg_url, folder)
    postgres, pg_sizes, _ = run_liaison(pg_url, "approval10", 10, max(n // 2, 20), seed)
    print(f"Liaison on PostgreSQL       : {postgres:8.1f} instances/s  ({postgres / raw:.2f}x raw)")

    def step_cost(times: list[list[float]], index: int) -> float:
        """Median over instances of the mean of 5 steps around `index` (single steps are noisy)."""
        window = range(index, index + 5) if index >= 0 else range(index - 4, index + 1)
        return statistics.median(statistics.mean(t[i] for i in window) for t in times)

    _, _, step_times = run_liaison(sqlite_url, "approval100", args.growth_steps, 7, seed, keep_all=False)
    first, last = step_cost(step_times, 0), step_cost(step_times, -1)
    growth = last / first
    _, _, grow_times = run_liaison(sqlite_url, "approval100", args.growth_steps, 3, seed, keep_all=True)
    data_growth = step_cost(grow_times, -1) / step_cost(grow_times, 0)
    state_bytes = max(sizes + pg_sizes)
    print(f"stored engine state per waiting instance: max {state_bytes} bytes "
          f"(median {int(statistics.median(sizes))})")
    print(f"{args.growth_steps}-step process, data of constant size: first steps {first * 1000:.2f} ms, "
          f"last steps {last * 1000:.2f} ms -> growth {growth:.2f}x")
    print(f"{args.growth_steps}-step process, every step adding 2 KB of data (200 KB at the end): "
          f"growth {data_growth:.2f}x")
    print(json.dumps({"raw": round(raw, 1), "sqlite": round(sqlite, 1), "postgres": round(postgres, 1),
                      "state_bytes": state_bytes, "growth": round(growth, 2),
                      "sqlite_ratio": round(sqlite / raw, 2), "postgres_ratio": round(postgres / raw, 2),
                      "data_growth": round(data_growth, 2), "instances": n}))


if __name__ == "__main__":
    main()
