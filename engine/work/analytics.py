"""Process analytics (issue 19): the summary tables' refresh, and the dashboards' scoped reads.

`refresh` reads only `history_entry` rows past its watermark, and rebuilds the summary of the
instances they touch (`analytics_instance`, `analytics_node_visit`) from `process_instance`,
`work_task` and `approval_item`: rebuilding a whole instance makes it idempotent (run it twice, or
crash half-way, and the rows are the same). The dispatcher runs it about once a minute; `liaison
analytics refresh` runs it by hand. The reads take what the viewer may see (a `Scope`: the rule is
`engine.packages.analytics_scope.scope_of`) and the page's `Filters`, and never scan the history itself.
More views (escalations, deputies, flows, the tables the page and exports show): `analytics_views`.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from sqlalchemy import BigInteger, case, cast, delete, exists, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker

from engine.bpmn.xmlsafe import relabel
from engine.data.analytics_models import AnalyticsInstance, AnalyticsNodeVisit, AnalyticsWatermark
from engine.data.models import (
    ApprovalItem,
    HistoryEntry,
    Person,
    ProcessDefinition,
    ProcessInstance,
    ProcessVersion,
    WorkTask,
)
from engine.errors import NotFoundError
from engine.results import element_label
from engine.runtime.versions import versions_element_names
from engine.work import analytics_paths

WATERMARK = "history"
BATCH = 5000


def refresh(sessions: sessionmaker[Session], batch: int = BATCH) -> int:
    """Bring the summary up to date in batches of `batch` history rows; returns the instances rebuilt. The
    first refresh (watermark 0) rebuilds every instance in one transaction, `batch` instances a statement."""
    rebuilt = 0
    while True:
        with sessions.begin() as session:
            mark = _watermark(session)
            if mark.history_id == 0:  # the first refresh: every instance, by id, and the watermark at the top
                top = session.scalar(select(func.max(HistoryEntry.id)))
                if top is None:
                    return rebuilt
                ids = list(session.scalars(select(ProcessInstance.id).order_by(ProcessInstance.id)))
                for start in range(0, len(ids), batch):
                    _rebuild(session, ids[start:start + batch])
                mark.history_id = top
                rebuilt += len(ids)
                continue
            rows = session.execute(select(HistoryEntry.id, HistoryEntry.instance_id)
                                   .where(HistoryEntry.id > mark.history_id)
                                   .order_by(HistoryEntry.id).limit(batch)).all()
            if not rows:
                return rebuilt
            ids = sorted({instance_id for _, instance_id in rows})
            _rebuild(session, ids)
            mark.history_id = rows[-1][0]
            rebuilt += len(ids)
        if len(rows) < batch:
            return rebuilt


def _watermark(session: Session) -> AnalyticsWatermark:
    """The watermark row, locked (FOR UPDATE on PostgreSQL) so two refreshes take turns; made on first use,
    where a concurrent first refresh that made it first wins."""
    mark = session.get(AnalyticsWatermark, WATERMARK, with_for_update=True)
    if mark is None:
        try:
            with session.begin_nested():
                session.add(AnalyticsWatermark(name=WATERMARK, history_id=0))
        except IntegrityError:
            pass
        mark = session.get(AnalyticsWatermark, WATERMARK, with_for_update=True, populate_existing=True)
    return mark


def sweep(sessions: sessionmaker[Session], now: datetime | None = None) -> int:
    """The dispatcher's minute housekeeping: `refresh`."""
    return refresh(sessions)


