"""calendar_day: the company's workday calendar (public holidays and adjusted working weekends, 调休)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02

One row per day that differs from "Monday to Friday are workdays": `kind` is `holiday` (a
weekday off) or `workday` (a weekend day worked). Filled from the `chinese-calendar` package
(`liaison calendar load --year N`, or the admin page) and edited by super admins
(`engine.data.calendar`). Due dates, reminders and escalations written in workdays (`P3WD`) and
the forms' workday counts read it.
"""
import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name_zh", sa.String(length=100), nullable=True),
        sa.Column("name_en", sa.String(length=100), nullable=True),
        sa.Column("source", sa.String(length=30), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('holiday', 'workday')", name="ck_calendar_day_kind"),
        sa.PrimaryKeyConstraint("day"),
    )


def downgrade() -> None:
    op.drop_table("calendar_day")
