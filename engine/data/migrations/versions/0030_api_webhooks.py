"""REST API: webhook subscriptions

Revision ID: 0030
Revises: 0028
Create Date: 2026-12-03

Issue 13: `api_webhook`, a person's subscription to instance and task events, delivered to its own
generic `webhook_endpoint` (URL and HMAC secret) through the outbox.
"""

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_webhook",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("process_key", sa.String(length=100), nullable=True),
        sa.Column("all_instances", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["endpoint_id"], ["webhook_endpoint.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_api_webhook_person", "api_webhook", ["person_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_api_webhook_person", table_name="api_webhook")
    op.drop_table("api_webhook")
