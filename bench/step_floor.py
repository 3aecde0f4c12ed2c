"""The floor under issue 10's step-ratio targets: what a durable step costs with no Liaison code around it.

`engine_throughput.py` compares Liaison with SpiffWorkflow in memory. This script runs, in the same
alternating blocks, four ways of running the same 10-step approval (11 steps an instance):

- raw: SpiffWorkflow in memory, as in `engine_throughput.py` (the denominator of the ratios);
- state only: raw, then the engine state serialized (`dump_state`, Liaison's compact format) and
  written durably with one statement (`UPDATE process_instance SET state ...` and a commit): the
  least any engine that keeps each step durably can do;
- floor: raw, the state serialized, and the very rows one Liaison step writes in the bench (the
  instance row, the completed and the new task row, the history rows, the changed process-data
  keys, the assignee's notification), built in place with no Liaison code and written in one
  transaction: on SQLite with prepared statements on the `sqlite3` cursor, on PostgreSQL with one
  call of Liaison's own save function `liaison_save_step` on a kept psycopg connection (one round
  trip; the function writes exactly these rows);
- Liaison: `runtime.start_instance` / `runtime.complete_task`, as in `engine_throughput.py`.

Both databases are migrated by Liaison, so the tables, indexes and triggers are the ones Liaison writes.

    .venv/bin/python bench/step_floor.py [--instances N] [--rounds R] [--postgres URL]

The last line printed is JSON: each way's instances/s and its ratio to raw, per database.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import engine_throughput as bench  # noqa: E402
import psycopg  # noqa: E402
from SpiffWorkflow.bpmn import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine  # noqa: E402
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402

from engine.bpmn.serialization import dump_state  # noqa: E402
from engine.data import db  # noqa: E402

KEY, STEPS = "approval10", 10


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class SqliteWriter:
    """One transaction a step on the `sqlite3` module, prepared statements, Liaison's pragmas."""

    def __init__(self, path: Path):
        self.conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            self.conn.execute(f"PRAGMA {pragma}")
        self.cur = self.conn.cursor()

    def state_only(self, instance_id, revision, state, now, initiator="state") -> int:
        cur = self.cur
        if instance_id is None:
            cur.execute("INSERT INTO process_instance (version_id, process_key, status, initiator, state, revision,"
                        " state_key, created_at, updated_at) VALUES (1, ?, 'running', ?, ?, 1, ?, ?, ?)",
                        (KEY, initiator, state, uuid.uuid4().hex, now, now))
            return cur.lastrowid
        cur.execute("UPDATE process_instance SET state = ?, revision = ?, state_key = ?, updated_at = ?"
                    " WHERE id = ? AND revision = ?", (state, revision + 1, uuid.uuid4().hex, now, instance_id,
                                                       revision))
        return instance_id

    def step(self, instance_id, revision, state, status, completed, new_task, history, data_set, notice, now) -> int:
        cur = self.cur
        cur.execute("BEGIN")
        if instance_id is None:
            instance_id = self.state_only(None, 0, state, now, "floor")
        else:
            cur.execute("UPDATE process_instance SET state = ?, status = ?, revision = ?, state_key = ?,"
                        " updated_at = ?, ended_at = ? WHERE id = ? AND revision = ?",
                        (state, status, revision + 1, uuid.uuid4().hex, now, None if status == "running" else now,
                         instance_id, revision))
        if data_set:
            cur.executemany("INSERT INTO instance_data (instance_id, key, ord, value) VALUES (?, ?, ?, ?)"
                            " ON CONFLICT (instance_id, key) DO UPDATE SET value = excluded.value",
                            [(instance_id, k, o, v) for k, o, v in data_set])
        if completed:
            cur.execute("UPDATE work_task SET status = 'completed', completed_by = 'approver', completed_at = ?"
                        " WHERE id = ? AND status = 'open'", (now, completed))
        if new_task:
            cur.execute("INSERT INTO work_task (id, instance_id, element_id, name, assignee, candidate_users,"
                        " candidate_groups, status, created_at) VALUES (?, ?, ?, ?, 'approver', '[]', '[]', 'open', ?)",
                        (new_task[0], instance_id, new_task[1], new_task[2], now))
        cur.executemany("INSERT INTO history_entry (instance_id, at, actor, action, element_id, element_type,"
                        " task_id, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [(instance_id, now, *h) for h in history])
        if notice:
            cur.execute("INSERT INTO notification (recipient, event, instance_id, task_id, title, body, link,"
                        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (*notice[:2], instance_id, *notice[2:], now))
        cur.execute("COMMIT")
        return instance_id


class PostgresWriter:
    """A kept psycopg connection in autocommit: one durable round trip a step."""

    def __init__(self, url: str):
        self.conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
        self.cur = self.conn.cursor()

    def state_only(self, instance_id, revision, state, now) -> int:
        if instance_id is None:
            return self.cur.execute(
                "INSERT INTO process_instance (version_id, process_key, status, initiator, state, revision,"
                " state_key, created_at, updated_at) VALUES (1, %s, 'running', 'state', %s, 1, %s, %s, %s)"
                " RETURNING id", (KEY, state, uuid.uuid4().hex, now, now)).fetchone()[0]
        self.cur.execute("UPDATE process_instance SET state = %s, revision = %s, state_key = %s, updated_at = %s"
                         " WHERE id = %s AND revision = %s",
                         (state, revision + 1, uuid.uuid4().hex, now, instance_id, revision))
        return instance_id

    def step(self, instance_id, revision, state, status, completed, new_task, history, data_set, notice, now) -> int:
        payload = {"instance_id": instance_id, "revision": revision, "now": now.isoformat(), "state": state,
                   "status": status, "state_key": uuid.uuid4().hex,
                   "data_set": [{"key": k, "ord": o, "value": v} for k, o, v in data_set],
                   "history": [{"actor": h[0], "action": h[1], "element_id": h[2], "element_type": h[3],
                                "task_id": h[4], "data": h[5]} for h in history]}
        if instance_id is None:
            payload |= {"version_id": 1, "process_key": KEY, "initiator": "floor"}
        if completed:
            payload |= {"complete_task": completed, "user": "approver"}
        if new_task:
            payload["new_tasks"] = [{"id": new_task[0], "element_id": new_task[1], "name": new_task[2], "form": None,
                                     "assignee": "approver", "on_behalf_of": None, "candidate_users": [],
                                     "candidate_groups": [], "due_at": None}]
        if notice:
            payload["notifications"] = [dict(zip(("recipient", "event", "task_id", "title", "body", "link"), notice,
                                                 strict=True))]
        if status != "running":
            payload |= {"end_event": "approved", "no_waits": True}
        payload = {k: v for k, v in payload.items() if v is not None and v != []}
        return self.cur.execute("SELECT liaison_save_step(%s::jsonb)", (json.dumps(payload),)).fetchone()[0]


def run_way(spec, writer, way: str, n: int, seed: int) -> float:
    """Seconds per instance: SpiffWorkflow steps, and per `way` nothing, the state alone, or the step's rows."""
    rng = random.Random(seed)
    datas = [[bench.form_data(s, rng) for s in range(1, STEPS + 1)] for _ in range(n)]
    begin = time.perf_counter()
    for i in range(n):
        workflow = BpmnWorkflow(spec, {}, script_engine=PythonScriptEngine())
        workflow.do_engine_steps()
        instance_id, revision, completed, data = None, 0, None, {"amount": 100}
        for step in range(STEPS + 1):
            if step:
                task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
                form = datas[i][step - 1]
                task.data.update(form)
                completed = str(task.id)
                task.run()
                workflow.do_engine_steps()
                data = {**data, **form}
            if way == "raw":
                continue
            now = datetime.now(UTC)
            ready = workflow.get_tasks(state=TaskState.READY, manual=True)
            state = dump_state(workflow, data)
            if way == "state":
                instance_id = writer.state_only(instance_id, revision, state, now)
                revision += 1
                continue
            base = (revision + 1) << 20
            data_set = ([("amount", base, "100")] if not step else
                        [(k, base + n_, _json(v)) for n_, (k, v) in enumerate(form.items())])
            history = ([("initiator", "started", None, None, None, _json({"amount": 100})),
                        (None, "step", "start", "StartEvent", None, None)] if not step else
                       [("approver", "task_completed", f"step{step}", "UserTask", completed, _json(form)),
                        ("approver", "step", f"gw{step}", "ExclusiveGateway", None, None)])
            new_task, notice = None, None
            if ready:
                task = ready[0]
                new_task = (str(task.id), task.task_spec.name, task.task_spec.bpmn_name)
                notice = ("approver", "task_assigned", new_task[0], f"待办：{new_task[2]}",
                          f"您有一项新的待办「{new_task[2]}」，流程「基准 10」。", f"/tasks/{new_task[0]}")
            else:  # the end: the end event's step row, the completion row, the initiator's notice
                history += [("approver", "step", "approved", "EndEvent", None, None),
                            (None, "completed", "approved", None, None, None)]
                notice = ("initiator", "instance_finished", None, "已办结：基准 10",
                          "您发起的「基准 10」已办结。", None)
            status = "running" if ready else "completed"
            instance_id = writer.step(instance_id, revision, state, status, completed if step else None,
                                      new_task, history, data_set, notice, now)
            revision += 1
        assert workflow.is_completed()
    return (time.perf_counter() - begin) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=200, help="instances of each way on SQLite, all rounds")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--postgres", default=bench.PG_SERVER)
    args = parser.parse_args()
    rounds, seed = args.rounds, 11
    block = max(args.instances // rounds, 2)
    tmp = Path(tempfile.mkdtemp(prefix="liaison-floor-"))
    folder = bench.make_package(tmp, KEY, STEPS)
    lite_path = tmp / "floor.db"
    lite_url = f"sqlite:///{lite_path}"
    pg_url = bench.fresh_pg(args.postgres, "liaison_floor")
    bench.deploy(lite_url, folder)
    bench.deploy(pg_url, folder)
    lite = db.make_session_factory(db.make_engine(lite_url))
    pg = db.make_session_factory(db.make_engine(pg_url))
    parser_ = SpiffBpmnParser()
    parser_.add_bpmn_str(bench.approval_bpmn(STEPS, KEY).encode())
    spec = parser_.get_spec(KEY)
    writers = {"sqlite": SqliteWriter(lite_path), "postgres": PostgresWriter(pg_url)}
    sessions = {"sqlite": lite, "postgres": pg}
    ways = ["state", "floor", "liaison"]
    blocks: dict[str, list[float]] = {"raw": []} | {f"{b} {w}": [] for b in writers for w in ways}
    run_way(spec, None, "raw", 5, seed)  # warm up every way
    for backend, writer in writers.items():
        run_way(spec, writer, "state", 2, seed)
        run_way(spec, writer, "floor", 2, seed)
        bench.run_liaison(sessions[backend], KEY, STEPS, 2, seed)
    for r in range(rounds):
        blocks["raw"].append(run_way(spec, None, "raw", max(block, 20), seed + r))
        for backend, writer in writers.items():
            count = block if backend == "sqlite" else max(block // 2, 2)
            blocks[f"{backend} state"].append(run_way(spec, writer, "state", count, seed + r))
            blocks[f"{backend} floor"].append(run_way(spec, writer, "floor", count, seed + r))
            blocks[f"{backend} liaison"].append(bench.run_liaison(sessions[backend], KEY, STEPS, count, seed + r)[0])
    per = {name: statistics.median(v) for name, v in blocks.items()}
    raw = 1 / per["raw"]
    result = {"raw": round(raw, 1)}
    print(f"{rounds} rounds, medians; raw SpiffWorkflow in memory {raw:.1f} instances/s "
          f"({per['raw'] / 11 * 1000:.3f} ms/step, blocks max/min {max(blocks['raw']) / min(blocks['raw']):.2f})")
    for name, seconds in per.items():
        if name == "raw":
            continue
        rate = 1 / seconds
        result[name.replace(" ", "_")] = round(rate / raw, 3)
        spread = max(blocks[name]) / min(blocks[name])
        print(f"  {name:18s} {rate:7.1f} instances/s  {rate / raw:.3f}x raw  {seconds / 11 * 1000:.3f} ms/step"
              f"  (blocks max/min {spread:.2f})")
    # the floor writes what Liaison writes: rows per finished instance, by table, on SQLite
    counts = sqlite3.connect(lite_path)
    instances = dict(counts.execute("SELECT initiator, COUNT(*) FROM process_instance GROUP BY 1").fetchall())
    for table in ("history_entry", "work_task", "instance_data", "notification", "outbox"):
        rows = counts.execute(f"SELECT p.initiator, COUNT(*) FROM {table} t JOIN process_instance p"
                              " ON p.id = t.instance_id GROUP BY 1").fetchall()
        print(f"  {table} rows per instance: " + ", ".join(
            f"{'Liaison' if who == 'initiator' else who} {count / instances[who]:.1f}" for who, count in rows))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
