"""What the calendar pages and the .ics files are built from: grids with spans, iCalendar events, and
the minute sweep (bookings outside a process released, a process's own left to its timer)."""

from __future__ import annotations

from datetime import timedelta

from icalendar import Calendar

from engine.resources import bookings, ics, rooms, views
from tests.engine.resources.conftest import DAY, ZONE, at, book


def test_day_and_week_grids_span_bookings_over_their_slots(org):
    book(org, start=at(9), end=at(10, 30), title="评审")
    book(org, room="board", start=at(19, 30), end=at(21), user="hu")  # past closing: cut at 20:00
    with org() as session:
        found = rooms.list_rooms(session)
        grid = views.day_grid(session, found, DAY, ZONE)
        week = views.week_grid(session, rooms.get_room(session, "small"), DAY + timedelta(days=2), ZONE)
    keys = [room.key for room in found]
    small, board = keys.index("small"), keys.index("board")
    rows = {at_.strftime("%H:%M"): cells for at_, cells in grid}
    assert len(grid) == 24 and rows["09:00"][small].rows == 3 and rows["09:00"][small].booking.title == "评审"
    assert rows["09:30"][small] is None and rows["10:00"][small] is None and rows["10:30"][small].booking is None
    assert rows["19:30"][board].rows == 1
    monday = [cells[0] for _time, cells in week]  # DAY is the Monday of that week
    assert sum(1 for cell in monday if cell is not None and cell.booking) == 1 and monday[2].rows == 3


def test_ics_has_one_event_per_booking_with_a_stable_uid(org):
    made = book(org, start=at(9), end=at(10), weeks=2, title="周会")
    with org() as session:
        room = rooms.get_room(session, "small")
        entries = [(b, room) for b in bookings.room_bookings(session, room, at(0), at(0) + timedelta(days=30))]
    parsed = Calendar.from_ical(ics.bookings_ics(entries, "小会议室", "en", "example.com"))
    events = parsed.walk("VEVENT")
    assert [str(e["UID"]) for e in events] == [f"room-booking-{b.id}@example.com" for b in made]
    assert events[1].decoded("DTSTART") == at(9, day=DAY + timedelta(weeks=1))
    assert str(events[0]["SUMMARY"]) == "周会" and str(events[0]["LOCATION"]) == "Small room"


def test_sweep_releases_later_occurrences_but_not_the_one_a_process_governs(org):
    series = book(org, start=at(9), end=at(10), weeks=2)
    with org() as session, session.begin():
        for booking in bookings.active_bookings(session, [series[0].room_id], at(0), at(0) + timedelta(days=30)):
            booking.instance_id = 999  # as if a process made them: it governs the first occurrence
    with org() as session, session.begin():
        assert bookings.release_no_shows(session, now=at(9, 20, day=DAY + timedelta(weeks=1))) == 1
    with org() as session:
        statuses = [bookings.get_booking(session, b.id).status for b in series]
    assert statuses == ["booked", "released"]
