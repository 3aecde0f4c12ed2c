"""liaison_save_step v2 and process data as a change set (`instance_data`, one row per key)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02

Issue 10 item 4. PostgreSQL only (SQLite writes a step with Core statements). The function now
updates the instance row (the revision check, which takes the row lock) before any other write, so
the loser of a race waits on that lock, then fails on its first statement having written nothing,
and every writer of one instance locks in the same order; a new instance is one INSERT with its
final values. Each other statement runs only when the payload has its key (`store` leaves empty
lists out), and cancelling tasks, approval items and timers names the instance, so their plans use
the instance's index whatever the table statistics (the old generic plan of the cancel UPDATE
scanned every open task of every instance for an empty list).

The process data moves from `process_instance.data` (rewritten whole by every step: the 100th step
of a process adding 2 KB a step wrote 200 KB) to `instance_data`, one row per key, of which a
step writes only the keys it changed or removed (`data_set`, `data_del` in the payload). Existing
data is copied, in key order (`ord`), and the column dropped. Downgrade puts the data back into
the column, drops the table and puts 0013's function back.
"""
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

SAVE_STEP = r"""
CREATE OR REPLACE FUNCTION liaison_save_step(p jsonb) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_instance integer := (p->>'instance_id')::integer;
    v_now timestamptz := (p->>'now')::timestamptz;
    v_status text := p->>'status';
BEGIN
    IF v_instance IS NULL THEN
        INSERT INTO process_instance (version_id, process_key, status, initiator, business_key, state,
                                      revision, state_key, created_at, updated_at, end_event, ended_at)
        VALUES ((p->>'version_id')::integer, p->>'process_key', v_status, p->>'initiator',
                p->>'business_key', p->>'state', 1, p->>'state_key',
                v_now, v_now, p->>'end_event', CASE WHEN v_status = 'running' THEN NULL ELSE v_now END)
        RETURNING id INTO v_instance;
    ELSE
        UPDATE process_instance
        SET state = p->>'state', status = v_status, end_event = p->>'end_event',
            updated_at = v_now, revision = (p->>'revision')::integer + 1, state_key = p->>'state_key',
            ended_at = CASE WHEN v_status = 'running' THEN NULL ELSE v_now END
        WHERE id = v_instance AND revision = (p->>'revision')::integer;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'instance % changed since it was read', v_instance USING ERRCODE = 'LI409';
        END IF;
    END IF;
    IF p ? 'data_set' THEN
        INSERT INTO instance_data (instance_id, key, ord, value)
        SELECT v_instance, d.key, d.ord, d.value
        FROM jsonb_to_recordset(p->'data_set') AS d(key text, ord bigint, value text)
        ON CONFLICT (instance_id, key) DO UPDATE SET value = EXCLUDED.value;
    END IF;
    IF p ? 'data_del' THEN
        DELETE FROM instance_data
        WHERE instance_id = v_instance AND key IN (SELECT jsonb_array_elements_text(p->'data_del'));
    END IF;
    IF p ? 'fire_timer' THEN
        UPDATE timer SET status = 'fired', fired_at = v_now, claimed_until = NULL
        WHERE id = (p->>'fire_timer')::integer AND status = 'pending';
        IF NOT FOUND THEN
            RAISE EXCEPTION 'timer % is no longer pending', p->>'fire_timer' USING ERRCODE = 'LI410';
        END IF;
    END IF;
    IF p ? 'consume_message' THEN
        UPDATE buffered_message SET status = 'consumed', instance_id = v_instance, consumed_at = v_now
        WHERE id = (p->>'consume_message')::integer AND status = 'waiting';
        IF NOT FOUND THEN
            RAISE EXCEPTION 'message % was already taken', p->>'consume_message' USING ERRCODE = 'LI410';
        END IF;
    END IF;
    IF p ? 'complete_task' THEN
        UPDATE work_task SET status = 'completed', completed_by = p->>'user', completed_at = v_now
        WHERE id = p->>'complete_task' AND status = 'open';
    END IF;
    IF p ? 'cancel' THEN
        UPDATE work_task SET status = 'cancelled', completed_at = v_now
        WHERE instance_id = v_instance AND status = 'open'
          AND id IN (SELECT jsonb_array_elements_text(p->'cancel'));
        UPDATE approval_item SET status = 'cancelled', decided_at = v_now
        WHERE instance_id = v_instance AND status IN ('open', 'waiting')
          AND task_id IN (SELECT jsonb_array_elements_text(p->'cancel'));
    END IF;
    IF p ? 'new_tasks' THEN
        INSERT INTO work_task (id, instance_id, element_id, name, form, assignee, on_behalf_of,
                               candidate_users, candidate_groups, due_at, status, created_at)
        SELECT t.id, v_instance, t.element_id, t.name, t.form, t.assignee, t.on_behalf_of,
               t.candidate_users::json, t.candidate_groups::json, t.due_at, 'open', v_now
        FROM jsonb_to_recordset(p->'new_tasks') AS t(id text, element_id text, name text, form text,
             assignee text, on_behalf_of text, candidate_users jsonb, candidate_groups jsonb,
             due_at timestamptz);
    END IF;
    IF p ? 'approval_items' THEN
        INSERT INTO approval_item (id, task_id, instance_id, signer, position, weight, status, created_at)
        SELECT a.id, a.task_id, v_instance, a.signer, a.position, a.weight, a.status, v_now
        FROM jsonb_to_recordset(p->'approval_items') AS a(id text, task_id text, signer text, position integer,
             weight integer, status text);
    END IF;
    IF p ? 'candidates' THEN
        INSERT INTO task_candidate (task_id, kind, value)
        SELECT c.task_id, c.kind, c.value
        FROM jsonb_to_recordset(p->'candidates') AS c(task_id text, kind text, value text);
    END IF;
    IF p ? 'history' THEN
        INSERT INTO history_entry (instance_id, at, actor, action, element_id, element_type, task_id, comment, data)
        SELECT v_instance, v_now, h.actor, h.action, h.element_id, h.element_type, h.task_id, h.comment,
               h.data::json
        FROM ROWS FROM (jsonb_to_recordset(p->'history') AS (actor text, action text, element_id text,
             element_type text, task_id text, comment text, data text)) WITH ORDINALITY
             AS h(actor, action, element_id, element_type, task_id, comment, data, n)
        ORDER BY h.n;
    END IF;
    IF v_status <> 'running' THEN
        IF p ? 'instance_id' AND NOT p ? 'no_waits' THEN
            UPDATE timer SET status = 'cancelled' WHERE instance_id = v_instance AND status = 'pending';
            DELETE FROM message_subscription WHERE instance_id = v_instance;
        END IF;
    ELSE
        IF p ? 'timers_cancel' THEN
            UPDATE timer SET status = 'cancelled'
            WHERE instance_id = v_instance AND status = 'pending'
              AND task_id IN (SELECT jsonb_array_elements_text(p->'timers_cancel'));
        END IF;
        IF p ? 'subs_cancel' THEN
            DELETE FROM message_subscription
            WHERE instance_id = v_instance AND task_id IN (SELECT jsonb_array_elements_text(p->'subs_cancel'));
        END IF;
        IF p ? 'timers_new' THEN
            INSERT INTO timer (instance_id, task_id, element_id, kind, due_at, status, attempts, detail, created_at)
            SELECT v_instance, t.task_id, t.element_id, t.kind, t.due_at, 'pending', 0, t.detail::json, v_now
            FROM jsonb_to_recordset(p->'timers_new') AS t(task_id text, element_id text, kind text,
                 due_at timestamptz, detail jsonb);
        END IF;
        IF p ? 'subs_new' THEN
            INSERT INTO message_subscription (instance_id, task_id, element_id, message_name, correlation_key,
                                              early, created_at)
            SELECT v_instance, s.task_id, s.element_id, s.message_name, s.correlation_key, s.early, v_now
            FROM jsonb_to_recordset(p->'subs_new') AS s(task_id text, element_id text, message_name text,
                 correlation_key text, early text);
        END IF;
    END IF;
    IF p ? 'outbox' THEN
        INSERT INTO outbox (instance_id, event, channel, recipient, payload, status, attempts, next_attempt_at,
                            created_at)
        SELECT v_instance, o.event, o.channel, o.recipient, o.payload::json, 'pending', 0, v_now, v_now
        FROM jsonb_to_recordset(p->'outbox') AS o(event text, channel text, recipient text, payload jsonb);
    END IF;
    IF p ? 'notifications' THEN
        INSERT INTO notification (recipient, event, instance_id, task_id, title, body, link, created_at)
        SELECT n.recipient, n.event, v_instance, n.task_id, n.title, n.body, n.link, v_now
        FROM jsonb_to_recordset(p->'notifications') AS n(recipient text, event text, task_id text, title text,
             body text, link text);
    END IF;
    RETURN v_instance;
END $$
"""


