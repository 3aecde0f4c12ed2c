"""Task collaboration at 300 tasks on one project: `create_task` (the row and its `project_task` instance),
`move_task` (the status message to the instance, then the row), and the project page's reads (board,
summary with burn-down, the overdue filter) from one `tasks_of` query.

    .venv/bin/python bench/projects_bench.py [DATABASE_URL]

Without a URL it runs on a new SQLite file; a PostgreSQL URL must name an empty database (the schema is
migrated here). Not run by the test suite.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.data import db  # noqa: E402
from engine.data.models import utcnow  # noqa: E402
from engine.projects import projects, tasks, views  # noqa: E402
from engine.projects.projects import ProjectInput  # noqa: E402
from engine.projects.tasks import TaskInput  # noqa: E402
from tests.engine.projects.conftest import company  # noqa: E402

TASKS = 300


def _ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.1f} ms, p90 {sorted(values)[int(len(values) * 0.9)] * 1000:.1f} ms"


def main(url: str) -> None:
    db.upgrade(url)
    sessions = db.make_session_factory(db.make_engine(url))
    company(sessions)
    with sessions() as session, session.begin():
        project_id = projects.create_project(session, "li", ProjectInput(name="bench", departments=["MKT", "PRD"]))
    now, made, moved, reads = utcnow(), [], [], []
    for i in range(TASKS):
        started = time.perf_counter()
        task_id = tasks.create_task(sessions, "li", project_id, TaskInput(
            title=f"task {i}", owner=("zhang", "wang", "chen")[i % 3], due_at=now + timedelta(days=i % 30)))
        made.append(time.perf_counter() - started)
        if i % 3 == 0:
            started = time.perf_counter()
            tasks.move_task(sessions, "li", task_id, "in_progress")
            moved.append(time.perf_counter() - started)
    for _ in range(20):
        started = time.perf_counter()
        with sessions() as session:
            rows = views.tasks_of(session, project_id)
            views.board(rows)
            views.summary(rows)
            views.filtered(rows, views.TaskFilter(overdue=True))
        reads.append(time.perf_counter() - started)
    print(f"create_task (with its instance): {_ms(made)}")
    print(f"move_task (message to the instance): {_ms(moved)}")
    print(f"board + summary + overdue filter of {TASKS} tasks: {_ms(reads)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{Path(tempfile.mkdtemp()) / 'projects.db'}")
