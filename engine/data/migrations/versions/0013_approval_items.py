"""approval_item: the signers of an approval node (依次 / 会签 / 或签 / 票签) and their decisions

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29

Issue 6. One BPMN user task is one approval node (one `work_task` row); with `liaison:mode` its
signers are rows here, so they can be listed, decided one by one and changed while it runs. On
PostgreSQL `liaison_save_step(jsonb)` is replaced by 0010's function that also inserts a step's
new approval items and cancels the items of the tasks the step cancels; downgrade puts 0010's back.
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
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
    INSERT INTO approval_item (id, task_id, instance_id, signer, position, weight, status, created_at)
    SELECT a.id, a.task_id, v_instance, a.signer, a.position, a.weight, a.status, v_now
    FROM jsonb_to_recordset(p->'approval_items') AS a(id text, task_id text, signer text, position integer,
         weight integer, status text);
    UPDATE approval_item SET status = 'cancelled', decided_at = v_now
    WHERE task_id IN (SELECT jsonb_array_elements_text(p->'cancel')) AND status IN ('open', 'waiting');
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

# 0010's function, for downgrade.
SAVE_STEP_0010 = r"""
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


def upgrade() -> None:
    op.create_table(
        "approval_item",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("signer", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_approval_item_task", "approval_item", ["task_id", "position"])
    op.create_index("ix_approval_item_signer", "approval_item", ["signer", "status"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(SAVE_STEP)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(SAVE_STEP_0010)
    op.drop_index("ix_approval_item_signer", table_name="approval_item")
    op.drop_index("ix_approval_item_task", table_name="approval_item")
    op.drop_table("approval_item")