# each key's JSON text, ordered after the instance's revision as later steps' new keys will be
COPY_DATA = {
    "postgresql": """
        INSERT INTO instance_data (instance_id, key, ord, value)
        SELECT i.id, e.key, (i.revision::bigint << 20) + e.n - 1, e.value::text
        FROM process_instance i, json_each(i.data) WITH ORDINALITY AS e(key, value, n)""",
    "sqlite": """
        INSERT INTO instance_data (instance_id, key, ord, value)
        SELECT i.id, e.key, (i.revision << 20) + e.id, i.data -> e.fullkey
        FROM process_instance i, json_each(i.data) AS e""",
}
RESTORE_DATA = {
    "postgresql": """
        UPDATE process_instance i SET data = COALESCE((SELECT json_object_agg(d.key, d.value::json ORDER BY d.ord)
                                                       FROM instance_data d WHERE d.instance_id = i.id), '{}')""",
    "sqlite": """
        UPDATE process_instance SET data = (SELECT json_group_object(d.key, json(d.value)) FROM
            (SELECT key, value FROM instance_data WHERE instance_id = process_instance.id ORDER BY ord) d)""",
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "instance_data",
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("ord", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("instance_id", "key"),
    )
    op.execute(COPY_DATA["postgresql" if dialect == "postgresql" else "sqlite"])
    if dialect == "postgresql":
        op.execute(SAVE_STEP)  # before the column goes: 0013's function names it
        op.drop_column("process_instance", "data")
    else:
        op.execute("ALTER TABLE process_instance DROP COLUMN data")  # SQLite >= 3.35, no table rebuild


def _previous_function() -> str:
    """0013's function text, read from that migration (it is never edited)."""
    spec = importlib.util.spec_from_file_location("m0013", Path(__file__).with_name("0013_approval_items.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SAVE_STEP


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column("process_instance", sa.Column("data", sa.JSON(), nullable=False, server_default="{}"))
    op.execute(RESTORE_DATA["postgresql" if dialect == "postgresql" else "sqlite"])
    if dialect == "postgresql":
        op.alter_column("process_instance", "data", server_default=None)
        op.execute(_previous_function())
    op.drop_table("instance_data")
