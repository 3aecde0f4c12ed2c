"""Meeting rooms (`/rooms/...`): the calendar (a day of every room, a week of one room), the booking page
(rooms filtered by seats and equipment, offering only their free slots), one's own bookings with cancel
and check-in, and iCalendar exports of a room's bookings and of one's own.

The rules are `engine.resources` (slots, who may book, conflicts) and `engine.work.room_requests` (the
booking process); a refusal is shown on the page in the reader's language, with what was typed kept.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from engine.config import load_settings
from engine.data.models import utcnow
from engine.errors import LiaisonError, NotPermittedError
from engine.people.org import display_names
from engine.resources import bookings, ics, rooms, views
from engine.resources.bookings import RoomConflictError
from engine.work import room_requests

from .auth import current_account
from .errors import translated
from .i18n import current_language

bp = Blueprint("rooms", __name__, url_prefix="/rooms")
LENGTHS = (30, 60, 90, 120, 180, 240)
EQUIPMENT = {"projector": lazy_gettext("Projector"), "video": lazy_gettext("Video conferencing"),
             "screen": lazy_gettext("Screen"), "whiteboard": lazy_gettext("Whiteboard"),
             "microphone": lazy_gettext("Microphone")}


def _sessions():
    return current_app.extensions["liaison_sessions"]


def _zone() -> ZoneInfo:
    return ZoneInfo(load_settings().timezone)


def _today() -> date:
    return datetime.now(_zone()).date()


def _day(value) -> date:
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        return _today()


def _int(value, default: int, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return min(max(number, low), high)


@bp.app_template_filter("equipment")
def equipment_label(key: str) -> str:
    """A piece of equipment in the page's language (unknown keys as they are)."""
    return str(EQUIPMENT.get(key, key))


@bp.app_template_filter("room_name")
def room_label(room) -> str:
    return rooms.room_name(room, current_language())


def _names(session, grid_cells) -> dict[str, str]:
    people = {cell.booking.booked_by for cell in grid_cells if cell is not None and cell.booking is not None}
    return display_names(session, people, current_language())


@bp.get("/")
def day_view():
    """Every active room's day, slot by slot."""
    day = _day(request.args.get("day"))
    with _sessions()() as db:
        found = rooms.list_rooms(db)
        grid = views.day_grid(db, found, day, _zone())
        names = _names(db, [cell for _at, cells in grid for cell in cells])
    return render_template("rooms/day.html", day=day, rooms=found, grid=grid, names=names,
                           prev=day - timedelta(days=1), next=day + timedelta(days=1), today=_today())


@bp.get("/week")
def week_view():
    """One room's week, Monday to Sunday."""
    day = _day(request.args.get("day"))
    with _sessions()() as db:
        found = rooms.list_rooms(db)
        if not found:
            return redirect(url_for("rooms.day_view"))
        key = request.args.get("room") or found[0].key
        room = next((r for r in found if r.key == key), None)
        if room is None:
            abort(404)
        grid = views.week_grid(db, room, day, _zone())
        names = _names(db, [cell for _at, cells in grid for cell in cells])
    return render_template("rooms/week.html", day=day, room=room, rooms=found, grid=grid, names=names,
                           days=views.week_days(day), prev=day - timedelta(weeks=1), next=day + timedelta(weeks=1))


def _book_page(form: dict, error: str | None = None, status: int = 200):
    day = _day(form.get("day"))
    wanted = rooms.RoomFilter(capacity=_int(form.get("capacity"), 0, 0, rooms.MAX_CAPACITY),
                              equipment=tuple(e for e in form.get("equipment", []) if e))
    user, zone = current_account().username, _zone()
    with _sessions()() as db:
        found = rooms.search_rooms(db, user, wanted)
        free = {room.key: bookings.free_slots(db, room, day, zone, now=utcnow()) for room in found}
        equipment = rooms.equipment_names(db)
    return render_template("rooms/book.html", day=day, wanted=wanted, found=found, free=free, equipment=equipment,
                           form=form, error=error, lengths=LENGTHS, today=_today()), status


