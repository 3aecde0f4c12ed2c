"""Task collaboration: projects, members, tasks, files, discussion, history

Revision ID: 0033
Revises: 0036
Create Date: 2026-12-03

Models in `engine.data.project_models`; the rules in `engine.projects`.
"""

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0036"
branch_labels = None
depends_on = None


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _task_fk(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Integer(), sa.ForeignKey("project_task.id", ondelete="CASCADE"), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "project",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("visibility", sa.String(10), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        _time("created_at"),
    )
    op.create_index("ix_project_owner", "project", ["owner"])
    op.create_table(
        "project_member",
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("project.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("kind", sa.String(12), primary_key=True),
        sa.Column("ref", sa.String(100), primary_key=True),
    )
    op.create_table(
        "project_task",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
        _task_fk("parent_id", nullable=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("collaborators", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("checklist", sa.JSON(), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=True),
        _time("due_at", nullable=True),
        sa.Column("life_instance_id", sa.Integer(), nullable=True),
        sa.Column("waiting_instance_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        _time("created_at"),
        _time("done_at", nullable=True),
    )
    op.create_index("ix_project_task_project", "project_task", ["project_id", "status"])
    op.create_index("ix_project_task_owner", "project_task", ["owner"])
    op.create_table(
        "project_file",
        sa.Column("id", sa.Integer(), primary_key=True),
        _task_fk("task_id"),
        sa.Column("upload_id", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("added_by", sa.String(100), nullable=False),
        _time("added_at"),
    )
    op.create_index("ix_project_file_task_id", "project_file", ["task_id"])
    op.create_table(
        "project_comment",
        sa.Column("id", sa.Integer(), primary_key=True),
        _task_fk("task_id"),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("mentions", sa.JSON(), nullable=False),
        _time("created_at"),
    )
    op.create_index("ix_project_comment_task_id", "project_comment", ["task_id"])
    op.create_table(
        "project_history",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
        _task_fk("task_id", nullable=True),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        _time("at"),
    )
    op.create_index("ix_project_history_task", "project_history", ["task_id", "id"])
    op.create_index("ix_project_history_project", "project_history", ["project_id", "at"])


def downgrade() -> None:
    for table in ("project_history", "project_comment", "project_file", "project_task", "project_member", "project"):
        op.drop_table(table)