def _rebuild(session: Session, ids: list[int]) -> None:
    """Replace the summary rows of instances `ids` with two INSERT ... SELECTs (set-based: a 10,000-instance
    batch is a few statements, not a row each): the visits first, whose outcomes decide `rejected`; then
    the flows they took (`analytics_paths`, from their history's step rows)."""
    session.execute(delete(AnalyticsNodeVisit).where(analytics_paths.among(session, AnalyticsNodeVisit.instance_id, ids)))
    session.execute(delete(AnalyticsInstance).where(analytics_paths.among(session, AnalyticsInstance.instance_id, ids)))
    seconds = _seconds_sql(session.get_bind().dialect.name)
    initiator, actor = aliased(Person), aliased(Person)
    who = func.coalesce(WorkTask.completed_by, WorkTask.assignee)
    rejected_item = exists().where(ApprovalItem.task_id == WorkTask.id, ApprovalItem.status == "rejected")
    approved_item = exists().where(ApprovalItem.task_id == WorkTask.id, ApprovalItem.status == "approved")
    outcome = case((WorkTask.status == "open", "open"), (rejected_item, "rejected"), (approved_item, "approved"),
                   else_=WorkTask.status)
    escalated = (select(func.count()).where(HistoryEntry.instance_id == WorkTask.instance_id,
                                            HistoryEntry.task_id == WorkTask.id, HistoryEntry.action == "escalated")
                 .scalar_subquery())
    visits = (select(WorkTask.id, WorkTask.instance_id, ProcessInstance.process_key, ProcessVersion.number,
                     WorkTask.element_id, WorkTask.created_at, WorkTask.completed_at, who, actor.department_id,
                     initiator.department_id, outcome, WorkTask.due_at, seconds(WorkTask.created_at, WorkTask.completed_at),
                     escalated)
              .join(ProcessInstance, ProcessInstance.id == WorkTask.instance_id)
              .join(ProcessVersion, ProcessVersion.id == ProcessInstance.version_id)
              .outerjoin(actor, actor.username == who)
              .outerjoin(initiator, initiator.username == ProcessInstance.initiator)
              .where(analytics_paths.among(session, WorkTask.instance_id, ids)))
    session.execute(insert(AnalyticsNodeVisit).from_select(
        ["task_id", "instance_id", "process_key", "version", "element_id", "entered_at", "left_at", "actor",
         "actor_department_id", "initiator_department_id", "outcome", "due_at", "wait_seconds", "escalations"], visits))
    withdrawn = exists().where(HistoryEntry.instance_id == ProcessInstance.id, HistoryEntry.action == "withdrawn")
    rejected = exists().where(AnalyticsNodeVisit.instance_id == ProcessInstance.id,
                              AnalyticsNodeVisit.outcome == "rejected")
    status = case((ProcessInstance.status == "running", "running"),
                  ((ProcessInstance.status == "cancelled") & withdrawn, "withdrawn"),
                  (ProcessInstance.status == "cancelled", "terminated"),
                  ((ProcessInstance.status == "completed")
                   & (rejected | func.coalesce(ProcessInstance.end_event, "").like("%reject%")), "rejected"),
                  else_=ProcessInstance.status)
    instances = (select(ProcessInstance.id, ProcessInstance.process_key, ProcessVersion.number, status,
                        ProcessInstance.initiator, initiator.department_id, ProcessInstance.created_at,
                        ProcessInstance.ended_at, seconds(ProcessInstance.created_at, ProcessInstance.ended_at))
                 .join(ProcessVersion, ProcessVersion.id == ProcessInstance.version_id)
                 .outerjoin(initiator, initiator.username == ProcessInstance.initiator)
                 .where(analytics_paths.among(session, ProcessInstance.id, ids)))
    session.execute(insert(AnalyticsInstance).from_select(
        ["instance_id", "process_key", "version", "status", "initiator", "initiator_department_id", "started_at",
         "ended_at", "cycle_seconds"], instances))
    analytics_paths.rebuild(session, ids)


def _seconds_sql(dialect: str):
    """`end - start` in whole seconds as SQL (NULL while `end` is NULL), on PostgreSQL and SQLite."""
    if dialect == "postgresql":
        return lambda start, end: cast(func.round(func.extract("epoch", end - start)), BigInteger)
    return lambda start, end: cast(func.round((func.julianday(end) - func.julianday(start)) * 86400), BigInteger)


# -- the dashboards' reads: what the viewer may see (`Scope`) and the page's filters (`Filters`) -----------

@dataclass(frozen=True)
class Scope:
    """What a viewer may analyse (the rule: `engine.packages.analytics_scope.scope_of`): the processes `keys`
    seen whole (None: every process, a super admin), and in every process the instances and tasks of the
    department ids `departments` (a department admin's subtrees): instances their departments started, and
    tasks of those instances or acted on by their departments."""

    keys: frozenset[str] | None = None
    departments: tuple[int, ...] = ()

    def whole(self, key: str) -> bool:
        return self.keys is None or key in self.keys

    def sees(self, key: str) -> bool:
        return self.whole(key) or bool(self.departments)


