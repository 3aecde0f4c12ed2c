"""Tasks of a project: create (with its life instance), change fields, move between statuses (through
`life`), the checklist, subtasks, linked process instances, files. Every change is a history entry
with the old and new values. The rules of who may do what are `access`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.data.models import utcnow
from engine.data.project_models import ProjectFile, ProjectHistory, ProjectTask
from engine.errors import InvalidTaskDataError, NotFoundError, msg
from engine.projects import access, life, process_wait
from engine.projects.access import Viewer
from engine.projects.projects import InvalidProjectError, check_assignable
from engine.runtime import uploads
from engine.runtime.visibility import may_view_as

PRIORITIES = ("low", "normal", "high", "urgent")
TITLE_LIMIT = 300
LABEL_LIMIT = 20
CHECKLIST_LIMIT = 100
FIELDS = ("title", "owner", "description", "collaborators", "priority", "labels", "start_on", "due_at")
RESTARTING = ("owner", "due_at")  # a change of these starts the task's instance again (life.restart)


@dataclass
class TaskInput:
    """What a person fills in for a task (owner: a member; dates: a date and an aware moment)."""

    title: str
    owner: str
    description: str = ""
    collaborators: list[str] = field(default_factory=list)
    priority: str = "normal"
    labels: list[str] = field(default_factory=list)
    start_on: date | None = None
    due_at: datetime | None = None
    parent_id: int | None = None


def _words(values) -> list[str]:
    if isinstance(values, str):
        values = values.replace("，", ",").split(",")
    return list(dict.fromkeys(str(v).strip()[:40] for v in values or () if v and str(v).strip()))


def _checked(session: Session, project, data: TaskInput) -> TaskInput:
    title = (data.title or "").strip()
    if not title or len(title) > TITLE_LIMIT:
        raise InvalidProjectError(msg("a task needs a title of 1 to %(n)s characters", n=TITLE_LIMIT))
    if data.priority not in PRIORITIES:
        raise InvalidProjectError(msg("priority must be one of %(values)s", values=", ".join(PRIORITIES)))
    labels = _words(data.labels)
    if len(labels) > LABEL_LIMIT:
        raise InvalidProjectError(msg("at most %(n)s labels", n=LABEL_LIMIT))
    collaborators = [c for c in _words(data.collaborators) if c != data.owner]
    check_assignable(session, project, [data.owner, *collaborators])
    if data.start_on and data.due_at and data.due_at.date() < data.start_on:
        raise InvalidProjectError(msg("the due date cannot be before the start date"))
    return TaskInput(title, data.owner, (data.description or "")[:20000], collaborators, data.priority, labels,
                     data.start_on, data.due_at, data.parent_id)


def create_task(sessions: sessionmaker[Session], actor: str, project_id: int, data: TaskInput,
                waiting_instance_id: int | None = None, now: datetime | None = None) -> int:
    """A new task (or subtask) of the project and its life instance; whoever sees an open project adds
    tasks. A failed start of the instance takes the task back out (nothing half-made is left)."""
    now = now or utcnow()
    with sessions() as session, session.begin():
        project = access.project_for(session, project_id, Viewer(session, actor))
        access.check_open(project)
        data = _checked(session, project, data)
        if waiting_instance_id is not None:  # a running instance with a business key, one the actor sees
            if not may_view_as(session, waiting_instance_id, actor):
                raise NotFoundError(msg("no instance %(id)s", id=waiting_instance_id))
            process_wait.waiting_key(session, waiting_instance_id)
        if data.parent_id is not None:
            parent = session.get(ProjectTask, data.parent_id)
            if parent is None or parent.project_id != project_id:
                raise InvalidProjectError(msg("the parent task is not a task of this project"))
        task = ProjectTask(project_id=project_id, parent_id=data.parent_id, title=data.title,
                           description=data.description, owner=data.owner, collaborators=data.collaborators,
                           status="open", priority=data.priority, labels=data.labels, checklist=[], links=[],
                           start_on=data.start_on, due_at=data.due_at, waiting_instance_id=waiting_instance_id,
                           created_by=actor, created_at=now)
        session.add(task)
        session.flush()
        life.record(session, task, actor, "created", {"title": data.title, "owner": data.owner,
                                                      "due_at": data.due_at.isoformat() if data.due_at else None}, now)
        task_id = task.id
    try:
        life.start(sessions, actor, task_id, now)
    except Exception:
        with sessions() as session, session.begin():
            session.delete(session.get(ProjectTask, task_id))
        raise
    return task_id


def _plain(value):
    return value.isoformat() if isinstance(value, date | datetime) else value


def update_task(sessions: sessionmaker[Session], actor: str, task_id: int, changes: dict,
                now: datetime | None = None) -> list[str]:
    """Change the given fields (FIELDS); returns the names that changed, each in the history. A new owner
    (a member) or due date of an open task restarts its instance (`life.restart`): the inbox entry moves
    to the new owner, the reminder and the escalation follow the new date."""
    now = now or utcnow()
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise InvalidTaskDataError(msg("unknown task fields: %(names)s", names=", ".join(unknown)))
    with sessions() as session, session.begin():
        task, project = access.task_for(session, task_id, Viewer(session, actor))
        access.check_change_task(project, task, actor)
        merged = {name: getattr(task, name) for name in FIELDS} | changes
        data = _checked(session, project, TaskInput(**merged))
        changed = []
        for name in FIELDS:
            new = getattr(data, name)
            if new != getattr(task, name):
                life.record(session, task, actor, "changed", {"field": name, "old": _plain(getattr(task, name)),
                                                              "new": _plain(new)}, now)
                setattr(task, name, new)
                changed.append(name)
        session.flush()
        session.expunge(task)
    if any(name in RESTARTING for name in changed):
        life.restart(sessions, actor, task, now)
    return changed


def move_task(sessions: sessionmaker[Session], actor: str, task_id: int, status: str,
              now: datetime | None = None) -> None:
    """Move the task to `status` through its instance (open / in progress / done / cancelled, reopen)."""
    now = now or utcnow()
    with sessions() as session:
        task, project = access.task_for(session, task_id, Viewer(session, actor))
        access.check_change_task(project, task, actor)
        life.check_move(task.status, status)
        session.expunge(task)
    life.send_status(sessions, actor, task, status, now)
    with sessions() as session, session.begin():
        row = session.get(ProjectTask, task_id)
        old, row.status = row.status, status
        row.done_at = now if status in life.CLOSED else None
        life.record(session, row, actor, "moved", {"old": old, "new": status}, now)
        session.flush()
        session.expunge(row)
    if status in life.CLOSED:
        process_wait.after_close(sessions, row, actor, now)


def set_checklist(sessions: sessionmaker[Session], actor: str, task_id: int, items: list[dict],
                  now: datetime | None = None) -> None:
    """Replace the checklist ([{text, done}]); the history keeps the old and the new list."""
    now = now or utcnow()
    clean = [{"text": str(i.get("text") or "").strip()[:300], "done": bool(i.get("done"))} for i in items or ()]
    clean = [i for i in clean if i["text"]]
    if len(clean) > CHECKLIST_LIMIT:
        raise InvalidProjectError(msg("at most %(n)s checklist items", n=CHECKLIST_LIMIT))
    with sessions() as session, session.begin():
        task, project = access.task_for(session, task_id, Viewer(session, actor))
        access.check_change_task(project, task, actor)
        if clean != task.checklist:
            life.record(session, task, actor, "checklist", {"old": task.checklist, "new": clean}, now)
            task.checklist = clean


def link_instance(sessions: sessionmaker[Session], actor: str, task_id: int, instance_id: int,
                  now: datetime | None = None) -> None:
    """Link a process instance the actor may see (a leave request, a purchase approval...) to the task."""
    now = now or utcnow()
    with sessions() as session, session.begin():
        task, project = access.task_for(session, task_id, Viewer(session, actor))
        access.check_change_task(project, task, actor)
        if not may_view_as(session, instance_id, actor):
            raise NotFoundError(msg("no instance %(id)s", id=instance_id))
        if instance_id not in task.links:
            task.links = [*task.links, instance_id]
            life.record(session, task, actor, "linked", {"instance": instance_id}, now)


def visible_links(session: Session, task: ProjectTask, username: str) -> list[int]:
    """The task's linked instances the viewer may see (others stay hidden, not named)."""
    return [i for i in task.links or () if may_view_as(session, i, username)]


