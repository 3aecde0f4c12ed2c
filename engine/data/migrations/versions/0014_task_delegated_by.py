"""work_task.delegated_by: who delegated (委派) the task; it comes back to them when the delegate is done

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29

`liaison_save_step` names the work_task columns it inserts, and a new task is never delegated, so the
function needs no change (the column defaults to NULL).
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("work_task", sa.Column("delegated_by", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("work_task") as batch:  # SQLite cannot drop a column in place
        batch.drop_column("delegated_by")
