"""Read side of the web inbox: to-do, done, my requests, the navigation counts and the CSV export.

Every query is scoped to the user: a task is listed only if it is assigned to them, or offered
to them or one of their groups and not yet claimed (assignee NULL). The two are separate
branches joined with UNION ALL (they cannot overlap: `assignee = user` vs `assignee IS NULL`),
each served by its own index: `(assignee, status, created_at)` for the first, the
`task_candidate (kind, value)` lookup for the second. An OR across the two would force a scan
of every open task. Filters go into both branches, so the database can stop after one page.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, false, func, null, or_, select, union_all
from sqlalchemy.orm import Session

from engine.config import load_settings
from engine.data.models import (
    ApprovalItem,
    HistoryEntry,
    ProcessDefinition,
    ProcessInstance,
    TaskCandidate,
    WorkTask,
    utcnow,
)
from engine.external.display import actor_names
from engine.people.org import display_names
from engine.results import Page, element_label, jsonable, localized, paging  # noqa: F401 (Page, localized: re-exported)
from engine.runtime import operations
from engine.runtime.outcome import outcomes, task_decisions
from engine.runtime.versions import versions_element_names
from engine.work.search import request_search, task_search

DUE_SOON = timedelta(hours=24)
MAX_PER_PAGE = 1000

_task = WorkTask.__table__
_instance = ProcessInstance.__table__
_definition = ProcessDefinition.__table__
_candidate = TaskCandidate.__table__
_approval_item = ApprovalItem.__table__
_history = HistoryEntry.__table__
# A node with signers (会签, 或签...) is signed by each of them and never claimed: listed, but not claimable
# (one index lookup per listed row, `ix_approval_item_task`, in the same statement).
_CLAIMABLE = ~select(_approval_item.c.id).where(_approval_item.c.task_id == _task.c.id).exists()

_WITH_INSTANCE = (_task.join(_instance, _instance.c.id == _task.c.instance_id)
                  .outerjoin(_definition, _definition.c.key == _instance.c.process_key))
_TASK_COLUMNS = (_task.c.id, _task.c.instance_id, _instance.c.process_key,
                 _definition.c.name.label("process_name"), _task.c.name.label("task_name"), _task.c.element_id,
                 _instance.c.initiator, _instance.c.business_key, _task.c.created_at, _task.c.due_at,
                 _instance.c.version_id)




@dataclass
class InboxItem:
    """A to-do or done task as the inbox shows it. `offered`: in a pool, the user may claim it.

    For a done task, `overdue` says it was completed after its due time.
    """

    task_id: str
    instance_id: int
    process_key: str
    process_name: dict  # {"zh": ..., "en": ...}
    task_name: str  # in the asked language (`results.element_label`); the element id when nothing names it
    initiator: str | None
    business_key: str | None
    created_at: datetime
    due_at: datetime | None
    offered: bool = False
    overdue: bool = False
    due_soon: bool = False
    completed_at: datetime | None = None
    on_behalf_of: str | None = None  # assigned to the user as the deputy of this person, who is away
    initiator_name: str | None = None  # the initiator's display name (the username when not asked in a language)
    decision: str | None = None  # a done task: approved / rejected when it was submitted with a decision
    outcome: str = "running"  # the instance's outcome (`engine.runtime.outcome`)
    transferred_to: str | None = None  # a done task the user transferred (已转交): to whom (username)
    transferred_to_name: str | None = None  # their display name (the username when not asked in a language)

    def process_label(self, lang: str) -> str:
        """The process name in `lang`, else in the other language, else its key."""
        return localized(self.process_name, lang, self.process_key)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return jsonable(asdict(self))


@dataclass
class RequestItem:
    """An instance the user started, with the names of its open tasks (where it waits now)."""

    instance_id: int
    process_key: str
    process_name: dict
    business_key: str | None
    status: str
    created_at: datetime
    ended_at: datetime | None
    current_tasks: list[str] = field(default_factory=list)
    current_assignees: list[str] = field(default_factory=list)  # usernames
    current_assignee_names: list[str] = field(default_factory=list)  # their display names, in the same order
    outcome: str = "running"  # approved / rejected / withdrawn / terminated / finished ... (`engine.runtime.outcome`)

    def process_label(self, lang: str) -> str:
        """The process name in `lang`, else in the other language, else its key."""
        return localized(self.process_name, lang, self.process_key)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return jsonable(asdict(self))


# -- to do --------------------------------------------------------------------------------------------

def todo(session: Session, user: str, groups=(), *, process: str | None = None, initiator: str | None = None,
         created_from: datetime | None = None, created_to: datetime | None = None,
         overdue: bool | None = None, search: str | None = None, page: int = 1, per_page: int = 20,
         now: datetime | None = None, lang: str | None = None) -> Page:
    """Open tasks assigned to `user`, and unclaimed ones offered to them or their `groups`; newest first.

    `created_from` / `created_to` bound the task's creation time (from inclusive, to exclusive);
    `overdue` True keeps overdue tasks only, False the others; `search` is `request_search` (process,
    business key, initiator by name) or the task's name. `lang` (zh/en): task names from the package's
    `names` and people's display names in that language; None: the BPMN names and usernames.
    """
    now = now or utcnow()
    page, per_page = _paging(page, per_page)
    conditions = _task_filters(session, process, initiator, search) + _time_filters(_task.c.created_at, created_from,
                                                                           created_to)
    if overdue is not None:
        is_overdue = and_(_task.c.due_at.is_not(None), _task.c.due_at < now)
        conditions.append(is_overdue if overdue else ~is_overdue)
    source = _WITH_INSTANCE if (process or initiator or search) else _task
    listed = _todo_union((_task.c.id, _task.c.created_at), user, groups, conditions, source).subquery()
    rows = session.execute(_details(listed, listed.c.created_at, page, per_page, listed.c.offered)).all()
    items = _inbox_items(session, rows, now, lang, offered=True)

    def count() -> int:
        return session.execute(select(func.count()).select_from(listed)).scalar_one()

    return Page(items, _total(rows, page, count), page, per_page)


def _details(listed, order_column, page: int, per_page: int, *extra):
    """One page of `listed` (task ids, newest first) with the list's length, then the columns shown.

    Paging on the narrow task rows first lets the database join the instance and process columns
    for that page's rows alone; the length comes with them (a window count), so the page and
    its total are one query that reads the list once.
    """
    chosen = (select(listed.c.id, order_column.label("sort_key"), *extra, func.count().over().label("total"))
              .order_by(order_column.desc(), listed.c.id.desc())
              .limit(per_page).offset((page - 1) * per_page).subquery("chosen"))
    return (select(*_TASK_COLUMNS, _task.c.completed_at, _task.c.on_behalf_of, chosen.c.total, *(chosen.c[c.name] for c in extra))
            .select_from(chosen.join(_task, _task.c.id == chosen.c.id)
                         .join(_instance, _instance.c.id == _task.c.instance_id)
                         .outerjoin(_definition, _definition.c.key == _instance.c.process_key))
            .order_by(chosen.c.sort_key.desc(), chosen.c.id.desc()))


def todo_ids(user: str, groups=()):
    """The ids of `user`'s to-do list, as a subquery: the one rule for who sees an open task in a
    list (assigned to them, or offered to them or their groups and unclaimed). The CLI's list uses it."""
    return select(_todo_union((_task.c.id,), user, groups, [], _task).subquery().c.id)


