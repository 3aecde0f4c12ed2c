"""Read side: inbox task lists and instance views, straight from the tables (no deserialization)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.data import store
from engine.data.models import (
    HistoryEntry,
    ProcessDefinition,
    ProcessInstance,
    ProcessVersion,
    TaskCandidate,
    WorkTask,
)
from engine.errors import NotFoundError
from engine.results import ON_BEHALF_OF_KEY, element_label, jsonable  # noqa: F401 (jsonable: re-exported)
from engine.runtime.outcome import DECISION_KEY, decision, outcomes
from engine.runtime.versions import versions_element_names
from engine.work.inbox import todo_ids


@dataclass
class TaskItem:
    """One inbox row."""

    id: str
    instance_id: int
    process_key: str
    element_id: str
    name: str | None
    form: str | None
    assignee: str | None
    candidate_users: list[str]
    candidate_groups: list[str]
    status: str
    due_at: datetime | None
    created_at: datetime
    on_behalf_of: str | None = None  # the assignee away when it was created; `assignee` is their deputy
    delegated_by: str | None = None  # 委派: the task goes back to them when the assignee (the delegate) submits

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return jsonable(asdict(self))


def list_tasks(session: Session, user: str, groups: tuple[str, ...] = (), status: str = "open",
               limit: int = 100, offset: int = 0) -> list[TaskItem]:
    """Tasks of `user`, newest first, as `liaison tasks` lists them.

    Open: exactly the web inbox's to-do list (`inbox.todo_ids`: assigned to `user`, or offered to
    them or their groups and not claimed by anyone). Completed / cancelled: those assigned to,
    offered to or completed by `user`.
    """
    if status == "open":
        visible = WorkTask.id.in_(todo_ids(user, groups))
    else:
        candidate = (TaskCandidate.kind == "user") & (TaskCandidate.value == user)
        if groups:
            candidate = candidate | ((TaskCandidate.kind == "group") & TaskCandidate.value.in_(list(groups)))
        offered = select(TaskCandidate.task_id).where(candidate)
        visible = or_(WorkTask.assignee == user, WorkTask.id.in_(offered), WorkTask.completed_by == user)
    query = (select(WorkTask, ProcessInstance.process_key)
             .join(ProcessInstance, ProcessInstance.id == WorkTask.instance_id)
             .where(WorkTask.status == status, visible)
             .order_by(WorkTask.created_at.desc(), WorkTask.id)
             .limit(limit).offset(offset))
    return [_task_item(row, key) for row, key in session.execute(query)]


def get_task(session: Session, task_id: str, lang: str | None = None) -> TaskItem:
    """One task row, or NotFoundError; with `lang`, its name in that language (`results.element_label`)."""
    result = session.execute(select(WorkTask, ProcessInstance.process_key, ProcessInstance.version_id)
                             .join(ProcessInstance, ProcessInstance.id == WorkTask.instance_id)
                             .where(WorkTask.id == task_id)).first()
    if result is None:
        raise NotFoundError(f"no task {task_id}")
    row, key, version_id = result
    item = _task_item(row, key)
    if lang:
        names = versions_element_names(session.connection(), [version_id]).get(version_id)
        item.name = element_label(names, row.element_id, lang, row.name)
    return item


def _task_item(row: WorkTask, key: str) -> TaskItem:
    return TaskItem(row.id, row.instance_id, key, row.element_id, row.name, row.form, row.assignee,
                    list(row.candidate_users or []), list(row.candidate_groups or []), row.status,
                    row.due_at, row.created_at, row.on_behalf_of, row.delegated_by)


def instance_view(session: Session, instance_id: int, lang: str | None = None) -> dict:
    """State, data, open tasks and full history of one instance, JSON-ready. With `lang`, the tasks'
    names are in that language and `element_names` maps every element id of the history and tasks that
    the package names (package.yaml `names`) to its name in that language."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFoundError(f"no instance {instance_id}")
    version = session.get(ProcessVersion, instance.version_id)
    tasks = session.scalars(select(WorkTask).where(WorkTask.instance_id == instance_id)
                            .order_by(WorkTask.created_at, WorkTask.id))
    history = list(session.scalars(select(HistoryEntry).where(HistoryEntry.instance_id == instance_id)
                                   .order_by(HistoryEntry.id)))
    tasks = list(tasks)
    names = versions_element_names(session.connection(), [version.id]).get(version.id) if lang else None
    named = {}
    if names:
        named = {e: element_label(names, e, lang) for e in {*(h.element_id for h in history),
                                                              *(t.element_id for t in tasks)} if e in names}
    return jsonable({
        "id": instance.id,
        "process": instance.process_key,
        "version": version.number,
        "status": instance.status,
        "outcome": outcomes(session, [instance.id])[instance.id],
        "initiator": instance.initiator,
        "business_key": instance.business_key,
        "end_event": instance.end_event,
        "revision": instance.revision,
        "created_at": instance.created_at,
        "ended_at": instance.ended_at,
        "data": store.read_process_data(session, instance.id),
        "tasks": [{"id": t.id, "element_id": t.element_id, "name": named.get(t.element_id, t.name),
                   "status": t.status,
                   "assignee": t.assignee, "on_behalf_of": t.on_behalf_of,
                   "candidate_users": t.candidate_users, "candidate_groups": t.candidate_groups,
                   "completed_by": t.completed_by} for t in tasks],
        "history": [_history_item(h) for h in history],
        **({"element_names": named} if lang else {}),
    })




def _history_item(entry: HistoryEntry) -> dict:
    """One history row; a deputy's completion names whom they acted for in `on_behalf_of`; a completion
    or signature with an approval decision says it in `decision` (approved / rejected)."""
    data, on_behalf_of = entry.data, None
    if isinstance(data, dict) and ON_BEHALF_OF_KEY in data:
        data = dict(data)
        on_behalf_of = data.pop(ON_BEHALF_OF_KEY)
    return {"at": entry.at, "actor": entry.actor, "action": entry.action, "element_id": entry.element_id,
            "element_type": entry.element_type, "comment": entry.comment, "data": data,
            "on_behalf_of": on_behalf_of,
            "decision": decision(data.get(DECISION_KEY)) if isinstance(data, dict) and entry.action in (
                "task_completed", "signed", "resubmitted") else None}


def path_taken(session: Session, instance_id: int) -> list[str]:
    """Element ids the instance passed, in order (user tasks, gateways, events, scripts...)."""
    return list(session.scalars(
        select(HistoryEntry.element_id).where(HistoryEntry.instance_id == instance_id,
                                              HistoryEntry.action.in_(["step", "task_completed"]))
        .order_by(HistoryEntry.id)))


def process_names(session: Session) -> list[tuple[str, dict]]:
    """`(key, names by language)` of every deployed process, by key: one small query (no version rows)."""
    return [(key, dict(names or {})) for key, names in session.execute(
        select(ProcessDefinition.key, ProcessDefinition.name).order_by(ProcessDefinition.key))]


def list_processes(session: Session) -> list[dict]:
    """Deployed processes with their latest version number."""
    rows = session.execute(select(ProcessDefinition, ProcessVersion)
                           .join(ProcessVersion, ProcessVersion.definition_id == ProcessDefinition.id)
                           .order_by(ProcessDefinition.key, ProcessVersion.number))
    latest: dict[str, dict] = {}
    for definition, version in rows:
        latest[definition.key] = {"key": definition.key, "name": definition.name,
                                  "category": definition.category, "version": version.number}
    return list(latest.values())