@dataclass(frozen=True)
class Filters:
    """The dashboard's filters: start between `since` and `until`, a version, the department of the task's
    actor (`departments`, ids with their subtrees) and the initiator's department (`initiator_departments`);
    `zone`, the reader's time zone, says which day, week or month a moment falls in (a request started at
    07:00 in Shanghai is that day's, not the day before's as in UTC)."""

    since: datetime | None = None
    until: datetime | None = None
    version: int | None = None
    departments: tuple[int, ...] | None = None
    initiator_departments: tuple[int, ...] | None = None
    zone: tzinfo = UTC


def as_scope(scope: Scope | set[str] | frozenset[str] | None) -> Scope:
    """A `Scope` from a Scope or from the keys seen whole (None: all)."""
    if isinstance(scope, Scope):
        return scope
    return Scope(None if scope is None else frozenset(scope))


def _quantiles(values: list[int]) -> tuple[float | None, float | None]:
    """Median and 90th percentile (inclusive method, so a single value is both); None when empty."""
    if not values:
        return None, None
    if len(values) == 1:
        return float(values[0]), float(values[0])
    return float(statistics.median(values)), float(statistics.quantiles(values, n=10, method="inclusive")[8])


def _grouped_quantiles(session: Session, query, group, value) -> dict:
    """{group: (median, p90, count)} of `value` over the rows of `query` (a select to add the columns to),
    None groups included; `group` None: one group, None. On PostgreSQL in SQL (`percentile_cont`: the same linear interpolation as
    `_quantiles`), so only one row per group leaves the database; elsewhere in Python."""
    if session.get_bind().dialect.name == "postgresql":
        median, p90 = (func.percentile_cont(q).within_group(value) for q in (0.5, 0.9))
        if group is None:
            [(m, p, n)] = session.execute(query.add_columns(median, p90, func.count())).all()
            return {None: (float(m), float(p), n)} if n else {}
        rows = session.execute(query.add_columns(group, median, p90, func.count()).group_by(group))
        return {g: (float(m), float(p), n) for g, m, p, n in rows}
    values = defaultdict(list)
    for g, v in session.execute(query.add_columns(value if group is None else group, value)):
        values[None if group is None else g].append(v)
    return {g: (*_quantiles(vs), len(vs)) for g, vs in values.items()}


def _zone_name(zone: tzinfo) -> str:
    """The IANA name PostgreSQL's `timezone()` takes (zoneinfo's `key`, pytz's `zone`; UTC otherwise)."""
    return getattr(zone, "key", None) or getattr(zone, "zone", None) or "UTC"


def _period_sql(dialect: str, column, period: str, zone: tzinfo = UTC):
    """`_period` of a time column as SQL on PostgreSQL (in `zone`); None elsewhere (then Python buckets)."""
    if dialect != "postgresql":
        return None
    pattern = {"month": "YYYY-MM", "week": 'IYYY-"W"IW'}.get(period, "YYYY-MM-DD")
    return func.to_char(func.timezone(_zone_name(zone), column), pattern)


def _period(moment: datetime, period: str, zone: tzinfo | None = None) -> str:
    """The day, ISO week or month of a moment; in `zone` when given (a naive moment is UTC, as stored)."""
    if zone is not None:
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(zone)
    if period == "month":
        return moment.strftime("%Y-%m")
    if period == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    return moment.strftime("%Y-%m-%d")


def _instances_where(scope, key: str, filters: Filters | None, table=AnalyticsInstance) -> list | None:
    """Conditions on `analytics_instance` (or `analytics_flow_pass`, which has the same columns) for one
    process under the scope and filters; None when the viewer may not see `key` at all."""
    scope, f = as_scope(scope), filters or Filters()
    if not scope.sees(key):
        return None
    where = [table.process_key == key]
    if not scope.whole(key):
        where.append(table.initiator_department_id.in_(scope.departments))
    if f.since is not None:
        where.append(table.started_at >= f.since)
    if f.until is not None:
        where.append(table.started_at < f.until)
    if f.initiator_departments is not None:
        where.append(table.initiator_department_id.in_(f.initiator_departments))
    if f.version is not None:
        where.append(table.version == f.version)
    return where


