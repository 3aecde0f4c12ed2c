"""External service tasks fetched and locked by outside workers

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-03

Issue 13 / issue 10 item 3: `external_task`, one row per READY `camunda:type="external"` service task
(topic, lock, retries, error, incident).
"""

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "external_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.Column("lock_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_details", sa.Text(), nullable=True),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id"),
    )
    op.create_index("ix_external_task_fetch", "external_task", ["topic", "status", "available_at"], unique=False)
    op.create_index("ix_external_task_instance", "external_task", ["instance_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_external_task_instance", table_name="external_task")
    op.drop_index("ix_external_task_fetch", table_name="external_task")
    op.drop_table("external_task")
