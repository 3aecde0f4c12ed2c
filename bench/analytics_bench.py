"""Process analytics on a big history (issue 19): fills a scratch PostgreSQL database with 1,000,000
`history_entry` rows (100,000 instances of 20 processes, 3 tasks each, 60 people in 8 departments),
runs the first refresh of the summary tables (flows taken and escalations included), measures each
dashboard read's p95 over `--runs` calls per view (the department admin's scope and both department
filters among them), then adds 10,000 new steps (a task completed and its history row, on 10,000 running
instances) and times the incremental refresh. The database is dropped at the end.

    .venv/bin/python bench/analytics_bench.py [--runs 30] [--instances 100000]

The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402

from engine.data import db  # noqa: E402
from engine.work import analytics, analytics_views  # noqa: E402
from engine.work.analytics import Filters, Scope  # noqa: E402

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
DB_NAME = "liaison_analytics_bench"
KEYS = 20

FILL = """
INSERT INTO department (id, code, name, sort_key, path, updated_at)
  SELECT d, 'd' || d, 'Dept ' || d, 'dept ' || d, '/' || d || '/', now() FROM generate_series(1, 8) d;
INSERT INTO person (username, name, sort_key, department_id, active, session_version, failed_logins, created_at,
                    updated_at)
  SELECT 'u' || p, 'User ' || p, 'user ' || p, 1 + p % 8, true, 1, 0, now(), now() FROM generate_series(0, 59) p;
INSERT INTO process_definition (id, key, name, created_at)
  SELECT k + 1, 'p' || k, '{"zh": "流程", "en": "Process"}', now() FROM generate_series(0, :keys - 1) k;
INSERT INTO process_version (id, definition_id, number, process_id, checksum, package, bpmn, spec_json, deployed_at)
  SELECT k + 1, k + 1, 1, 'p' || k, md5(k::text), '{"meta": {}}',
         json_build_object('p.bpmn', replace(:bpmn, 'PROCESS', 'p' || k)), '{}', now() FROM generate_series(0, :keys - 1) k;
INSERT INTO process_instance (id, version_id, process_key, status, initiator, state, revision, state_key,
                              created_at, updated_at, ended_at, end_event)
  SELECT g, 1 + g % :keys, 'p' || (g % :keys),
         CASE WHEN g % 20 < 3 THEN 'running' WHEN g % 20 = 3 THEN 'cancelled' ELSE 'completed' END,
         'u' || (g % 60), '{}', 1, '',
         now() - interval '180 days' + g * interval '150 seconds', now(),
         CASE WHEN g % 20 < 3 THEN NULL
              ELSE now() - interval '180 days' + g * interval '150 seconds' + (g * 7919 % 259200) * interval '1 second' END,
         CASE WHEN g % 20 = 4 THEN 'rejected_end' WHEN g % 20 > 4 THEN 'approved_end' END
  FROM generate_series(1, :n) g;
INSERT INTO work_task (id, instance_id, element_id, status, assignee, completed_by, candidate_users, candidate_groups,
                       created_at, completed_at, due_at)
  SELECT g || '-' || t, g, 'n' || t,
         CASE WHEN g % 20 < 3 AND t = 3 THEN 'open' ELSE 'completed' END,
         'u' || ((g + t) % 60), CASE WHEN g % 20 < 3 AND t = 3 THEN NULL ELSE 'u' || ((g + t) % 60) END, '[]', '[]',
         i.created_at + (t - 1) * ((g * 31 % 86400) * interval '1 second'),
         CASE WHEN g % 20 < 3 AND t = 3 THEN NULL ELSE i.created_at + t * ((g * 31 % 86400) * interval '1 second') END,
         i.created_at + t * interval '1 day'
  FROM generate_series(1, :n) g JOIN process_instance i ON i.id = g CROSS JOIN generate_series(1, 3) t;
INSERT INTO history_entry (instance_id, at, actor, action, element_id)
  SELECT g, now() - interval '180 days' + g * interval '150 seconds' + r * interval '1 minute', 'u' || (g % 60),
         CASE WHEN r = 0 THEN 'started' WHEN r % 3 = 1 THEN 'step' WHEN r % 3 = 2 THEN 'task_completed' ELSE 'signed' END,
         'n' || (1 + r % 3)
  FROM generate_series(1, :n) g CROSS JOIN generate_series(0, 9) r;
INSERT INTO history_entry (instance_id, at, actor, action, element_id, task_id)
  SELECT g, now() - interval '180 days' + g * interval '150 seconds' + interval '2 hours', NULL, 'escalated', 'n1',
         g || '-1'
  FROM generate_series(1, :n) g WHERE g % 10 = 0;
INSERT INTO out_of_office (person_id, deputy_id, starts_at, ends_at)
  SELECT p.id, d.id, now() - interval '1 day', now() + interval '7 days' FROM person p JOIN person d
  ON d.username = 'u' || (substr(p.username, 2)::int + 1) WHERE p.username IN ('u1', 'u9', 'u17');
