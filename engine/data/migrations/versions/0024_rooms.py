"""Rooms and room bookings; on PostgreSQL an exclusion constraint keeps active bookings of a room apart

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03

Meeting-room booking (`engine.data.room_models`, `engine.resources.rooms`). The constraint is the last
word on conflicts: two transactions that both saw a slot free cannot both commit it. SQLite has no
exclusion constraints; there the booking function checks under the write lock (see docs/rooms.md).
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "room",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("equipment", sa.JSON(), nullable=False),
        sa.Column("location", sa.String(length=300), nullable=True),
        sa.Column("bookers", sa.JSON(), nullable=False),
        sa.Column("needs_approval", sa.Boolean(), nullable=False),
        sa.Column("approver_role", sa.String(length=100), nullable=True),
        sa.Column("approver", sa.String(length=100), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_table(
        "room_booking",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("booked_by", sa.String(length=100), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["room_id"], ["room.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.CheckConstraint("ends_at > starts_at", name="ck_room_booking_interval"),
    )
    op.create_index("ix_room_booking_room_time", "room_booking", ["room_id", "starts_at"], unique=False)
    op.create_index("ix_room_booking_booker", "room_booking", ["booked_by", "starts_at"], unique=False)
    op.create_index("ix_room_booking_instance", "room_booking", ["instance_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute("""
            ALTER TABLE room_booking ADD CONSTRAINT room_booking_no_overlap
            EXCLUDE USING gist (room_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
            WHERE (status IN ('booked', 'checked_in'))""")


def downgrade() -> None:
    op.drop_index("ix_room_booking_instance", table_name="room_booking")
    op.drop_index("ix_room_booking_booker", table_name="room_booking")
    op.drop_index("ix_room_booking_room_time", table_name="room_booking")
    op.drop_table("room_booking")
    op.drop_table("room")
