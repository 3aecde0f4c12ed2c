"""Process analytics: `analytics refresh` brings the dashboards' summary tables up to date by hand."""

from __future__ import annotations

import click

from cli.common import LiaisonGroup, database_url, emit, sessions_for


@click.group("analytics", cls=LiaisonGroup)
def analytics_group() -> None:
    """The dashboards' summary of the history."""


@analytics_group.command("refresh")
@click.option("--batch", type=int, default=5000, show_default=True, help="History rows per transaction.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def analytics_refresh(ctx: click.Context, batch: int, as_json: bool) -> None:
    """Read the history newer than the last refresh and rebuild the instances it touches."""
    from engine.work import analytics

    rebuilt = analytics.refresh(sessions_for(database_url(ctx.find_root())), batch=batch)
    emit(as_json, {"rebuilt": rebuilt}, f"{rebuilt} instances rebuilt")


COMMANDS = [analytics_group]
