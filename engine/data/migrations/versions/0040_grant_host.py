"""external_grant.host: the employee a visitor's invitation code names as host when another issued it

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-04

Reception issues a visitor's code on behalf of the employee being visited: `created_by` stays the issuer
(who may withdraw it, whom the access log names), `host` is the visit's host (`portal.host_field`).
NULL: the issuer is the host, as for every code issued before.
"""

import sqlalchemy as sa
from alembic import op

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("external_grant") as batch:
        batch.add_column(sa.Column("host", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("external_grant") as batch:
        batch.drop_column("host")
