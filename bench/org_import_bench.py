"""Org chart import: a 5,000-person XLSX (6-level department tree, every person with a manager
but the top) read, planned and applied on SQLite and on PostgreSQL; then the same file again
(all unchanged) and once more with 10% of the managers moved. Then the first import again on a
fresh database through the web's path: a background job (`engine.org_import_jobs`: preview stored
in the job row, planned again and applied in one transaction with progress on the job row).

    .venv/bin/python bench/org_import_bench.py [--people N] [--postgres SERVER_URL]

PostgreSQL gets a database of its own (liaison_bench_org), created and dropped here.
The last line printed is JSON with the seconds of every phase.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openpyxl  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from engine.data import db
from engine.people import (
    accounts,
    org,
    org_import_jobs,  # noqa: E402
)
from engine.people.org_import import apply_import, plan_import, read_org_file  # noqa: E402

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_DB = "liaison_bench_org"
HEADER = ["用户名", "姓名", "邮箱", "工号", "部门", "部门负责人", "岗位", "直属上级", "角色", "在职"]


def departments(levels: int = 6, fanout: int = 3) -> list[tuple[str, ...]]:
    """A tree of department paths: 1 root, `fanout` children each, `levels` deep (364 for 6 x 3)."""
    tree, frontier = [], [("总部",)]
    for _ in range(levels):
        tree += frontier
        frontier = [path + (f"{path[-1][:2]}{i}组",) for path in frontier for i in range(1, fanout + 1)]
    return tree


def people_rows(count: int, seed: int = 7, moved: float = 0.0) -> list[list]:
    """One head per department (reporting to the parent's head), the rest spread over departments."""
    rng = random.Random(seed)
    tree = departments()
    head_of = {path: f"u{i:05d}" for i, path in enumerate(tree)}
    rows = []
    for i in range(count):
        username = f"u{i:05d}"
        if i < len(tree):
            path, head = tree[i], "是"
            manager = head_of[path[:-1]] if len(path) > 1 else ""
        else:
            path, head, elsewhere, draw = rng.choice(tree), "", rng.choice(tree), rng.random()
            manager = head_of[elsewhere if draw < moved else path]  # the same draws whatever `moved` is
        roles = rng.choice(["", "", "", "finance", "hr", "approver、finance"])
        rows.append([username, f"员工{i}", f"{username}@example.com", 100000 + i, "/".join(path), head,
                     rng.choice(["工程师", "经理", "专员", "主管"]), manager, roles, "是"])
    return rows


def write_xlsx(path: Path, rows: list[list]) -> Path:
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def run(url: str, files: dict[str, Path]) -> dict[str, float]:
    """Seconds for read, plan and apply of each file in turn, on one fresh database."""
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    timings = {}
    for label, path in files.items():
        started = time.perf_counter()
        table = read_org_file(path)
        read = time.perf_counter()
        with sessions() as session, session.begin():
            plan = plan_import(session, table)
            planned = time.perf_counter()
            assert plan.ok, plan.report()[:5]
            apply_import(session, plan)
        done = time.perf_counter()
        timings[label] = {"read": round(read - started, 3), "plan": round(planned - read, 3),
                          "apply": round(done - planned, 3), "plan_apply": round(done - read, 3),
                          "counts": {k: v for k, v in plan.counts().items() if v}}
    with sessions() as session:  # a sanity check of the result
        assert org.manager_of(session, "u00363", 5).username == "u00000"
    engine.dispose()
    return timings


def run_job(url: str, path: Path) -> dict:
    """Seconds for the preview (read, plan, store the job) and the job (plan again, apply, commit)."""
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        admin = accounts.create_admin(session, "bench-admin", "bench password 1", "Bench")
    with sessions() as session:
        user = accounts.load_session_user(session, admin.id)
    started = time.perf_counter()
    table = read_org_file(path)
    with sessions() as session:
        plan = plan_import(session, table)
    job_id = org_import_jobs.start_job(sessions, plan, table, user)
    previewed = time.perf_counter()
    assert org_import_jobs.run_job(sessions, job_id) == "done"
    done = time.perf_counter()
    status = org_import_jobs.job_status(sessions, job_id, user)
    engine.dispose()
    return {"preview": round(previewed - started, 3), "job": round(done - previewed, 3),
            "counts": status["summary"], "progress": [status["done"], status["total"]]}


def fresh_pg(server: str) -> str:
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}"'))
        conn.execute(text(f'CREATE DATABASE "{PG_DB}"'))
    admin.dispose()
    url = f"{server}/{PG_DB}"
    db.upgrade(url)
    return url


def drop_pg(server: str) -> None:
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{PG_DB}'"))
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}"'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--postgres", default=os.environ.get("LIAISON_BENCH_PG", PG_SERVER))
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="liaison-org-bench-") as scratch:
        folder = Path(scratch)
        files = {"first": write_xlsx(folder / "people.xlsx", people_rows(args.people)),
                 "again": folder / "people.xlsx",
                 "moved": write_xlsx(folder / "moved.xlsx", people_rows(args.people, moved=0.1))}
        print(f"{args.people} people, {len(departments())} departments, "
              f"{files['first'].stat().st_size // 1024} KB XLSX")
        sqlite_url = f"sqlite:///{folder / 'bench.db'}"
        db.upgrade(sqlite_url)
        results["sqlite"] = run(sqlite_url, files)
        job_url = f"sqlite:///{folder / 'job.db'}"
        db.upgrade(job_url)
        jobs = {"sqlite": run_job(job_url, files["first"])}
        try:
            results["postgres"] = run(fresh_pg(args.postgres), files)
            jobs["postgres"] = run_job(fresh_pg(args.postgres), files["first"])
        finally:
            drop_pg(args.postgres)
    for database, timings in results.items():
        for label, t in timings.items():
            print(f"{database:<9} {label:<6} read {t['read']:6.2f}s  plan {t['plan']:6.2f}s  "
                  f"apply {t['apply']:6.2f}s  plan+apply {t['plan_apply']:6.2f}s  {t['counts']}")
    for database, t in jobs.items():
        print(f"{database:<9} job    preview {t['preview']:6.2f}s  job {t['job']:6.2f}s  "
              f"progress {t['progress']}  {t['counts']}")
    print(json.dumps({**results, "jobs": jobs}))


if __name__ == "__main__":
    main()
