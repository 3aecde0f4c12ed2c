"""A booking made through the room_booking process: the booking follows the instance (approval, check-in,
cancel, the release timer, withdrawal), and a clash or a refused start leaves nothing behind."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from engine import runtime
from engine.data.models import Person, ProcessInstance, Timer
from engine.data.room_models import RoomBooking
from engine.resources import rooms
from engine.resources.bookings import RoomConflictError
from engine.runtime import operations, timers
from engine.work import queries
from engine.work.room_requests import BookingRequest, request_booking

PACKAGE = Path(__file__).resolve().parents[3] / "processes" / "room_booking"
ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=ZONE)


@pytest.fixture
def booking_sessions(sessions, deploy_package):
    deploy_package(PACKAGE)
    with sessions() as session, session.begin():
        session.add_all([Person(username="zhang", name="张"), Person(username="li", name="李")])
        session.flush()
        rooms.import_rooms(session, [
            {"key": "small", "name": "小会议室", "capacity": 4},
            {"key": "board", "name": "董事会议室", "name_en": "Board room", "capacity": 20,
             "needs_approval": True, "approver": "li"}])
    return sessions


def _request(sessions, room="small", hour=9, user="zhang", lang="zh"):
    asked = BookingRequest(room, datetime(2030, 3, 4, hour, 0), datetime(2030, 3, 4, hour + 1, 0), "评审")
    return request_booking(sessions, user, asked, zone=ZONE, lang=lang, now=NOW)


def _status(sessions, booking_id):
    with sessions() as session:
        return session.get(RoomBooking, booking_id).status


def _open_task(sessions, instance_id, element):
    with sessions() as session:
        view = queries.instance_view(session, instance_id)
    return next(t for t in view["tasks"] if t["status"] == "open" and t["element_id"] == element)


def test_approval_then_cancel_by_the_booker_frees_the_room(booking_sessions):
    instance_id, made = _request(booking_sessions, room="board")
    approval = _open_task(booking_sessions, instance_id, "room_approval")
    assert approval["assignee"] == "li" and made[0].instance_id == instance_id
    runtime.complete_task(booking_sessions, approval["id"], "li", {"approved": True})
    assert _status(booking_sessions, made[0].id) == "booked"
    check_in = _open_task(booking_sessions, instance_id, "check_in")
    runtime.complete_task(booking_sessions, check_in["id"], "zhang", {"action": "cancel"})
    assert _status(booking_sessions, made[0].id) == "cancelled"
    assert _request(booking_sessions, room="board", user="li")[1]  # free again


def test_declined_booking_is_cancelled_and_withdrawal_cancels_too(booking_sessions):
    instance_id, made = _request(booking_sessions, room="board")
    approval = _open_task(booking_sessions, instance_id, "room_approval")
    runtime.complete_task(booking_sessions, approval["id"], "li", {"approved": False})
    assert _status(booking_sessions, made[0].id) == "cancelled"
    other_id, other = _request(booking_sessions, room="small", hour=11)
    operations.withdraw(booking_sessions, other_id, actor="zhang")
    assert _status(booking_sessions, other[0].id) == "cancelled"


def test_release_timer_frees_the_room_and_check_in_keeps_it(booking_sessions):
    instance_id, made = _request(booking_sessions, room="small")
    with booking_sessions() as session:
        timer = session.scalar(select(Timer).where(Timer.instance_id == instance_id, Timer.element_id == "release_timer"))
    assert timer.due_at == datetime(2030, 3, 4, 9, 15, tzinfo=ZONE)
    assert timers.fire(booking_sessions, timer.id) == "fired"
    assert _status(booking_sessions, made[0].id) == "released"
    second_id, second = _request(booking_sessions, room="small", hour=9, user="li")  # the released slot
    runtime.complete_task(booking_sessions, _open_task(booking_sessions, second_id, "check_in")["id"], "li",
                          {"action": "check_in"})
    assert _status(booking_sessions, second[0].id) == "checked_in"


def test_clash_names_room_and_time_and_saves_nothing(booking_sessions):
    _request(booking_sessions, room="board")
    with booking_sessions() as session:
        before = (session.scalar(select(func.count()).select_from(RoomBooking)),
                  session.scalar(select(func.count()).select_from(ProcessInstance)))
    with pytest.raises(RoomConflictError, match=r"^Board room is already booked at 2030-03-04 09:00–10:00"):
        _request(booking_sessions, room="board", user="li", lang="en")
    with booking_sessions() as session:
        after = (session.scalar(select(func.count()).select_from(RoomBooking)),
                 session.scalar(select(func.count()).select_from(ProcessInstance)))
    assert after == before


def test_cancel_and_check_in_from_the_bookings_page(booking_sessions):
    from engine.errors import NotPermittedError
    from engine.resources.bookings import BookingError
    from engine.work.room_requests import cancel_booking, check_in_booking

    instance_id, made = _request(booking_sessions, room="small")
    with pytest.raises(NotPermittedError):
        cancel_booking(booking_sessions, made[0].id, "li")
    with pytest.raises(BookingError, match="15 minutes"):
        check_in_booking(booking_sessions, made[0].id, "zhang", now=datetime(2030, 3, 4, 8, 0, tzinfo=ZONE))
    check_in_booking(booking_sessions, made[0].id, "zhang", now=datetime(2030, 3, 4, 9, 5, tzinfo=ZONE))
    assert _status(booking_sessions, made[0].id) == "checked_in"
    second_id, second = _request(booking_sessions, room="small", hour=11)
    assert cancel_booking(booking_sessions, second[0].id, "zhang") == "withdrawn"
    assert _status(booking_sessions, second[0].id) == "cancelled"
    with booking_sessions() as session:
        assert session.get(ProcessInstance, second_id).status == "cancelled"
