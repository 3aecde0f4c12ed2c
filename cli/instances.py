"""Instances and tasks: `start`, `tasks`, `complete`, `cancel`, `show`."""

from __future__ import annotations

import click

from cli.common import (
    LiaisonCommand,
    database_url,
    describe_instance,
    describe_step,
    emit,
    fail,
    parse_json,
    sessions_for,
)
from engine import runtime
from engine.errors import LiaisonError
from engine.work import queries


@click.command(cls=LiaisonCommand)
@click.argument("key")
@click.option("--data", default=None, help="Start form data as a JSON object.")
@click.option("--as", "--user", "user", default=None)
@click.option("--business-key", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def start(ctx, key, data, user, business_key, as_json) -> None:
    """Start an instance of the latest version of process KEY."""
    payload = parse_json(data, as_json)
    try:
        result = runtime.start_instance(sessions_for(database_url(ctx)), key, payload, user, business_key)
    except LiaisonError as exc:
        fail(exc, as_json)
    emit(as_json, vars(result), describe_step(result))


@click.command(cls=LiaisonCommand)
@click.option("--as", "--user", "user", required=True)
@click.option("--group", "groups", multiple=True, help="A group the user belongs to (repeatable).")
@click.option("--status", default="open", type=click.Choice(["open", "completed", "cancelled"]))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def tasks(ctx, user, groups, status, as_json) -> None:
    """List the tasks of a user (assigned, or offered to them or their groups)."""
    with sessions_for(database_url(ctx))() as session:
        items = queries.list_tasks(session, user, tuple(groups), status)
    lines = [f"{t.id}  #{t.instance_id} {t.process_key}  {t.element_id} ({t.name or ''})  "
             f"assignee={t.assignee or '-'}" for t in items]
    emit(as_json, [t.to_dict() for t in items], "\n".join(lines) if lines else "no tasks")


@click.command(cls=LiaisonCommand)
@click.argument("task_id")
@click.option("--as", "--user", "user", required=True)
@click.option("--group", "groups", multiple=True)
@click.option("--data", default=None, help="Form data as a JSON object.")
@click.option("--comment", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def complete(ctx, task_id, user, groups, data, comment, as_json) -> None:
    """Complete a task with form data."""
    payload = parse_json(data, as_json)
    try:
        result = runtime.complete_task(sessions_for(database_url(ctx)), task_id, user, payload, tuple(groups), comment)
    except LiaisonError as exc:
        fail(exc, as_json)
    emit(as_json, vars(result), describe_step(result))


@click.command(cls=LiaisonCommand)
@click.argument("instance_id", type=int)
@click.option("--as", "--user", "user", default=None)
@click.option("--reason", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def cancel(ctx, instance_id, user, reason, as_json) -> None:
    """Cancel a running instance."""
    try:
        result = runtime.cancel_instance(sessions_for(database_url(ctx)), instance_id, user, reason)
    except LiaisonError as exc:
        fail(exc, as_json)
    emit(as_json, vars(result), describe_step(result))


@click.command(cls=LiaisonCommand)
@click.argument("instance_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx, instance_id, as_json) -> None:
    """Show an instance: state, data and history."""
    try:
        with sessions_for(database_url(ctx))() as session:
            view = queries.instance_view(session, instance_id)
    except LiaisonError as exc:
        fail(exc, as_json)
    emit(as_json, view, describe_instance(view))

COMMANDS = [start, tasks, complete, cancel, show]
