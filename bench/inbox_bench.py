"""Inbox queries on a large PostgreSQL database: `engine.inbox.todo` page 1 and `counts`, p50/p95.

Loads 1,000,000 work_task rows (with their instances and candidate rows) straight into a
database of its own (`liaison_bench_inbox`, created and dropped here) with COPY, not through
the engine: 20,000 users in 200 groups (each in one or two), 80% of tasks completed, 15% of
tasks offered to a group and 3% to a list of users, one user "heavy" holding 10,000 open tasks
and a system account "erp" that started 10% of the instances. Every user is a `person` row with a
Chinese and an English display name (the search matches initiators by name). Then VACUUM ANALYZE
and time each query over --runs calls, a new session per call as in a web request.

    .venv/bin/python bench/inbox_bench.py [--tasks N] [--runs R] [--keep] [--reuse] [--explain] [--database D]

--explain prints EXPLAIN (ANALYZE, BUFFERS) of every statement each case runs (for its first
user); --keep leaves the database for --reuse, to try indexes by hand. The last line printed
is JSON with p50/p95 in milliseconds per case.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402
from sqlalchemy import create_engine, event, text  # noqa: E402

from engine.data import db
from engine.work import inbox  # noqa: E402

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
DB_NAME = "liaison_bench_inbox"
USERS = 20_000
GROUPS = 200
HEAVY_OPEN = 10_000
PROCESSES = [  # key, zh, en, task names
    ("leave", "请假申请", "Leave request", ["部门经理审批", "HR 备案"]),
    ("expense", "费用报销", "Expense claim", ["部门经理审批", "财务审核", "出纳付款"]),
    ("purchase", "采购申请", "Purchase request", ["部门经理审批", "采购部审核", "总经理审批"]),
    ("meeting_room", "会议室预订", "Meeting room booking", ["行政确认"]),
    ("visitor", "访客预约", "Visitor booking", ["被访人确认", "前台登记"]),
    ("supplier_order", "供应商订单确认", "Supplier order confirmation", ["采购确认", "供应商确认"]),
    ("customer_request", "客户需求", "Customer request", ["客服受理", "技术评估", "客户确认"]),
    ("training", "培训考核", "Training assessment", ["学员答题", "讲师评分"]),
    ("seal", "用印申请", "Seal request", ["部门经理审批", "法务审核", "用印登记"]),
    ("trip", "出差申请", "Business trip", ["部门经理审批", "行政订票"]),
    ("contract", "合同审批", "Contract approval", ["法务审核", "财务审核", "总经理审批"]),
    ("notice", "制度通知阅读", "Policy notice", ["阅读确认"]),
]
WEIGHTS = [10, 14, 10, 8, 6, 5, 6, 4, 5, 8, 4, 20]
BIG_TABLES = ("work_task", "task_candidate", "process_instance")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国红梅文斌浩宇欣怡晨阳"
PINYIN = ["wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou", "xu", "sun", "ma",
          "zhu", "hu", "guo", "he", "gao", "lin", "luo", "zheng", "liang", "xie", "song", "tang", "xu", "han",
          "feng", "deng", "cao", "peng", "zeng", "xiao", "tian", "dong", "yuan", "pan", "yu", "jiang", "cai",
          "yu", "du", "ye", "cheng", "su", "wei", "lv", "ding", "ren", "shen"]


def user_name(i: int) -> str:
    return f"u{i:05d}"


def user_groups(i: int) -> tuple[str, ...]:
    """Each user is in one group, half of them in a second one (deterministic, so runs compare)."""
    first = i % GROUPS
    second = (i * 7919) % GROUPS
    return (f"g{first:03d}",) if i % 2 or second == first else (f"g{first:03d}", f"g{second:03d}")


def create_database(server: str, name: str = DB_NAME) -> str:
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = f"{server}/{name}"
    db.upgrade(url)
    return url


def drop_database(server: str, name: str = DB_NAME) -> None:
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                     {"name": name})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def person_names(i: int) -> tuple[str, str]:
    """User i's display names, Chinese and English (deterministic; many share a surname, some a full name)."""
    rng = random.Random(i)
    surname = rng.randrange(len(SURNAMES))
    given = "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))
    return SURNAMES[surname] + given, f"{PINYIN[surname].title()} {i:05d}"


