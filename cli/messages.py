"""Messages and signals to processes: `message send|list`, `signal send`."""

from __future__ import annotations

import click

from cli.common import LiaisonGroup, database_url, emit, fail, parse_json, sessions_for
from engine.errors import LiaisonError


@click.group("message", cls=LiaisonGroup)
def message_group() -> None:
    """Send messages to waiting processes; list kept ones."""


@message_group.command("send")
@click.argument("name")
@click.option("--key", "correlation_key", default=None, help="Correlation key (business key or the event's key).")
@click.option("--data", default=None, help="Payload as a JSON object.")
@click.option("--sender", default=None, help="Who sends it (shown in the history).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def message_send(ctx: click.Context, name: str, correlation_key: str | None, data: str | None,
                 sender: str | None, as_json: bool) -> None:
    """Send message NAME: delivered to the one instance waiting for it, starts a process, or is kept.

    Exit 1 when it matches two instances or the process refuses early messages.
    """
    from engine.runtime import messages

    payload = parse_json(data, as_json)
    try:
        result = messages.send_message(sessions_for(database_url(ctx.find_root())), name, correlation_key, payload, sender)
    except LiaisonError as exc:
        fail(exc, as_json)
    emit(as_json, {"status": result.status, "instance_id": result.instance_id, "kept_id": result.buffered_id,
                    "expires_at": result.expires_at}, result.describe(name, correlation_key))


@message_group.command("list")
@click.option("--status", default="waiting", type=click.Choice(["waiting", "consumed", "expired"]))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def message_list(ctx: click.Context, status: str, as_json: bool) -> None:
    """Kept messages (newest first)."""
    from engine.runtime import messages

    rows = messages.kept_messages(sessions_for(database_url(ctx.find_root())), status)
    lines = [f"#{r['id']}  {r['message_name']}  key={r['correlation_key']}  received {r['received_at']:%Y-%m-%d %H:%M}"
             f"  expires {r['expires_at']:%Y-%m-%d %H:%M}" + (f"  -> instance {r['instance_id']}" if r['instance_id'] else "")
             for r in rows]
    emit(as_json, rows, "\n".join(lines) or f"no {status} messages")


@click.group("signal", cls=LiaisonGroup)
def signal_group() -> None:
    """Broadcast BPMN signals to every waiting instance and signal-started process."""


@signal_group.command("send")
@click.argument("name")
@click.option("--data", default=None, help="Payload as a JSON object (merged into each receiver's data).")
@click.option("--as", "--user", "user", default=None, help="Who sends it (shown in the receivers' history).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def signal_send(ctx: click.Context, name: str, data: str | None, user: str | None, as_json: bool) -> None:
    """Send signal NAME: every instance waiting on it moves on, every process starting on it starts.

    A receiver whose step fails is retried by the scheduler (exit 0; the count says so).
    """
    from engine.runtime import signals

    payload = parse_json(data, as_json)
    try:
        result = signals.send_signal(sessions_for(database_url(ctx.find_root())), name, payload, user)
    except LiaisonError as exc:
        fail(exc, as_json)
    emit(as_json, result.as_dict(), result.describe(name))


COMMANDS = [message_group, signal_group]
