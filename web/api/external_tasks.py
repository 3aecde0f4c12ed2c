"""External tasks over the API (the Camunda pattern): outside workers fetch and lock the open
external service tasks of their topics (long polling optional), then complete them, report a failure
(retries with backoff, then an incident) or extend their lock; super admins list them and retry
incidents. Every rule is `engine.runtime.worker_tasks`'s, which `liaison external-task` calls too.

Scope `work`: a worker completes tasks as a person (usually a system account such as `erp`) does;
listing and retrying incidents are super-admin operations (scope `admin`, checked again by the engine).
"""

from __future__ import annotations

import time

from flask import current_app

from engine.runtime import worker_tasks

from . import schemas as s
from .core import decode_cursor, encode_cursor, endpoint, identity, sessions

POLL_EVERY = 0.2  # seconds between two looks at the table while a fetch waits (long polling)
MAX_WAIT_MS = 30_000


@endpoint("POST", "/external-tasks/fetch-and-lock", scope="work", body=s.FetchBody,
          response=s.ExternalTask, many=True, tags=["external tasks"])
def fetch_and_lock(body: dict):
    """Lock up to `max` open tasks of the `topics` for `worker`, each for its topic's `lock_seconds`.

    With `async_response_timeout` (ms, at most 30 000) the request waits until a task is there or the
    time is up (then an empty list). Each task comes with the process data (`variables`)."""
    topics = [(topic["name"], topic["lock_seconds"]) for topic in body["topics"]]
    # LIAISON_API_MAX_WAIT_MS lowers the cap: each waiting request holds a server worker (thread) meanwhile
    wait_ms = min(body["async_response_timeout"], current_app.config.get("LIAISON_API_MAX_WAIT_MS", MAX_WAIT_MS))
    deadline = time.monotonic() + wait_ms / 1000
    while True:
        locked = worker_tasks.fetch_and_lock(sessions(), body["worker"], topics, body["max"])
        if locked or time.monotonic() + POLL_EVERY > deadline:
            return [_task(task) for task in locked]
        time.sleep(POLL_EVERY)


@endpoint("POST", "/external-tasks/<int:task_id>/complete", scope="work", body=s.ExternalCompleteBody,
          response=s.ExternalCompleted, idempotent=True, tags=["external tasks"])
def complete(task_id: int, body: dict):
    """Complete a task this `worker` holds locked: its `variables` go into the process, which runs on.

    409: already completed, no longer locked or the lock expired; 403: locked by another worker."""
    return worker_tasks.complete(sessions(), task_id, body["worker"], body["variables"],
                                 actor=identity().user.username)


@endpoint("POST", "/external-tasks/<int:task_id>/failure", scope="work", body=s.FailureBody,
          response=s.ExternalTask, idempotent=True, tags=["external tasks"])
def failure(task_id: int, body: dict):
    """Report that the work failed. `retries` > 0: the task is fetchable again after `retry_timeout`
    seconds; 0: an incident on the instance page, until a super admin retries it."""
    return _task(worker_tasks.report_failure(sessions(), task_id, body["worker"], body["error_message"],
                                             body["error_details"], body["retries"], body["retry_timeout"],
                                             actor=identity().user.username))


@endpoint("POST", "/external-tasks/<int:task_id>/extend-lock", scope="work", body=s.ExtendLockBody,
          response=s.ExternalTask, tags=["external tasks"])
def extend_lock(task_id: int, body: dict):
    """Keep the task locked for `worker` `lock_seconds` more seconds from now (only while the lock holds)."""
    return _task(worker_tasks.extend_lock(sessions(), task_id, body["worker"], body["lock_seconds"]))


@endpoint("GET", "/external-tasks", scope="admin", query=s.ExternalTaskQuery,
          response=s.page_schema(s.ExternalTask, "ExternalTaskPage"), tags=["external tasks"])
def list_external(args: dict):
    """External tasks of every process, newest first (super admins), by `status`, `topic`, `instance`."""
    worker_tasks.check_admin(sessions(), identity().user.username)
    offset, limit = decode_cursor(args["cursor"]), args["limit"]
    with sessions().kw["bind"].connect() as conn:
        found = worker_tasks.list_tasks(conn, status=args["status"], topic=args["topic"],
                                        instance_id=args["instance"], limit=limit + 1, offset=offset)
    return {"items": [_task(task) for task in found[:limit]],
            "next_cursor": encode_cursor(offset + limit) if len(found) > limit else None}


@endpoint("POST", "/external-tasks/<int:task_id>/retry", scope="admin", body=s.RetryBody,
          response=s.ExternalTask, tags=["external tasks"])
def retry(task_id: int, body: dict):
    """A super admin puts an incident back in the pool with `retries` retries."""
    return _task(worker_tasks.retry_incident(sessions(), task_id, identity().user.username, body["retries"]))


def _task(task: dict) -> dict:
    return {key: value.isoformat() if hasattr(value, "isoformat") else value for key, value in task.items()}
