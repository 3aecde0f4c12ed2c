"""Rooms fixtures: a small org chart and three rooms; helpers for company-time datetimes and booking."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from engine.data.models import Department, Person, PersonRole, Role
from engine.resources import bookings, rooms

ZONE = ZoneInfo("Asia/Shanghai")
DAY = date(2030, 3, 4)  # a Monday, far enough ahead that "now" is before it
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=ZONE)


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


@pytest.fixture
def org(sessions):
    """Two departments (rd under hq), people li (rd), hu (hq, role hr), and three rooms."""
    with sessions() as session, session.begin():
        hq = Department(code="hq", name="总部", path="")
        session.add(hq)
        session.flush()
        hq.path = f"/{hq.id}/"
        rd = Department(code="rd", name="研发", parent_id=hq.id, path="")
        session.add(rd)
        session.flush()
        rd.path = f"{hq.path}{rd.id}/"
        li, hu = Person(username="li", name="李", department_id=rd.id), Person(username="hu", name="胡", department_id=hq.id)
        role = Role(key="hr", name="人事")
        session.add_all([li, hu, role])
        session.flush()
        session.add(PersonRole(person_id=hu.id, role_id=role.id))
        rooms.import_rooms(session, [
            {"key": "small", "name": "小会议室", "name_en": "Small room", "capacity": 4, "equipment": ["screen"]},
            {"key": "board", "name": "董事会议室", "name_en": "Board room", "capacity": 20,
             "equipment": "projector, video", "needs_approval": True, "approver": "hu"},
            {"key": "lab", "name": "研发讨论室", "capacity": 8, "equipment": ["projector"],
             "bookers": {"departments": ["rd"], "roles": []}},
        ])
    return sessions


def book(sessions, room="small", start=None, end=None, user="li", **kw):
    return bookings.book(sessions, room, start or at(9), end or at(10), user, zone=ZONE, now=NOW, **kw)