def _todo_union(columns, user: str, groups, conditions: list, source):
    """Assigned to `user` UNION ALL offered to `user`/`groups` and unclaimed: disjoint by `assignee`;
    `offered` says whether the row may be claimed (not a node with signers)."""
    assigned = (select(*columns, false().label("offered")).select_from(source)
                .where(_task.c.assignee == user, _task.c.status == "open", *conditions))
    offered = (select(*columns, _CLAIMABLE.label("offered")).select_from(source)
               .where(_task.c.assignee.is_(None), _task.c.status == "open",
                      _task.c.id.in_(_offered_ids(user, groups)), *conditions))
    return union_all(assigned, offered)


def _offered_ids(user: str, groups):
    """Ids of tasks whose candidates name `user` or one of `groups` (open or not: the caller checks).

    Two index-only lookups (UNION ALL) rather than one OR, which PostgreSQL answers with a bitmap
    scan that must visit the table.
    """
    by_user = select(_candidate.c.task_id).where(_candidate.c.kind == "user", _candidate.c.value == user)
    groups = sorted(set(groups or ()))
    if not groups:
        return by_user
    return union_all(by_user, select(_candidate.c.task_id).where(_candidate.c.kind == "group",
                                                                 _candidate.c.value.in_(groups)))


def counts(session: Session, user: str, groups=(), now: datetime | None = None) -> dict[str, int]:
    """Numbers for the navigation, in one query: the to-do list's length (`todo`), how many of
    those are claimable (`offered`) and overdue (`overdue`), and the user's running requests.
    """
    now = now or utcnow()
    listed = _todo_union((_task.c.due_at,), user, groups, [], _task).subquery()
    running = (select(func.count()).select_from(_instance)
               .where(_instance.c.initiator == user, _instance.c.status == "running").scalar_subquery())
    row = session.execute(select(
        func.count(), func.coalesce(func.sum(case((listed.c.offered, 1), else_=0)), 0),
        func.coalesce(func.sum(case((listed.c.due_at < now, 1), else_=0)), 0),
        running.label("running")).select_from(listed)).one()
    return dict(zip(("todo", "offered", "overdue", "requests_running"), (int(n) for n in row), strict=True))


