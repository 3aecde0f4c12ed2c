"""Serving and background work: `run`, `worker`, `jobs run-due`, `db upgrade`."""

from __future__ import annotations

import sys

import click

from cli.common import LiaisonCommand, LiaisonGroup, database_url, emit, fail, sessions_for
from engine.config import load_settings
from engine.data import db
from engine.errors import LiaisonError


@click.command(cls=LiaisonCommand)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, type=int, show_default=True)
@click.option("--threads", default=8, type=click.IntRange(1, 256), show_default=True,
              help="Request threads of the WSGI server.")
@click.option("--dev", is_flag=True,
              help="Flask's development server with the debugger and the reloader (never in production).")
@click.pass_context
def run(ctx: click.Context, host: str, port: int, threads: int, dev: bool) -> None:
    """Start the web app (embedded defaults: SQLite, in-process jobs).

    It serves with waitress, a production WSGI server: pure Python, one process, a pool of
    request threads. One process is what the embedded default needs: the in-process job runner
    (timers, e-mail, webhooks without Redis) is a thread of this process, and SQLite is best
    written by one process. A forking server (gunicorn) would start the runner in its master,
    where it does not survive the fork, or once per worker. For many processes on PostgreSQL,
    run gunicorn on `web:create_app()` with Redis and `liaison worker` (docker-compose.yml).
    """
    import os

    from web import create_app

    if not os.environ.get("LIAISON_BASE_URL"):
        # the links Liaison writes (e-mails, invitations, visitor passes, portal links) name where it serves;
        # the settings' default (port 5000) was wrong for `make run PORT=5055`
        everywhere = host in ("0.0.0.0", "::", "")
        os.environ["LIAISON_BASE_URL"] = f"http://{'127.0.0.1' if everywhere else host}:{port}"
        click.echo(f"links in e-mails and invitations: {os.environ['LIAISON_BASE_URL']}"
                   + (" (set LIAISON_BASE_URL to the address people reach this machine at)" if everywhere else ""))
    url = database_url(ctx)
    sessions = sessions_for(url)
    app = create_app({"DATABASE_URL": url})
    redis_url = load_settings().redis_url
    # The reloader runs this command twice: a watching parent and the serving child
    # (WERKZEUG_RUN_MAIN=true); only the process that serves runs jobs.
    serving = not dev or os.environ.get("WERKZEUG_RUN_MAIN") == "true"
    if redis_url:
        click.echo("jobs: on Redis; run `liaison worker` (as many as needed) to fire timers and send notifications")
    elif serving:
        from engine.jobs.dispatch import InProcessRunner

        InProcessRunner(sessions).start()
        click.echo("jobs: in process (no LIAISON_REDIS_URL)")
    server = "Flask's development server, reloading" if dev else f"waitress, {threads} threads"
    click.echo(f"Liaison on http://{host}:{port}/  ({server}; database: {url})")
    if dev:
        app.run(host=host, port=port, debug=True, use_reloader=True)
        return
    import logging

    import waitress

    # waitress says what it serves and warns when its request queue backs up, through logging.
    waitress_log = logging.getLogger("waitress")
    if not waitress_log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        waitress_log.addHandler(handler)
        waitress_log.setLevel(logging.INFO)
        waitress_log.propagate = False
    # ident: the Server header when a response has none (the app sets `Liaison` on its own).
    waitress.serve(app, host=host, port=port, threads=threads, ident="Liaison")


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
