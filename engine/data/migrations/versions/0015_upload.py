"""upload: files uploaded through the web app, with their uploader and the instance they belong to

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01

The bytes live in the FileStore (`LIAISON_UPLOAD_DIR`, by default `instance/files`) under the row's
id. `instance_id` stays NULL until a submission, decision or operation attaches the file to an
instance; until then only `owner` may use it (`engine.uploads`).
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upload",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_upload_owner", "upload", ["owner", "created_at"])
    op.create_index("ix_upload_instance", "upload", ["instance_id"])


def downgrade() -> None:
    op.drop_index("ix_upload_instance", table_name="upload")
    op.drop_index("ix_upload_owner", table_name="upload")
    op.drop_table("upload")
