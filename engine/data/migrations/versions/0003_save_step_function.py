"""PostgreSQL: liaison_save_step(jsonb) writes one engine step in one round trip

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

The envelope is jsonb (parsed once); the process data and history data travel inside it as
JSON text and are cast to json, so their key order is kept as written. The step's writes (close the completed task, cancel vanished tasks, insert new tasks, their
candidates and the history, update the instance if its revision is still the one read) run in
one function call, atomically. A changed revision raises SQLSTATE LI409, which rolls the whole
call back. SQLite uses the equivalent Core statements in engine/store.py.
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SAVE_STEP = r"""
CREATE FUNCTION liaison_save_step(p jsonb) RETURNS integer LANGUAGE plpgsql AS $$
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
    INSERT INTO work_task (id, instance_id, element_id, name, form, assignee, candidate_users,
                           candidate_groups, due_at, status, created_at)
    SELECT t.id, v_instance, t.element_id, t.name, t.form, t.assignee, t.candidate_users::json,
           t.candidate_groups::json, t.due_at, 'open', v_now
    FROM jsonb_to_recordset(p->'new_tasks') AS t(id text, element_id text, name text, form text,
         assignee text, candidate_users jsonb, candidate_groups jsonb, due_at timestamptz);
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


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(SAVE_STEP)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION liaison_save_step(jsonb)")
