"""A task's life as an instance of the shipped package `project_task` (one per task, business key
`PT-<task id>`): started when the task is created (and again when it is reopened), told of each status
change by the message `project_task_status`. The package's boundary timers remind the owner before the
due date and tell the project owner once it has passed; its user task is the owner's "my tasks" entry
in the inbox. The project pages change a status only here, never behind the engine.

Order of writes for a change: the message first (refused when the instance does not wait for it, for
example because someone else changed the status a moment earlier: TaskConflictError, nothing saved),
then the task row and its history entry.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import runtime
from engine.data.models import Person, ProcessInstance, utcnow
from engine.data.project_models import Project, ProjectHistory, ProjectTask
from engine.errors import InvalidTaskDataError, TaskConflictError, msg, status_text
from engine.runtime import messages

PROCESS_KEY = "project_task"
STATUS_MESSAGE = "project_task_status"
REMIND_BEFORE = timedelta(days=1)
NO_DUE_DATE = datetime(2999, 12, 31, 0, 0)  # the timers need a time: a task without a due date never fires
STATUSES = ("open", "in_progress", "done", "cancelled")
CLOSED = ("done", "cancelled")
# what may follow what; done / cancelled -> open is a reopen (a new instance)
MOVES = {"open": ("in_progress", "done", "cancelled"), "in_progress": ("open", "done", "cancelled"),
         "done": ("open",), "cancelled": ("open",)}


def business_key(task_id: int) -> str:
    """The correlation key of the task's instance."""
    return f"PT-{task_id}"


def start_data(session: Session, task: ProjectTask, project: Project, now: datetime) -> dict:
    """The start data of the task's instance: who owns it, who is told when it is late, when."""
    owner = session.scalar(select(Person).where(Person.username == task.owner))
    due = task.due_at or NO_DUE_DATE.replace(tzinfo=now.tzinfo)
    return {"task_id": task.id, "project": project.name, "title": task.title, "owner": task.owner,
            "owner_name": owner.name if owner else task.owner,
            "owner_name_en": (owner.name_en or owner.name) if owner else task.owner,
            "project_owner": project.owner, "due_at": due.isoformat(),
            "remind_at": max(now, due - REMIND_BEFORE).isoformat(), "status": "open"}


def start(sessions: sessionmaker[Session], actor: str, task_id: int, now: datetime | None = None) -> int:
    """Start the task's instance and remember it on the task; returns the instance id."""
    now = now or utcnow()
    with sessions() as session:
        task = session.get(ProjectTask, task_id)
        data = start_data(session, task, session.get(Project, task.project_id), now)
    started = runtime.start_instance(sessions, PROCESS_KEY, data, user=actor, business_key=business_key(task_id))
    with sessions() as session, session.begin():
        session.get(ProjectTask, task_id).life_instance_id = started.instance_id
    return started.instance_id


def check_move(old: str, new: str) -> None:
    """InvalidTaskDataError for an unknown status or a move that cannot follow the current one."""
    if new not in STATUSES:
        raise InvalidTaskDataError(msg("unknown task status `%(status)s`", status=new))
    if new not in MOVES[old]:
        raise TaskConflictError(msg("a task that is %(old)s cannot become %(new)s",
                                    old=status_word(old), new=status_word(new)))


def status_word(status: str):
    """The status as a translatable word."""
    words = {"open": msg("to do"), "in_progress": msg("in progress"), "done": msg("done"),
             "cancelled": msg("cancelled")}
    return words.get(status) or status_text(status)


def send_status(sessions: sessionmaker[Session], actor: str, task: ProjectTask, new: str,
                now: datetime | None = None) -> None:
    """Tell the task's instance of the change (or start a new instance for a reopen)."""
    if task.status in CLOSED:  # reopen: the old instance has ended
        start(sessions, actor, task.id, now)
        return
    if task.life_instance_id is None or not _running(sessions, task.life_instance_id):
        raise TaskConflictError(msg("the task's process is not running; reload the page"))
    sent = messages.send_message(sessions, STATUS_MESSAGE, business_key(task.id), {"change": {"status": new}},
                                 sender=actor, now=now)
    if sent.status != "delivered":
        raise TaskConflictError(msg("the task was changed by someone else a moment ago; reload the page"))


def restart(sessions: sessionmaker[Session], actor: str, task: ProjectTask, now: datetime | None = None) -> None:
    """The owner or the due date of an open task changed: its instance is cancelled (the task's own history
    says what changed) and a new one starts from the task row as it is now, so the inbox entry goes to the new owner
    and the reminder and escalation follow the new due date; an in-progress task stays in progress."""
    if task.status in CLOSED:
        return  # nothing runs; a reopen starts from the row as it is
    if task.life_instance_id is not None and _running(sessions, task.life_instance_id):
        runtime.cancel_instance(sessions, task.life_instance_id, actor)
    start(sessions, actor, task.id, now)
    if task.status != "open":
        sent = messages.send_message(sessions, STATUS_MESSAGE, business_key(task.id),
                                     {"change": {"status": task.status}}, sender=actor, now=now)
        if sent.status != "delivered":
            raise TaskConflictError(msg("the task was changed by someone else a moment ago; reload the page"))


def _running(sessions, instance_id: int) -> bool:
    with sessions() as session:
        return session.scalar(select(ProcessInstance.status).where(ProcessInstance.id == instance_id)) == "running"


def record(session: Session, task: ProjectTask, actor: str, action: str, detail: dict, now: datetime) -> None:
    """One history entry of the task (in the caller's transaction)."""
    session.add(ProjectHistory(project_id=task.project_id, task_id=task.id, actor=actor, action=action,
                               detail=detail, at=now))
