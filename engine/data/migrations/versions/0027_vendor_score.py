"""Vendor selection: each scorer's score of every vendor on every criterion

Revision ID: 0027
Revises: 0024
Create Date: 2026-12-03

processes/vendor_selection: scorers score each candidate vendor per criterion (0 to 100), stored per
scorer (`engine.data.vendor_models`, `engine.work.vendor_scoring`).
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vendor_score",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("scorer", sa.String(length=100), nullable=False),
        sa.Column("vendor", sa.Integer(), nullable=False),
        sa.Column("criterion", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("instance_id", "scorer", "vendor", "criterion", name="uq_vendor_score"),
    )


def downgrade() -> None:
    op.drop_table("vendor_score")
