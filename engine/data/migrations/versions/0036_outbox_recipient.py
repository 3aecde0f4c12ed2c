"""outbox: an index on (recipient, id) for a webhook subscription's delivery log

Revision ID: 0036
Revises: 0031
Create Date: 2026-12-03

Issue 13: the webhook pages and `GET /api/v1/webhooks/{id}/deliveries` list one subscription's
outbox rows, newest first (`engine.runtime.api_webhooks.recent_deliveries`); without this index that
read scans the whole outbox.
"""

from alembic import op

revision = "0036"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_recipient", "outbox", ["recipient", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_outbox_recipient", table_name="outbox")
