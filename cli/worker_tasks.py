"""External service tasks: `external-task list|fetch|complete|fail|retry` (engine.runtime.worker_tasks,
the functions the REST API's /external-tasks endpoints call)."""

from __future__ import annotations

import click

from cli.common import LiaisonGroup, database_url, emit, fail, parse_json, sessions_for
from engine.errors import LiaisonError
from engine.runtime import worker_tasks

STATUSES = ["open", "locked", "completed", "incident", "cancelled"]


@click.group("external-task", cls=LiaisonGroup)
def external_task_group() -> None:
    """External service tasks (camunda:type="external") waiting for outside workers."""


def _line(task: dict) -> str:
    held = f"  worker={task['worker']} until {task['lock_expires_at']:%Y-%m-%d %H:%M:%S}" if task["worker"] else ""
    error = f"  error: {task['error_message']}" if task["error_message"] else ""
    retries = "" if task["retries"] is None else f"  retries={task['retries']}"
    return (f"#{task['id']}  {task['topic']}  {task['status']}  instance {task['instance_id']}  {task['element_id']}"
            f"{held}{retries}{error}")


@external_task_group.command("list")
@click.option("--status", default=None, type=click.Choice(STATUSES))
@click.option("--topic", default=None)
@click.option("--instance", "instance_id", type=int, default=None)
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def external_task_list(ctx: click.Context, status, topic, instance_id, limit, as_json: bool) -> None:
    """External tasks, newest first."""
    sessions = sessions_for(database_url(ctx.find_root()))
    with sessions.kw["bind"].connect() as conn:
        rows = worker_tasks.list_tasks(conn, status=status, topic=topic, instance_id=instance_id, limit=limit)
    emit(as_json, rows, "\n".join(_line(row) for row in rows) or "no external tasks")


@external_task_group.command("fetch")
@click.option("--worker", required=True, help="The worker's id (it completes or fails what it locked).")
@click.option("--topic", "topics", multiple=True, required=True)
@click.option("--lock-seconds", type=int, default=300, show_default=True)
@click.option("--max", "max_tasks", type=int, default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def external_task_fetch(ctx: click.Context, worker: str, topics, lock_seconds: int, max_tasks: int,
                        as_json: bool) -> None:
    """Fetch and lock open tasks of the topics for WORKER (with their variables in --json)."""
    try:
        rows = worker_tasks.fetch_and_lock(sessions_for(database_url(ctx.find_root())), worker,
                                           [(topic, lock_seconds) for topic in topics], max_tasks)
    except LiaisonError as exc:
        fail(exc, as_json)
    emit(as_json, rows, "\n".join(_line(row) for row in rows) or "nothing to fetch")


@external_task_group.command("complete")
@click.argument("task_id", type=int)
@click.option("--worker", required=True, help="The worker that holds the lock (an open task is locked for it first).")
@click.option("--data", default=None, help="Variables for the process, as a JSON object.")
@click.option("--user", default=None, help="Who did it (shown in the instance's history).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def external_task_complete(ctx: click.Context, task_id: int, worker: str, data: str | None, user: str | None,
                           as_json: bool) -> None:
    """Complete external task TASK_ID: its variables go into the process, which runs on.

    Exit 1 when it is locked by another worker, already completed or not waiting."""
    variables = parse_json(data, as_json)
    sessions = sessions_for(database_url(ctx.find_root()))
    try:
        worker_tasks.lock_one(sessions, task_id, worker)
        result = worker_tasks.complete(sessions, task_id, worker, variables, actor=user)
    except LiaisonError as exc:
        fail(exc, as_json)
    emit(as_json, result, f"external task {task_id} completed; instance {result['instance_id']} is "
                          f"{result['status']}")


@external_task_group.command("fail")
@click.argument("task_id", type=int)
@click.option("--worker", required=True)
@click.option("--message", required=True, help="What went wrong (shown on the instance page at 0 retries).")
@click.option("--details", default=None)
@click.option("--retries", type=int, default=0, show_default=True, help="Retries left; 0 makes an incident.")
@click.option("--retry-timeout", type=int, default=0, show_default=True, help="Seconds before it is fetchable again.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def external_task_fail(ctx: click.Context, task_id: int, worker: str, message: str, details: str | None,
                       retries: int, retry_timeout: int, as_json: bool) -> None:
    """Report that external task TASK_ID failed (an open task is locked for WORKER first)."""
    sessions = sessions_for(database_url(ctx.find_root()))
    try:
        worker_tasks.lock_one(sessions, task_id, worker)
        row = worker_tasks.report_failure(sessions, task_id, worker, message, details, retries, retry_timeout)
    except LiaisonError as exc:
        fail(exc, as_json)
    emit(as_json, row, _line(row))


@external_task_group.command("retry")
@click.argument("task_id", type=int)
@click.option("--user", required=True, help="The super admin who retries it.")
@click.option("--retries", type=int, default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def external_task_retry(ctx: click.Context, task_id: int, user: str, retries: int, as_json: bool) -> None:
    """Put an incident back in the pool with RETRIES retries."""
    try:
        row = worker_tasks.retry_incident(sessions_for(database_url(ctx.find_root())), task_id, user, retries)
    except LiaisonError as exc:
        fail(exc, as_json)
    emit(as_json, row, _line(row))


COMMANDS = [external_task_group]
