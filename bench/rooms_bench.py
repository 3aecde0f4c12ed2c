"""Room booking costs on SQLite and PostgreSQL (127.0.0.1, a scratch database created and dropped):

- `book one`: `bookings.book` of one 30-minute slot (lock the room's row, look for clashes, insert, commit);
- `book 26 weeks`: a weekly series of 26 occurrences, all checked in one transaction;
- `free_slots`: a day's free slots of one room with 20 bookings that day;
- `sync per step`: `runtime.room_sync.after_step` for an instance without bookings (what every engine
  step now pays).

    .venv/bin/python bench/rooms_bench.py [--n 300]

The last line printed is JSON (milliseconds, means over n calls).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402

from engine.data import db  # noqa: E402
from engine.data.models import Person  # noqa: E402
from engine.resources import bookings, rooms  # noqa: E402
from engine.runtime import room_sync  # noqa: E402

ZONE = ZoneInfo("Asia/Shanghai")
PG = "postgresql+psycopg://postgres@127.0.0.1:5432"


def _mean_ms(fn, n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        fn(i)
    return round((time.perf_counter() - started) / n * 1e3, 3)


def measure(url: str, n: int) -> dict:
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        session.add(Person(username="u", name="U"))
        rooms.save_room(session, {"key": "r", "name": "R", "capacity": 5})
    first = datetime(2031, 1, 6, 8, 0, tzinfo=ZONE)

    def one(i):
        start = first + timedelta(days=i // 20, minutes=30 * (i % 20))
        bookings.book(sessions, "r", start, start + timedelta(minutes=30), "u", zone=ZONE)

    def weekly(i):
        start = datetime(2040, 1, 2, 8, 0, tzinfo=ZONE) + timedelta(days=200 * (i // 20), minutes=30 * (i % 20))
        bookings.book(sessions, "r", start, start + timedelta(minutes=30), "u", zone=ZONE, weeks=26)

    result = {"book one": _mean_ms(one, n), "book 26 weeks": _mean_ms(weekly, max(n // 6, 10))}
    with sessions() as session:
        room = rooms.get_room(session, "r")
        result["free_slots"] = _mean_ms(lambda i: bookings.free_slots(session, room, (first + timedelta(days=i % 10)).date(), ZONE), n)
    result["sync per step"] = _mean_ms(lambda i: room_sync.after_step(sessions, 10_000 + i), n * 5)
    engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    n = parser.parse_args().n
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        results["sqlite"] = measure(f"sqlite:///{folder}/bench.db", n)
    admin = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS liaison_rooms_bench"))
        conn.execute(text("CREATE DATABASE liaison_rooms_bench"))
    try:
        results["postgresql"] = measure(f"{PG}/liaison_rooms_bench", n)
    finally:
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS liaison_rooms_bench"))
    for name, numbers in results.items():
        print(name, "  ".join(f"{k}: {v} ms" for k, v in numbers.items()))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
