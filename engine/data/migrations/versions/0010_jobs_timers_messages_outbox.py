"""timers, message subscriptions and buffer, outbox, in-app notifications, preferences, webhooks

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28

Issue 4. On PostgreSQL `liaison_save_step(jsonb)` is replaced by the same function that also
writes a step's timers, message subscriptions, outbox rows and in-app notifications, marks the
timer it fires or the buffered message it takes (raising SQLSTATE LI410 when that was done
already, so a timer never fires twice), and when the instance ends drops what still waits.
Downgrade puts 0007's function back.
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SAVE_STEP = r"""
CREATE OR REPLACE FUNCTION liaison_save_step(p jsonb) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_instance integer := (p->>'instance_id')::integer;
    v_now timestamptz := (p->>'now')::timestamptz;
BEGIN
    IF v_instance IS NULL THEN
        INSERT INTO process_instance (version_id, process_key, status, initiator, business_key, state, data,
                                      revision, state_key, created_at, updated_at)
        VALUES ((p->>'version_id')::integer, p->>'process_key', 'running', p->>'initiator',
                p->>'business_key', '', '{}'::json, 0, '', v_now, v_now)
        RETURNING id INTO v_instance;
    END IF;
    IF p->>'fire_timer' IS NOT NULL THEN
        UPDATE timer SET status = 'fired', fired_at = v_now, claimed_until = NULL
        WHERE id = (p->>'fire_timer')::integer AND status = 'pending';
        IF NOT FOUND THEN
            RAISE EXCEPTION 'timer % is no longer pending', p->>'fire_timer' USING ERRCODE = 'LI410';
        END IF;
    END IF;
    IF p->>'complete_task' IS NOT NULL THEN
        UPDATE work_task SET status = 'completed', completed_by = p->>'user', completed_at = v_now
        WHERE id = p->>'complete_task' AND status = 'open';
    END IF;
    UPDATE work_task SET status = 'cancelled', completed_at = v_now
    WHERE id IN (SELECT jsonb_array_elements_text(p->'cancel')) AND status = 'open';
    INSERT INTO work_task (id, instance_id, element_id, name, form, assignee, on_behalf_of,
                           candidate_users, candidate_groups, due_at, status, created_at)
    SELECT t.id, v_instance, t.element_id, t.name, t.form, t.assignee, t.on_behalf_of,
           t.candidate_users::json, t.candidate_groups::json, t.due_at, 'open', v_now
    FROM jsonb_to_recordset(p->'new_tasks') AS t(id text, element_id text, name text, form text,
         assignee text, on_behalf_of text, candidate_users jsonb, candidate_groups jsonb,
         due_at timestamptz);
    INSERT INTO task_candidate (task_id, kind, value)
    SELECT c.task_id, c.kind, c.value FROM jsonb_to_recordset(p->'candidates') AS c(task_id text, kind text, value text);
    INSERT INTO history_entry (instance_id, at, actor, action, element_id, element_type, task_id, comment, data)
    SELECT v_instance, v_now, h.actor, h.action, h.element_id, h.element_type, h.task_id, h.comment, h.data::json
    FROM ROWS FROM (jsonb_to_recordset(p->'history') AS (actor text, action text, element_id text,
         element_type text, task_id text, comment text, data text)) WITH ORDINALITY
         AS h(actor, action, element_id, element_type, task_id, comment, data, n)
    ORDER BY h.n;
    IF p->>'consume_message' IS NOT NULL THEN
        UPDATE buffered_message SET status = 'consumed', instance_id = v_instance, consumed_at = v_now
        WHERE id = (p->>'consume_message')::integer AND status = 'waiting';
        IF NOT FOUND THEN
            RAISE EXCEPTION 'message % was already taken', p->>'consume_message' USING ERRCODE = 'LI410';
        END IF;
    END IF;
    IF p->>'status' <> 'running' THEN
        UPDATE timer SET status = 'cancelled' WHERE instance_id = v_instance AND status = 'pending';
        DELETE FROM message_subscription WHERE instance_id = v_instance;
    ELSE
        UPDATE timer SET status = 'cancelled'
        WHERE instance_id = v_instance AND status = 'pending'
          AND task_id IN (SELECT jsonb_array_elements_text(p->'timers_cancel'));
        DELETE FROM message_subscription
        WHERE instance_id = v_instance AND task_id IN (SELECT jsonb_array_elements_text(p->'subs_cancel'));
        INSERT INTO timer (instance_id, task_id, element_id, kind, due_at, status, attempts, detail, created_at)
        SELECT v_instance, t.task_id, t.element_id, t.kind, t.due_at, 'pending', 0, t.detail::json, v_now
        FROM jsonb_to_recordset(p->'timers_new') AS t(task_id text, element_id text, kind text,
             due_at timestamptz, detail jsonb);
        INSERT INTO message_subscription (instance_id, task_id, element_id, message_name, correlation_key,
                                          early, created_at)
        SELECT v_instance, s.task_id, s.element_id, s.message_name, s.correlation_key, s.early, v_now
        FROM jsonb_to_recordset(p->'subs_new') AS s(task_id text, element_id text, message_name text,
             correlation_key text, early text);
    END IF;
    INSERT INTO outbox (instance_id, event, channel, recipient, payload, status, attempts, next_attempt_at,
                        created_at)
    SELECT v_instance, o.event, o.channel, o.recipient, o.payload::json, 'pending', 0, v_now, v_now
    FROM jsonb_to_recordset(p->'outbox') AS o(event text, channel text, recipient text, payload jsonb);
    INSERT INTO notification (recipient, event, instance_id, task_id, title, body, link, created_at)
    SELECT n.recipient, n.event, v_instance, n.task_id, n.title, n.body, n.link, v_now
    FROM jsonb_to_recordset(p->'notifications') AS n(recipient text, event text, task_id text, title text,
         body text, link text);
    UPDATE process_instance
    SET state = p->>'state', data = (p->>'data')::json, status = p->>'status', end_event = p->>'end_event',
        updated_at = v_now, revision = (p->>'revision')::integer + 1, state_key = p->>'state_key',
        ended_at = CASE WHEN p->>'status' = 'running' THEN NULL ELSE v_now END
    WHERE id = v_instance AND revision = (p->>'revision')::integer;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'instance % changed since it was read', v_instance USING ERRCODE = 'LI409';
    END IF;
    RETURN v_instance;