def instance_counts(session: Session, scope, key: str, period: str = "day", filters: Filters | None = None) -> dict:
    """Per period (day / week / month of the start): started, finished, running, withdrawn, rejected;
    over all: cycle time median and p90 (seconds, finished instances) and the approval rate (%); and the
    cycle time trend: median, p90 and count per period of the end. The task-department filter does not
    apply (an instance has no one department of a task); the initiator's department does."""
    where = _instances_where(scope, key, filters)
    if where is None:
        return {"periods": [], "rows": {}, "cycle_median": None, "cycle_p90": None, "approval_rate": None, "trend": []}
    a = AnalyticsInstance
    rows: dict[str, Counter] = defaultdict(Counter)
    decided = Counter()
    dialect = session.get_bind().dialect.name
    zone = (filters or Filters()).zone
    started_in = _period_sql(dialect, a.started_at, period, zone)
    if started_in is not None:  # PostgreSQL: counted and ranked in SQL, a row per period and status
        for bucket, status, count in session.execute(select(started_in, a.status, func.count()).where(*where)
                                                     .group_by(started_in, a.status)):
            _count(rows[bucket], status, count, decided)
        ended = a.status.in_(("completed", "rejected")) & a.cycle_seconds.is_not(None)
        median, p90, _ = _grouped_quantiles(session, select().where(*where, ended), None, a.cycle_seconds).get(
            None, (None, None, 0))
        by_end = _grouped_quantiles(session, select().where(*where, ended), _period_sql(dialect, a.ended_at, period, zone),
                                    a.cycle_seconds)
        trend = [{"period": p, "median": by_end[p][0], "p90": by_end[p][1], "count": by_end[p][2]}
                 for p in sorted(by_end)]
    else:
        cycles, ends = [], defaultdict(list)
        for started, status, cycle, finished in session.execute(select(a.started_at, a.status, a.cycle_seconds,
                                                                       a.ended_at).where(*where)):
            _count(rows[_period(started, period, zone)], status, 1, decided)
            if status in ("completed", "rejected") and cycle is not None:
                cycles.append(cycle)
                ends[_period(finished, period, zone)].append(cycle)
        median, p90 = _quantiles(cycles)
        trend = [{"period": p, "median": _quantiles(ends[p])[0], "p90": _quantiles(ends[p])[1], "count": len(ends[p])}
                 for p in sorted(ends)]
    total = decided["completed"] + decided["rejected"]
    return {"periods": sorted(rows), "rows": {p: dict(rows[p]) for p in sorted(rows)},
            "cycle_median": median, "cycle_p90": p90,
            "approval_rate": round(100 * decided["completed"] / total, 1) if total else None, "trend": trend}


def _count(bucket: Counter, status: str, count: int, decided: Counter) -> None:
    """Add `count` instances of `status` to a period's counts (and to the decided ones)."""
    bucket["started"] += count
    bucket["running" if status == "running" else "finished"] += count
    if status in ("withdrawn", "rejected"):
        bucket[status] += count
    if status in ("completed", "rejected"):
        decided[status] += count


def _scoped(query, scope, key: str | None, filters: Filters | None = None):
    """`query` over `analytics_node_visit` narrowed to what the viewer may see (one process, or all theirs)
    and the filters; None when `key` is not the viewer's."""
    v, scope, f = AnalyticsNodeVisit, as_scope(scope), filters or Filters()
    mine = v.initiator_department_id.in_(scope.departments) | v.actor_department_id.in_(scope.departments)
    if key is not None:
        if not scope.sees(key):
            return None
        query = query.where(v.process_key == key)
        if not scope.whole(key):
            query = query.where(mine)
    elif scope.keys is not None:
        query = query.where(or_(v.process_key.in_(scope.keys), mine) if scope.departments
                            else v.process_key.in_(scope.keys))
    if f.version is not None:
        query = query.where(v.version == f.version)
    if f.since is not None:
        query = query.where(v.entered_at >= f.since)
    if f.until is not None:
        query = query.where(v.entered_at < f.until)
    if f.departments is not None:
        query = query.where(v.actor_department_id.in_(f.departments))
    if f.initiator_departments is not None:
        query = query.where(v.initiator_department_id.in_(f.initiator_departments))
    return query


FINISHED = AnalyticsNodeVisit.outcome.not_in(("open", "cancelled")) & AnalyticsNodeVisit.wait_seconds.is_not(None)


