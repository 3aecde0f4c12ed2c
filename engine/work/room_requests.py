"""A room booked through the `room_booking` process: the booking page's one call.

`request_booking` books the room first (`engine.resources.bookings.book`: all occurrences or none, a
clash refused with the room and the taken times), then starts the process with the booking's facts
(room, times, whether it needs approval and by whom) and ties the bookings to the new instance. If the
start fails, the bookings are deleted again, so a refusal leaves nothing behind. Without the package
deployed, the booking stands alone (released by the dispatcher's sweep when nobody checks in).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine import runtime
from engine.data.models import Person, PersonRole, ProcessDefinition, Role
from engine.data.room_models import Room, RoomBooking
from engine.resources import bookings
from engine.resources.rooms import get_room, room_name

PROCESS_KEY = "room_booking"


@dataclass(frozen=True)
class BookingRequest:
    """What the booker asked for; times are company-local (naive) or aware."""

    room: str
    starts: datetime
    ends: datetime
    title: str
    weeks: int = 1


def approvers_of(session: Session, room: Room) -> list[str]:
    """Who approves bookings of `room`: its approver, else the active members of its approver role."""
    if not room.needs_approval:
        return []
    if room.approver:
        return [room.approver]
    query = (select(Person.username).join(PersonRole, PersonRole.person_id == Person.id)
             .join(Role, Role.id == PersonRole.role_id).where(Role.key == room.approver_role, Person.active)
             .order_by(Person.username))
    return list(session.scalars(query))


def _aware(value: datetime, zone: ZoneInfo) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=zone)


def request_booking(sessions: sessionmaker[Session], user: str, request: BookingRequest, *, zone: ZoneInfo,
                    lang: str = "zh", now: datetime | None = None) -> tuple[int | None, list[RoomBooking]]:
    """Book and start the booking process as `user`; returns (instance id or None, the bookings).
    Refusals (RoomConflictError, BookingError, NotPermittedError, a form error) save nothing."""
    starts, ends = _aware(request.starts, zone), _aware(request.ends, zone)
    made = bookings.book(sessions, request.room, starts, ends, user, title=request.title, weeks=request.weeks,
                         zone=zone, lang=lang, now=now)
    ids = [b.id for b in made]
    with sessions() as session:
        if session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == PROCESS_KEY)) is None:
            return None, made
        room = get_room(session, request.room)
        data = {"room": room.key, "room_name": room_name(room, lang), "title": request.title,
                "starts": starts.astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
                "ends": ends.astimezone(zone).strftime("%Y-%m-%dT%H:%M"), "weeks": request.weeks,
                "booking_id": ids[0], "needs_approval": room.needs_approval, "approvers": approvers_of(session, room)}
    try:
        result = runtime.start_instance(sessions, PROCESS_KEY, data, user=user, lang=lang)
    except Exception:
        with sessions() as session, session.begin():
            session.execute(delete(RoomBooking).where(RoomBooking.id.in_(ids)))
        raise
    with sessions() as session, session.begin():
        session.execute(update(RoomBooking).where(RoomBooking.id.in_(ids)).values(instance_id=result.instance_id))
    for booking in made:
        booking.instance_id = result.instance_id
    return result.instance_id, made
