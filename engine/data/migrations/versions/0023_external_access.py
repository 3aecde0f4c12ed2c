"""External access: parties and contacts, grants (links, codes, visitor passes), portal sessions,
e-mailed sign-in codes, cases, the access log and the visitor blacklist

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03

Issue 17: suppliers, customers and visitors enter the portal with a scoped link, an invitation code
or (contacts of a party) an e-mailed one-time code; never with an employee session
(`engine.data.external_models`, `engine.external`).
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "external_access",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("grant_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("party_id", sa.Integer(), nullable=True),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_external_access_at", "external_access", ["at"], unique=False)
    op.create_index("ix_external_access_grant", "external_access", ["grant_id", "at"], unique=False)
    op.create_index("ix_external_access_party", "external_access", ["party_id", "at"], unique=False)
    op.create_table(
        "external_party",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("name_en", sa.String(length=300), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_table(
        "visitor_blacklist",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=50), nullable=True),
        sa.Column("company", sa.String(length=300), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("added_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_visitor_blacklist_phone", "visitor_blacklist", ["phone"], unique=False)
    op.create_table(
        "external_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=50), nullable=True),
        sa.Column("locale", sa.String(length=10), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["party_id"], ["external_party.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_external_contact_email", "external_contact", ["email"], unique=False)
    op.create_index(op.f("ix_external_contact_party_id"), "external_contact", ["party_id"], unique=False)
    op.create_table(
        "external_sign_in_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["external_contact.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_external_sign_in_code_contact_id"), "external_sign_in_code", ["contact_id"], unique=False
    )
    op.create_table(
        "external_case",
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["external_contact.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["party_id"], ["external_party.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("instance_id"),
    )
    op.create_index("ix_external_case_party", "external_case", ["party_id", "created_at"], unique=False)
    op.create_table(
        "external_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("task_id", sa.String(length=36), nullable=True),
        sa.Column("process_key", sa.String(length=100), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("recipient", sa.String(length=254), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=100), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("use_count", sa.Integer(), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_in_by", sa.String(length=100), nullable=True),
        sa.Column("checked_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_out_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["external_contact.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["party_id"], ["external_party.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_external_grant_instance", "external_grant", ["instance_id"], unique=False)
    op.create_index("ix_external_grant_party", "external_grant", ["party_id"], unique=False)
    op.create_table(
        "external_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("grant_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["external_contact.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["grant_id"], ["external_grant.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_external_session_contact_id"), "external_session", ["contact_id"], unique=False)
    op.create_index(op.f("ix_external_session_grant_id"), "external_session", ["grant_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_external_session_grant_id"), table_name="external_session")
    op.drop_index(op.f("ix_external_session_contact_id"), table_name="external_session")
    op.drop_table("external_session")
    op.drop_index("ix_external_grant_party", table_name="external_grant")
    op.drop_index("ix_external_grant_instance", table_name="external_grant")
    op.drop_table("external_grant")
    op.drop_index("ix_external_case_party", table_name="external_case")
    op.drop_table("external_case")
    op.drop_index(op.f("ix_external_sign_in_code_contact_id"), table_name="external_sign_in_code")
    op.drop_table("external_sign_in_code")
    op.drop_index(op.f("ix_external_contact_party_id"), table_name="external_contact")
    op.drop_index("ix_external_contact_email", table_name="external_contact")
    op.drop_table("external_contact")
    op.drop_index("ix_visitor_blacklist_phone", table_name="visitor_blacklist")
    op.drop_table("visitor_blacklist")
    op.drop_table("external_party")
    op.drop_index("ix_external_access_party", table_name="external_access")
    op.drop_index("ix_external_access_grant", table_name="external_access")
    op.drop_index("ix_external_access_at", table_name="external_access")
    op.drop_table("external_access")
