"""Concurrent bookings of overlapping times record exactly a non-overlapping set: on PostgreSQL with the
row lock and, with the lock taken away, by the exclusion constraint alone; on SQLite under its write lock."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from engine.data import db
from engine.data.models import Person
from engine.data.room_models import RoomBooking
from engine.resources import bookings, rooms
from engine.resources.bookings import RoomConflictError

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=ZONE)
NINE = datetime(2030, 3, 4, 9, 0, tzinfo=ZONE)
THREADS = 20


@pytest.fixture
def pg_sessions(postgres_url):
    engine = db.make_engine(postgres_url, pool_size=THREADS, max_overflow=0)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        session.add_all(Person(username=f"p{i}", name=f"P{i}") for i in range(THREADS))
        rooms.save_room(session, {"key": "small", "name": "小会议室", "capacity": 4})
    yield sessions
    engine.dispose()


def _race(sessions) -> tuple[list[int], list[int]]:
    """Thread i books 9:00 + 15 min * i for one hour, all at once; returns the winners and the refused."""
    barrier, won, refused = threading.Barrier(THREADS), [], []

    def attempt(i: int) -> None:
        start = NINE + timedelta(minutes=15 * i)
        barrier.wait()
        try:
            bookings.book(sessions, "small", start, start + timedelta(hours=1), f"p{i}", zone=ZONE, now=NOW)
            won.append(i)
        except RoomConflictError:
            refused.append(i)
        except OperationalError:  # without the row lock, PostgreSQL may pick a deadlock victim
            refused.append(-i - 1)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(won), sorted(refused)


def _recorded(sessions):
    with sessions() as session:
        return session.execute(select(RoomBooking.starts_at, RoomBooking.ends_at, RoomBooking.booked_by)
                               .order_by(RoomBooking.starts_at)).all()


def _assert_exactly_non_overlapping(sessions, won, refused) -> None:
    assert len(won) + len(refused) == THREADS and min(refused) >= 0  # each refused as a conflict
    rows = _recorded(sessions)
    assert sorted(int(r.booked_by[1:]) for r in rows) == won
    assert all(a.ends_at <= b.starts_at for a, b in zip(rows, rows[1:], strict=False))  # no overlap
    for i in refused:  # every refusal clashes with a recorded booking: the set is maximal
        start = NINE + timedelta(minutes=15 * i)
        assert any(r.starts_at < start + timedelta(hours=1) and r.ends_at > start for r in rows)


def test_twenty_concurrent_overlapping_bookings_record_a_non_overlapping_set(pg_sessions):
    won, refused = _race(pg_sessions)
    _assert_exactly_non_overlapping(pg_sessions, won, refused)


def test_sqlite_concurrent_overlapping_bookings_record_a_non_overlapping_set(tmp_path, sqlite_template):
    import shutil
    shutil.copy(sqlite_template, tmp_path / "rooms.db")
    engine = db.make_engine(f"sqlite:///{tmp_path / 'rooms.db'}")
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        session.add_all(Person(username=f"p{i}", name=f"P{i}") for i in range(THREADS))
        rooms.save_room(session, {"key": "small", "name": "小会议室", "capacity": 4})
    won, refused = _race(sessions)
    _assert_exactly_non_overlapping(sessions, won, refused)
    engine.dispose()


def test_without_the_row_lock_the_exclusion_constraint_still_refuses(pg_sessions, monkeypatch):
    monkeypatch.setattr(bookings, "_lock_room", lambda session, room: None)
    won, refused = _race(pg_sessions)
    rows = _recorded(pg_sessions)
    assert won and len(won) + len(refused) == THREADS and sorted(int(r.booked_by[1:]) for r in rows) == won
    assert all(a.ends_at <= b.starts_at for a, b in zip(rows, rows[1:], strict=False))  # no overlap
    with pg_sessions() as session, session.begin(), pytest.raises(IntegrityError, match="room_booking_no_overlap"):
        room = rooms.get_room(session, "small")
        session.execute(insert(RoomBooking).values(room_id=room.id, starts_at=NINE, ends_at=NINE + timedelta(hours=8),
                                                   title="", booked_by="p0", status="booked"))
