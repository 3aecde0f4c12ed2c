"""Bookings of rooms: free slots of a day, book (once or weekly), cancel, check in, release.

Times given to and returned by these functions are timezone-aware; days and slots are in the company's
zone (`zone`). A booking is the half-open interval [start, end): 9:00-10:00 and 10:00-11:00 do not clash.

Conflicts are refused twice: `free_slots` offers only free time, and `book` checks again under a lock
on the room's row (PostgreSQL `SELECT ... FOR UPDATE`; SQLite: a write to the row takes the database's
write lock, so no other booking can commit between the check and the insert). On PostgreSQL the
exclusion constraint `room_booking_no_overlap` is the last word: should two writers ever pass the
check, the second insert fails and is reported as the same conflict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from engine.data.models import InstanceData, ProcessInstance, utcnow
from engine.data.room_models import ACTIVE_STATUSES, Room, RoomBooking
from engine.errors import LiaisonError, NotFoundError, NotPermittedError, msg
from engine.resources.rooms import get_room, may_book, room_name

DAY_OPENS, DAY_CLOSES = time(8, 0), time(20, 0)  # the bookable part of a day, company time
SLOT = timedelta(minutes=30)
CHECK_IN_EARLY, CHECK_IN_GRACE = timedelta(minutes=15), timedelta(minutes=15)
MAX_LENGTH, MAX_WEEKS = timedelta(hours=12), 26
STATUS_KEY = "booking_status"  # process data a booking process sets: checked_in, released or cancelled


class RoomConflictError(LiaisonError):
    """The room is taken at some of the asked times; `conflicts` holds (asked start, asked end, taken
    start, taken end) of each clash, company time. Nothing was booked."""

    def __init__(self, message, conflicts: list[tuple[datetime, datetime, datetime, datetime]]):
        super().__init__(message)
        self.conflicts = conflicts


class BookingError(LiaisonError):
    """The asked booking is not acceptable (times, length, weeks, status); nothing was booked."""


@dataclass(frozen=True)
class Slot:
    """A slot of a day, company time; `booking` is the active booking that covers it, if any."""

    starts: datetime
    ends: datetime
    booking: RoomBooking | None = None

    @property
    def free(self) -> bool:
        return self.booking is None


def _span(start: datetime, end: datetime) -> str:
    return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}"


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The bookable part of `day`: opening to closing time in the company's zone."""
    return datetime.combine(day, DAY_OPENS, zone), datetime.combine(day, DAY_CLOSES, zone)


def active_bookings(session: Session, room_ids, start: datetime, end: datetime) -> list[RoomBooking]:
    """Active bookings of these rooms overlapping [start, end), by start; one query."""
    query = (select(RoomBooking).where(RoomBooking.room_id.in_(list(room_ids)), RoomBooking.status.in_(ACTIVE_STATUSES),
                                       RoomBooking.starts_at < end, RoomBooking.ends_at > start)
             .order_by(RoomBooking.starts_at))
    return list(session.scalars(query))


def day_slots(session: Session, rooms: list[Room], day: date, zone: ZoneInfo) -> dict[int, list[Slot]]:
    """Each room's slots of `day` (by room id), each with the booking that covers it; one query."""
    opens, closes = day_bounds(day, zone)
    taken = active_bookings(session, [room.id for room in rooms], opens, closes)
    grid = {}
    for room in rooms:
        mine, slots, at = [b for b in taken if b.room_id == room.id], [], opens
        while at < closes:
            covering = next((b for b in mine if b.starts_at < at + SLOT and b.ends_at > at), None)
            slots.append(Slot(at, at + SLOT, covering))
            at += SLOT
        grid[room.id] = slots
    return grid


def free_slots(session: Session, room: Room, day: date, zone: ZoneInfo, now: datetime | None = None) -> list[Slot]:
    """The free slots of `room` on `day` that have not begun yet (what a booking form offers)."""
    now = now or utcnow()
    return [slot for slot in day_slots(session, [room], day, zone)[room.id] if slot.free and slot.starts >= now]


