"""Tables of bookable rooms (会议室) and their bookings: rooms are resources any process may book.

A booking's time is a half-open UTC interval [starts_at, ends_at). Two active bookings (status `booked`
or `checked_in`) of one room never overlap: on PostgreSQL an exclusion constraint says so (migration
0024, `room_booking_no_overlap`, btree_gist over `tstzrange`); on SQLite `engine.resources.rooms.book`
checks under the database's write lock, in the transaction that inserts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.data.models import Base, utcnow

ACTIVE_STATUSES = ("booked", "checked_in")
STATUSES = (*ACTIVE_STATUSES, "released", "cancelled")


class Room(Base):
    """A bookable room. `key` is what forms, process data and imports name it by.

    Who may book: `bookers` {"departments": [codes], "roles": [keys]}; both empty, everyone. A room with
    `needs_approval` is approved by the members of `approver_role` or by `approver` (a username)."""

    __tablename__ = "room"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    equipment: Mapped[list] = mapped_column(JSON, default=list)  # ["projector", "video", ...]
    location: Mapped[str | None] = mapped_column(String(300))
    bookers: Mapped[dict] = mapped_column(JSON, default=dict)
    needs_approval: Mapped[bool] = mapped_column(default=False)
    approver_role: Mapped[str | None] = mapped_column(String(100))
    approver: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RoomBooking(Base):
    """One occurrence of a room's use; a weekly series shares `series_id` (the first occurrence's id)."""

    __tablename__ = "room_booking"
    __table_args__ = (Index("ix_room_booking_room_time", "room_id", "starts_at"),
                      Index("ix_room_booking_booker", "booked_by", "starts_at"),
                      Index("ix_room_booking_instance", "instance_id"),
                      CheckConstraint("ends_at > starts_at", name="ck_room_booking_interval"))

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("room.id"))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    title: Mapped[str] = mapped_column(String(200), default="")
    booked_by: Mapped[str] = mapped_column(String(100))
    instance_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="booked")
    series_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