# -- done ---------------------------------------------------------------------------------------------

def done(session: Session, user: str, *, process: str | None = None, initiator: str | None = None,
         completed_from: datetime | None = None, completed_to: datetime | None = None,
         search: str | None = None, page: int = 1, per_page: int = 20, lang: str | None = None) -> Page:
    """Tasks `user` completed, and those they transferred to someone else (已转交, `transferred_to`, the
    time they handed it over as `completed_at`), most recent first (same filters and `lang` as `todo`, by
    that time). A task they transferred and later completed themselves is listed once, as completed."""
    page, per_page = _paging(page, per_page)
    filters = _task_filters(session, process, initiator, search)
    source = _WITH_INSTANCE if (process or initiator or search) else _task
    completed = (select(_task.c.id, _task.c.completed_at.label("handled_at"), null().label("transferred_to"))
                 .select_from(source)
                 .where(_task.c.completed_by == user, _task.c.status == "completed", *filters,
                        *_time_filters(_task.c.completed_at, completed_from, completed_to)))
    listed = union_all(completed, _transferred(user, source, filters, completed_from, completed_to)).subquery()
    rows = session.execute(_details(listed, listed.c.handled_at, page, per_page, listed.c.handled_at,
                                    listed.c.transferred_to)).all()
    items = _inbox_items(session, rows, None, lang, offered=False)
    decisions = task_decisions(session, [item.task_id for item in items if not item.transferred_to])
    ended = outcomes(session, [item.instance_id for item in items])
    for item in items:
        item.decision, item.outcome = decisions.get(item.task_id), ended.get(item.instance_id, item.outcome)

    def count() -> int:
        return session.execute(select(func.count()).select_from(listed)).scalar_one()

    return Page(items, _total(rows, page, count), page, per_page)


def _transferred(user: str, source, filters: list, start: datetime | None, end: datetime | None):
    """The tasks `user` transferred (history `transferred`, their latest one per task), unless they completed
    the task themselves in the end. `ix_history_actor` (actor, instance_id) serves both lookups."""
    later = _history.alias("later")
    superseded = select(later.c.id).where(
        later.c.actor == user, later.c.instance_id == _history.c.instance_id, later.c.action == "transferred",
        later.c.task_id == _history.c.task_id, later.c.id > _history.c.id).exists()
    return (select(_history.c.task_id, _history.c.at, _history.c.data["to"].as_string())
            .select_from(_history.join(source, _task.c.id == _history.c.task_id))
            .where(_history.c.actor == user, _history.c.action == "transferred", ~superseded,
                   or_(_task.c.completed_by.is_(None), _task.c.completed_by != user), *filters,
                   *_time_filters(_history.c.at, start, end)))


# -- copied to me (抄送) ---------------------------------------------------------------------------------

def copied(session: Session, user: str, *, search: str | None = None, unread_only: bool = False, page: int = 1,
           per_page: int = 20) -> Page:
    """The requests copied to `user` (`operations.cc_for`), those `request_search` finds with `search`."""
    return operations.cc_for(session, user, unread_only=unread_only, page=page, per_page=per_page,
                             matching=request_search(search) if search else None)


# -- my requests --------------------------------------------------------------------------------------