def node_stats(session: Session, scope, key: str, filters: Filters | None = None,
               now: datetime | None = None) -> list[dict]:
    """Per node (BPMN element): waiting time median / p90 of finished waits (seconds), how many wait
    now and the oldest wait's age (seconds); slowest median first. Two narrow queries: the finished
    waits' seconds, and the open ones counted in SQL."""
    now = now or datetime.now(UTC)
    v = AnalyticsNodeVisit
    finished = _scoped(select().where(FINISHED), scope, key, filters)
    if finished is None:
        return []
    waits = _grouped_quantiles(session, finished, v.element_id, v.wait_seconds)
    waiting = {element: (count, oldest) for element, count, oldest in session.execute(_scoped(
        select(v.element_id, func.count(), func.min(v.entered_at)).where(v.outcome == "open")
        .group_by(v.element_id), scope, key, filters))}
    rows = []
    for element in sorted(set(waits) | set(waiting)):
        median, p90, done = waits.get(element, (None, None, 0))
        count, oldest = waiting.get(element, (0, None))
        rows.append({"element_id": element, "median": median, "p90": p90, "finished": done,
                     "waiting": count, "oldest": int((now - oldest).total_seconds()) if oldest else None})
    rows.sort(key=lambda r: -(r["median"] or 0))
    return rows


def sla(session: Session, scope, key: str, filters: Filters | None = None) -> list[dict]:
    """Due times met and missed of finished tasks that had one, per node and the actor's department id."""
    v = AnalyticsNodeVisit
    missed = func.sum(case((v.left_at > v.due_at, 1), else_=0))
    query = _scoped(select(v.element_id, v.actor_department_id, func.count(), missed)
                    .where(FINISHED, v.due_at.is_not(None)).group_by(v.element_id, v.actor_department_id)
                    .order_by(v.element_id, v.actor_department_id), scope, key, filters)
    if query is None:
        return []
    return [{"element_id": element, "department_id": department, "met": total - (late or 0), "missed": late or 0}
            for element, department, total, late in session.execute(query)]


def escalations(session: Session, scope, key: str, filters: Filters | None = None) -> list[dict]:
    """Escalations fired (the "escalated" history rows of escalation timers), per node and the department
    of whom the task waited for or who did it, with the tasks escalated; by node and department id."""
    v = AnalyticsNodeVisit
    query = _scoped(select(v.element_id, v.actor_department_id, func.sum(v.escalations), func.count())
                    .where(v.escalations > 0).group_by(v.element_id, v.actor_department_id)
                    .order_by(v.element_id, v.actor_department_id), scope, key, filters)
    if query is None:
        return []
    return [{"element_id": element, "department_id": department, "escalations": int(fired), "tasks": tasks}
            for element, department, fired, tasks in session.execute(query)]


def heat(rows: list[dict]) -> dict[str, dict]:
    """Each node's median and a heat level 0..4 (4: the slowest median), for the diagram's colours."""
    top = max((r["median"] or 0 for r in rows), default=0)
    return {r["element_id"]: {"median": r["median"], "p90": r["p90"], "waiting": r["waiting"],
                              "level": round(4 * (r["median"] or 0) / top) if top else 0} for r in rows}


def overdue_now(session: Session, scope, key: str | None = None, filters: Filters | None = None,
                now: datetime | None = None) -> list[dict]:
    """Open tasks past their due time, oldest due first, with whom they wait for (a username): a node with
    several signers (会签, 或签...) is one row per signer still to act, as the workload counts it."""
    now = now or datetime.now(UTC)
    v = AnalyticsNodeVisit
    query = _scoped(select(v.instance_id, v.process_key, v.element_id, v.actor, v.due_at, v.task_id)
                    .where(v.outcome == "open", v.due_at < now).order_by(v.due_at, v.instance_id), scope, key, filters)
    if query is None:
        return []
    rows = session.execute(query).all()
    unclaimed = [r.task_id for r in rows if r.actor is None and r.task_id is not None]
    signers: dict[str, list[str]] = {}
    if unclaimed:
        for task_id, signer in session.execute(
                select(ApprovalItem.task_id, ApprovalItem.signer)
                .where(ApprovalItem.task_id.in_(unclaimed), ApprovalItem.status == "open")
                .order_by(ApprovalItem.task_id, ApprovalItem.signer)):
            signers.setdefault(task_id, []).append(signer)
    return [{"instance_id": r.instance_id, "process_key": r.process_key, "element_id": r.element_id,
             "waits_for": who, "due_at": r.due_at, "overdue_seconds": int((now - r.due_at).total_seconds())}
            for r in rows
            for who in ((signers.get(r.task_id) or [None]) if r.actor is None else [r.actor])]