def _occurrences(starts: datetime, ends: datetime, weeks: int, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    local_start, local_end = starts.astimezone(zone).replace(tzinfo=None), ends.astimezone(zone).replace(tzinfo=None)
    return [((local_start + timedelta(weeks=i)).replace(tzinfo=zone), (local_end + timedelta(weeks=i)).replace(tzinfo=zone))
            for i in range(weeks)]


def _check_request(starts: datetime, ends: datetime, weeks: int, now: datetime) -> None:
    if starts.tzinfo is None or ends.tzinfo is None:
        raise BookingError(msg("booking times need a time zone"))
    if ends <= starts:
        raise BookingError(msg("a booking must end after it starts"))
    if ends - starts > MAX_LENGTH:
        raise BookingError(msg("a booking may last at most %(hours)s hours", hours=12))
    if starts < now:
        raise BookingError(msg("%(time)s has passed: book a time to come", time=f"{starts:%Y-%m-%d %H:%M}"))
    if not 1 <= weeks <= MAX_WEEKS:
        raise BookingError(msg("a weekly booking repeats for 1 to %(max)s weeks", max=MAX_WEEKS))


def _lock_room(session: Session, room: Room) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Room.id).where(Room.id == room.id).with_for_update())
    else:  # a write takes SQLite's one write lock until this transaction ends
        session.execute(update(Room).where(Room.id == room.id).values(active=Room.active))


def _conflict(name: str, clashes: list[tuple], zone: ZoneInfo) -> RoomConflictError:
    local = [tuple(t.astimezone(zone) for t in clash) for clash in clashes]
    times = "; ".join(_span(c[2], c[3]) for c in local)
    return RoomConflictError(msg("%(room)s is already booked at %(times)s: nothing was booked",
                                 room=name, times=times), local)


def _clashes(session: Session, room_id: int, wanted: list[tuple[datetime, datetime]]) -> list[tuple]:
    taken = active_bookings(session, [room_id], wanted[0][0], wanted[-1][1])
    return [(s, e, b.starts_at, b.ends_at) for s, e in wanted for b in taken if b.starts_at < e and b.ends_at > s]


def book(sessions: sessionmaker[Session], room_key: str, starts: datetime, ends: datetime, user: str, *,
         title: str = "", weeks: int = 1, zone: ZoneInfo, lang: str = "zh", now: datetime | None = None,
         instance_id: int | None = None) -> list[RoomBooking]:
    """Book `room_key` for [starts, ends), and the same time each following week for `weeks` weeks in all.

    All or nothing, in one transaction: every occurrence is checked; if any clashes, RoomConflictError
    lists each clash (the room's name in `lang`, the taken times) and nothing is saved. The occurrences
    share `series_id` (the first one's id). NotPermittedError when `user` may not book the room."""
    now = now or utcnow()
    _check_request(starts, ends, weeks, now)
    wanted = _occurrences(starts, ends, weeks, zone)
    try:
        with sessions() as session, session.begin():
            room = get_room(session, room_key)
            name, room_id = room_name(room, lang), room.id
            if not may_book(session, room, user):
                raise NotPermittedError(msg("you may not book %(room)s", room=name))
            _lock_room(session, room)
            clashes = _clashes(session, room_id, wanted)
            if clashes:
                raise _conflict(name, clashes, zone)
            made = [RoomBooking(room_id=room_id, starts_at=s, ends_at=e, title=(title or "")[:200], booked_by=user,
                                instance_id=instance_id, status="booked") for s, e in wanted]
            session.add_all(made)
            session.flush()
            for booking in made:
                booking.series_id = made[0].id if weeks > 1 else None
    except IntegrityError as exc:  # PostgreSQL's exclusion constraint: a writer got past the lock
        with sessions() as session:
            raise _conflict(name, _clashes(session, room_id, wanted), zone) from exc
    return made


def get_booking(session: Session, booking_id: int) -> RoomBooking:
    """The booking `booking_id`; NotFoundError otherwise."""
    booking = session.get(RoomBooking, booking_id)
    if booking is None:
        raise NotFoundError(msg("no booking %(id)s", id=booking_id))
    return booking


_STATUS_WORDS = {"booked": msg("booked"), "checked_in": msg("checked in"), "released": msg("released"),
                 "cancelled": msg("cancelled")}


def _already(booking: RoomBooking) -> BookingError:
    return BookingError(msg("booking %(id)s is already %(status)s", id=booking.id,
                            status=_STATUS_WORDS.get(booking.status, booking.status)))


def _set_status(session: Session, booking: RoomBooking, status: str) -> None:
    if booking.status not in ACTIVE_STATUSES:
        raise _already(booking)
    booking.status = status


