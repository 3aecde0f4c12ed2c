"""Bookings follow the process that made them: after a step of an instance that holds active room
bookings, `engine.resources.bookings.sync_with_instances` sets them to what the process says
(`booking_status` in its data: checked_in, released, cancelled) or cancels them when it was withdrawn.

Runs after the step committed, in a transaction of its own. A start or a completion of a version whose
BPMN never names `booking_status` costs nothing (the answer is cached per version checksum); other steps
(timers, messages, withdrawals) cost one indexed read for an instance without bookings (`_HAS_ACTIVE`:
0.1-0.25 ms on SQLite, 0.3-0.45 ms on PostgreSQL with the connection checkout; `bench/rooms_bench.py`). A failure here never fails the committed step: the dispatcher's minute sweep (`sweep`)
brings every booking in step again.
"""

from __future__ import annotations

import logging

from sqlalchemy import bindparam, select

from engine.caching import BoundedCache
from engine.data.models import ProcessVersion
from engine.data.room_models import ACTIVE_STATUSES, RoomBooking
from engine.resources import bookings
from engine.runtime.step import db_engine

log = logging.getLogger(__name__)
_HAS_ACTIVE = (select(RoomBooking.id).where(RoomBooking.instance_id == bindparam("b_instance"),
                                            RoomBooking.status.in_(ACTIVE_STATUSES)).limit(1))


BOOKING_VERSIONS: BoundedCache[bool] = BoundedCache(256)  # version checksum -> its BPMN names booking_status
_BPMN = select(ProcessVersion.bpmn).where(ProcessVersion.id == bindparam("b_version"))


def _may_book(sessions, version: tuple[int, str]) -> bool:
    def compute() -> bool:
        with db_engine(sessions).connect() as conn:
            files = conn.execute(_BPMN, {"b_version": version[0]}).scalar() or {}
        return any(bookings.STATUS_KEY in str(xml) for xml in files.values())

    return BOOKING_VERSIONS.get(version[1], compute)


def after_step(sessions, instance_id: int | None, version: tuple[int, str] | None = None) -> None:
    """Bring the bookings of `instance_id` in step with it (never raises). `version`: the step's
    (version id, checksum), when the caller knows it."""
    if instance_id is None:
        return
    try:
        if version is not None and not _may_book(sessions, version):
            return
        with db_engine(sessions).connect() as conn:  # most instances book nothing: one indexed read
            if conn.execution_options(isolation_level="AUTOCOMMIT").execute(_HAS_ACTIVE, {"b_instance": instance_id}).first() is None:
                return
        with sessions() as session, session.begin():
            bookings.sync_with_instances(session, [instance_id])
    except Exception:  # noqa: BLE001 - the step is committed; the sweep retries
        log.exception("room bookings of instance %s: not in step now; the sweep retries", instance_id)


def sweep(sessions, now=None) -> int:
    """Every booking in step with its instance, and bookings made outside a process released when nobody
    checked in within 15 minutes of their start; returns how many changed."""
    with sessions() as session, session.begin():
        return bookings.sync_with_instances(session) + bookings.release_no_shows(session, now)
