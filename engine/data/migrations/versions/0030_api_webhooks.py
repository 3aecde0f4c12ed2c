"""REST API: webhook subscriptions; admin grants bump the directory version

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-03

Issue 13: `api_webhook`, a person's subscription to instance and task events, delivered to its own
generic `webhook_endpoint` (URL and HMAC secret) through the outbox. And `admin_grant` joins the tables
whose writes bump `directory_version` (0019's triggers): the API keeps a token's person, with their
admin grants, per directory version (`engine.people.api_tokens.PEOPLE`).
"""

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


BUMP = "UPDATE directory_version SET version = version + 1 WHERE id = 1"


def upgrade() -> None:
    op.create_table(
        "api_webhook",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("process_key", sa.String(length=100), nullable=True),
        sa.Column("all_instances", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["endpoint_id"], ["webhook_endpoint.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_api_webhook_person", "api_webhook", ["person_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":  # the function of 0019
        op.execute("CREATE TRIGGER admin_grant_directory_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                   "ON admin_grant FOR EACH STATEMENT EXECUTE FUNCTION liaison_bump_directory()")
    else:
        for action in ("insert", "update", "delete"):
            op.execute(f"CREATE TRIGGER admin_grant_directory_{action} AFTER {action.upper()} ON admin_grant "
                       f"FOR EACH ROW BEGIN {BUMP}; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER admin_grant_directory_version ON admin_grant")
    else:
        for action in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER admin_grant_directory_{action}")
    op.drop_index("ix_api_webhook_person", table_name="api_webhook")
    op.drop_table("api_webhook")
