"""process_permission: department admins allow or forbid starting a process for their subtree

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "process_permission",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("process_key", sa.String(length=100), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["department_id"], ["department.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("process_key", "department_id", name="uq_process_permission"),
    )
    op.create_index("ix_process_permission_department_id", "process_permission", ["department_id"])


def downgrade() -> None:
    op.drop_index("ix_process_permission_department_id", table_name="process_permission")
    op.drop_table("process_permission")
