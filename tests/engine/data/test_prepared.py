"""`Prepared`: the step's statements on SQLite's DBAPI cursor store exactly what `Connection.execute` stores."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from engine import runtime
from engine.data.models import HistoryEntry, WorkTask
from engine.data.prepared import Prepared
from engine.packages import deployment
from tests.engine.conftest import flow, write_package

_history = HistoryEntry.__table__
_task = WorkTask.__table__
NOW = datetime(2026, 12, 4, 21, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def instance_id(sessions, tmp_path):
    body = ('<bpmn:startEvent id="start"/><bpmn:userTask id="t" liaison:assignee="ann"/><bpmn:endEvent id="end"/>'
            + flow("start", "t") + flow("t", "end"))
    with sessions() as session, session.begin():
        deployment.deploy(session, deployment.load_package(write_package(tmp_path, "prep", {"prep": body})), "admin")
    return runtime.start_instance(sessions, "prep", {}, user="ann").instance_id


def _raw_rows(conn, table: str, where: str, **params) -> list[tuple]:
    return [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} WHERE {where} ORDER BY 1"), params)]


def test_rows_are_stored_as_connection_execute_stores_them(sessions, instance_id):
    """Dates, JSON (a list, a dict, None as JSON `null`), strings and numbers: the stored text is the same."""
    rows = [{"instance_id": instance_id, "at": NOW, "actor": "ann", "action": f"a{i}", "element_id": "x",
             "element_type": None, "task_id": None, "comment": "注释", "data": data}
            for i, data in enumerate(([1, "二"], {"k": None}, None))]
    with sessions.kw["bind"].begin() as conn:
        conn.execute(insert(_history), [{**r, "action": "core"} for r in rows])
        Prepared(insert(_history), by_keys=True).many(conn, [{**r, "action": "prepared"} for r in rows])
    with sessions.kw["bind"].connect() as conn:
        core = _raw_rows(conn, "history_entry", "action = 'core'")
        fast = _raw_rows(conn, "history_entry", "action = 'prepared'")
    assert [r[2:4] + r[5:] for r in core] == [r[2:4] + r[5:] for r in fast] and len(fast) == 3
    assert [r[-1] for r in fast] == [r[-1] for r in core]  # JSON text (None: `null`, as SQLAlchemy writes it)


def test_an_update_counts_rows_and_takes_its_literal_values(sessions, instance_id):
    statement = Prepared(update(_task).where(_task.c.instance_id == bindparam("b_instance"), _task.c.status == "open")
                         .values(status="completed", completed_by=bindparam("b_user"), completed_at=bindparam("b_now")))
    with sessions.kw["bind"].begin() as conn:
        assert statement.run(conn, {"b_instance": instance_id, "b_user": "ann", "b_now": NOW}) == 1
        assert statement.run(conn, {"b_instance": instance_id, "b_user": "ann", "b_now": NOW}) == 0  # not open now
    with sessions.kw["bind"].connect() as conn:
        row = conn.execute(select(_task.c.status, _task.c.completed_by, _task.c.completed_at)
                           .where(_task.c.instance_id == instance_id)).one()
    assert row[:2] == ("completed", "ann") and row[2].replace(tzinfo=UTC) == NOW
    with sessions.kw["bind"].begin() as conn, pytest.raises(SQLAlchemyError, match="b_user"):
        statement.run(conn, {"b_instance": instance_id, "b_now": NOW})


def test_a_rolled_back_transaction_keeps_nothing_and_errors_are_sqlalchemys(sessions, instance_id):
    statement = Prepared(insert(_history), by_keys=True)
    row = {"instance_id": instance_id, "at": NOW, "action": "gone"}
    with sessions.kw["bind"].connect() as conn:
        statement.many(conn, [row])  # begins the connection's transaction, as `execute` would
        assert conn.in_transaction()
        conn.rollback()
        with pytest.raises(IntegrityError):  # what the step's race handling catches
            statement.many(conn, [{**row, "instance_id": 10**9}])
        conn.rollback()
    with sessions.kw["bind"].connect() as conn:
        assert _raw_rows(conn, "history_entry", "action = 'gone'") == []
