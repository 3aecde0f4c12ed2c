"""Serving and background work: `run`, `worker`, `jobs run-due`, `db upgrade`."""

from __future__ import annotations

import sys

import click

from cli.common import LiaisonCommand, LiaisonGroup, database_url, emit, fail, sessions_for
from engine.config import load_settings
from engine.data import db
from engine.errors import LiaisonError


@click.command(cls=LiaisonCommand)
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.pass_context
def run(ctx: click.Context, host: str, port: int) -> None:
    """Start the web app (embedded defaults: SQLite, in-process jobs)."""
    from web import create_app

    url = database_url(ctx)
    sessions = sessions_for(url)
    app = create_app({"DATABASE_URL": url})
    redis_url = load_settings().redis_url
    if redis_url:
        click.echo("jobs: on Redis; run `liaison worker` (as many as needed) to fire timers and send notifications")
    else:
        from engine.jobs.dispatch import InProcessRunner

        InProcessRunner(sessions).start()
        click.echo("jobs: in process (no LIAISON_REDIS_URL)")
    click.echo(f"Liaison on http://{host}:{port}/  (database: {url})")
    app.run(host=host, port=port)


@click.command(cls=LiaisonCommand)
@click.option("--burst", is_flag=True, help="Do what is due now, then exit.")
@click.option("--name", default=None, help="Worker name shown by RQ (default: random).")
@click.pass_context
def worker(ctx: click.Context, burst: bool, name: str | None) -> None:
    """Run a background worker: fire timers and deliver notifications (needs LIAISON_REDIS_URL).

    Run any number of them. It waits and retries while Redis is down; SIGTERM stops it.
    """
    import dataclasses
    import logging

    settings = load_settings()
    if not settings.redis_url:
        click.echo("error: LIAISON_REDIS_URL is not set. A worker takes its jobs from Redis; without "
                   "Redis, `liaison run` runs timers and notifications in process.", err=True)
        sys.exit(2)
    from engine.jobs import queue

    url = database_url(ctx)
    sessions_for(url)  # an SQLite file is upgraded as for every command
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        sys.exit(queue.run_worker(dataclasses.replace(settings, database_url=url), name=name, burst=burst))
    except LiaisonError as exc:  # --burst with Redis unreachable
        fail(exc, False)


@click.group("jobs", cls=LiaisonGroup)
def jobs_group() -> None:
    """Background jobs (timers, notifications)."""


@jobs_group.command("run-due")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def jobs_run_due(ctx: click.Context, as_json: bool) -> None:
    """Fire the due timers and deliver the due notifications once, here (no Redis, for debugging)."""
    from engine.jobs import dispatch as jobs

    counts = jobs.run_due(sessions_for(database_url(ctx.find_root())))
    lines = [f"{key}: {count}" for key, count in sorted(counts.items())]
    emit(as_json, counts, "\n".join(lines) if lines else "nothing due")


@click.group("db", cls=LiaisonGroup)
def db_group() -> None:
    """Database schema commands."""


@db_group.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply the schema migrations."""
    url = database_url(ctx.find_root())
    db.upgrade(url)
    click.echo(f"database is up to date ({db.normalize_url(url).split('@')[-1]})")

COMMANDS = [run, worker, jobs_group, db_group]
