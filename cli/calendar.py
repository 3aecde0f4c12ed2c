"""The workday calendar: `calendar load` (from chinese-calendar), `calendar show`, `calendar set` / `clear`."""

from __future__ import annotations

import click

from cli.common import LiaisonGroup, database_url, emit, fail, sessions_for
from engine.errors import LiaisonError


@click.group("calendar", cls=LiaisonGroup)
def calendar_group() -> None:
    """The workday calendar: public holidays and working weekends (调休) that workday counts use."""


@calendar_group.command("load")
@click.option("--year", required=True, type=click.IntRange(1900, 9999), help="The year to fill.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def calendar_load(ctx: click.Context, year: int, as_json: bool) -> None:
    """Fill YEAR with the official holidays and working weekends (the chinese-calendar package).

    Days a super admin set are kept. Exit 1 when the installed package does not cover YEAR yet.
    """
    from engine.data import calendar
    from engine.data.models import utcnow

    try:
        with sessions_for(database_url(ctx.find_root()))() as session, session.begin():
            result = calendar.load_year(session, year, None, utcnow())
    except LiaisonError as exc:
        fail(exc, as_json)
    emit(as_json, {"year": year, "added": result.added, "replaced": result.replaced, "kept": result.kept},
         str(result))


@calendar_group.command("show")
@click.option("--year", required=True, type=click.IntRange(1900, 9999))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def calendar_show(ctx: click.Context, year: int, as_json: bool) -> None:
    """The days of YEAR that are not what their weekday says."""
    from engine.data import calendar

    with sessions_for(database_url(ctx.find_root()))() as session:
        days = list(calendar.year_days(session, year).values())
    payload = [{"day": d.day.isoformat(), "kind": d.kind, "name_zh": d.name_zh, "name_en": d.name_en,
                "source": d.source} for d in days]
    lines = [f"{d.day.isoformat()} {d.day.strftime('%a')}  {d.kind:8s} {d.name_zh or ''} / {d.name_en or ''}"
             f"  ({d.source})" for d in days]
    emit(as_json, payload, "\n".join(lines) if lines else f"no days set for {year}")


@calendar_group.command("set")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.argument("kind", type=click.Choice(["holiday", "workday"]))
@click.option("--name-zh", default=None)
@click.option("--name-en", default=None)
@click.pass_context
def calendar_set(ctx: click.Context, day, kind: str, name_zh: str | None, name_en: str | None) -> None:
    """Mark DAY a holiday (a day off) or a workday (a weekend day worked, 调休)."""
    from engine.data import calendar
    from engine.data.models import utcnow

    try:
        with sessions_for(database_url(ctx.find_root()))() as session, session.begin():
            calendar.set_day(session, day.date(), kind, "cli", utcnow(), name_zh=name_zh, name_en=name_en)
    except LiaisonError as exc:
        fail(exc, False)
    click.echo(f"{day.date().isoformat()}: {kind}")


@calendar_group.command("clear")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.pass_context
def calendar_clear(ctx: click.Context, day) -> None:
    """Make DAY what its weekday says again."""
    from engine.data import calendar

    with sessions_for(database_url(ctx.find_root()))() as session, session.begin():
        found = calendar.clear_day(session, day.date())
    click.echo(f"{day.date().isoformat()}: " + ("cleared" if found else "was not set"))


COMMANDS = [calendar_group]