def add_files(sessions: sessionmaker[Session], actor: str, task_id: int, upload_ids: list[str],
              now: datetime | None = None) -> list[int]:
    """Attach the actor's own unattached uploads (the upload store and its limits) to the task."""
    now = now or utcnow()
    with sessions() as session, session.begin():
        task, project = access.task_for(session, task_id, Viewer(session, actor))
        access.check_change_task(project, task, actor)
        good, refused = uploads.usable(session, uploads.clean_ids(upload_ids), actor)
        taken = set(session.scalars(select(ProjectFile.upload_id).where(
            ProjectFile.upload_id.in_([u.id for u in good]))))
        if refused or taken:
            raise uploads.UploadNotYoursError(msg("these files are not yours to attach: %(ids)s",
                                                  ids=", ".join([*refused, *taken])), [*refused, *taken])
        rows = [ProjectFile(task_id=task_id, upload_id=u.id, name=u.name, size=u.size, added_by=actor, added_at=now)
                for u in good]
        session.add_all(rows)
        session.flush()
        for upload in good:
            life.record(session, task, actor, "file", {"name": upload.name, "size": upload.size}, now)
        return [r.id for r in rows]


def file_for(session: Session, file_id: int, username: str) -> ProjectFile:
    """A task's file if the viewer sees its task, else NotFoundError."""
    row = session.get(ProjectFile, file_id)
    if row is None:
        raise NotFoundError(msg("no file %(id)s", id=file_id))
    try:
        access.task_for(session, row.task_id, Viewer(session, username))
    except NotFoundError:
        raise NotFoundError(msg("no file %(id)s", id=file_id)) from None
    return row


def files_of(session: Session, task_id: int) -> list[ProjectFile]:
    """The task's files, oldest first."""
    return list(session.scalars(select(ProjectFile).where(ProjectFile.task_id == task_id).order_by(ProjectFile.id)))


def subtasks_of(session: Session, task_id: int) -> list[ProjectTask]:
    """The task's subtasks, in creation order."""
    return list(session.scalars(select(ProjectTask).where(ProjectTask.parent_id == task_id).order_by(ProjectTask.id)))


def history_of(session: Session, task_id: int) -> list[ProjectHistory]:
    """The task's history, oldest first."""
    return list(session.scalars(select(ProjectHistory).where(ProjectHistory.task_id == task_id)
                                .order_by(ProjectHistory.id)))