def cancel(session: Session, booking_id: int, user: str, *, whole_series: bool = False,
           admin: bool = False) -> list[RoomBooking]:
    """Cancel a booking (and, with `whole_series`, its series' occurrences not yet begun) as its booker or
    an admin; the room is free at once. The caller commits."""
    booking = get_booking(session, booking_id)
    if booking.booked_by != user and not admin:
        raise NotPermittedError(msg("only the booker may cancel booking %(id)s", id=booking_id))
    _set_status(session, booking, "cancelled")
    cancelled = [booking]
    if whole_series and booking.series_id:
        rest = session.scalars(select(RoomBooking).where(
            RoomBooking.series_id == booking.series_id, RoomBooking.id != booking.id,
            RoomBooking.status == "booked", RoomBooking.starts_at >= utcnow()))
        for other in rest:
            other.status = "cancelled"
            cancelled.append(other)
    return cancelled


def check_in(session: Session, booking_id: int, user: str, now: datetime | None = None) -> RoomBooking:
    """The booker is in the room: from 15 minutes before the start to 15 minutes after it."""
    now = now or utcnow()
    booking = get_booking(session, booking_id)
    if booking.booked_by != user:
        raise NotPermittedError(msg("only the booker may check in to booking %(id)s", id=booking_id))
    if not booking.starts_at - CHECK_IN_EARLY <= now <= booking.starts_at + CHECK_IN_GRACE:
        raise BookingError(msg("check-in is open from 15 minutes before to 15 minutes after the start"))
    if booking.status != "booked":
        raise _already(booking)
    booking.status = "checked_in"
    return booking


def release(session: Session, booking_id: int) -> RoomBooking:
    """Nobody checked in: the room is free again (the booking stays, `released`)."""
    booking = get_booking(session, booking_id)
    if booking.status != "booked":
        raise _already(booking)
    booking.status = "released"
    return booking


def governed_by_process(booking: RoomBooking) -> bool:
    """Whether a process checks this booking in or releases it: the first (or only) occurrence of a
    booking made by an instance. Later occurrences of a series are checked in on the bookings page."""
    return booking.instance_id is not None and booking.series_id in (None, booking.id)


def release_no_shows(session: Session, now: datetime | None = None) -> int:
    """Release every booking nobody checked in to within 15 minutes of its start, except those a process
    releases with its own timer (`governed_by_process`); returns how many."""
    now = now or utcnow()
    due = session.scalars(select(RoomBooking).where(RoomBooking.status == "booked",
                                                    RoomBooking.starts_at < now - CHECK_IN_GRACE))
    released = [b for b in due if not governed_by_process(b)]
    for booking in released:
        booking.status = "released"
    return len(released)


_PROCESS_STATUS = {"checked_in", "released", "cancelled"}


def sync_with_instances(session: Session, instance_ids: list[int] | None = None) -> int:
    """Bring active bookings made by process instances in step with them. A process sets `booking_status`
    in its data: `cancelled` (declined, cancelled by the booker) cancels all of the instance's bookings;
    `checked_in` / `released` apply to the booking it governs (`governed_by_process`). An instance that
    ended otherwise (withdrawn, terminated) cancels its bookings. One query when nothing changes;
    returns how many changed."""
    query = (select(RoomBooking, ProcessInstance.status, InstanceData.value)
             .join(ProcessInstance, ProcessInstance.id == RoomBooking.instance_id)
             .outerjoin(InstanceData, (InstanceData.instance_id == RoomBooking.instance_id)
                        & (InstanceData.key == STATUS_KEY))
             .where(RoomBooking.status.in_(ACTIVE_STATUSES)))
    if instance_ids is not None:
        query = query.where(RoomBooking.instance_id.in_(instance_ids))
    changed = 0
    for booking, instance_status, value in session.execute(query):
        wanted = json.loads(value) if value else None
        if wanted in ("checked_in", "released") and not governed_by_process(booking):
            wanted = None
        if wanted is None and instance_status == "cancelled":
            wanted = "cancelled"
        if wanted in _PROCESS_STATUS and wanted != booking.status:
            booking.status = wanted
            changed += 1
    return changed


def my_bookings(session: Session, user: str, since: datetime) -> list[tuple[RoomBooking, Room]]:
    """`user`'s bookings ending after `since`, by start, with their rooms."""
    query = (select(RoomBooking, Room).join(Room, Room.id == RoomBooking.room_id)
             .where(RoomBooking.booked_by == user, RoomBooking.ends_at > since).order_by(RoomBooking.starts_at))
    return [tuple(row) for row in session.execute(query)]


def room_bookings(session: Session, room: Room, since: datetime, until: datetime) -> list[RoomBooking]:
    """A room's active bookings overlapping [since, until), by start."""
    return active_bookings(session, [room.id], since, until)
