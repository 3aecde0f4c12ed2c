"""One bounded, thread-safe cache for what never changes once deployed (keyed by a version's checksum).

Every per-version cache of the engine is one of these: parsed specs (`engine.bpmn.serialization`),
forms (`engine.runtime.submissions`), stored packages and node attributes (`engine.runtime.versions`).
A leaf: imports nothing of engine.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
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
