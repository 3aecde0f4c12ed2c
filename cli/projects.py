"""Task collaboration from the command line: `projects take` runs the project engine as the worker of the
external-task topic `project_tasks` (a process step asking for project tasks), once or every N seconds."""

from __future__ import annotations

import time

import click

from cli.common import LiaisonGroup, database_url, emit, sessions_for
from engine.projects import process_wait


@click.group("projects", cls=LiaisonGroup)
def projects_group() -> None:
    """Task collaboration (任务协作)."""


@projects_group.command("take")
@click.option("--loop", "every", type=int, default=0, help="Run again every this many seconds (0: once).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def projects_take(ctx, every: int, as_json: bool) -> None:
    """Create the project tasks process steps ask for (topic `project_tasks`) and complete those steps."""
    sessions = sessions_for(database_url(ctx))
    while True:
        taken = process_wait.take_requests(sessions)
        emit(as_json, {"taken": taken}, f"project task requests taken: {taken}")
        if every <= 0:
            return
        time.sleep(every)


COMMANDS = [projects_group]
