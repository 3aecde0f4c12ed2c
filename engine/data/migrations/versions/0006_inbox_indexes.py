"""inbox indexes: to-do page and counts, claimable pool, done list, my requests

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25

Chosen with EXPLAIN ANALYZE on 1,000,000 tasks (bench/inbox_bench.py --explain):

- ix_work_task_inbox (assignee, status, created_at, id, due_at): the "assigned to me" branch of
  the to-do list read in page order from the index alone (id breaks ties of one step's tasks),
  and the unclaimed pool (`assignee IS NULL AND status = 'open'`) that the "offered to me" branch
  joins with; due_at lets the overdue count and filter skip the table too.
- ix_task_candidate_member (kind, value, task_id): the "offered to me or my groups" lookup
  without visiting the table.
- ix_work_task_done (completed_by, status, completed_at, id): the done list, newest first.
- ix_instance_initiator_created (initiator, created_at, id): my requests, newest first (a
  system account that starts tens of thousands of instances no longer sorts them all).

On PostgreSQL they are built CONCURRENTLY, so a live inbox keeps taking writes meanwhile.
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEXES = [
    ("ix_work_task_inbox", "work_task", ["assignee", "status", "created_at", "id", "due_at"]),
    ("ix_work_task_done", "work_task", ["completed_by", "status", "completed_at", "id"]),
    ("ix_task_candidate_member", "task_candidate", ["kind", "value", "task_id"]),
    ("ix_instance_initiator_created", "process_instance", ["initiator", "created_at", "id"]),
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():  # CREATE INDEX CONCURRENTLY cannot run in a transaction
            for name, table, columns in INDEXES:
                op.create_index(name, table, columns, postgresql_concurrently=True)
    else:
        for name, table, columns in INDEXES:
            op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
