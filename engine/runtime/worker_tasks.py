"""External service tasks done by outside workers (the Camunda pattern; issue 13, issue 10 item 3).

A worker fetches and locks open tasks of its topics (`fetch_and_lock`), does the work, then reports
`complete` (the variables go into the process, which runs on: one engine step, as a task completion)
or `report_failure` (with retries left the task comes back after `retry_timeout` seconds; with none
it becomes an incident, shown on the instance page until an admin `retry_incident`s it). A lock
that expires returns the task to the pool (`extend_lock` keeps it). Only the locking worker may
complete, fail or extend, and only while its lock holds: a task is completed once.

Every change of a row is one guarded UPDATE (`WHERE status = 'locked' AND worker = ... AND
lock_expires_at > now`), so two callers can never both win; fetching on PostgreSQL also skips rows
another fetch holds (`FOR UPDATE SKIP LOCKED`), and on SQLite runs under the database's write lock.
The API (`web.api.external_tasks`) and the CLI (`liaison external-task`) call these functions.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update

from engine.bpmn import workflow as wfa
from engine.data import store
from engine.data.external_task_models import ExternalTask
from engine.data.models import ProcessInstance, utcnow
from engine.data.retry import is_contention, with_retries
from engine.errors import InvalidTaskDataError, NotFoundError, NotPermittedError, TaskConflictError, msg
from engine.people.org import is_super_admin
from engine.runtime.messages import after_commit
from engine.runtime.step import (
    checked_data,
    db_engine,
    restore,
    retry_when_locked,
    running_instance,
    save_step,
    step_connection,
    step_on,
)
from engine.runtime.waits import waits_of
from engine.runtime.worker_rows import LIVE

table = ExternalTask.__table__
MAX_TASKS = 100  # at most this many tasks per fetch
MAX_LOCK_SECONDS = 7 * 24 * 3600
MAX_RETRY_TIMEOUT = 7 * 24 * 3600
MAX_TEXT = 4000  # error message and details are cut to this many characters
PUBLIC = ("id", "task_id", "instance_id", "element_id", "topic", "status", "worker", "lock_expires_at",
          "available_at", "retries", "error_message", "error_details", "variables", "created_at", "updated_at")


def fetch_and_lock(sessions, worker: str, topics: list[tuple[str, int]], max_tasks: int = 1,
                   now: datetime | None = None, only: int | None = None) -> list[dict]:
    """Lock up to `max_tasks` fetchable tasks of `topics` (`[(topic, lock seconds)]`) for `worker`:
    open ones whose backoff has passed, and locked ones whose lock expired. Oldest first; `only`: that
    task alone (the CLI locks the task it completes)."""
    worker, lock_for = _worker(worker), _topics(topics)
    if not isinstance(max_tasks, int) or not 1 <= max_tasks <= MAX_TASKS:
        raise InvalidTaskDataError(msg("max must be between 1 and %(most)s", most=MAX_TASKS))

    def once() -> list[dict]:
        at = now or utcnow()
        fetchable = and_(table.c.topic.in_(lock_for), _fetchable(at))
        if only is not None:
            fetchable = and_(fetchable, table.c.id == only)
        engine = db_engine(sessions)
        with engine.begin() as conn:
            query = select(table.c.id, table.c.topic).where(fetchable).order_by(table.c.id).limit(max_tasks)
            if engine.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            locked = []
            for task_id, topic in conn.execute(query).all():
                done = conn.execute(update(table).where(table.c.id == task_id, fetchable).values(
                    status="locked", worker=worker, lock_expires_at=at + timedelta(seconds=lock_for[topic]),
                    updated_at=at))
                if done.rowcount:
                    locked.append(task_id)
            rows = conn.execute(select(table).where(table.c.id.in_(locked)).order_by(table.c.id)).mappings().all()
        return [_public(row) for row in rows]

    return with_retries(once, retry_on=is_contention, attempts=5, pause=0.05)


def _fetchable(at: datetime):
    return or_(and_(table.c.status == "open", table.c.available_at <= at),
               and_(table.c.status == "locked", table.c.lock_expires_at <= at))


def complete(sessions, external_id: int, worker: str, variables: dict | None = None, actor: str | None = None,
             now: datetime | None = None) -> dict:
    """Complete a task locked by `worker`: its `variables` go into the process, which runs on.

    The row is marked completed first (a guarded update: a second completion, or one by another
    worker or after the lock expired, is refused), then the step runs; if the step fails, the row
    is locked again for the worker, as it was (cancelled if the instance is no longer running)."""
    worker, variables = _worker(worker), checked_data(variables)
    at = now or utcnow()
    row = _take(sessions, external_id, worker, at, status="completed", updated_at=at)
    try:
        result = retry_when_locked(lambda: _complete_once(sessions, row, worker, variables, actor),
                                   f"completing external task {external_id}")
    except Exception:
        with db_engine(sessions).begin() as conn:  # as it was; cancelled if the instance ended meanwhile
            running = conn.scalar(select(ProcessInstance.status).where(
                ProcessInstance.id == row["instance_id"])) == "running"
            conn.execute(update(table).where(table.c.id == external_id, table.c.status == "completed")
                         .values(status="locked" if running else "cancelled", updated_at=at))
        raise
    return {"id": external_id, "instance_id": result.instance_id, "status": result.status,
            "open_tasks": result.open_tasks}


def _complete_once(sessions, row: dict, worker: str, variables: dict, actor: str | None):
    with step_connection(sessions) as conn:
        handle = running_instance(conn, row["instance_id"])
        workflow = restore(sessions, conn, handle)
        before, waits = wfa.ready_task_ids(workflow) - {row["task_id"]}, waits_of(workflow)
        completed = wfa.complete_user_task(workflow, row["task_id"], copy.deepcopy(variables))
        records = wfa.run_engine(workflow)
        step = step_on(handle, history=[{"actor": actor, "action": "external_task_completed",
                                         "element_id": completed.element_id, "task_id": row["task_id"],
                                         "comment": f"{row['topic']} ({worker})", "data": variables}])
        result = save_step(conn, step, workflow, records, actor, before=before, waits=waits,
                           version=(handle.version_id, handle.checksum))
    return after_commit(sessions, result, step, workflow)


def report_failure(sessions, external_id: int, worker: str, message: str, details: str | None = None,
                   retries: int = 0, retry_timeout: int = 0, actor: str | None = None,
                   now: datetime | None = None) -> dict:
    """The worker could not do the task. With `retries` left it is fetchable again after `retry_timeout`
    seconds; with 0 it becomes an incident (on the instance page and in its history) until an admin
    retries it."""
    worker = _worker(worker)
    message = str(message or "").strip()[:MAX_TEXT]
    if not message:
        raise InvalidTaskDataError(msg("a failure needs an error message"))
    if not isinstance(retries, int) or retries < 0:
        raise InvalidTaskDataError(msg("retries must be 0 or more"))
    if not isinstance(retry_timeout, int) or not 0 <= retry_timeout <= MAX_RETRY_TIMEOUT:
        raise InvalidTaskDataError(msg("retry_timeout must be between 0 and %(most)s seconds", most=MAX_RETRY_TIMEOUT))
    at = now or utcnow()
    details = None if details is None else str(details)[:MAX_TEXT]
    common = {"worker": None, "lock_expires_at": None, "retries": retries, "error_message": message,
              "error_details": details, "updated_at": at}
    if retries:
        row = _take(sessions, external_id, worker, at, status="open", available_at=at + timedelta(seconds=retry_timeout),
                    **common)
    else:
        row = _take(sessions, external_id, worker, at, status="incident", **common,
                    history={"actor": actor, "action": "external_task_incident", "comment": message})
    return row


def extend_lock(sessions, external_id: int, worker: str, seconds: int, now: datetime | None = None) -> dict:
    """Keep the task locked for `worker` `seconds` more from now (only while its lock still holds)."""
    worker = _worker(worker)
    seconds = _lock_seconds(seconds)
    at = now or utcnow()
    until = at + timedelta(seconds=seconds)
    return _take(sessions, external_id, worker, at, lock_expires_at=until, updated_at=at)


def retry_incident(sessions, external_id: int, user: str, retries: int = 1) -> dict:
    """A super admin puts an incident back in the pool with `retries` retries; the instance's history
    says who."""
    if not isinstance(retries, int) or retries < 1:
        raise InvalidTaskDataError(msg("retries must be 1 or more"))
    check_admin(sessions, user)
    at = utcnow()
    with db_engine(sessions).begin() as conn:
        row = _row(conn, external_id)
        done = conn.execute(update(table).where(table.c.id == external_id, table.c.status == "incident").values(
            status="open", retries=retries, available_at=at, updated_at=at))
        if not done.rowcount:
            raise TaskConflictError(msg("external task %(task)s is %(status)s, not an incident", task=external_id,
                                        status=row["status"]))
        store.append_history(conn, [{"instance_id": row["instance_id"], "actor": user, "action": "external_task_retried",
                                     "element_id": row["element_id"], "task_id": row["task_id"],
                                     "comment": row["topic"], "at": at}])
    return {**row, "status": "open", "retries": retries}


def lock_one(sessions, external_id: int, worker: str, seconds: int = 300) -> dict:
    """Lock one fetchable task by its id for `worker` (the CLI's `complete` and `fail`); the row as it is
    when it cannot be locked (then the next call says why)."""
    with db_engine(sessions).connect() as conn:
        row = _row(conn, external_id)
    locked = fetch_and_lock(sessions, worker, [(row["topic"], seconds)], only=external_id)
    return locked[0] if locked else row


def check_admin(sessions, user: str) -> None:
    """NotPermittedError unless `user` is a super admin: external tasks and their incidents span every
    process, so only super admins list or retry them."""
    with sessions() as session:
        if not is_super_admin(session, user):
            raise NotPermittedError(msg("only a super admin may list or retry external tasks"))


def list_tasks(conn, *, status: str | None = None, topic: str | None = None, instance_id: int | None = None,
               limit: int = 50, offset: int = 0) -> list[dict]:
    """External tasks, newest first, filtered (`status` "live": not done yet); for super admins (their
    page, the API's list, `liaison external-task list`)."""
    query = select(table).order_by(table.c.id.desc()).limit(limit).offset(offset)
    if status == "live":  # what is not done yet: open, locked, incident
        query = query.where(table.c.status.in_(LIVE))
    elif status:
        query = query.where(table.c.status == status)
    if topic:
        query = query.where(table.c.topic == topic)
    if instance_id is not None:
        query = query.where(table.c.instance_id == instance_id)
    return [_public(row) for row in conn.execute(query).mappings()]


def incidents_of(conn, instance_id: int) -> list[dict]:
    """The instance's external tasks that ran out of retries."""
    return list_tasks(conn, status="incident", instance_id=instance_id, limit=MAX_TASKS)


def waiting_of(conn, instance_id: int) -> list[dict]:
    """The instance's external tasks not done yet (open, locked, incident), oldest first: for its page."""
    query = (select(table).where(table.c.instance_id == instance_id, table.c.status.in_(LIVE))
             .order_by(table.c.id).limit(MAX_TASKS))
    return [_public(row) for row in conn.execute(query).mappings()]


# -- the guarded update ------------------------------------------------------------------------------

def _take(sessions, external_id: int, holder: str, at: datetime, /, history: dict | None = None, **values) -> dict:
    """Apply `values` to the row if `holder` holds its lock at `at` (one guarded UPDATE), else say why not."""
    with db_engine(sessions).begin() as conn:
        done = conn.execute(update(table).where(
            table.c.id == external_id, table.c.status == "locked", table.c.worker == holder,
            table.c.lock_expires_at > at).values(**values))
        row = _row(conn, external_id)
        if not done.rowcount:
            _refuse(row, holder)
        if history:
            store.append_history(conn, [{"instance_id": row["instance_id"], "element_id": row["element_id"],
                                         "task_id": row["task_id"], "at": at, **history}])
    return row


def _refuse(row: dict, worker: str):
    if row["status"] == "completed":
        raise TaskConflictError(msg("external task %(task)s is already completed", task=row["id"]))
    if row["status"] != "locked":
        raise TaskConflictError(msg("external task %(task)s is %(status)s, not locked", task=row["id"],
                                    status=row["status"]))
    if row["worker"] != worker:
        raise NotPermittedError(msg("external task %(task)s is locked by another worker", task=row["id"]))
    raise TaskConflictError(msg("the lock on external task %(task)s has expired; fetch it again", task=row["id"]))


def _row(conn, external_id: int) -> dict:
    row = conn.execute(select(table).where(table.c.id == external_id)).mappings().first()
    if row is None:
        raise NotFoundError(msg("no external task %(task)s", task=external_id))
    return _public(row)


def _public(row) -> dict:
    return {key: row[key] for key in PUBLIC}


def _worker(worker) -> str:
    worker = str(worker or "").strip()
    if not worker or len(worker) > 200:
        raise InvalidTaskDataError(msg("a worker id of 1 to 200 characters is required"))
    return worker


def _lock_seconds(seconds) -> int:
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not 1 <= seconds <= MAX_LOCK_SECONDS:
        raise InvalidTaskDataError(msg("lock seconds must be between 1 and %(most)s", most=MAX_LOCK_SECONDS))
    return seconds


def _topics(topics) -> dict[str, int]:
    lock_for = {}
    for name, seconds in topics or []:
        name = str(name or "").strip()
        if not name:
            raise InvalidTaskDataError(msg("a topic needs a name"))
        lock_for[name] = _lock_seconds(seconds)
    if not lock_for:
        raise InvalidTaskDataError(msg("name at least one topic"))
    return lock_for
