"""Engine throughput: a 10-step approval run N times, raw SpiffWorkflow vs Liaison on SQLite and PostgreSQL.

Each step is a user task completed with ~2 KB of form data, followed by an exclusive gateway.
Liaison saves the instance after every step, as in production (one transaction per step:
state, inbox rows, history). Raw and Liaison run in alternating blocks in one process and each
figure is the median of its blocks, so the ratios hold on a shared machine. Also measures the
stored engine state per waiting instance and, on a 100-step process, how the cost of the last
steps compares with the first (the final step, which ends the instance, is reported apart).

    .venv/bin/python bench/engine_throughput.py [--instances N] [--rounds R] [--postgres URL]

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
    """Seconds per instance, SpiffWorkflow in memory with its default script engine, no persistence.

    Only the instances are timed: parsing and generating the form data are left out."""
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
    return (time.perf_counter() - begin) / n


def deploy(url: str, folder: Path) -> None:
    """Migrate the database and deploy the bench package."""
    db.upgrade(url)
    sessions = db.make_session_factory(db.make_engine(url))
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(folder), "bench")


def run_liaison(sessions, key: str, steps: int, n: int, seed: int,
                keep_all: bool = True) -> tuple[float, list[list[float]]]:
    """Seconds per instance through the engine API with a save per step, and each instance's step times."""
    rng = random.Random(seed)
    datas = [[form_data(s, rng, keep_all) for s in range(1, steps + 1)] for _ in range(n)]
    step_times = []
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
    return (time.perf_counter() - begin) / n, step_times


def state_sizes(sessions, key: str, steps: int, seed: int) -> list[int]:
    """Stored engine state of waiting instances: start a few and stop mid-way."""
    rng = random.Random(seed)
    sizes = []
    with sessions() as session:
        for _ in range(3):
            result = runtime.start_instance(sessions, key, {"amount": 100}, user="initiator")
            for step in range(min(steps, 10) - 1):
                result = runtime.complete_task(sessions, result.open_tasks[0]["id"], "approver",
                                               form_data(step + 1, rng))
                row = session.get(ProcessInstance, result.instance_id)
                session.refresh(row)
                sizes.append(len(row.state.encode()))
    return sizes


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


def step_cost(times: list[list[float]], first: int, count: int = 5) -> float:
    """Median over instances of the mean of `count` steps from `first` (single steps are noisy)."""
    return statistics.median(statistics.mean(t[first:first + count]) for t in times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=200, help="Liaison instances on SQLite, all rounds")
    parser.add_argument("--rounds", type=int, default=8, help="blocks of raw, SQLite and PostgreSQL, interleaved")
    parser.add_argument("--postgres", default=os.environ.get("LIAISON_BENCH_PG", PG_SERVER))
    parser.add_argument("--growth-steps", type=int, default=100)
    args = parser.parse_args()
    n, seed, rounds = args.instances, 7, args.rounds
    block = max(n // rounds, 2)
    tmp = Path(tempfile.mkdtemp(prefix="liaison-bench-"))
    folder = make_package(tmp, "approval10", 10)
    long_folder = make_package(tmp, "approval100", args.growth_steps)
    xml = approval_bpmn(10, "approval10")

    sqlite_url = f"sqlite:///{tmp / 'bench.db'}"
    deploy(sqlite_url, folder)
    deploy(sqlite_url, long_folder)
    pg_url = fresh_pg(args.postgres, "liaison_bench")
    deploy(pg_url, folder)
    SPEC_CACHE.clear()
    lite = db.make_session_factory(db.make_engine(sqlite_url))
    pg = db.make_session_factory(db.make_engine(pg_url))
    # The machine may be shared: raw and Liaison run in alternating blocks in this one process and
    # each is the median of its blocks, so a busy moment slows all three instead of skewing a ratio.
    run_raw(xml, "approval10", 10, 5, seed)
    run_liaison(lite, "approval10", 10, 2, seed)
    run_liaison(pg, "approval10", 10, 2, seed)
    blocks: dict[str, list[float]] = {"raw": [], "sqlite": [], "postgres": []}
    for r in range(rounds):
        blocks["raw"].append(run_raw(xml, "approval10", 10, max(block, 20), seed + r))
        blocks["sqlite"].append(run_liaison(lite, "approval10", 10, block, seed + r)[0])
        blocks["postgres"].append(run_liaison(pg, "approval10", 10, max(block // 2, 2), seed + r)[0])
    per = {name: statistics.median(v) for name, v in blocks.items()}
    raw, sqlite, postgres = 1 / per["raw"], 1 / per["sqlite"], 1 / per["postgres"]
    spread = {name: max(v) / min(v) for name, v in blocks.items()}
    print(f"{rounds} rounds of raw / SQLite ({block}) / PostgreSQL ({max(block // 2, 2)} instances), medians:")
    print(f"raw SpiffWorkflow in memory : {raw:8.1f} instances/s  (blocks max/min {spread['raw']:.2f})")
    print(f"Liaison on SQLite           : {sqlite:8.1f} instances/s  ({sqlite / raw:.3f}x raw, "
          f"{per['sqlite'] / 11 * 1000:.2f} ms/step, blocks max/min {spread['sqlite']:.2f})")
    print(f"Liaison on PostgreSQL       : {postgres:8.1f} instances/s  ({postgres / raw:.3f}x raw, "
          f"{per['postgres'] / 11 * 1000:.2f} ms/step, blocks max/min {spread['postgres']:.2f})")

    sizes = state_sizes(lite, "approval10", 10, seed) + state_sizes(pg, "approval10", 10, seed)
    # Growth: the first 5 steps against the 5 before the last; the last step (end event, end of the
    # instance's waits) is reported apart, it does more work than the others.
    steps = args.growth_steps
    _, step_times = run_liaison(lite, "approval100", steps, 7, seed, keep_all=False)
    first, last = step_cost(step_times, 0), step_cost(step_times, steps - 6)
    growth = last / first
    _, grow_times = run_liaison(lite, "approval100", steps, 5, seed, keep_all=True)
    data_first, data_last = step_cost(grow_times, 0), step_cost(grow_times, steps - 6)
    data_growth = data_last / data_first
    final_step = step_cost(grow_times, steps - 1, 1) / data_first
    print(f"stored engine state per waiting instance: max {max(sizes)} bytes (median {int(statistics.median(sizes))})")
    print(f"{steps}-step process, data of constant size: first steps {first * 1000:.2f} ms, "
          f"steps {steps - 5}-{steps - 1} {last * 1000:.2f} ms -> growth {growth:.2f}x")
    print(f"{steps}-step process, every step adding 2 KB of data (200 KB at the end): first steps "
          f"{data_first * 1000:.2f} ms, steps {steps - 5}-{steps - 1} {data_last * 1000:.2f} ms -> growth "
          f"{data_growth:.2f}x; the final step {final_step:.2f}x the first steps")
    print(json.dumps({"raw": round(raw, 1), "sqlite": round(sqlite, 1), "postgres": round(postgres, 1),
                      "state_bytes": max(sizes), "growth": round(growth, 2),
                      "sqlite_ratio": round(sqlite / raw, 3), "postgres_ratio": round(postgres / raw, 3),
                      "data_growth": round(data_growth, 2), "final_step_growth": round(final_step, 2),
                      "sqlite_ms_step": round(per["sqlite"] / 11 * 1000, 3),
                      "postgres_ms_step": round(per["postgres"] / 11 * 1000, 3),
                      "instances": n, "rounds": rounds}))


if __name__ == "__main__":
    main()