def my_requests(session: Session, user: str, status: str | None = None, *, process: str | None = None,
                created_from: datetime | None = None, created_to: datetime | None = None,
                search: str | None = None, page: int = 1, per_page: int = 20, lang: str | None = None) -> Page:
    """Instances `user` started, newest first, each with its open tasks' names and assignees (in `lang`
    as `todo` says).

    A few queries whatever the page size: the page, the open tasks and outcomes of its instances, the count.
    """
    page, per_page = _paging(page, per_page)
    conditions = [_instance.c.initiator == user,
                  *_time_filters(_instance.c.created_at, created_from, created_to)]
    if status:
        conditions.append(_instance.c.status == status)
    if process:
        conditions.append(_instance.c.process_key == process)
    if search:
        conditions.append(request_search(search, initiator=False))  # the initiator is the user
    source = _instance.outerjoin(_definition, _definition.c.key == _instance.c.process_key)
    rows = session.execute(
        select(_instance.c.id, _instance.c.process_key, _definition.c.name, _instance.c.business_key,
               _instance.c.status, _instance.c.created_at, _instance.c.ended_at)
        .select_from(source).where(*conditions)
        .order_by(_instance.c.created_at.desc(), _instance.c.id.desc())
        .limit(per_page).offset((page - 1) * per_page)).all()
    items = [RequestItem(r.id, r.process_key, r.name or {}, r.business_key, r.status, r.created_at,
                         r.ended_at) for r in rows]
    _add_open_tasks(session, items, lang)
    ended = outcomes(session, [item.instance_id for item in items])
    for item in items:
        item.outcome = ended.get(item.instance_id, item.outcome)

    def count() -> int:
        return session.execute(select(func.count()).select_from(source if search else _instance)
                               .where(*conditions)).scalar_one()

    known = (page - 1) * per_page + len(items) if items and len(items) < per_page else None
    return Page(items, count() if known is None else known, page, per_page)


def _add_open_tasks(session: Session, items: list[RequestItem], lang: str | None) -> None:
    by_id = {item.instance_id: item for item in items}
    if not by_id:
        return
    open_tasks = session.execute(
        select(_task.c.instance_id, _task.c.name, _task.c.element_id, _task.c.assignee, _instance.c.version_id)
        .select_from(_task.join(_instance, _instance.c.id == _task.c.instance_id))
        .where(_task.c.instance_id.in_(list(by_id)), _task.c.status == "open")
        .order_by(_task.c.created_at, _task.c.id)).all()
    names = versions_element_names(session.connection(), (row.version_id for row in open_tasks)) if lang else {}
    for instance_id, name, element_id, assignee, version_id in open_tasks:
        item = by_id[instance_id]
        item.current_tasks.append(element_label(names.get(version_id), element_id, lang, name))
        if assignee and assignee not in item.current_assignees:
            item.current_assignees.append(assignee)
    people = display_names(session, [u for item in items for u in item.current_assignees], lang) if lang else {}
    for item in items:
        item.current_assignee_names = [people.get(u, u) for u in item.current_assignees]


# -- CSV export ---------------------------------------------------------------------------------------

_TASK_HEADERS = {
    "zh": ["流程", "任务", "发起人", "业务编号", "创建时间", "截止时间", "状态", "完成时间", "审批决定", "审批结果",
           "实例编号"],
    "en": ["Process", "Task", "Initiator", "Business key", "Created", "Due", "State", "Completed", "Decision",
           "Outcome", "Instance"],
}
_REQUEST_HEADERS = {
    "zh": ["流程", "业务编号", "状态", "审批结果", "当前任务", "当前处理人", "发起时间", "结束时间", "实例编号"],
    "en": ["Process", "Business key", "Status", "Outcome", "Current tasks", "Waiting for", "Started", "Ended",
           "Instance"],
}
_STATES = {
    "zh": {"completed": "已完成", "transferred": "已转交", "overdue": "已逾期", "due_soon": "即将到期", "offered": "待认领", "open": "待办",
           "running": "进行中", "cancelled": "已取消", "error": "出错", "approved": "已同意", "rejected": "已拒绝",
           "withdrawn": "已撤回", "terminated": "已终止", "finished": "已结束", "failed": "出错"},  # as the pages say them
    "en": {"completed": "Completed", "transferred": "Transferred", "overdue": "Overdue", "due_soon": "Due soon", "offered": "Claimable",
           "open": "To do", "running": "Running", "cancelled": "Cancelled", "error": "Error", "approved": "Approved",
           "rejected": "Rejected", "withdrawn": "Withdrawn", "terminated": "Terminated", "finished": "Finished",
           "failed": "Failed"},
}


