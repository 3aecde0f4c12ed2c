"""Process analytics, the missing parts: flows taken and escalations in the summary

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-03

Issue 19: `analytics_flow_pass` (which sequence flows each instance took, for the path frequencies on the
diagram) and `analytics_node_visit.escalations` (escalation timers fired on the task). The next refresh
after the upgrade fills them: the watermark goes back to 0 so every instance is rebuilt once.
"""

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_flow_pass",
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("flow_id", sa.String(length=200), nullable=False),
        sa.Column("process_key", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("initiator_department_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("passes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("instance_id", "flow_id"),
    )
    op.create_index("ix_analytics_flow_key_version", "analytics_flow_pass", ["process_key", "version"])
    with op.batch_alter_table("analytics_node_visit") as batch:
        batch.add_column(sa.Column("escalations", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_analytics_visit_key_actor", "analytics_node_visit", ["process_key", "actor"])
    op.execute("UPDATE analytics_watermark SET history_id = 0")


def downgrade() -> None:
    op.drop_index("ix_analytics_visit_key_actor", table_name="analytics_node_visit")
    with op.batch_alter_table("analytics_node_visit") as batch:
        batch.drop_column("escalations")
    op.drop_index("ix_analytics_flow_key_version", table_name="analytics_flow_pass")
    op.drop_table("analytics_flow_pass")