def people_rows(now: datetime) -> list[tuple]:
    """The person rows: every user, the heavy user and the system account, in COPY column order."""
    named = [(user_name(i), *person_names(i)) for i in range(USERS)]
    named += [("heavy", "郝维", "Hao Wei"), ("erp", "ERP 系统", "ERP system")]
    return [(number, username, zh, en, True, 1, 0, now, now)
            for number, (username, zh, en) in enumerate(named, start=1)]


class Generator:
    """Instances and their tasks with a realistic spread; rows are tuples in COPY column order."""

    def __init__(self, seed: int, now: datetime):
        self.rng = random.Random(seed)
        self.now = now
        self.group_weights = [1 / (i + 10) for i in range(GROUPS)]  # a few large shared pools
        self.states = ["".join(self.rng.choices("abcdefghijklmnopqrstuvwxyz0123456789{}\":,", k=800))
                       for _ in range(64)]
        self.instances, self.tasks, self.candidates = [], [], []
        self.heavy_left = HEAVY_OPEN
        self.open_tasks = 0
        self.heavy_chance = 0.0

    def run(self, total_tasks: int) -> None:
        """Running instances (one open task each, after 0-2 completed ones) until a fifth of the
        tasks are open, then completed instances up to `total_tasks`."""
        open_target = total_tasks // 5
        self.heavy_chance = HEAVY_OPEN / (open_target * 0.9)
        instance_id = 0
        while len(self.tasks) < total_tasks:
            instance_id += 1
            self._instance(instance_id, running=self.open_tasks < open_target)

    def _instance(self, instance_id: int, running: bool) -> None:
        rng = self.rng
        p = rng.choices(range(len(PROCESSES)), WEIGHTS)[0]
        key, _zh, _en, names = PROCESSES[p]
        initiator = "erp" if rng.random() < 0.10 else user_name(rng.randrange(USERS))
        age = timedelta(days=rng.uniform(0, 60 if running else 365))
        started = self.now - age
        steps = rng.randint(1, len(names))
        at = started
        for step in range(steps):
            is_open = running and step == steps - 1
            at = at + timedelta(minutes=rng.uniform(1, 60 * 24 * 2)) if step else at
            at = min(at, self.now - timedelta(seconds=1))
            self._task(instance_id, names[step % len(names)], step, at, is_open)
        status = "running" if running else ("cancelled" if rng.random() < 0.03 else "completed")
        ended = None if running else at + timedelta(hours=1)
        state = rng.choice(self.states)
        rng.randint(1, 50000)  # was the process data (now in instance_data, not read by the inbox): same draws
        self.instances.append((instance_id, p + 1, key, status, initiator,
                               f"{key[:3].upper()}-2026{instance_id:07d}", state,
                               1, uuid.UUID(int=rng.getrandbits(128)).hex, started, at, ended))

    def _task(self, instance_id: int, name: str, step: int, created: datetime, is_open: bool) -> None:
        rng = self.rng
        task_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        users, groups, assignee = [], [], None
        roll = rng.random()
        if is_open and self.heavy_left and rng.random() < self.heavy_chance:
            assignee = "heavy"
            self.heavy_left -= 1
        elif roll < 0.15:
            groups = [f"g{rng.choices(range(GROUPS), self.group_weights)[0]:03d}"]
        elif roll < 0.18:
            users = [user_name(rng.randrange(USERS)) for _ in range(rng.randint(2, 4))]
        elif rng.random() < 0.3:
            assignee = user_name(rng.randrange(1000))  # approvers: a thousand managers get 30%
        else:
            assignee = user_name(rng.randrange(USERS))
        if (groups or users) and (not is_open or rng.random() < 0.2):
            assignee = users[0] if users else user_name(rng.randrange(USERS))  # claimed
        due = created + timedelta(days=rng.uniform(1, 7)) if rng.random() < 0.6 else None
        if is_open:
            status, completed_by, completed_at = "open", None, None
            self.open_tasks += 1
        else:
            status, completed_by = "completed", assignee
            completed_at = created + timedelta(hours=rng.uniform(0.1, 96))
        self.tasks.append((task_id, instance_id, f"task_{step}", name, None, assignee, json.dumps(users),
                           json.dumps(groups), due, status, completed_by, created, completed_at))
        self.candidates += [(task_id, "user", u) for u in dict.fromkeys(users)]
        self.candidates += [(task_id, "group", g) for g in groups]