def export_csv(rows, lang: str = "zh", timezone: str | None = None, requests: bool | None = None) -> str:
    """CSV of inbox or request items with headers in `lang` (zh/en), times in the company's time zone.

    Starts with a UTF-8 byte order mark so Excel reads Chinese correctly; a cell that a
    spreadsheet would run as a formula (`=`, `+`, `-`, `@`) is prefixed with `'`.
    """
    lang = "en" if lang == "en" else "zh"
    zone = ZoneInfo(timezone or load_settings().timezone)
    rows = list(rows)
    if requests is None:  # an empty list says nothing of its kind: callers name it
        requests = bool(rows) and isinstance(rows[0], RequestItem)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow((_REQUEST_HEADERS if requests else _TASK_HEADERS)[lang])
    for row in rows:
        cells = _request_cells(row, lang, zone) if requests else _task_cells(row, lang, zone)
        writer.writerow([_safe_cell(cell) for cell in cells])
    return "\ufeff" + out.getvalue()


def _task_cells(item: InboxItem, lang: str, zone: ZoneInfo) -> list:
    states = _STATES[lang]
    if item.transferred_to:
        state = states["transferred"]
    elif item.completed_at is not None:
        state = states["completed"]
    else:
        state = next((states[flag] for flag in ("overdue", "due_soon", "offered") if getattr(item, flag)),
                     states["open"])
    return [item.process_label(lang), item.task_name, item.initiator_name or item.initiator, item.business_key,
            _local(item.created_at, zone), _local(item.due_at, zone), state, _local(item.completed_at, zone),
            states.get(item.decision, "") if item.decision else "", states.get(item.outcome, item.outcome),
            item.instance_id]


def _request_cells(item: RequestItem, lang: str, zone: ZoneInfo) -> list:
    return [item.process_label(lang), item.business_key, _STATES[lang].get(item.status, item.status),
            _STATES[lang].get(item.outcome, item.outcome), "; ".join(item.current_tasks), "; ".join(item.current_assignee_names or item.current_assignees), _local(item.created_at, zone),
            _local(item.ended_at, zone), item.instance_id]


def _safe_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _local(value: datetime | None, zone: ZoneInfo) -> str:
    return "" if value is None else value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


# -- shared -------------------------------------------------------------------------------------------

def _task_filters(session: Session, process: str | None, initiator: str | None, search: str | None) -> list:
    """Conditions on a task's instance (these need `_WITH_INSTANCE`); a search also finds the task by its name
    as the list shows it (`task_search`)."""
    conditions = []
    if process:
        conditions.append(_instance.c.process_key == process)
    if initiator:
        conditions.append(_instance.c.initiator == initiator)
    if search:
        conditions.append(request_search(search, task_search(session.connection(), search)))
    return conditions


def _time_filters(column, start: datetime | None, end: datetime | None) -> list:
    return ([column >= start] if start else []) + ([column < end] if end else [])


def _paging(page: int, per_page: int) -> tuple[int, int]:
    return paging(page, per_page, MAX_PER_PAGE)


def _total(rows: list, page: int, count) -> int:
    """The list's length, from the page's window count; counted apart only past the last page."""
    if rows:
        return rows[0].total
    return 0 if page == 1 else count()


def _inbox_items(session: Session, rows: list, now: datetime | None, lang: str | None, offered: bool) -> list:
    """The page's rows as items; with `lang`, task names and people (initiators, whom a task was transferred
    to) as people read them."""
    names = versions_element_names(session.connection(), (row.version_id for row in rows)) if lang else {}
    transferred = {row.id: row.transferred_to for row in rows if getattr(row, "transferred_to", None)}
    people = actor_names(session, [row.initiator for row in rows] + list(transferred.values()), lang) if lang else {}
    items = [_inbox_item(row, bool(row.offered) if offered else False, now, names.get(row.version_id), lang,
                         people.get(row.initiator)) for row in rows]
    for item in items:
        if item.task_id in transferred:
            item.transferred_to = transferred[item.task_id]
            item.transferred_to_name = people.get(item.transferred_to, item.transferred_to)
    return items


def _inbox_item(row, offered: bool, now: datetime | None, names: dict | None = None, lang: str | None = None,
                initiator_name: str | None = None) -> InboxItem:
    completed_at = getattr(row, "handled_at", None) or row.completed_at  # a done list's: when the user handled it
    due = row.due_at
    if completed_at is not None:
        overdue, due_soon = bool(due and completed_at > due), False
    else:
        overdue = bool(due and due < now)
        due_soon = bool(due and not overdue and due - now <= DUE_SOON)
    return InboxItem(row.id, row.instance_id, row.process_key, row.process_name or {},
                     element_label(names, row.element_id, lang, row.task_name), row.initiator, row.business_key,
                     row.created_at, due, offered, overdue, due_soon, completed_at, row.on_behalf_of,
                     initiator_name or row.initiator)

