"""Process analytics: summary tables of the history, refreshed incrementally

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-03

Issue 19: `analytics_instance`, `analytics_node_visit` and the refresh's `analytics_watermark`.
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_watermark",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("history_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "analytics_instance",
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("process_key", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("initiator", sa.String(length=100), nullable=True),
        sa.Column("initiator_department_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cycle_seconds", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("instance_id"),
    )
    op.create_index("ix_analytics_instance_key_started", "analytics_instance", ["process_key", "started_at"])
    op.create_table(
        "analytics_node_visit",
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("process_key", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("actor_department_id", sa.Integer(), nullable=True),
        sa.Column("initiator_department_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wait_seconds", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("task_id"),
    )
    op.create_index("ix_analytics_visit_key_element", "analytics_node_visit", ["process_key", "element_id"])
    op.create_index("ix_analytics_visit_instance", "analytics_node_visit", ["instance_id"])


def downgrade() -> None:
    op.drop_index("ix_analytics_visit_instance", table_name="analytics_node_visit")
    op.drop_index("ix_analytics_visit_key_element", table_name="analytics_node_visit")
    op.drop_table("analytics_node_visit")
    op.drop_index("ix_analytics_instance_key_started", table_name="analytics_instance")
    op.drop_table("analytics_instance")
    op.drop_table("analytics_watermark")