END $$
"""

# 0007's function, for downgrade.
SAVE_STEP_0007 = r"""
CREATE OR REPLACE FUNCTION liaison_save_step(p jsonb) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_instance integer := (p->>'instance_id')::integer;
    v_now timestamptz := (p->>'now')::timestamptz;
BEGIN
    IF v_instance IS NULL THEN
        INSERT INTO process_instance (version_id, process_key, status, initiator, business_key, state, data,
                                      revision, state_key, created_at, updated_at)
        VALUES ((p->>'version_id')::integer, p->>'process_key', 'running', p->>'initiator',
                p->>'business_key', '', '{}'::json, 0, '', v_now, v_now)
        RETURNING id INTO v_instance;
    END IF;
    IF p->>'complete_task' IS NOT NULL THEN
        UPDATE work_task SET status = 'completed', completed_by = p->>'user', completed_at = v_now
        WHERE id = p->>'complete_task' AND status = 'open';
    END IF;
    UPDATE work_task SET status = 'cancelled', completed_at = v_now
    WHERE id IN (SELECT jsonb_array_elements_text(p->'cancel')) AND status = 'open';
    INSERT INTO work_task (id, instance_id, element_id, name, form, assignee, on_behalf_of,
                           candidate_users, candidate_groups, due_at, status, created_at)
    SELECT t.id, v_instance, t.element_id, t.name, t.form, t.assignee, t.on_behalf_of,
           t.candidate_users::json, t.candidate_groups::json, t.due_at, 'open', v_now
    FROM jsonb_to_recordset(p->'new_tasks') AS t(id text, element_id text, name text, form text,
         assignee text, on_behalf_of text, candidate_users jsonb, candidate_groups jsonb,
         due_at timestamptz);
    INSERT INTO task_candidate (task_id, kind, value)
    SELECT c.task_id, c.kind, c.value FROM jsonb_to_recordset(p->'candidates') AS c(task_id text, kind text, value text);
    INSERT INTO history_entry (instance_id, at, actor, action, element_id, element_type, task_id, comment, data)
    SELECT v_instance, v_now, h.actor, h.action, h.element_id, h.element_type, h.task_id, h.comment, h.data::json
    FROM ROWS FROM (jsonb_to_recordset(p->'history') AS (actor text, action text, element_id text,
         element_type text, task_id text, comment text, data text)) WITH ORDINALITY
         AS h(actor, action, element_id, element_type, task_id, comment, data, n)
    ORDER BY h.n;
    UPDATE process_instance
    SET state = p->>'state', data = (p->>'data')::json, status = p->>'status', end_event = p->>'end_event',
        updated_at = v_now, revision = (p->>'revision')::integer + 1, state_key = p->>'state_key',
        ended_at = CASE WHEN p->>'status' = 'running' THEN NULL ELSE v_now END
    WHERE id = v_instance AND revision = (p->>'revision')::integer;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'instance % changed since it was read', v_instance USING ERRCODE = 'LI409';
    END IF;
    RETURN v_instance;
