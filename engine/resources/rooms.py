"""Rooms: save, import, list and search them; who may book one.

A room's `bookers` are {"departments": [codes], "roles": [keys]}: a person may book when they are in one
of the departments (or below it) or hold one of the roles; both lists empty, everyone may book.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.data.models import Department, Person
from engine.data.room_models import Room
from engine.errors import LiaisonError, NotFoundError, msg
from engine.people import org

KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
MAX_CAPACITY = 2000


class RoomDataError(LiaisonError):
    """A room's data is not acceptable (the message names the field)."""


@dataclass(frozen=True)
class RoomFilter:
    """What a booker asks for: at least `capacity` seats and every piece of `equipment`."""

    capacity: int = 0
    equipment: tuple[str, ...] = ()


def room_name(room: Room, lang: str) -> str:
    """The room's name in `lang` (English falls back to the Chinese name)."""
    return (room.name_en or room.name) if lang == "en" else room.name


def get_room(session: Session, key: str) -> Room:
    """The room with `key`; NotFoundError naming it otherwise."""
    room = session.scalar(select(Room).where(Room.key == key))
    if room is None:
        raise NotFoundError(msg("no room %(room)s", room=key))
    return room


def list_rooms(session: Session, include_inactive: bool = False) -> list[Room]:
    """Every room, by key; inactive ones only when asked."""
    query = select(Room).order_by(Room.key)
    if not include_inactive:
        query = query.where(Room.active)
    return list(session.scalars(query))


def _text(data: dict, name: str, required: bool = False, size: int = 200) -> str | None:
    value = data.get(name)
    value = str(value).strip() if value is not None else ""
    if required and not value:
        raise RoomDataError(msg("room field %(field)s is required", field=name))
    if len(value) > size:
        raise RoomDataError(msg("room field %(field)s is longer than %(size)s characters", field=name, size=size))
    return value or None


def _names(value) -> list[str]:
    if value is None or value == "":
        return []
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise RoomDataError(msg("room lists must be lists or comma-separated text"))
    return sorted({str(item).strip() for item in items if str(item).strip()})


def _capacity(value) -> int:
    try:
        capacity = int(value)
    except (TypeError, ValueError):
        raise RoomDataError(msg("room capacity must be a whole number")) from None
    if not 1 <= capacity <= MAX_CAPACITY:
        raise RoomDataError(msg("room capacity must be between 1 and %(max)s", max=MAX_CAPACITY))
    return capacity


def cleaned_room(session: Session, data: dict) -> dict:
    """`data` (a form, a YAML entry) checked: the room's column values, or RoomDataError naming the field."""
    key = _text(data, "key", required=True, size=100)
    if not set(key) <= KEY_CHARS:
        raise RoomDataError(msg("room key %(key)s may hold only a-z, 0-9, - and _", key=key))
    bookers = data.get("bookers") or {}
    departments, roles = _names(bookers.get("departments")), _names(bookers.get("roles"))
    unknown = set(departments) - set(session.scalars(select(Department.code).where(Department.code.in_(departments))))
    if unknown:
        raise RoomDataError(msg("room %(key)s: no department %(codes)s", key=key, codes=", ".join(sorted(unknown))))
    approver, role = _text(data, "approver", size=100), _text(data, "approver_role", size=100)
    needs_approval = str(data.get("needs_approval", "")).strip().lower() in ("1", "true", "yes", "on", "y")
    if needs_approval and not (approver or role):
        raise RoomDataError(msg("room %(key)s needs approval: name an approver or an approver role", key=key))
    if approver and session.scalar(select(Person.id).where(Person.username == approver, Person.active)) is None:
        raise RoomDataError(msg("room %(key)s: no active person %(person)s", key=key, person=approver))
    return {"key": key, "name": _text(data, "name", required=True), "name_en": _text(data, "name_en"),
            "capacity": _capacity(data.get("capacity")), "equipment": _names(data.get("equipment")),
            "location": _text(data, "location", size=300),
            "bookers": {"departments": departments, "roles": roles}, "needs_approval": needs_approval,
            "approver": approver if needs_approval else None, "approver_role": role if needs_approval else None,
            "active": data.get("active", True) not in (False, "false", "0", "no")}


def save_room(session: Session, data: dict) -> Room:
    """Create or update the room `data["key"]` (checked by `cleaned_room`); the caller commits."""
    values = cleaned_room(session, data)
    room = session.scalar(select(Room).where(Room.key == values["key"]))
    if room is None:
        room = Room(**values)
        session.add(room)
    else:
        for name, value in values.items():
            setattr(room, name, value)
    session.flush()
    return room


def load_rooms_file(path: str | Path) -> list[dict]:
    """The room entries of a YAML file: a list of mappings, or {"rooms": [...]}."""
    try:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RoomDataError(msg("cannot read rooms file %(path)s: %(error)s", path=str(path), error=str(exc))) from exc
    entries = loaded.get("rooms") if isinstance(loaded, dict) else loaded
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise RoomDataError(msg("rooms file %(path)s must hold a list of rooms", path=str(path)))
    return entries


def import_rooms(session: Session, entries: list[dict]) -> list[Room]:
    """Save every entry (all or nothing: the caller's transaction); rooms not named stay as they are."""
    return [save_room(session, entry) for entry in entries]


def may_book(session: Session, room: Room, username: str) -> bool:
    """May `username` book `room`: an active person in one of its departments (subtrees) or roles."""
    bookers = room.bookers or {}
    departments, roles = bookers.get("departments") or [], bookers.get("roles") or []
    person = session.scalar(select(Person).where(Person.username == username, Person.active))
    if person is None or not room.active:
        return False
    if not departments and not roles:
        return True
    if roles and set(org.groups_of(session, username)) & set(roles):
        return True
    if not departments or person.department_id is None:
        return False
    paths = session.scalars(select(Department.path).where(Department.code.in_(departments)))
    return session.scalar(select(Department.id).where(Department.id == person.department_id,
                                                      org.within_any(Department.path, paths))) is not None


def search_rooms(session: Session, username: str, wanted: RoomFilter = RoomFilter()) -> list[Room]:
    """The active rooms `username` may book with at least `wanted.capacity` seats and all of its equipment,
    smallest first (the best fit for the group)."""
    query = select(Room).where(Room.active, Room.capacity >= max(wanted.capacity, 0))
    found = [room for room in session.scalars(query.order_by(Room.capacity, Room.key))
             if set(wanted.equipment) <= set(room.equipment or [])]
    return [room for room in found if may_book(session, room, username)]


def equipment_names(session: Session) -> list[str]:
    """Every piece of equipment some active room has, sorted (the search form's choices)."""
    return sorted({item for room in list_rooms(session) for item in (room.equipment or [])})
