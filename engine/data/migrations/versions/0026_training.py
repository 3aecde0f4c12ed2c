"""Training assessment: courses, assignments, attempts with per-question answers, certificates

Revision ID: 0026
Revises: 0024
Create Date: 2026-12-03

Models in `engine.data.training_models`; the rules in `engine.training`.
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0024"
branch_labels = None
depends_on = None


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "training_course",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("title_en", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("description_en", sa.Text(), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("materials", sa.JSON(), nullable=False),
        sa.Column("quiz", sa.JSON(), nullable=False),
        sa.Column("pass_mark", sa.Integer(), nullable=False),
        sa.Column("attempt_limit", sa.Integer(), nullable=False),
        sa.Column("due_days", sa.Integer(), nullable=False),
        sa.Column("grant_role", sa.String(100), nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        _time("created_at"),
        _time("updated_at"),
    )
    op.create_table(
        "training_assignment",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("course_id", sa.Integer(), sa.ForeignKey("training_course.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("username", sa.String(100), nullable=False),
        _time("due_at"),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("assigned_by", sa.String(100), nullable=False),
        _time("assigned_at"),
        sa.UniqueConstraint("course_id", "username", name="uq_training_assignment"),
    )
    op.create_index("ix_training_assignment_username", "training_assignment", ["username"])
    op.create_table(
        "training_attempt",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("assignment_id", sa.Integer(),
                  sa.ForeignKey("training_assignment.id", ondelete="CASCADE"), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("attempt_no", sa.Integer(), nullable=False),
        sa.Column("score", sa.Numeric(6, 2), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("review", sa.JSON(), nullable=False),
        _time("submitted_at"),
        sa.UniqueConstraint("assignment_id", "attempt_no", name="uq_training_attempt"),
    )
    op.create_index("ix_training_attempt_course", "training_attempt", ["course_id", "username"])
    op.create_table(
        "training_answer",
        sa.Column("attempt_id", sa.Integer(), sa.ForeignKey("training_attempt.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("question", sa.String(100), primary_key=True),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_training_answer_course_id", "training_answer", ["course_id"])
    op.create_table(
        "training_certificate",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("serial", sa.String(40), nullable=False, unique=True),
        sa.Column("assignment_id", sa.Integer(),
                  sa.ForeignKey("training_assignment.id", ondelete="CASCADE"), nullable=False, unique=True),
        sa.Column("attempt_id", sa.Integer(), sa.ForeignKey("training_attempt.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("username", sa.String(100), nullable=False),
        _time("issued_at"),
    )
    op.create_index("ix_training_certificate_username", "training_certificate", ["username"])


def downgrade() -> None:
    for table in ("training_certificate", "training_answer", "training_attempt", "training_assignment",
                  "training_course"):
        op.drop_table(table)
