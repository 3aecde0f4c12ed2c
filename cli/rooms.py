"""Meeting rooms: `rooms import FILE`, `rooms list`, `rooms bookings`; the demo rooms of `liaison demo`."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from cli.common import LiaisonGroup, database_url, emit, fail, sessions_for
from engine.config import load_settings
from engine.errors import LiaisonError

DEMO_ROOMS = Path(__file__).resolve().parent.parent / "processes" / "_demo" / "rooms.yaml"


@click.group("rooms", cls=LiaisonGroup)
def rooms_group() -> None:
    """Bookable meeting rooms and their bookings."""


@rooms_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def rooms_import(ctx: click.Context, file: str, as_json: bool) -> None:
    """Create or update the rooms of a YAML FILE (a list, or {rooms: [...]}); all or none."""
    from engine.resources import rooms

    try:
        with sessions_for(database_url(ctx.find_root()))() as session, session.begin():
            saved = [room.key for room in rooms.import_rooms(session, rooms.load_rooms_file(file))]
    except LiaisonError as exc:
        fail(exc, as_json)
    emit(as_json, {"saved": saved}, f"{len(saved)} rooms saved: {', '.join(saved)}")


@rooms_group.command("list")
@click.option("--all", "include_inactive", is_flag=True, help="Inactive rooms too.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def rooms_list(ctx: click.Context, include_inactive: bool, as_json: bool) -> None:
    """Every room: key, name, seats, equipment, approval."""
    from engine.resources import rooms

    with sessions_for(database_url(ctx.find_root()))() as session:
        found = rooms.list_rooms(session, include_inactive)
    rows = [{"key": r.key, "name": r.name, "name_en": r.name_en, "capacity": r.capacity, "equipment": r.equipment,
             "location": r.location, "needs_approval": r.needs_approval, "active": r.active} for r in found]
    lines = [f"{r['key']}  {r['name']}  {r['capacity']} seats  {','.join(r['equipment']) or '-'}"
             + ("  (approval)" if r["needs_approval"] else "") + ("" if r["active"] else "  (inactive)") for r in rows]
    emit(as_json, rows, "\n".join(lines) or "no rooms")


@rooms_group.command("bookings")
@click.argument("room")
@click.option("--day", default=None, help="YYYY-MM-DD (default: today, company time).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def rooms_bookings(ctx: click.Context, room: str, day: str | None, as_json: bool) -> None:
    """The active bookings of ROOM on a day."""
    from engine.resources import bookings, rooms

    zone = ZoneInfo(load_settings().timezone)
    when = date.fromisoformat(day) if day else datetime.now(zone).date()
    try:
        with sessions_for(database_url(ctx.find_root()))() as session:
            found = rooms.get_room(session, room)
            rows = [{"id": b.id, "starts": b.starts_at.astimezone(zone).isoformat(),
                     "ends": b.ends_at.astimezone(zone).isoformat(), "title": b.title, "booked_by": b.booked_by,
                     "status": b.status} for b in bookings.room_bookings(session, found, *bookings.day_bounds(when, zone))]
    except LiaisonError as exc:
        fail(exc, as_json)
    emit(as_json, rows, "\n".join(f"#{r['id']}  {r['starts'][11:16]}-{r['ends'][11:16]}  {r['title']}  "
                                  f"{r['booked_by']}  {r['status']}" for r in rows) or "no bookings")


def demo_rooms(sessions) -> None:
    """The demo rooms that are missing (an admin's edits of existing ones are kept); idempotent."""
    from engine.resources import rooms

    with sessions() as session, session.begin():
        known = {room.key for room in rooms.list_rooms(session, include_inactive=True)}
        added = [rooms.save_room(session, entry).key for entry in rooms.load_rooms_file(DEMO_ROOMS)
                 if entry["key"] not in known]
    if added:
        click.echo(f"demo rooms: {', '.join(added)}")


COMMANDS = [rooms_group]