def workload(session: Session, scope, key: str | None = None, filters: Filters | None = None) -> dict:
    """Open tasks per person and per department id (a node waiting for several signers counts for each
    open signer), each approver's median time to act (seconds), and the
    tasks each person finished per ISO week of finishing (`done_per_week`: {(person, "YYYY-Www"): n},
    counted in SQL by the week's Monday; on a node with several signers each signer's decision counts for
    them, in the week they made it, not only the last signature that closed the node)."""
    v = AnalyticsNodeVisit
    signing = exists().where(ApprovalItem.task_id == v.task_id, ApprovalItem.status == "open")
    open_query = _scoped(select(v.actor, v.actor_department_id, func.count())
                         .where(v.outcome == "open", or_(v.actor.is_not(None), ~signing))
                         .group_by(v.actor, v.actor_department_id), scope, key, filters)
    if open_query is None:
        return {"open_by_person": {}, "open_by_department": {}, "median_to_act": {}, "done_per_week": {}}
    per_person, per_department, weekly = Counter(), Counter(), Counter()
    for actor, department, count in session.execute(open_query):
        per_person[actor] += count
        per_department[department] += count
    signer = aliased(Person)  # a node with several signers (会签, 或签...) waits for each open signer
    for who, department, count in session.execute(_scoped(
            select(ApprovalItem.signer, signer.department_id, func.count())
            .join(v, v.task_id == ApprovalItem.task_id).outerjoin(signer, signer.username == ApprovalItem.signer)
            .where(v.outcome == "open", v.actor.is_(None), ApprovalItem.status == "open")
            .group_by(ApprovalItem.signer, signer.department_id), scope, key, filters)):
        per_person[who] += count
        per_department[department] += count
    acted = _grouped_quantiles(session, _scoped(select().where(FINISHED, v.actor.is_not(None)), scope, key, filters),
                               v.actor, v.wait_seconds)
    dialect = session.get_bind().dialect.name
    zone = (filters or Filters()).zone
    monday = _week_start(dialect, v.left_at, zone)
    several = exists().where(ApprovalItem.task_id == v.task_id)  # a node with signers (会签, 或签, 依次...)
    done_alone = select(v.actor, monday, func.count()).where(FINISHED, v.actor.is_not(None), ~several) \
        .group_by(v.actor, monday)
    signed_on = _week_start(dialect, ApprovalItem.decided_at, zone)  # each signer's decision, the week it was made
    done_signing = (select(ApprovalItem.signer, signed_on, func.count())
                    .join(v, v.task_id == ApprovalItem.task_id)
                    .where(ApprovalItem.status.in_(("approved", "rejected")), ApprovalItem.decided_at.is_not(None))
                    .group_by(ApprovalItem.signer, signed_on))
    for query in (done_alone, done_signing):
        for actor, start, count in session.execute(_scoped(query, scope, key, filters)):
            day = start if isinstance(start, datetime) else datetime.strptime(str(start)[:10], "%Y-%m-%d")
            weekly[(actor, _period(day, "week"))] += count
    return {"open_by_person": dict(per_person.most_common()),
            "open_by_department": dict(per_department.most_common()),
            "median_to_act": {who: acted[who][0] for who in sorted(acted)},
            "done_per_week": dict(sorted(weekly.items()))}


def _week_start(dialect: str, column, zone: tzinfo = UTC):
    """The Monday of `column`'s ISO week in `zone`, as SQL: a timestamp on PostgreSQL, 'YYYY-MM-DD' on SQLite
    (which knows no time zones: the zone's offset now is added, exact for zones without summer time)."""
    if dialect == "postgresql":
        return func.date_trunc("week", func.timezone(_zone_name(zone), column))
    offset = datetime.now(UTC).astimezone(zone).utcoffset() or timedelta()
    return func.date(column, f"{int(offset.total_seconds() // 60):+d} minutes", "weekday 0", "-6 days")


