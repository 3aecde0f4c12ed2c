"""What every `liaison` command shares: the database, output as text or JSON, and one error path.

Every command is a `LiaisonCommand`: a `LiaisonError` (bad input, conflict, not found, not
permitted) raised anywhere in it becomes one line on stderr (or a JSON object with `--json`) and
exit 1; any other exception becomes one line too (exit 3; `LIAISON_DEBUG=1` shows the traceback).
The acting user is `--as USERNAME` in every command (`--user` is the same option).
"""

from __future__ import annotations

import json
import os
import sys
from functools import cache
from pathlib import Path

import click

from engine.config import load_settings
from engine.data import db
from engine.errors import LiaisonError

SHIPPED_PROCESSES = Path(__file__).resolve().parent.parent / "processes"


class LiaisonCommand(click.Command):
    """A command whose errors reach the user as one line, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LiaisonError as exc:
            fail(exc, bool(ctx.params.get("as_json")))
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - the one place an unexpected error is turned into a line
            if os.environ.get("LIAISON_DEBUG"):
                raise
            fail(RuntimeError(f"internal error ({type(exc).__name__}: {exc}); "
                              "run again with LIAISON_DEBUG=1 to see where"), bool(ctx.params.get("as_json")), 3)


class LiaisonGroup(click.Group):
    """A command group whose commands and subgroups are `LiaisonCommand`s."""

    command_class = LiaisonCommand
    group_class = type  # subgroups are LiaisonGroups too


_ENGINES: list = []  # every engine `sessions_for` opened, so `close_databases` can close them


@cache
def sessions_for(url: str):
    if url.startswith("sqlite"):
        db.upgrade(url)  # the embedded default needs no separate setup step
    engine = db.make_engine(url)
    _ENGINES.append(engine)
    return db.make_session_factory(engine)


def close_databases() -> None:
    """Close every database connection the commands opened (a process running several commands, tests)."""
    sessions_for.cache_clear()
    while _ENGINES:
        _ENGINES.pop().dispose()


def database_url(ctx: click.Context) -> str:
    return ctx.obj.get("database_url") or load_settings().database_url


def emit(as_json: bool, payload, text: str) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str) if as_json else text)


def fail(exc: Exception, as_json: bool, code: int = 1):
    if as_json:
        payload = {"error": type(exc).__name__, "message": str(exc)}
        if getattr(exc, "errors", None):
            payload["errors"] = exc.errors  # a refused form: messages per field
        click.echo(json.dumps(payload, ensure_ascii=False))
    elif getattr(exc, "errors", None):
        click.echo(f"error: form `{exc.form}` refused the submission:", err=True)
        for path, messages in exc.errors.items():
            click.echo(f"  {path or '-'}: {' '.join(messages)}", err=True)
    else:
        click.echo(f"error: {exc}", err=True)
    sys.exit(code)


def parse_json(text: str | None, as_json: bool) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(ValueError(f"--data is not valid JSON: {exc}"), as_json, 2)
    if not isinstance(value, dict):
        fail(ValueError("--data must be a JSON object"), as_json, 2)
    return value


def describe_step(result) -> str:
    lines = [f"instance {result.instance_id}: {result.status}"
             + (f" at {result.end_event}" if result.end_event else "")]
    lines += [f"  waiting: {t['id']}  {t['element_id']} ({t['name'] or ''}) assignee={t['assignee'] or '-'}"
              for t in result.open_tasks]
    return "\n".join(lines)


def describe_instance(view: dict) -> str:
    lines = [f"instance {view['id']}  {view['process']} v{view['version']}  {view['status']}"
             + (f" at {view['end_event']}" if view["end_event"] else ""),
             f"initiator: {view['initiator'] or '-'}  business key: {view['business_key'] or '-'}",
             "data: " + json.dumps(view["data"], ensure_ascii=False, default=str)[:2000], "open tasks:"]
    lines += [f"  {t['id']}  {t['element_id']}  assignee={t['assignee'] or '-'}"
              for t in view["tasks"] if t["status"] == "open"] or ["  none"]
    lines.append("history:")
    for h in view["history"]:
        detail = " ".join(x for x in (h["element_id"], h["comment"]) if x)
        lines.append(f"  {h['at'][:19]}  {h['actor'] or '-':<10} {h['action']:<15} {detail}")
    return "\n".join(lines)
