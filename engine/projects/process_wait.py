"""A process that waits until project tasks are done: tasks are created naming the waiting instance
(`tasks.create_task(..., waiting_instance_id=...)`, or `waiting_instance_id` in the REST API's task
creation; a BPMN service operation creating them from inside a step is not built yet); when the last of
them is done or cancelled the project engine sends the message `project_tasks_done` keyed by that
instance's business key, which the process catches (an intermediate message event or a boundary event)
and goes on. `waiting_key` checks an instance can wait this way.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.data.models import ProcessInstance
from engine.data.project_models import ProjectTask
from engine.errors import InvalidTaskDataError, msg
from engine.runtime import messages

DONE_MESSAGE = "project_tasks_done"


def waiting_key(session: Session, instance_id: int) -> str:
    """The business key the message will carry; InvalidTaskDataError when the instance has none."""
    key = session.scalar(select(ProcessInstance.business_key).where(ProcessInstance.id == instance_id,
                                                                    ProcessInstance.status == "running"))
    if not key:
        raise InvalidTaskDataError(msg("instance %(id)s is not running or has no business key to wait with",
                                       id=instance_id))
    return key


def after_close(sessions: sessionmaker[Session], task: ProjectTask, actor: str, now: datetime | None = None):
    """When `task` closed the last open task its process waits for, tell the process (once: the message is
    only delivered while the process waits). Returns the message result or None."""
    if task.waiting_instance_id is None:
        return None
    with sessions() as session:
        still_open = session.scalar(select(func.count()).select_from(ProjectTask).where(
            ProjectTask.waiting_instance_id == task.waiting_instance_id,
            ProjectTask.status.in_(("open", "in_progress")))) or 0
        key = session.scalar(select(ProcessInstance.business_key)
                             .where(ProcessInstance.id == task.waiting_instance_id))
        done = list(session.scalars(select(ProjectTask.id).where(
            ProjectTask.waiting_instance_id == task.waiting_instance_id, ProjectTask.status == "done")))
    if still_open or not key:
        return None
    return messages.send_message(sessions, DONE_MESSAGE, key, {"project_tasks": done}, sender=actor, now=now)
