"""Shared parts of the HTTP benchmarks (`api_bench.py`, `http_bench.py`): the naive reference app,
scratch PostgreSQL databases, gunicorn processes and the async load driver.

The naive reference is what a first Flask + SpiffWorkflow app does: one table, the whole workflow
serialized to JSON and saved on every request (`SELECT ... FOR UPDATE`, deserialize, complete,
serialize, `UPDATE`), the same shape of process as the shipped leave request (start -> approval ->
record), no people, forms, history, inbox rows, notifications or visibility checks. gunicorn imports
it as `http_common:naive_app()` with the bench folder as its working directory. It takes a JSON body
(the API bench) or a form post (the web-form bench).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"

NAIVE_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs" targetNamespace="bench">
  <bpmn:process id="leave" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="manager_approval"/>
    <bpmn:userTask id="manager_approval" name="Manager approval"/>
    <bpmn:sequenceFlow id="f2" sourceRef="manager_approval" targetRef="gw"/>
    <bpmn:exclusiveGateway id="gw" default="f3"/>
    <bpmn:sequenceFlow id="f3" sourceRef="gw" targetRef="hr_record"/>
    <bpmn:sequenceFlow id="f4" sourceRef="gw" targetRef="rejected">
      <bpmn:conditionExpression>approved == False</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:endEvent id="rejected"/>
    <bpmn:userTask id="hr_record" name="HR record"/>
    <bpmn:sequenceFlow id="f5" sourceRef="hr_record" targetRef="done"/>
    <bpmn:endEvent id="done"/>
  </bpmn:process>
</bpmn:definitions>"""


# -- the naive reference app -----------------------------------------------------------------------------

def naive_app():
    """A Flask app that keeps each workflow as one serialized JSON document in PostgreSQL."""
    import psycopg
    from flask import Flask, jsonify, request
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
    from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
    from SpiffWorkflow.util.task import TaskState

    parser = SpiffBpmnParser()
    parser.add_bpmn_str(NAIVE_BPMN.encode())
    spec = parser.get_spec("leave")
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    dsn = os.environ["NAIVE_DSN"]
    local = {}
    app = Flask("naive")

    def connection():
        if "conn" not in local or local["conn"].closed:
            local["conn"] = psycopg.connect(dsn)
        return local["conn"]

    def ready(workflow):
        return [t for t in workflow.get_tasks(state=TaskState.READY, manual=True)]

    def posted() -> dict:
        return request.get_json(silent=True) or request.form.to_dict()

    @app.post("/start")
    def start():
        workflow = BpmnWorkflow(spec, script_engine=PythonScriptEngine())
        workflow.data.update(posted())
        workflow.do_engine_steps()
        conn = connection()
        with conn.transaction():
            row = conn.execute("INSERT INTO naive_instance (state) VALUES (%s) RETURNING id",
                               (serializer.serialize_json(workflow),)).fetchone()
        return jsonify({"id": row[0], "tasks": [str(t.id) for t in ready(workflow)]}), 201

    @app.post("/instances/<int:instance_id>/complete")
    def complete(instance_id: int):
        conn = connection()
        with conn.transaction():
            state = conn.execute("SELECT state FROM naive_instance WHERE id = %s FOR UPDATE",
                                 (instance_id,)).fetchone()[0]
            workflow = serializer.deserialize_json(state)
            workflow.script_engine = PythonScriptEngine()
            task = ready(workflow)[0]
            task.data.update({"approved": True, **posted()})
            task.run()
            workflow.do_engine_steps()
            conn.execute("UPDATE naive_instance SET state = %s WHERE id = %s",
                         (serializer.serialize_json(workflow), instance_id))
        return jsonify({"id": instance_id, "tasks": [str(t.id) for t in ready(workflow)]})

    return app


def naive_database(server: str, name: str) -> str:
    """A fresh database for the naive app with its one table; its libpq DSN."""
    import psycopg
    dsn = create_database(server, name).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE naive_instance (id serial PRIMARY KEY, state text NOT NULL)")
    return dsn


# -- databases and servers ---------------------------------------------------------------------------

def _admin(server: str):
    from sqlalchemy import create_engine
    return create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")


def create_database(server: str, name: str) -> str:
    from sqlalchemy import text
    admin = _admin(server)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{server}/{name}"


def drop_database(server: str, name: str) -> None:
    from sqlalchemy import text
    admin = _admin(server)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn(target: str, env: dict, workers: int, chdir: Path, log, extra: tuple[str, ...] = ()) -> tuple[subprocess.Popen, str]:
    """gunicorn serving `target` with `workers` sync workers (`extra`: more options, e.g. another worker class)."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("gunicorn")), "-w", str(workers), "-b", f"127.0.0.1:{port}",
               "--chdir", str(chdir), "--log-level", "warning", *extra, target]
    process = subprocess.Popen(command, env={**os.environ, **env}, stdout=log, stderr=log)
    return process, f"http://127.0.0.1:{port}"


def wait_until_up(base: str, path: str, process: subprocess.Popen) -> None:
    import httpx
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}")
        try:
            httpx.get(base + path, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{base} did not answer")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(30)


# -- the load ------------------------------------------------------------------------------------------

async def drive(calls: list, concurrency: int) -> tuple[list[float], float, list]:
    """Run the `calls` (async callables) with `concurrency` in flight; (latencies ms, seconds, results)."""
    queue = list(enumerate(calls))
    latencies, results = [], [None] * len(calls)

    async def worker():
        while queue:
            index, call = queue.pop()
            begin = time.perf_counter()
            results[index] = await call()
            latencies.append((time.perf_counter() - begin) * 1000)

    begin = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - begin, results


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def load_average() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
