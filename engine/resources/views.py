"""What the room calendar pages show, as plain rows: a day of several rooms, a week of one room.

Each grid row is one slot (30 minutes, company time) with one cell per column; a booking spanning
several slots is one cell with `rows` > 1 and the slots it covers are left out (`None`), so a page
renders `<td rowspan>` without any logic of its own. One query per grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from engine.data.room_models import Room, RoomBooking
from engine.resources.bookings import SLOT, active_bookings, day_bounds


@dataclass(frozen=True)
class Cell:
    """One cell: free (`booking` None) or the booking starting in it, spanning `rows` slots."""

    starts: datetime
    booking: RoomBooking | None = None
    rows: int = 1


def _column(slots: list[datetime], taken: list[RoomBooking]) -> list[Cell | None]:
    cells: list[Cell | None] = []
    covered_until = None
    for at in slots:
        if covered_until is not None and at < covered_until:
            cells.append(None)
            continue
        booking = next((b for b in taken if b.starts_at < at + SLOT and b.ends_at > at), None)
        if booking is None:
            cells.append(Cell(at))
            continue
        span = sum(1 for s in slots if s >= at and s < booking.ends_at)
        covered_until = at + SLOT * span
        cells.append(Cell(at, booking, span))
    return cells


def _slots(day: date, zone: ZoneInfo) -> list[datetime]:
    opens, closes = day_bounds(day, zone)
    return [opens + SLOT * i for i in range(int((closes - opens) / SLOT))]


def day_grid(session: Session, rooms: list[Room], day: date, zone: ZoneInfo) -> list[tuple[datetime, list[Cell | None]]]:
    """The rows of `day` with one column per room (in the order given)."""
    slots = _slots(day, zone)
    taken = active_bookings(session, [room.id for room in rooms], *day_bounds(day, zone))
    columns = [_column(slots, [b for b in taken if b.room_id == room.id]) for room in rooms]
    return [(at, [column[i] for column in columns]) for i, at in enumerate(slots)]


def week_days(day: date) -> list[date]:
    """Monday to Sunday of the week holding `day`."""
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=i) for i in range(7)]


def week_grid(session: Session, room: Room, day: date, zone: ZoneInfo) -> list[tuple[str, list[Cell | None]]]:
    """The rows of `day`'s week for one room: the slot's time of day ("09:30"), one column per day."""
    days = week_days(day)
    taken = active_bookings(session, [room.id], day_bounds(days[0], zone)[0], day_bounds(days[-1], zone)[1])
    columns = [_column(_slots(d, zone), taken) for d in days]
    return [(at.strftime("%H:%M"), [column[i] for column in columns]) for i, at in enumerate(_slots(days[0], zone))]
