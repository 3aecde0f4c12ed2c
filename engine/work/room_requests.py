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
from engine.data.models import Person, PersonRole, ProcessDefinition, ProcessInstance, Role, WorkTask, utcnow
from engine.data.room_models import Room, RoomBooking
from engine.errors import NotPermittedError, msg
from engine.resources import bookings
from engine.resources.rooms import get_room, room_name
from engine.runtime import operations

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
             .order_by(Person.sort_key, Person.username))
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


def cancel_booking(sessions: sessionmaker[Session], booking_id: int, user: str, *, admin: bool = False) -> str:
    """Cancel a booking as its booker (or an admin). The booking a running process governs is cancelled by
    withdrawing its request (with every occurrence of its series); any other is cancelled alone.
    Returns "withdrawn" or "cancelled"."""
    with sessions() as session:
        booking = bookings.get_booking(session, booking_id)
        instance = session.get(ProcessInstance, booking.instance_id) if booking.instance_id else None
        if booking.booked_by != user and not admin:
            raise NotPermittedError(msg("only the booker may cancel booking %(id)s", id=booking_id))
    if instance is not None and instance.status == "running" and bookings.governed_by_process(booking) \
            and booking.status == "booked":
        if booking.booked_by == user:
            operations.withdraw(sessions, instance.id, actor=user)
        else:
            operations.terminate(sessions, instance.id, actor=user, reason="room booking cancelled by an admin")
        return "withdrawn"
    with sessions() as session, session.begin():
        bookings.cancel(session, booking_id, user, admin=admin)
    return "cancelled"


def check_in_booking(sessions: sessionmaker[Session], booking_id: int, user: str, now: datetime | None = None) -> None:
    """The booker checks in: through the process's check-in task when a process governs the booking,
    else directly (`bookings.check_in`: 15 minutes before to 15 minutes after the start)."""
    with sessions() as session:
        booking = bookings.get_booking(session, booking_id)
        task_id = None
        if bookings.governed_by_process(booking):
            task_id = session.scalar(select(WorkTask.id).where(
                WorkTask.instance_id == booking.instance_id, WorkTask.element_id == "check_in",
                WorkTask.status == "open"))
    if task_id is None:
        with sessions() as session, session.begin():
            bookings.check_in(session, booking_id, user, now)
        return
    with sessions() as session:  # the same window as a booking without a process
        booking = bookings.get_booking(session, booking_id)
        now = now or utcnow()
        if not booking.starts_at - bookings.CHECK_IN_EARLY <= now <= booking.starts_at + bookings.CHECK_IN_GRACE:
            raise bookings.BookingError(msg("check-in is open from 15 minutes before to 15 minutes after the start"))
    runtime.complete_task(sessions, task_id, user, {"action": "check_in"})
