"""cc_record: an instance copied (抄送) to a person, once per person, with read status

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30

Issue 6 (operations). `engine.operations.cc` inserts one row per person (the unique pair
`(instance_id, username)` makes "once per instance" hold under concurrency); opening the instance
page sets `read_at`. The `(username, read_at, created_at)` index serves "CC'd to me" in the inbox
and the viewing check.
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cc_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("cc_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("instance_id", "username", name="uq_cc_record"),
    )
    op.create_index("ix_cc_record_recipient", "cc_record", ["username", "read_at", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_cc_record_recipient", table_name="cc_record")
    op.drop_table("cc_record")