def _filters() -> dict:
    source = request.values
    return {"day": source.get("day", ""), "capacity": source.get("capacity", ""),
            "equipment": source.getlist("equipment"), "slot": source.get("slot", ""),
            "length": source.get("length", "60"), "title": source.get("title", ""), "weeks": source.get("weeks", "1")}


@bp.get("/book")
def book_page():
    """The booking page: filters, then each fitting room with its free slots of the day."""
    return _book_page(_filters())


@bp.post("/book")
def book():
    """Book the chosen slot (and the following weeks): the booking process starts with it."""
    form = _filters()
    room_key, _sep, start_text = form["slot"].partition("|")
    day = _day(form["day"])
    try:
        starts = datetime.combine(day, datetime.strptime(start_text, "%H:%M").time())
    except ValueError:
        return _book_page(form, _("Choose a free time of a room."), 422)
    title = form["title"].strip()
    if not title:
        return _book_page(form, _("Give the meeting a title."), 422)
    length = timedelta(minutes=_int(form["length"], 60, 30, 720))
    asked = room_requests.BookingRequest(room_key, starts, starts + length, title[:200],
                                         _int(form["weeks"], 1, 1, bookings.MAX_WEEKS))
    try:
        _instance, made = room_requests.request_booking(_sessions(), current_account().username, asked,
                                                        zone=_zone(), lang=current_language())
    except RoomConflictError as exc:
        return _book_page(form, translated(exc), 409)
    except NotPermittedError as exc:
        return _book_page(form, translated(exc), 403)
    except LiaisonError as exc:
        return _book_page(form, translated(exc), 422)
    with _sessions()() as db:
        name = rooms.room_name(rooms.get_room(db, room_key), current_language())
    flash(_("%(room)s is booked for %(time)s (%(n)s times).", room=name, time=starts.strftime("%Y-%m-%d %H:%M"),
            n=len(made)), "ok")
    return redirect(url_for("rooms.mine"), 303)


@bp.get("/mine")
def mine():
    """One's own bookings from today on, with cancel and check-in."""
    since = datetime.combine(_today(), datetime.min.time(), _zone())
    with _sessions()() as db:
        rows = bookings.my_bookings(db, current_account().username, since)
    return render_template("rooms/mine.html", rows=rows, now=utcnow(), zone=_zone(),
                           early=bookings.CHECK_IN_EARLY, grace=bookings.CHECK_IN_GRACE)


@bp.post("/bookings/<int:booking_id>/cancel")
def cancel(booking_id: int):
    account = current_account()
    try:
        outcome = room_requests.cancel_booking(_sessions(), booking_id, account.username,
                                               admin=account.is_super_admin)
    except LiaisonError as exc:
        flash(translated(exc), "error")
    else:
        flash(_("The request is withdrawn and its bookings cancelled.") if outcome == "withdrawn"
              else _("The booking is cancelled."), "ok")
    return redirect(url_for("rooms.mine"), 303)


@bp.post("/bookings/<int:booking_id>/check-in")
def check_in(booking_id: int):
    try:
        room_requests.check_in_booking(_sessions(), booking_id, current_account().username)
    except LiaisonError as exc:
        flash(translated(exc), "error")
    else:
        flash(_("Checked in."), "ok")
    return redirect(url_for("rooms.mine"), 303)


def _ics(entries, name: str, filename: str) -> Response:
    body = ics.bookings_ics(entries, name, current_language(), request.host.split(":")[0] or "liaison")
    return Response(body, mimetype="text/calendar",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/mine.ics")
def mine_ics():
    """One's own active bookings of the last 30 days and to come."""
    since = utcnow() - timedelta(days=30)
    with _sessions()() as db:
        entries = [(b, r) for b, r in bookings.my_bookings(db, current_account().username, since)
                   if b.status in ("booked", "checked_in")]
    return _ics(entries, _("My room bookings"), "my-bookings.ics")


@bp.get("/<key>.ics")
def room_ics(key: str):
    """A room's active bookings of the last 30 days and the next 180."""
    now = utcnow()
    with _sessions()() as db:
        room = rooms.get_room(db, key)
        entries = [(b, room) for b in bookings.room_bookings(db, room, now - timedelta(days=30), now + timedelta(days=180))]
    return _ics(entries, rooms.room_name(room, current_language()), f"room-{room.key}.ics")
