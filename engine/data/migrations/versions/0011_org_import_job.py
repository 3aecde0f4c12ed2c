"""org_import_job: an org chart import applied in the background, with its progress

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29

Issue 5. The preview stores the uploaded file's parsed rows in `rows` (status queued); "apply"
runs the job, which writes `total`, `done` and `updated_at` (the heartbeat) while it works and
`summary` (created / updated / deactivated counts) or `error` when it ends.
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "org_import_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_by", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("file_name", sa.String(length=300), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_org_import_job_starter", "org_import_job", ["started_by", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_org_import_job_starter", table_name="org_import_job")
    op.drop_table("org_import_job")
