"""What never changes for a deployed version, looked up once per process: the parsed spec, the
forms, the stored package (templates, meta) and each node's Liaison attributes, all in bounded,
locked caches keyed by the version's checksum.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from engine.bpmn import workflow as wfa
from engine.bpmn.serialization import SPEC_CACHE
from engine.data import store
from engine.runtime.submissions import FORM_CACHE


def version_forms(conn, version_id: int, checksum: str) -> dict:
    return FORM_CACHE.get(checksum, lambda: store.version_package(conn, version_id))


_NODE_ATTRIBUTES: dict[tuple[str, str], dict] = {}  # (version checksum, element id) -> liaison attributes


def node_attributes(conn, handle) -> dict:
    """The Liaison attributes of a task's node; versions never change, so each is looked up once
    (a completion asks for the mode and the timers: without this, two scans of the spec a step)."""
    key = (handle.checksum, handle.element_id)
    found = _NODE_ATTRIBUTES.get(key)
    if found is None:
        spec, subspecs = version_specs(conn, handle.version_id, handle.checksum)
        found = _NODE_ATTRIBUTES[key] = wfa.element_attributes(spec, handle.element_id, subspecs)
    return found


class _PackageCache:
    """Stored packages (templates, meta) by version checksum: versions never change."""

    def __init__(self, capacity: int = 128):
        self._items: OrderedDict = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, conn, version_id: int, checksum: str) -> dict:
        with self._lock:
            found = self._items.get(checksum)
        if found is None:
            found = store.version_package(conn, version_id) or {}
            with self._lock:
                self._items[checksum] = found
                while len(self._items) > self._capacity:
                    self._items.popitem(last=False)
        return found


PACKAGE_CACHE = _PackageCache()


def version_package(conn, version_id: int, checksum: str) -> dict:
    return PACKAGE_CACHE.get(conn, version_id, checksum)


def version_specs(conn, version_id: int, checksum: str) -> tuple:
    return SPEC_CACHE.get(checksum, lambda: store.version_spec_json(conn, version_id))


def approval_mode(conn, handle) -> str | None:
    """The approval mode of the task's node (from the spec: no query), or None."""
    return node_attributes(conn, handle).get("mode")
