"""Designer grants and deployed versions bump the directory version

Revision ID: 0038
Revises: 0032
Create Date: 2026-12-04

Issue 12 ("same for opening the inbox and a task page"): whether the header offers the designer to a
person (`designer_access.may_design`: super admin, a designer grant to them or to one of their roles, or
a process admin named in a deployed package) was five queries on every page. It is now kept with the
signed-in person per directory version (`accounts.SessionUser.kept`), so the tables it reads beyond the
directory (`designer_grant`, and `process_version`, whose package names the process admins) bump the
version too, like 0019's and 0030's triggers: a grant, a revocation or a deployment counts on the very
next request. Both are rare writes.
"""

from alembic import op

revision = "0038"
down_revision = "0032"
branch_labels = None
depends_on = None

TABLES = ("designer_grant", "process_version")
BUMP = "UPDATE directory_version SET version = version + 1 WHERE id = 1"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":  # the function of 0019
        for table in TABLES:
            op.execute(f"CREATE TRIGGER {table}_directory_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                       f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION liaison_bump_directory()")
    else:
        for table in TABLES:
            for action in ("insert", "update", "delete"):
                op.execute(f"CREATE TRIGGER {table}_directory_{action} AFTER {action.upper()} ON {table} "
                           f"FOR EACH ROW BEGIN {BUMP}; END")


def downgrade() -> None:
    for table in TABLES:
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER {table}_directory_version ON {table}")
        else:
            for action in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_directory_{action}")
