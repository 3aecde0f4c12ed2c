"""The reads of the REST API (issue 13) that no page needed in this shape: instances a person may see,
filtered, and one instance or task as a person may see it. Each is scoped with the rules the pages use
(`runtime.visibility.may_view_instance` / `visible_instances`, `pages.may_act_on_task`,
`pages.restricted_fields`); what a person may not see is `NotFoundError`, so no id leaks.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.data.models import ProcessDefinition, ProcessInstance, ProcessVersion, WorkTask
from engine.errors import NotFoundError, msg
from engine.results import jsonable
from engine.runtime import worker_tasks
from engine.runtime.outcome import outcomes
from engine.runtime.submissions import FORM_CACHE
from engine.runtime.visibility import may_view_instance, visible_instances
from engine.work import pages, queries


@dataclass(frozen=True)
class Viewer:
    """Who reads: the person's username, role keys and whether they are a super admin."""

    username: str
    groups: tuple[str, ...] = ()
    is_super_admin: bool = False


def list_instances(session: Session, viewer: Viewer, *, process: str | None = None, status: str | None = None,
                   business_key: str | None = None, started_by: str | None = None, limit: int = 50,
                   offset: int = 0) -> list[dict]:
    """Instances the viewer may see, newest first, with the filters given; one query plus the outcomes."""
    query = select(ProcessInstance).order_by(ProcessInstance.id.desc()).limit(limit).offset(offset)
    visible = visible_instances(session, viewer.username, viewer.groups, viewer.is_super_admin)
    if visible is not None:
        query = query.where(visible)
    for column, value in ((ProcessInstance.process_key, process), (ProcessInstance.status, status),
                          (ProcessInstance.business_key, business_key), (ProcessInstance.initiator, started_by)):
        if value:
            query = query.where(column == value)
    rows = list(session.scalars(query))
    ended = outcomes(session, [row.id for row in rows])
    return [jsonable({"id": row.id, "process": row.process_key, "status": row.status,
                      "outcome": ended.get(row.id, "running"), "business_key": row.business_key,
                      "initiator": row.initiator, "created_at": row.created_at, "ended_at": row.ended_at})
            for row in rows]


def instance_for(session: Session, viewer: Viewer, instance_id: int, lang: str | None = None) -> dict:
    """`queries.instance_view` as the viewer may see it: NotFoundError when they may not; fields some step
    must not see (`pages.restricted_fields`) left out of the data and history unless the viewer is the
    initiator or a super admin. `external_tasks`: what waits on outside workers (open, locked, incident)."""
    if not may_view_instance(session, instance_id, viewer.username, viewer.groups, viewer.is_super_admin):
        raise NotFoundError(msg("no instance %(id)s", id=instance_id))
    view = queries.instance_view(session, instance_id, lang)
    if viewer.username != view["initiator"] and not viewer.is_super_admin:
        schema, _names = pages.instance_start_form(session, instance_id)
        hidden = pages.restricted_fields(schema)
        if hidden:
            view["data"] = {k: v for k, v in (view["data"] or {}).items() if k not in hidden}
            for entry in view["history"]:
                if isinstance(entry.get("data"), dict):
                    entry["data"] = {k: v for k, v in entry["data"].items() if k not in hidden}
    view["external_tasks"] = jsonable([{k: t[k] for k in ("id", "element_id", "topic", "status", "retries",
                                                          "error_message")}
                                       for t in worker_tasks.waiting_of(session.connection(), instance_id)])
    return view


def visible_task(session: Session, viewer: Viewer, task_id: str) -> queries.TaskItem:
    """The task when the viewer may act on it or see its instance (the task page's rule), else NotFoundError;
    one query, plus the instance's visibility when the viewer may not act on it."""
    task = queries.get_task(session, task_id)
    may_act = task.status == "open" and pages.may_act_on_task(task, viewer.username, viewer.groups)
    if not may_act and not may_view_instance(session, task.instance_id, viewer.username, viewer.groups,
                                             viewer.is_super_admin):
        raise NotFoundError(msg("no task %(id)s", id=task_id))
    return task


def form_schemas(session: Session, task_ids: list[str]) -> dict[str, dict | None]:
    """The form schema (its JSON) of each task, by id: one query, the forms from the per-version cache."""
    rows = session.execute(select(WorkTask.id, WorkTask.form, ProcessVersion.id, ProcessVersion.checksum)
                           .join(ProcessInstance, ProcessInstance.id == WorkTask.instance_id)
                           .join(ProcessVersion, ProcessVersion.id == ProcessInstance.version_id)
                           .where(WorkTask.id.in_(task_ids))).all()
    found = {}
    for task_id, form, version_id, checksum in rows:
        schemas = FORM_CACHE.get(checksum, lambda version_id=version_id: session.get(ProcessVersion, version_id).package)
        schema = schemas.get(form) if form else None
        found[task_id] = schema.data if schema is not None else None
    return found


def task_for(session: Session, viewer: Viewer, task_id: str, lang: str | None = None) -> dict:
    """A task, its form schema and whether the viewer may complete it now; NotFoundError when the viewer
    may neither act on it nor see its instance (the task page's rule)."""
    form = pages.task_form(session, task_id, lang)
    task = form.task
    may_act = task.status == "open" and pages.may_act_on_task(task, viewer.username, viewer.groups)
    if not may_act and not may_view_instance(session, task.instance_id, viewer.username, viewer.groups,
                                             viewer.is_super_admin):
        raise NotFoundError(msg("no task %(id)s", id=task_id))
    return {**task.to_dict(), "may_complete": may_act,
            "form": form.schema.data if form.schema is not None else None}


def package_detail(session: Session, key: str) -> dict:
    """A deployed package: names, category and every version (number, when, by whom, notes); NotFoundError."""
    definition = session.scalar(select(ProcessDefinition).where(ProcessDefinition.key == key))
    if definition is None:
        raise NotFoundError(msg("no process `%(key)s` is deployed", key=key))
    versions = session.execute(select(ProcessVersion.number, ProcessVersion.deployed_at, ProcessVersion.deployed_by,
                                      ProcessVersion.notes).where(ProcessVersion.definition_id == definition.id)
                               .order_by(ProcessVersion.number)).all()
    return jsonable({"key": key, "name": definition.name, "category": definition.category,
                     "version": versions[-1].number if versions else None,
                     "versions": [dict(v._mapping) for v in versions]})
