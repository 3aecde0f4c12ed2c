"""no schema change (the number was reserved while 0017 and later were written in parallel)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02

Kept so that the chain 0015 -> 0016 -> 0017 stays as databases upgraded from either branch know it.
"""

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
