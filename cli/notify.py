"""Notification delivery: `webhook add|list|remove`, `outbox`."""

from __future__ import annotations

import sys

import click

from cli.common import LiaisonCommand, LiaisonGroup, database_url, emit, fail, sessions_for
from engine.errors import LiaisonError


@click.group("webhook", cls=LiaisonGroup)
def webhook_group() -> None:
    """Named webhook endpoints that packages' notifications refer to (the secret stays here)."""


@webhook_group.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--format", "fmt", type=click.Choice(["generic", "dingtalk", "feishu", "wecom"]), default="generic")
@click.option("--secret", default=None, help="Signing secret (generic: HMAC key; dingtalk/feishu: robot secret).")
@click.option("--secret-stdin", is_flag=True, help="Read the secret from one line of standard input.")
@click.pass_context
def webhook_add(ctx: click.Context, name: str, url: str, fmt: str, secret: str | None, secret_stdin: bool) -> None:
    """Add endpoint NAME posting to URL."""
    from engine.notify import delivery

    if secret_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
    try:
        with sessions_for(database_url(ctx.find_root()))() as session, session.begin():
            delivery.add_endpoint(session, name, url, fmt, secret)
    except LiaisonError as exc:
        fail(exc, False)
    click.echo(f"added webhook `{name.strip()}` ({fmt})")


@webhook_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def webhook_list(ctx: click.Context, as_json: bool) -> None:
    """List endpoints (URL query strings, which hold robot tokens, are hidden)."""
    from engine.notify import delivery

    with sessions_for(database_url(ctx.find_root()))() as session:
        rows = delivery.list_endpoints(session)
    lines = [f"{r['name']:<20} {r['format']:<9} {'active' if r['active'] else 'inactive':<9} "
             f"{'signed' if r['has_secret'] else 'unsigned':<9} {r['url']}" for r in rows]
    emit(as_json, rows, "\n".join(lines) or "no webhook endpoints")


@webhook_group.command("remove")
@click.argument("name")
@click.pass_context
def webhook_remove(ctx: click.Context, name: str) -> None:
    """Remove endpoint NAME (outbox rows still addressed to it fail)."""
    from engine.notify import delivery

    try:
        with sessions_for(database_url(ctx.find_root()))() as session, session.begin():
            delivery.remove_endpoint(session, name)
    except LiaisonError as exc:
        fail(exc, False)
    click.echo(f"removed webhook `{name}`")


@click.command("outbox", cls=LiaisonCommand)
@click.option("--retry-failed", is_flag=True, help="Give every failed row a fresh set of attempts first.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def outbox_command(ctx: click.Context, retry_failed: bool, as_json: bool) -> None:
    """Outbox rows per status, and the last 20 failed ones with their errors."""
    from engine.notify import delivery

    if retry_failed:
        with sessions_for(database_url(ctx))() as session, session.begin():
            count = delivery.retry_failed(session)
        if not as_json:
            click.echo(f"{count} failed row(s) will be sent again")
    with sessions_for(database_url(ctx))() as session:
        summary = delivery.outbox_summary(session)
    lines = ["  ".join(f"{status}: {count}" for status, count in summary["counts"].items())]
    if summary["failed"]:
        lines.append("last failed:")
        lines += [f"  #{r['id']}  {r['channel']:<7} {r['event']:<17} {r['recipient']}  "
                  f"({r['attempts']} attempts): {r['last_error'] or '-'}" for r in summary["failed"]]
    emit(as_json, summary, "\n".join(lines))

COMMANDS = [webhook_group, outbox_command]