def expected_finish(session: Session, instance_id: int, now: datetime | None = None) -> dict | None:
    """For a running instance: now + the median remaining time of finished instances of its process from
    entering its current node (its latest open task) to their end; None when there is no such history.
    `late` when an open task's due time comes before that."""
    now = now or datetime.now(UTC)
    current = session.scalars(select(AnalyticsNodeVisit).where(AnalyticsNodeVisit.instance_id == instance_id,
                                                               AnalyticsNodeVisit.outcome == "open")
                              .order_by(AnalyticsNodeVisit.entered_at.desc())).first()
    if current is None:
        return None
    query = (select(AnalyticsNodeVisit.entered_at, AnalyticsInstance.ended_at)
             .join(AnalyticsInstance, AnalyticsInstance.instance_id == AnalyticsNodeVisit.instance_id)
             .where(AnalyticsNodeVisit.process_key == current.process_key,
                    AnalyticsNodeVisit.element_id == current.element_id,
                    AnalyticsInstance.status.in_(("completed", "rejected"))))
    remaining = [int((ended - entered).total_seconds()) for entered, ended in session.execute(query)]
    if not remaining:
        return None
    median = statistics.median(remaining)
    finish = now + timedelta(seconds=median)
    return {"element_id": current.element_id, "median_remaining": median, "finish": finish,
            "late": current.due_at is not None and current.due_at < finish}


# -- what the dashboard page and its exports show --------------------------------------------------------

def processes(session: Session, scope) -> list[dict]:
    """The processes the viewer may analyse: key, name ({zh, en}) and version numbers, by key."""
    query = select(ProcessDefinition.key, ProcessDefinition.name, ProcessVersion.number).join(
        ProcessVersion, ProcessVersion.definition_id == ProcessDefinition.id).order_by(ProcessDefinition.key)
    scope = as_scope(scope)
    if scope.keys is not None and not scope.departments:
        query = query.where(ProcessDefinition.key.in_(scope.keys))
    found: dict[str, dict] = {}
    for key, name, number in session.execute(query):
        found.setdefault(key, {"key": key, "name": name or {}, "versions": []})["versions"].append(number)
    return list(found.values())


def overview(session: Session, scope, now: datetime | None = None, days: int = 30) -> dict[str, dict]:
    """The dashboards' index, per process the viewer may analyse (same scope rule as every view): running
    now, started and finished in the last `days` days, the cycle-time median (seconds) of those finished,
    and open tasks overdue now."""
    now = now or datetime.now(UTC)
    since = now - timedelta(days=days)
    a, v = AnalyticsInstance, AnalyticsNodeVisit
    result = {}
    for process in processes(session, scope):
        key = process["key"]
        where = _instances_where(scope, key, None)
        if where is None:
            continue
        running, started, finished = session.execute(select(
            func.count().filter(a.status == "running"), func.count().filter(a.started_at >= since),
            func.count().filter(a.status != "running", a.ended_at >= since)).where(*where)).one()
        ended = a.status.in_(("completed", "rejected")) & a.cycle_seconds.is_not(None) & (a.ended_at >= since)
        median = _grouped_quantiles(session, select().where(*where, ended), None, a.cycle_seconds).get(None, (None,))[0]
        overdue = session.scalar(_scoped(select(func.count()).where(v.outcome == "open", v.due_at < now), scope, key))
        result[key] = {"running": running, "started": started, "finished": finished, "cycle_median": median,
                       "overdue": overdue or 0}
    return result


def version_diagram(session: Session, key: str, version: int | None, lang: str) -> dict:
    """The BPMN XML of version `version` (default: the latest) of `key`, labelled in `lang`, the element
    labels and the sequence flows ({flow id: (source, target)}); NotFoundError when there is no such version."""
    query = (select(ProcessVersion).join(ProcessDefinition, ProcessDefinition.id == ProcessVersion.definition_id)
             .where(ProcessDefinition.key == key))
    query = query.where(ProcessVersion.number == version) if version else query.order_by(ProcessVersion.number.desc())
    found = session.scalars(query).first()
    if found is None:
        raise NotFoundError(f"no version {version} of {key}")
    files = found.bpmn or {}
    xml = next((t for t in files.values() if f'id="{found.process_id}"' in t), next(iter(files.values()), ""))
    names = versions_element_names(session.connection(), [found.id]).get(found.id) or {}
    labels = {e: element_label(names, e, lang) for e in names}
    if labels and xml:
        xml = relabel(xml, labels)
    flows = {flow: (source, target) for target, sources in analytics_paths.version_flows(files).items()
             for source, flow in sources}
    return {"xml": xml, "labels": labels, "version": found.number, "flows": flows}
