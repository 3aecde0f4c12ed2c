"""Cross-instance signals: subscriptions, sent events and their deliveries

Revision ID: 0032
Revises: 0034
Create Date: 2026-12-03

Issue 10 item 3 / issue 13: `signal_subscription`, `signal_event`, `signal_delivery` (unique per event and target).
"""

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signal_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=True),
        sa.Column("signal_name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signal_subscription_name", "signal_subscription", ["signal_name"])
    op.create_index("ix_signal_subscription_instance", "signal_subscription", ["instance_id"])
    op.create_table(
        "signal_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("sender", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signal_event_status", "signal_event", ["status"])
    op.create_index("ix_signal_event_sender", "signal_event", ["sender"])
    op.create_table(
        "signal_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=120), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("process_key", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["signal_event.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "target", name="uq_signal_delivery_target"),
    )
    op.create_index("ix_signal_delivery_status", "signal_delivery", ["status"])


def downgrade() -> None:
    op.drop_index("ix_signal_delivery_status", table_name="signal_delivery")
    op.drop_table("signal_delivery")
    op.drop_index("ix_signal_event_sender", table_name="signal_event")
    op.drop_index("ix_signal_event_status", table_name="signal_event")
    op.drop_table("signal_event")
    op.drop_index("ix_signal_subscription_instance", table_name="signal_subscription")
    op.drop_index("ix_signal_subscription_name", table_name="signal_subscription")
    op.drop_table("signal_subscription")
