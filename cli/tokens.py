"""REST API tokens: `token create|list|revoke` (engine.people.api_tokens; the secret is printed once)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from cli.common import LiaisonGroup, database_url, emit, fail, sessions_for
from engine.errors import LiaisonError
from engine.people import api_tokens


@click.group("token", cls=LiaisonGroup)
def token_group() -> None:
    """Bearer tokens of the REST API (/api/v1)."""


def _expiry(text: str | None) -> datetime | None:
    """`--expires`: a date (YYYY-MM-DD, end of that day UTC) or a number of days from now (`30` or `30d`)."""
    if not text:
        return None
    days = text.lower().removesuffix("d")
    if days.isdigit():
        return datetime.now(UTC) + timedelta(days=int(days))
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise click.BadParameter("a date YYYY-MM-DD or a number of days", param_hint="--expires") from None
    return day.replace(tzinfo=UTC) + timedelta(days=1)


@token_group.command("create")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
@click.option("--scopes", default="read", show_default=True,
              help=f"Comma-separated, of: {', '.join(api_tokens.SCOPES)}.")
@click.option("--expires", default=None, help="YYYY-MM-DD or a number of days (default: never).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def token_create(ctx: click.Context, username: str, name: str, scopes: str, expires: str | None,
                 as_json: bool) -> None:
    """Create a token acting as USERNAME (a person or an integration's system account); prints it once."""
    try:
        with sessions_for(database_url(ctx.find_root()))() as session:
            info, secret = api_tokens.create_token(session, username, name, scopes.replace(" ", ",").split(","),
                                                   _expiry(expires), created_by="cli")
    except LiaisonError as exc:
        fail(exc, as_json)
    emit(as_json, {**info.to_dict(), "token": secret},
         f"token {info.id} for {username} ({', '.join(info.scopes)}); shown only now:\n{secret}")


@token_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def token_list(ctx: click.Context, as_json: bool) -> None:
    """Every token, newest first (never the secrets)."""
    with sessions_for(database_url(ctx.find_root()))() as session:
        tokens = api_tokens.list_tokens(session, None, everyone=True)
    lines = [f"{t.id}  {t.prefix}…  {t.username:<12} {t.name:<20} {','.join(t.scopes):<24} {t.state()}"
             f"  last used {t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else
             f"{t.id}  {t.prefix}…  {t.username:<12} {t.name:<20} {','.join(t.scopes):<24} {t.state()}  never used"
             for t in tokens]
    emit(as_json, [t.to_dict() for t in tokens], "\n".join(lines) or "no tokens")


@token_group.command("revoke")
@click.argument("token_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def token_revoke(ctx: click.Context, token_id: int, as_json: bool) -> None:
    """Revoke token TOKEN_ID: it is refused from the next request on."""
    try:
        with sessions_for(database_url(ctx.find_root()))() as session:
            api_tokens.revoke_token(session, token_id, None)
    except LiaisonError as exc:
        fail(exc, as_json)
    emit(as_json, {"id": token_id, "revoked": True}, f"token {token_id} revoked")

COMMANDS = [token_group]