"""

BPMN = ('<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">'
        '<process id="PROCESS" isExecutable="true"><startEvent id="start"/><userTask id="n1"/><userTask id="n2"/>'
        '<userTask id="n3"/><endEvent id="approved_end"/><sequenceFlow id="f0" sourceRef="start" targetRef="n1"/>'
        '<sequenceFlow id="f1" sourceRef="n1" targetRef="n2"/><sequenceFlow id="f2" sourceRef="n2" targetRef="n3"/>'
        '<sequenceFlow id="f3" sourceRef="n3" targetRef="n2"/>'
        '<sequenceFlow id="f4" sourceRef="n3" targetRef="approved_end"/></process></definitions>')

NEW_STEPS = """
WITH chosen AS (SELECT instance_id, id FROM work_task WHERE status = 'open' ORDER BY instance_id LIMIT :steps)
UPDATE work_task t SET status = 'completed', completed_by = t.assignee, completed_at = now()
  FROM chosen WHERE t.id = chosen.id;
INSERT INTO history_entry (instance_id, at, actor, action, element_id)
  SELECT instance_id, now(), 'u1', 'task_completed', 'n3' FROM work_task
  WHERE status = 'completed' AND completed_at >= now() - interval '1 minute' ORDER BY instance_id LIMIT :steps;
"""


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18] if len(samples) > 1 else samples[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--instances", type=int, default=100_000)
    args = parser.parse_args()
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}"'))
        conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    url = f"{PG_SERVER}/{DB_NAME}"
    try:
        db.upgrade(url)
        engine = db.make_engine(url)
        sessions = db.make_session_factory(engine)
        started = time.perf_counter()
        with engine.begin() as conn:
            for statement in FILL.split(";\n"):
                if statement.strip():
                    conn.execute(text(statement), {"n": args.instances, "keys": KEYS, "bpmn": BPMN})
            conn.execute(text("ANALYZE"))
            history = conn.scalar(text("SELECT count(*) FROM history_entry"))
        fill = time.perf_counter() - started
        print(f"filled {history} history rows in {fill:.1f} s", flush=True)
        started = time.perf_counter()
        analytics.refresh(sessions)
        first = time.perf_counter() - started
        print(f"first refresh (all history): {first:.1f} s", flush=True)
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        department = Scope(frozenset(), (3,))  # a department admin of department 3
        views = {
            "volume per day, cycle trend": lambda s, k: analytics.instance_counts(s, None, k),
            "volume per month, initiator's department": lambda s, k: analytics.instance_counts(
                s, None, k, "month", Filters(initiator_departments=(3,))),
            "nodes (heat map)": lambda s, k: analytics.node_stats(s, None, k),
            "nodes, task's department": lambda s, k: analytics.node_stats(s, None, k, Filters(departments=(3,))),
            "path frequencies": lambda s, k: analytics_views.path_frequencies(s, None, k, 1),
            "SLA": lambda s, k: analytics.sla(s, None, k),
            "escalations": lambda s, k: analytics.escalations(s, None, k),
            "overdue now": lambda s, k: analytics.overdue_now(s, None, k),
            "workload, done per week": lambda s, k: analytics.workload(s, None, k),
            "deputies in effect": lambda s, k: analytics_views.deputies_in_effect(s, None, k),
            "whole page (every table)": lambda s, k: analytics_views.tables(
                s, None, k, flows=analytics_views.path_frequencies(s, None, k, 1)),
            "whole page, department admin": lambda s, k: analytics_views.tables(
                s, department, k, flows=analytics_views.path_frequencies(s, department, k, 1)),
        }
        results = {}
        for name, view in views.items():
            samples = []
            for run in range(args.runs):
                with sessions() as session:
                    begin = time.perf_counter()
                    view(session, f"p{run % KEYS}")
                    samples.append((time.perf_counter() - begin) * 1000)
            results[name] = {"p95_ms": round(p95(samples), 1), "median_ms": round(statistics.median(samples), 1)}
            print(f"{name}: p95 {results[name]['p95_ms']} ms, median {results[name]['median_ms']} ms", flush=True)
        with engine.begin() as conn:
            for statement in NEW_STEPS.split(";\n"):
                if statement.strip():
                    conn.execute(text(statement), {"steps": 10_000})
        started = time.perf_counter()
        rebuilt = analytics.refresh(sessions)
        incremental = time.perf_counter() - started
        print(f"refresh after 10,000 new steps: {incremental:.2f} s ({rebuilt} instances rebuilt)", flush=True)
        engine.dispose()
        print(json.dumps({"history_rows": history, "instances": args.instances, "fill_s": round(fill, 1),
                          "first_refresh_s": round(first, 1), "views": results,
                          "incremental_refresh_s": round(incremental, 2), "rebuilt": rebuilt}))
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                         {"name": DB_NAME})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}"'))
        admin.dispose()


if __name__ == "__main__":
    main()
