"""An index on history_entry (actor, instance_id)

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-04

Whoever acted on an instance (transferred, delegated, signed, returned... a task of it) keeps seeing it
(`runtime.visibility.may_view_instance`), and the lists read that rule as a WHERE clause
(`visible_instances`: `process_instance.id IN (SELECT instance_id FROM history_entry WHERE actor = ...)`).
Without this index that subquery reads the whole history; with it, one range of the person's own rows.
"""

from alembic import op

revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_history_actor", "history_entry", ["actor", "instance_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_history_actor", table_name="history_entry")
