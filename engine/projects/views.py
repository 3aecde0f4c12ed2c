"""What the project pages show, read in a few queries: the board (columns by status), the filtered
list, the calendar by due date, the summary (counts, overdue tasks, burn-down). Board, list and
calendar read the same rows (`tasks_of`), so they always agree.
"""

from __future__ import annotations

import calendar as months
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.data.models import utcnow
from engine.data.project_models import ProjectTask
from engine.projects.life import CLOSED, STATUSES

BURN_DOWN_DAYS = 60  # the chart's longest span, ending today


@dataclass
class TaskFilter:
    """The list's filters: owner (username), label, due (`week` / `month` / a date: due on or before it),
    overdue only, status."""

    owner: str | None = None
    label: str | None = None
    due: str | None = None
    overdue: bool = False
    status: str | None = None


def is_overdue(task: ProjectTask, now: datetime) -> bool:
    """Past its due date and neither done nor cancelled."""
    return task.due_at is not None and task.due_at < now and task.status not in CLOSED


def tasks_of(session: Session, project_id: int, top_level_only: bool = False) -> list[ProjectTask]:
    """The project's tasks, by due date (none last), then id: the one read of board, list and calendar."""
    query = select(ProjectTask).where(ProjectTask.project_id == project_id)
    if top_level_only:
        query = query.where(ProjectTask.parent_id.is_(None))
    return sorted(session.scalars(query), key=lambda t: (t.due_at is None, t.due_at or datetime.min, t.id))


def board(tasks: list[ProjectTask]) -> dict[str, list[ProjectTask]]:
    """Columns by status, in the order of the life (open, in progress, done, cancelled)."""
    columns: dict[str, list[ProjectTask]] = {s: [] for s in STATUSES}
    for task in tasks:
        columns[task.status].append(task)
    return columns


def _due_limit(due: str, now: datetime) -> datetime | None:
    if due == "week":
        return now + timedelta(days=7)
    if due == "month":
        return now + timedelta(days=31)
    try:
        return datetime.combine(date.fromisoformat(due), datetime.max.time(), tzinfo=now.tzinfo)
    except ValueError:
        return None


def filtered(tasks: list[ProjectTask], how: TaskFilter, now: datetime | None = None) -> list[ProjectTask]:
    """The tasks the list's filters keep."""
    now = now or utcnow()
    limit = _due_limit(how.due, now) if how.due else None
    kept = []
    for task in tasks:
        if how.owner and task.owner != how.owner:
            continue
        if how.label and how.label not in (task.labels or []):
            continue
        if how.status and task.status != how.status:
            continue
        if how.overdue and not is_overdue(task, now):
            continue
        if limit is not None and (task.due_at is None or task.due_at > limit):
            continue
        kept.append(task)
    return kept


@dataclass
class Month:
    """A month's calendar: weeks of days (0: a day of another month) and the tasks due on each day."""

    year: int
    month: int
    weeks: list[list[int]]
    due: dict[int, list[ProjectTask]] = field(default_factory=dict)


def month_of(tasks: list[ProjectTask], year: int, month: int, tz) -> Month:
    """The month's grid (weeks start on Monday) with each task on its due day in the reader's zone."""
    grid = Month(year, month, months.Calendar(firstweekday=0).monthdayscalendar(year, month))
    for task in tasks:
        if task.due_at is None:
            continue
        local = task.due_at.astimezone(tz)
        if (local.year, local.month) == (year, month):
            grid.due.setdefault(local.day, []).append(task)
    return grid


@dataclass
class Summary:
    """Counts by status, overdue tasks, and the burn-down: open tasks at the end of each day."""

    counts: dict[str, int]
    total: int
    overdue: list[ProjectTask]
    days: list[str]
    remaining: list[int | None]
    ideal: list[float]


def summary(tasks: list[ProjectTask], now: datetime | None = None) -> Summary:
    """The project's summary. The burn-down runs from the first task's day to the last due date (or today,
    whichever is later; at most 60 days): `remaining` holds the open tasks at the end of each day up to
    today (None after), `ideal` a straight line from the first day's count to zero on the last day."""
    now = now or utcnow()
    counts = {s: sum(1 for t in tasks if t.status == s) for s in STATUSES}
    overdue = [t for t in tasks if is_overdue(t, now)]
    days: list[str] = []
    remaining: list[int | None] = []
    if tasks:
        first = max(min(t.created_at for t in tasks).date(), now.date() - timedelta(days=BURN_DOWN_DAYS - 1))
        last_due = max((t.due_at.date() for t in tasks if t.due_at), default=now.date())
        last = min(max(last_due, now.date()), first + timedelta(days=BURN_DOWN_DAYS - 1))
        day = first
        while day <= last:
            end = datetime.combine(day, datetime.max.time(), tzinfo=now.tzinfo)
            remaining.append(None if day > now.date() else sum(
                1 for t in tasks if t.created_at <= end and not (t.done_at and t.done_at <= end)))
            days.append(day.isoformat())
            day += timedelta(days=1)
    start = remaining[0] if remaining else 0
    steps = max(len(days) - 1, 1)
    ideal = [round(start - start * i / steps, 1) for i in range(len(days))]
    return Summary(counts, len(tasks), overdue, days, remaining, ideal)
