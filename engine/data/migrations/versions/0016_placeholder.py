"""placeholder for main's 0016 (the merge replaces this file with the real one)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02

Branch `perf` needs a 0016 to hang 0017 on while main adds its own 0016; this one does nothing.
"""

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
