"""Serial numbers (流水号): one counter row per process, field and reset scope, incremented atomically.

`INSERT ... ON CONFLICT DO UPDATE ... RETURNING` takes the next number in one statement on both
SQLite and PostgreSQL, so two instances started at once never share a number. On PostgreSQL the
step runs in autocommit, so a start that fails afterwards leaves a gap (as paper ledgers do).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from engine.data.models import SerialCounter
from forms.schema import FormSchema
from forms.serial import parse_pattern

_table = SerialCounter.__table__


def next_number(conn: Connection, process_key: str, field: str, scope: str) -> int:
    """The next number of the counter (1 for a new scope)."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = (insert(_table).values(process_key=process_key, field=field, scope=scope, value=1)
                 .on_conflict_do_update(index_elements=["process_key", "field", "scope"],
                                        set_={"value": _table.c.value + 1})
                 .returning(_table.c.value))
    return conn.execute(statement).scalar_one()


def assign_serials(conn: Connection, schema: FormSchema | None, process_key: str, data: dict,
                   current: dict, now: datetime) -> dict:
    """`data` with a number for each serial field of the form that has none yet (`now` in company time)."""
    if schema is None:
        return data
    for spec in schema.fields:
        if spec["type"] != "serial" or current.get(spec["name"]) or data.get(spec["name"]):
            continue
        pattern = parse_pattern(spec["pattern"])
        number = next_number(conn, process_key, spec["name"], pattern.scope(now))
        data = {**data, spec["name"]: pattern.format(now, number, process=process_key)}
    return data
