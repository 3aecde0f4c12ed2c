"""The `liaison` command: run the app, validate and deploy packages, drive instances.

Every command prints readable text, or JSON with `--json`. Exit codes: 0 done, 1 refused
(invalid input, conflict, not found, not permitted), 2 unreadable input, 3 an internal error.
The command groups live in one module each: `serve`, `packages`, `people`, `instances`,
`operations`, `messages`, `notify`, `calendar`, `designer` (diff, migrate), `external`, `tokens`, `worker_tasks` (external-task); `common` holds what they share.
"""

from __future__ import annotations

import click

from cli import (
    analytics,
    calendar,
    designer,
    external,
    instances,
    messages,
    notify,
    operations,
    packages,
    people,
    projects,
    rooms,
    serve,
    tokens,
    training,
    vendor,
    worker_tasks,
)
from cli.common import LiaisonGroup


@click.group(cls=LiaisonGroup)
@click.option("--database-url", envvar="LIAISON_DATABASE_URL", default=None,
              help="Database URL (default: LIAISON_DATABASE_URL, else sqlite:///instance/liaison.db).")
@click.pass_context
def main(ctx: click.Context, database_url: str | None) -> None:
    """Liaison: workflow and form engine."""
    ctx.ensure_object(dict)
    ctx.obj["database_url"] = database_url


for _module in (serve, analytics, packages, people, instances, operations, messages, notify, calendar, designer, external, rooms,
                tokens, training, vendor, worker_tasks, projects):
    for _command in _module.COMMANDS:
        main.add_command(_command)


if __name__ == "__main__":
    main()