END $$
"""


def _when():
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "timer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("due_at", _when(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("claimed_until", _when(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("fired_at", _when(), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_timer_due", "timer", ["status", "due_at"])
    op.create_index("ix_timer_instance", "timer", ["instance_id", "status"])
    op.create_table(
        "message_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=True),
        sa.Column("message_name", sa.String(length=200), nullable=False),
        sa.Column("correlation_key", sa.String(length=200), nullable=True),
        sa.Column("early", sa.String(length=10), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_subscription_lookup", "message_subscription", ["message_name", "correlation_key"])
    op.create_index("ix_subscription_instance", "message_subscription", ["instance_id"])
    op.create_table(
        "buffered_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_name", sa.String(length=200), nullable=False),
        sa.Column("correlation_key", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("sender", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("received_at", _when(), nullable=False),
        sa.Column("expires_at", _when(), nullable=False),
        sa.Column("consumed_at", _when(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_buffered_lookup", "buffered_message", ["message_name", "correlation_key", "status"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("recipient", sa.String(length=500), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _when(), nullable=False),
        sa.Column("claimed_until", _when(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("sent_at", _when(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_instance", "outbox", ["instance_id"])
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=100), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("task_id", sa.String(length=36), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("read_at", _when(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_notification_recipient", "notification", ["recipient", "read_at", "created_at"])
    op.create_table(
        "notification_preference",
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("username", "channel", "event"),
    )
    op.create_table(
        "webhook_endpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("format", sa.String(length=20), nullable=False),
        sa.Column("secret", sa.String(length=500), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(SAVE_STEP)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(SAVE_STEP_0007)
    op.drop_table("webhook_endpoint")
    op.drop_table("notification_preference")
    op.drop_index("ix_notification_recipient", table_name="notification")
    op.drop_table("notification")
    op.drop_index("ix_outbox_instance", table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_buffered_lookup", table_name="buffered_message")
    op.drop_table("buffered_message")
    op.drop_index("ix_subscription_instance", table_name="message_subscription")
    op.drop_index("ix_subscription_lookup", table_name="message_subscription")
    op.drop_table("message_subscription")
    op.drop_index("ix_timer_instance", table_name="timer")
    op.drop_index("ix_timer_due", table_name="timer")
    op.drop_table("timer")
