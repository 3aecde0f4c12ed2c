"""People and departments get a pinyin sort key

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-04

Lists of people sorted by username or by the name's code points, which a Chinese reader takes for no
order at all (王五, 李四, 张三). `person.sort_key` and `department.sort_key` hold the pinyin of the name
(`engine.data.sorting.sort_key`: 李四 "li si", 王五 "wang wu", 张三 "zhang san", Alice "alice"), which
every list orders by; compared byte by byte (COLLATE "C" on PostgreSQL, SQLite's BINARY) so both
databases give one order. Existing rows are filled here with the key the code computes today.

On SQLite the columns keep a server default of '' (dropping it would rebuild the tables and lose their
triggers); nothing relies on it, every insert gives the key.
"""

import sqlalchemy as sa
from alembic import op

from engine.data import sorting

revision = "0041"
down_revision = "0040"
branch_labels = None
depends_on = None

SORT_KEY = sa.String(400).with_variant(sa.String(400, collation="C"), "postgresql")
KEYS = {"person": sorting.sort_key, "department": sorting.department_sort_key}


def upgrade() -> None:
    bind = op.get_bind()
    for table, make in KEYS.items():
        op.add_column(table, sa.Column("sort_key", SORT_KEY, nullable=False, server_default=""))
        rows = [{"b_id": row_id, "b_key": make(name)}
                for row_id, name in bind.execute(sa.text(f"SELECT id, name FROM {table}"))]  # noqa: S608
        if rows:
            bind.execute(sa.text(f"UPDATE {table} SET sort_key = :b_key WHERE id = :b_id"), rows)  # noqa: S608
        if bind.dialect.name == "postgresql":
            op.alter_column(table, "sort_key", server_default=None)
    op.create_index("ix_person_sort_key", "person", ["sort_key"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_person_sort_key", table_name="person")
    for table in KEYS:
        op.drop_column(table, "sort_key")
