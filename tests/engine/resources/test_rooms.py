"""Rooms and bookings at the engine level: slots, weekly series, conflicts, cancel / check-in / release,
who may book; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, text

from engine.data.room_models import RoomBooking
from engine.errors import NotPermittedError
from engine.resources import bookings, rooms
from engine.resources.bookings import BookingError, RoomConflictError
from engine.resources.rooms import RoomDataError, RoomFilter
from tests.engine.resources.conftest import DAY, NOW, ZONE, at, book


def test_free_slots_leave_out_booked_time_and_half_open_ends_do_not_clash(org):
    book(org, start=at(9), end=at(10))
    book(org, start=at(10), end=at(11))  # touching the first booking is no clash
    with org() as session:
        room = rooms.get_room(session, "small")
        free = bookings.free_slots(session, room, DAY, ZONE, now=NOW)
    starts = [slot.starts.strftime("%H:%M") for slot in free]
    assert starts[:2] == ["08:00", "08:30"] and "09:00" not in starts and "10:30" not in starts
    assert starts[2] == "11:00" and len(starts) == 24 - 4


def test_weekly_series_books_every_week_or_nothing_naming_each_clash(org):
    book(org, start=at(14, day=DAY + timedelta(weeks=2)), end=at(15, day=DAY + timedelta(weeks=2)), user="hu")
    book(org, start=at(14, 30, day=DAY + timedelta(weeks=3)), end=at(16, day=DAY + timedelta(weeks=3)), user="hu")
    with pytest.raises(RoomConflictError) as caught:
        book(org, start=at(14), end=at(15), weeks=4, title="周会")
    assert str(caught.value) == ("小会议室 is already booked at 2030-03-18 14:00–15:00; 2030-03-25 14:30–16:00: "
                                 "nothing was booked")
    assert [c[0].date() for c in caught.value.conflicts] == [date(2030, 3, 18), date(2030, 3, 25)]
    with org() as session:
        assert session.scalar(select(text("count(*)")).select_from(RoomBooking)) == 2  # nothing half-saved
    made = book(org, start=at(16), end=at(17), weeks=4, title="周会")
    assert [b.starts_at.astimezone(ZONE).date() for b in made] == [DAY + timedelta(weeks=i) for i in range(4)]
    assert {b.series_id for b in made} == {made[0].id}


def test_bad_times_are_refused_with_a_reason(org):
    with pytest.raises(BookingError, match="must end after it starts"):
        book(org, start=at(10), end=at(9))
    with pytest.raises(BookingError, match="has passed"):
        book(org, start=datetime(2030, 2, 1, 9, tzinfo=ZONE), end=datetime(2030, 2, 1, 10, tzinfo=ZONE))
    with pytest.raises(BookingError, match="1 to 26 weeks"):
        book(org, weeks=27)


def test_cancel_frees_the_room_and_only_the_booker_may_cancel(org):
    first = book(org, weeks=3)
    with org() as session, session.begin(), pytest.raises(NotPermittedError):
        bookings.cancel(session, first[0].id, "hu")
    with org() as session, session.begin():
        cancelled = bookings.cancel(session, first[0].id, "li", whole_series=True)
    assert len(cancelled) == 3
    assert len(book(org, user="hu", weeks=3)) == 3  # the same times are free again


def test_check_in_window_and_release_of_no_shows(org):
    booking = book(org)[0]
    with org() as session, session.begin(), pytest.raises(BookingError, match="15 minutes"):
        bookings.check_in(session, booking.id, "li", now=at(8, 30))
    with org() as session, session.begin():
        assert bookings.check_in(session, booking.id, "li", now=at(9, 5)).status == "checked_in"
    other = book(org, start=at(11), end=at(12))[0]
    with org() as session, session.begin():
        assert bookings.release_no_shows(session, now=at(11, 10)) == 0
        assert bookings.release_no_shows(session, now=at(11, 16)) == 1
    with org() as session:
        assert bookings.get_booking(session, other.id).status == "released"
        assert bookings.get_booking(session, booking.id).status == "checked_in"
    book(org, start=at(11), end=at(12), user="hu")  # a released slot is free


def test_who_may_book_departments_with_subtrees_and_roles(org):
    with pytest.raises(NotPermittedError, match="研发讨论室"):
        book(org, room="lab", user="hu")
    assert book(org, room="lab", user="li")
    with org() as session, session.begin():
        rooms.save_room(session, {"key": "lab", "name": "研发讨论室", "capacity": 8, "bookers": {"roles": ["hr"]}})
    with org() as session:
        lab = rooms.get_room(session, "lab")
        assert rooms.may_book(session, lab, "hu") and not rooms.may_book(session, lab, "li")
        found = rooms.search_rooms(session, "li", RoomFilter(capacity=5, equipment=("projector",)))
    assert [room.key for room in found] == ["board"]


def test_bad_room_data_names_the_field(org):
    with org() as session, session.begin():
        with pytest.raises(RoomDataError, match="capacity must be a whole number"):
            rooms.save_room(session, {"key": "x", "name": "X", "capacity": "many"})
        with pytest.raises(RoomDataError, match="name an approver"):
            rooms.save_room(session, {"key": "x", "name": "X", "capacity": 3, "needs_approval": "yes"})
        with pytest.raises(RoomDataError, match="no department nope"):
            rooms.save_room(session, {"key": "x", "name": "X", "capacity": 3, "bookers": {"departments": ["nope"]}})
