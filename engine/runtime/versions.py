"""What never changes for a deployed version, looked up once per process: the parsed spec, the
forms, the stored package (templates, meta) and each node's Liaison attributes, all in bounded,
locked caches keyed by the version's checksum.
"""

from __future__ import annotations

from sqlalchemy import select

from engine.bpmn import workflow as wfa
from engine.bpmn.serialization import SPEC_CACHE
from engine.caching import BoundedCache
from engine.data import store
from engine.data.models import ProcessVersion
from engine.results import element_names
from engine.runtime.submissions import FORM_CACHE


def version_forms(conn, version_id: int, checksum: str) -> dict:
    return FORM_CACHE.get(checksum, lambda: store.version_package(conn, version_id))


NODE_ATTRIBUTES: BoundedCache[dict] = BoundedCache(8192)  # (version checksum, element id) -> liaison attributes


def node_attributes(conn, handle) -> dict:
    """The Liaison attributes of a task's node; versions never change, so each is looked up once
    (a completion asks for the mode and the timers: without this, two scans of the spec a step)."""
    def compute() -> dict:
        spec, subspecs = version_specs(conn, handle.version_id, handle.checksum)
        return wfa.element_attributes(spec, handle.element_id, subspecs)

    return NODE_ATTRIBUTES.get((handle.checksum, handle.element_id), compute)


class PackageCache(BoundedCache[dict]):
    """Stored packages (templates, meta) by version checksum."""

    def get(self, conn, version_id: int, checksum: str) -> dict:  # type: ignore[override]
        """The stored package of a version, read once."""
        return super().get(checksum, lambda: store.version_package(conn, version_id) or {})


PACKAGE_CACHE = PackageCache(128)


def version_package(conn, version_id: int, checksum: str) -> dict:
    return PACKAGE_CACHE.get(conn, version_id, checksum)


def version_specs(conn, version_id: int, checksum: str) -> tuple:
    return SPEC_CACHE.get(checksum, lambda: store.version_spec_json(conn, version_id))


def approval_mode(conn, handle) -> str | None:
    """The approval mode of the task's node (from the spec: no query), or None."""
    return node_attributes(conn, handle).get("mode")


VERSION_WAITS: BoundedCache[bool] = BoundedCache(256)  # version checksum -> may its instances wait?


def version_may_wait(conn, version_id: int, checksum: str) -> bool:
    """Whether the version has anything that makes timer rows or message subscriptions (`wfa.may_wait`),
    looked up once: a finishing instance of a version without any needs no clean-up statements."""
    return VERSION_WAITS.get(checksum, lambda: wfa.may_wait(*version_specs(conn, version_id, checksum)))


def versions_element_names(conn, version_ids) -> dict[int, dict]:
    """`results.element_names` of each version (package.yaml `names`), for `results.element_label`:
    one small query for the checksums, the packages from the cache."""
    ids = sorted({v for v in version_ids if v is not None})
    if not ids:
        return {}
    rows = conn.execute(select(ProcessVersion.id, ProcessVersion.checksum).where(ProcessVersion.id.in_(ids)))
    return {vid: element_names(PACKAGE_CACHE.get(conn, vid, checksum)) for vid, checksum in rows}
