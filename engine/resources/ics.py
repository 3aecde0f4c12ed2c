"""Bookings as iCalendar (RFC 5545) files, written by the `icalendar` library: a room's bookings or a
person's, for Outlook, Apple Calendar, DingTalk and the like to subscribe to or import."""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar, Event

from engine.data.models import utcnow
from engine.data.room_models import Room, RoomBooking
from engine.resources.rooms import room_name

PRODUCT = "-//Liaison//Room bookings//ZH"
_ICS_STATUS = {"booked": "CONFIRMED", "checked_in": "CONFIRMED", "released": "CANCELLED", "cancelled": "CANCELLED"}


def bookings_ics(entries: list[tuple[RoomBooking, Room]], calendar_name: str, lang: str = "zh",
                 domain: str = "liaison", now: datetime | None = None) -> bytes:
    """One VEVENT per (booking, room): its room as the location, its title as the summary, UTC times,
    a stable UID (`room-booking-ID@domain`) so a calendar updates the event instead of adding another."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", calendar_name)
    stamp = now or utcnow()
    for booking, room in entries:
        event = Event()
        event.add("uid", f"room-booking-{booking.id}@{domain}")
        event.add("dtstamp", stamp)
        event.add("dtstart", booking.starts_at)
        event.add("dtend", booking.ends_at)
        event.add("summary", booking.title or room_name(room, lang))
        event.add("location", " ".join(filter(None, [room_name(room, lang), room.location])))
        event.add("status", _ICS_STATUS.get(booking.status, "CONFIRMED"))
        calendar.add_component(event)
    return calendar.to_ical()
