"""A request's summary in lists (the inbox): the 2-3 start-form fields the package names in
package.yaml `summary: [leave_type, start, days]` (checked at deploy), by default the first two fields
of the start form that hold a value.
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.caching import BoundedCache
from engine.data.models import InstanceData, ProcessInstance, ProcessVersion
from engine.runtime.versions import PACKAGE_CACHE
from engine.work.pages import version_start_form
from forms.schema import COMPUTED_TYPES, DISPLAY_TYPES

DEFAULT_FIELDS = 2
MAX_FIELDS = 3
NOT_SUMMARY_TYPES = (*DISPLAY_TYPES, "table", "file", "signature")  # nothing short to show


def summary_problems(summary, start_fields: list[dict] | None) -> list[str]:
    """package.yaml `summary`: a list of 1-3 distinct field names of the main process's start form."""
    if summary is None:
        return []
    if not isinstance(summary, list) or not 1 <= len(summary) <= MAX_FIELDS or \
            not all(isinstance(name, str) for name in summary) or len(set(summary)) != len(summary):
        return [f"`summary` must be a list of 1 to {MAX_FIELDS} distinct start-form field names "
                "(shown in the inbox), e.g. [leave_type, days]"]
    if start_fields is None:
        return ["`summary` names fields of the start form, but the process's start event names no form"]
    types = {f.get("name"): f.get("type") for f in start_fields}
    problems = [f"`summary` names `{name}`, which is not a field of the start form" for name in summary
                if name not in types]
    problems += [f"`summary` names `{name}`, a {types[name]} field, which has no short value to show"
                 for name in summary if types.get(name) in NOT_SUMMARY_TYPES]
    return problems


def summary_fields(session: Session, version: ProcessVersion) -> list[dict]:
    """The start-form field specs a version's requests are summarized by."""
    schema = version_start_form(session, version)
    if schema is None:
        return []
    meta = PACKAGE_CACHE.get(session.connection(), version.id, version.checksum).get("meta") or {}
    names = meta.get("summary")
    if isinstance(names, list):
        return [f for name in names for f in schema.fields if f["name"] == name]
    return [f for f in schema.fields
            if f["type"] not in (*NOT_SUMMARY_TYPES, *COMPUTED_TYPES)][:DEFAULT_FIELDS]


SUMMARY_FIELDS: BoundedCache[list[dict]] = BoundedCache(256)  # version checksum -> `summary_fields`


def summaries(session: Session, instance_ids) -> dict[int, list[tuple[dict, object]]]:
    """`{instance id: [(field spec, value), ...]}` for the listed instances: two queries, plus one per
    version not cached yet (`SUMMARY_FIELDS`). A field without a value is left out."""
    ids = sorted(set(instance_ids))
    if not ids:
        return {}
    rows = session.execute(select(ProcessInstance.id, ProcessInstance.version_id, ProcessVersion.checksum)
                           .join(ProcessVersion, ProcessVersion.id == ProcessInstance.version_id)
                           .where(ProcessInstance.id.in_(ids))).all()
    versions = {instance_id: version_id for instance_id, version_id, _checksum in rows}
    fields_of = {}
    for version_id, checksum in {(version_id, checksum) for _i, version_id, checksum in rows}:
        fields_of[version_id] = SUMMARY_FIELDS.get(  # the version row (BPMN, spec, package) only on a miss
            checksum, lambda v=version_id: summary_fields(session, session.get(ProcessVersion, v)))
    names = sorted({f["name"] for specs in fields_of.values() for f in specs})
    if not names:
        return {i: [] for i in ids}
    values: dict[int, dict] = {}
    for instance_id, key, text in session.execute(
            select(InstanceData.instance_id, InstanceData.key, InstanceData.value)
            .where(InstanceData.instance_id.in_(ids), InstanceData.key.in_(names))):
        try:
            values.setdefault(instance_id, {})[key] = json.loads(text)
        except (TypeError, ValueError):
            continue
    found = {}
    for instance_id in ids:
        data = values.get(instance_id, {})
        found[instance_id] = [(spec, data[spec["name"]]) for spec in fields_of.get(versions.get(instance_id), [])
                              if data.get(spec["name"]) not in (None, "", [])]
    return found
