"""A process that creates project tasks from a step and waits until they are done.

- Creating: an external service task of topic `project_tasks` (`camunda:type="external"
  camunda:topic="project_tasks"`) whose process data holds `project_id` and `project_tasks_requested`
  (a list of `{title, owner, due_at, labels, description}`). The project engine is that topic's worker
  (`take_requests`, run by `liaison projects take`, once or in a loop): it creates the tasks as the
  instance's initiator, naming the instance as waiting, and completes the external task with
  `project_tasks` (their ids). A refusal (no such project, an owner who is no member) becomes the external
  task's incident with the reason, shown on the instance page. Tasks can also be created naming a waiting
  instance directly (`tasks.create_task(..., waiting_instance_id=...)`, `waiting_instance_id` in the API).
- Waiting: when the last task naming the instance is done or cancelled, the project engine sends the
  message `project_tasks_done` keyed by the instance's business key (payload `project_tasks`: the ids
  done); the process catches it (an intermediate message event or a boundary event) and goes on.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.data.models import ProcessInstance, utcnow
from engine.data.project_models import ProjectTask
from engine.errors import InvalidTaskDataError, LiaisonError, msg
from engine.runtime import messages, worker_tasks

DONE_MESSAGE = "project_tasks_done"
TOPIC = "project_tasks"
WORKER = "liaison-projects"
LOCK_SECONDS = 300
REQUEST_LIMIT = 50  # tasks one step may ask for


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


def take_requests(sessions: sessionmaker[Session], now: datetime | None = None, limit: int = 20) -> int:
    """One pass as the worker of topic `project_tasks`: create the requested tasks of each fetched
    external task and complete it; returns how many were completed."""
    from engine.projects import tasks  # tasks imports this module: a late import keeps one direction
    done = 0
    for row in worker_tasks.fetch_and_lock(sessions, WORKER, [(TOPIC, LOCK_SECONDS)], max_tasks=limit, now=now):
        try:
            ids = _create_requested(sessions, tasks, row, now or utcnow())
        except LiaisonError as exc:
            worker_tasks.report_failure(sessions, row["id"], WORKER, str(exc), now=now)
            continue
        worker_tasks.complete(sessions, row["id"], WORKER, {"project_tasks": ids}, actor=WORKER, now=now)
        done += 1
    return done


def _create_requested(sessions, tasks, row: dict, now: datetime) -> list[int]:
    """The tasks one external task asks for; those it made before (a lock that expired) are kept, not doubled."""
    data = row.get("variables") or {}
    requested = data.get("project_tasks_requested")
    if not isinstance(data.get("project_id"), int) or not isinstance(requested, list) or not requested \
            or len(requested) > REQUEST_LIMIT:
        raise InvalidTaskDataError(msg("the step needs `project_id` and 1 to %(n)s `project_tasks_requested`",
                                       n=REQUEST_LIMIT))
    with sessions() as session:
        initiator = session.scalar(select(ProcessInstance.initiator).where(ProcessInstance.id == row["instance_id"]))
        made = {t.title: t.id for t in session.scalars(select(ProjectTask).where(
            ProjectTask.waiting_instance_id == row["instance_id"]))}
    ids = []
    for item in requested:
        item = item if isinstance(item, dict) else {"title": str(item)}
        title = str(item.get("title") or "").strip()
        if title in made:
            ids.append(made[title])
            continue
        due = _moment(item.get("due_at"))
        ids.append(tasks.create_task(sessions, initiator, data["project_id"], tasks.TaskInput(
            title=title, owner=str(item.get("owner") or initiator), description=str(item.get("description") or ""),
            labels=item.get("labels") or [], due_at=due), waiting_instance_id=row["instance_id"], now=now))
    return ids


def _moment(value) -> datetime | None:
    """An ISO 8601 due time (UTC when it names no zone), or None; InvalidTaskDataError when unreadable."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidTaskDataError(msg("`due_at` %(value)s is not an ISO 8601 time", value=value)) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
