"""package_draft, designer_grant, designer_audit: the designer's drafts, permissions and audit list

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02

Issue 14 items 4 and 6: a package being edited is a draft (its files and a revision counter for
"someone else saved"), process owners of a category are granted edit / deploy / migrate by person
or role, and every change in the designer is a row of the audit list (`engine.packages.drafts`,
`engine.packages.designer_access`).
"""
import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "package_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.JSON(), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("based_on_version", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"))
    op.create_table(
        "designer_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("role_key", sa.String(length=100), nullable=True),
        sa.Column("can_edit", sa.Boolean(), nullable=False),
        sa.Column("can_deploy", sa.Boolean(), nullable=False),
        sa.Column("can_migrate", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(person_id IS NULL) <> (role_key IS NULL)", name="ck_designer_grant_holder"),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_designer_grant_category", "designer_grant", ["category"])
    op.create_index("ix_designer_grant_person_id", "designer_grant", ["person_id"])
    op.create_table(
        "designer_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=True),
        sa.Column("key", sa.String(length=100), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_designer_audit_key_at", "designer_audit", ["key", "at"])


def downgrade() -> None:
    op.drop_index("ix_designer_audit_key_at", table_name="designer_audit")
    op.drop_table("designer_audit")
    op.drop_index("ix_designer_grant_person_id", table_name="designer_grant")
    op.drop_index("ix_designer_grant_category", table_name="designer_grant")
    op.drop_table("designer_grant")
    op.drop_table("package_draft")
