"""The one retry loop of the engine: run an operation again when the database says "not now".

Used by an engine step (the instance moved on, SQLite was busy, a pooled connection died), the
operations without a step (SQLite busy), and deployment (a concurrent deployment of the same
package won the version number).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

T = TypeVar("T")


def is_contention(exc: BaseException) -> bool:
    """SQLite busy or locked, or a pooled connection the server dropped (restart, failover): the
    same operation may succeed when run again (on a fresh connection)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError):
        message = str(exc).lower()
        return "locked" in message or "busy" in message
    return False


def with_retries(operation: Callable[[], T], *, retry_on: Callable[[BaseException], bool], attempts: int = 5,
                 pause: float = 0.0, give_up: Callable[[BaseException], Exception] | None = None) -> T:
    """`operation()`, run again (at most `attempts` times in all) while what it raises passes `retry_on`.

    `pause` seconds times the attempt number are slept between attempts. When the last attempt fails
    too, `give_up(exc)` is raised if given (a message the user can act on), else the exception itself.
    """
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except Exception as exc:
            if not retry_on(exc):
                raise
            if attempt == attempts:
                if give_up is None:
                    raise
                raise give_up(exc) from exc
            if pause:
                time.sleep(pause * attempt)
    raise AssertionError("unreachable")
