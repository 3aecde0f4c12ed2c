"""Core statements of the engine step run on SQLite's DBAPI cursor, compiled and planned once.

`Connection.execute` costs about 45 us a statement on SQLite here, over five times what SQLite takes to run a
small INSERT (docs/benchmarks.md, "Engine throughput"), and an engine step runs six or seven of them. `Prepared`
compiles a statement once per dialect and set of column keys, keeps SQLAlchemy's own bind processors for it
(dates and JSON are converted exactly as `Connection.execute` converts them) and runs it on the connection's
DBAPI cursor inside the connection's transaction. Driver errors are raised as SQLAlchemy's (`IntegrityError`,
`OperationalError`), so callers and the retry loop (`engine.data.retry`) see what they saw before.

Only SQLite takes this path. On PostgreSQL a step's writes are one server-side function call and its reads
go through `Connection.execute`, where the statement-count tests (tests/web/test_statement_budget.py) see them.

Imports: SQLAlchemy only.
"""

from __future__ import annotations

import threading

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, InvalidRequestError

_MAX_PLANS = 16  # per statement: one per dialect object and column-key set (tests make many engines)


class Prepared:
    """A Core statement run with `run(conn, params)` / `many(conn, rows)`: on SQLite straight on the DBAPI
    cursor, elsewhere through `conn.execute`. INSERTs compile for the keys of the (first) row, as
    `Connection.execute` does for an executemany."""

    def __init__(self, statement, *, by_keys: bool = False):
        self.statement = statement
        self._by_keys = by_keys  # an INSERT whose columns are the given rows' keys
        self._plans: dict = {}
        self._lock = threading.Lock()

    def run(self, conn: Connection, params: dict) -> int:
        """Execute once with `params`; the number of rows it changed."""
        if conn.dialect.name != "sqlite":
            return conn.execute(self.statement, params).rowcount
        sql, plan = self._plan(conn.dialect, params)
        cursor = _cursor(conn)
        try:
            cursor.execute(sql, _values(plan, params))
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _wrapped(conn, sql, params, exc) from exc
        return cursor.rowcount

    def many(self, conn: Connection, rows: list[dict]) -> None:
        """Execute for every row of `rows` (all with the same keys); nothing when there are none."""
        if not rows:
            return
        if conn.dialect.name != "sqlite":
            conn.execute(self.statement, rows)
            return
        sql, plan = self._plan(conn.dialect, rows[0])
        cursor = _cursor(conn)
        try:
            cursor.executemany(sql, [_values(plan, row) for row in rows])
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _wrapped(conn, sql, rows, exc) from exc

    def _plan(self, dialect, params: dict) -> tuple[str, tuple]:
        keys = tuple(params) if self._by_keys else None
        key = (id(dialect), keys)
        found = self._plans.get(key)
        if found is not None and found[0] is dialect:
            return found[1], found[2]
        compiled = self.statement.compile(dialect=dialect, column_keys=list(keys) if keys else None)
        processors = compiled._bind_processors
        plan = []
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            plan.append((name, processors.get(name), bind.required, None if bind.required else bind.effective_value))
        with self._lock:
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            self._plans[key] = (dialect, compiled.string, tuple(plan))
        return compiled.string, tuple(plan)


def _values(plan: tuple, params: dict) -> tuple:
    values = []
    for name, processor, required, fixed in plan:
        if name in params:
            value = params[name]
        elif required:
            raise InvalidRequestError(f"A value is required for bind parameter {name!r}")  # as SQLAlchemy says
        else:
            value = fixed
        values.append(value if processor is None else processor(value))  # None too: JSON stores it as `null`
    return tuple(values)


def _cursor(conn: Connection):
    """The DBAPI cursor of `conn`, inside its transaction (begun as `Connection.execute` would autobegin it)."""
    if not conn.in_transaction():
        conn.begin()
    return conn.connection.dbapi_connection.cursor()


def _wrapped(conn: Connection, sql: str, params, exc: Exception) -> DBAPIError:
    return DBAPIError.instance(sql, params, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect)
