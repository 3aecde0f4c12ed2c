"""history_entry is append-only: the database refuses UPDATE and DELETE on it

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_MESSAGE = "history_entry is append-only"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION liaison_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{_MESSAGE}';
            END $$""")
        op.execute("""
            CREATE TRIGGER history_entry_append_only BEFORE UPDATE OR DELETE ON history_entry
            FOR EACH ROW EXECUTE FUNCTION liaison_history_append_only()""")
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER history_entry_no_{event.lower()} BEFORE {event} ON history_entry
                BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER history_entry_append_only ON history_entry")
        op.execute("DROP FUNCTION liaison_history_append_only()")
    else:
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER history_entry_no_{event}")
