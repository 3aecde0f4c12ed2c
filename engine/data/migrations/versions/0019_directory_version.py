"""directory_version: one counter that every write to the people directory bumps

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02

Issue 10 item 4. A step's look-up of the people it notifies (names, group members, notification
preferences, out-of-office windows) is cached per process under this counter, read with the task
row in the same query; triggers on `person`, `role`, `person_role`, `notification_preference` and
`out_of_office` bump it on every insert, update and delete (PostgreSQL: once per statement, also
on TRUNCATE; SQLite: once per row), so a cached look-up is never used after the directory changed.
A person's update bumps it only when it sets a column a look-up reads (not a sign-in's counters).
"""
import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

TABLES = ("person", "role", "person_role", "notification_preference", "out_of_office")
BUMP = "UPDATE directory_version SET version = version + 1 WHERE id = 1"
# a person's update bumps only when it sets what a look-up reads: sign-ins (failed_logins,
# session_version, ...) neither empty the cache nor queue up on the counter's row lock
PERSON_COLUMNS = "username, name, name_en, email, locale, active"


def _update_of(table: str) -> str:
    return f"UPDATE OF {PERSON_COLUMNS}" if table == "person" else "UPDATE"


def upgrade() -> None:
    op.create_table("directory_version",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("version", sa.BigInteger(), nullable=False),
                    sa.PrimaryKeyConstraint("id"))
    op.execute("INSERT INTO directory_version (id, version) VALUES (1, 1)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""CREATE FUNCTION liaison_bump_directory() RETURNS trigger LANGUAGE plpgsql AS $$
                       BEGIN {BUMP}; RETURN NULL; END $$""")
        for table in TABLES:
            op.execute(f"CREATE TRIGGER {table}_directory_version AFTER INSERT OR {_update_of(table)} OR DELETE "
                       f"OR TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION liaison_bump_directory()")
    else:
        for table in TABLES:
            for action in ("insert", "update", "delete"):
                event = _update_of(table) if action == "update" else action.upper()
                op.execute(f"CREATE TRIGGER {table}_directory_{action} AFTER {event} ON {table} "
                           f"FOR EACH ROW BEGIN {BUMP}; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_directory_version ON {table}")
        op.execute("DROP FUNCTION liaison_bump_directory()")
    else:
        for table in TABLES:
            for action in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_directory_{action}")
    op.drop_table("directory_version")
