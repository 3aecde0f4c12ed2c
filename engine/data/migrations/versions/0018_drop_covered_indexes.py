"""drop the two indexes that 0006's indexes cover

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02

`ix_work_task_assignee_status (assignee, status, created_at)` is a prefix of 0006's
`ix_work_task_inbox (assignee, status, created_at, id, due_at)`, and `ix_task_candidate_lookup
(kind, value)` of `ix_task_candidate_member (kind, value, task_id)`: every query that could use the
old ones uses the new ones as well (EXPLAIN of bench/inbox_bench.py's queries, docs/benchmarks.md),
while every task insert and completion kept maintaining both. On PostgreSQL they are dropped
CONCURRENTLY, so a live inbox keeps taking writes meanwhile. Downgrade builds them again.
"""
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

INDEXES = [
    ("ix_work_task_assignee_status", "work_task", ["assignee", "status", "created_at"]),
    ("ix_task_candidate_lookup", "task_candidate", ["kind", "value"]),
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():  # DROP INDEX CONCURRENTLY cannot run in a transaction
            for name, table, _columns in INDEXES:
                op.drop_index(name, table_name=table, postgresql_concurrently=True)
    else:
        for name, table, _columns in INDEXES:
            op.drop_index(name, table_name=table)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            for name, table, columns in INDEXES:
                op.create_index(name, table, columns, postgresql_concurrently=True)
    else:
        for name, table, columns in INDEXES:
            op.create_index(name, table, columns)
