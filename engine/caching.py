"""One bounded, thread-safe cache for what never changes once deployed (keyed by a version's checksum),
and the read scope of a page that only reads.

Every per-version cache of the engine is one of these: parsed specs (`engine.bpmn.serialization`),
forms (`engine.runtime.submissions`), stored packages and node attributes (`engine.runtime.versions`).

`read_scope()`: a page that only reads (the task page asks half a dozen engine rules about the same
task, instance and person) opens one; inside it, `scoped(key, compute)` answers a repeated read from
the first answer instead of another round trip. Outside a scope `scoped` just computes, so a rule
called by a step or an operation always reads afresh. Only reads whose answer the page cannot change
go through it (nothing is written inside a scope).
A leaf: imports nothing of engine.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Generic, TypeVar

V = TypeVar("V")


class BoundedCache(Generic[V]):
    """At most `capacity` entries, least recently used dropped first; `compute` runs outside the lock
    (two threads missing the same key may both compute it; the values are equal, one is kept)."""

    def __init__(self, capacity: int):
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The value for `key`, computed by `compute()` on a miss."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget everything (tests use this to prove state reloads from the database)."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


_SCOPE: ContextVar[dict | None] = ContextVar("liaison_read_scope", default=None)


@contextmanager
def read_scope() -> Iterator[None]:
    """Within: `scoped` reads are made once (see the module's docstring). Nested scopes share the outer one."""
    if _SCOPE.get() is not None:
        yield
        return
    token = _SCOPE.set({})
    try:
        yield
    finally:
        _SCOPE.reset(token)


def scoped(key: Hashable, compute: Callable[[], V]) -> V:
    """`compute()`, or inside a `read_scope` the value it gave for `key` the first time."""
    memo = _SCOPE.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]