def load(url: str, gen: Generator) -> dict:
    """COPY the rows in with the big tables' secondary indexes dropped, then rebuild them as migrated."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    timings = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE tablename = ANY(%s) AND indexname NOT LIKE '%%pkey'",
            (list(BIG_TABLES),)).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        conn.execute("SET session_replication_role = replica")  # no FK checks while loading
        conn.execute("SET maintenance_work_mem = '512MB'")
        started = time.perf_counter()
        for number, (key, zh, en, _names) in enumerate(PROCESSES, start=1):
            conn.execute("INSERT INTO process_definition (id, key, name, category, created_at) "
                         "VALUES (%s, %s, %s, 'bench', now())",
                         (number, key, json.dumps({"zh": zh, "en": en}, ensure_ascii=False)))
            conn.execute("INSERT INTO process_version (id, definition_id, number, process_id, checksum, "
                         "package, bpmn, spec_json, deployed_at) "
                         "VALUES (%s, %s, 1, %s, 'x', '{}', '{}', '', now())", (number, number, key))
        copies = [
            ("person (id, username, name, name_en, active, session_version, failed_logins, created_at, "
             "updated_at)", people_rows(gen.now)),
            ("process_instance (id, version_id, process_key, status, initiator, business_key, state, "
             "revision, state_key, created_at, updated_at, ended_at)", gen.instances),
            ("work_task (id, instance_id, element_id, name, form, assignee, candidate_users, "
             "candidate_groups, due_at, status, completed_by, created_at, completed_at)", gen.tasks),
            ("task_candidate (task_id, kind, value)", gen.candidates),
        ]
        with conn.cursor() as cur:
            for target, rows in copies:
                with cur.copy(f"COPY {target} FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        conn.execute("SELECT setval('process_instance_id_seq', (SELECT max(id) FROM process_instance))")
        timings["copy_s"] = time.perf_counter() - started
        started = time.perf_counter()
        for _, definition in indexes:
            conn.execute(definition)
        timings["index_s"] = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        timings["analyze_s"] = time.perf_counter() - started
        timings["indexes"] = sorted(name for name, _ in indexes)
    return timings


def measure(sessions, call, runs: int, subjects: list) -> dict:
    """Milliseconds per call (a new session each), after a warm-up; `subjects` cycle through the runs."""
    for subject in subjects[:20]:
        with sessions() as session:
            call(session, subject)
    times, sizes = [], []
    for i in range(runs):
        subject = subjects[i % len(subjects)]
        started = time.perf_counter()
        with sessions() as session:
            result = call(session, subject)
        times.append((time.perf_counter() - started) * 1000)
        sizes.append(getattr(result, "total", None))
    q = statistics.quantiles(times, n=100, method="inclusive")
    known = [s for s in sizes if s is not None]
    return {"p50": round(statistics.median(times), 2), "p95": round(q[94], 2), "max": round(max(times), 2),
            "rows": round(statistics.mean(known)) if known else None}


def explain(engine, sessions, calls: dict) -> None:
    """EXPLAIN ANALYZE every statement each call runs."""
    captured = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        captured.append((statement, parameters))

    for name, call in calls.items():
        captured.clear()
        event.listen(engine, "before_cursor_execute", capture)
        with sessions() as session:
            call(session)
        event.remove(engine, "before_cursor_execute", capture)
        for statement, parameters in list(captured):
            with engine.connect() as conn:
                plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement,
                                            parameters).scalars().all()
            print(f"\n-- {name}\n{statement}\n{parameters}\n" + "\n".join(plan))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--postgres", default=os.environ.get("LIAISON_BENCH_PG", PG_SERVER))
    parser.add_argument("--keep", action="store_true", help="keep the database (and reuse it with --reuse)")
    parser.add_argument("--reuse", action="store_true", help="time an existing, loaded bench database")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--database", default=DB_NAME, help=f"the bench database's name ({DB_NAME})")
    args = parser.parse_args()

    url = f"{args.postgres}/{args.database}"
    try:
        if not args.reuse:
            url = create_and_load(args)
        engine = db.make_engine(url, pool_size=2)
        sessions = db.make_session_factory(engine)
        results = run_cases(engine, sessions, args)
        engine.dispose()
    finally:
        if not args.keep:
            drop_database(args.postgres, args.database)
    print(f"\n{'case':34} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'rows':>8}")
    for name, r in results.items():
        rows = "" if r["rows"] is None else r["rows"]
        print(f"{name:34} {r['p50']:8.2f} {r['p95']:8.2f} {r['max']:8.2f} {rows:>8}")
    print(json.dumps({"tasks": args.tasks, "runs": args.runs,
                      **{f"{_key(n)}_{k}": r[k] for n, r in results.items() for k in ("p50", "p95")}}))


def _key(name: str) -> str:
    """"todo page 1, heavy" -> "todo_page_1_heavy"."""
    return "_".join(name.replace(",", " ").split())


def create_and_load(args) -> str:
    started = time.perf_counter()
    url = create_database(args.postgres, args.database)
    gen = Generator(seed=7, now=datetime.now(UTC))
    gen.run(args.tasks)
    loaded = {"generate_s": time.perf_counter() - started, **load(url, gen), "instances": len(gen.instances),
              "tasks": len(gen.tasks), "candidates": len(gen.candidates),
              "heavy_open": HEAVY_OPEN - gen.heavy_left, "open": gen.open_tasks}
    print("loaded:", json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in loaded.items()}),
          flush=True)
    return url


def run_cases(engine, sessions, args) -> dict:
    rng = random.Random(11)
    typical = [(user_name(i), user_groups(i)) for i in rng.sample(range(USERS), 200)]
    heavy = [("heavy", ("g000", "g001"))]
    cases = {
        "todo page 1, heavy": (lambda s, u: inbox.todo(s, u[0], u[1]), heavy),
        "todo page 1, typical": (lambda s, u: inbox.todo(s, u[0], u[1]), typical),
        "counts, heavy": (lambda s, u: inbox.counts(s, u[0], u[1]), heavy),
        "counts, typical": (lambda s, u: inbox.counts(s, u[0], u[1]), typical),
        "todo page 50, heavy": (lambda s, u: inbox.todo(s, u[0], u[1], page=50), heavy),
        "todo overdue, heavy": (lambda s, u: inbox.todo(s, u[0], u[1], overdue=True), heavy),
        "todo search, heavy": (lambda s, u: inbox.todo(s, u[0], u[1], search="报销"), heavy),
        "todo search, typical": (lambda s, u: inbox.todo(s, u[0], u[1], search="财务"), typical),
        # an initiator's display name (the full name of user 42, then a surname shared by ~1/50 of the people)
        "todo search name, heavy": (lambda s, u: inbox.todo(s, u[0], u[1], search=person_names(42)[0]), heavy),
        "todo search name, typical": (lambda s, u: inbox.todo(s, u[0], u[1], search=person_names(42)[0]), typical),
        "todo search surname, typical": (lambda s, u: inbox.todo(s, u[0], u[1], search="王"), typical),
        "done search name, typical": (lambda s, u: inbox.done(s, u[0], search=person_names(42)[0]), typical),
        "my_requests search, typical": (lambda s, u: inbox.my_requests(s, u[0], search="请假"), typical),
        "done page 1, typical": (lambda s, u: inbox.done(s, u[0]), typical),
        "my_requests page 1, typical": (lambda s, u: inbox.my_requests(s, u[0]), typical),
        "my_requests page 1, erp": (lambda s, u: inbox.my_requests(s, "erp"), heavy),
    }
    if args.explain:
        explain(engine, sessions, {name: (lambda s, c=call, u=subjects[0]: c(s, u))
                                   for name, (call, subjects) in cases.items()})
    return {name: measure(sessions, call, args.runs, subjects) for name, (call, subjects) in cases.items()}


if __name__ == "__main__":
    main()
