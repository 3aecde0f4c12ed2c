"""The `external_task` rows a step opens and ends, written in the step's transaction (`step._write_in_transaction`).

A READY external service task (`engine.bpmn.specs.ExternalTask`) gets one row (open, its topic, the
process data as variables); a row whose engine task is no longer READY (a boundary event, the
instance withdrawn or terminated) is cancelled. Only versions with an external task pay for this.
"""

from __future__ import annotations

import json

from sqlalchemy import insert, select, update

from engine.bpmn import workflow as wfa
from engine.caching import BoundedCache
from engine.data import store
from engine.data.external_task_models import ExternalTask
from engine.runtime.versions import version_specs

table = ExternalTask.__table__
LIVE = ("open", "locked", "failed", "incident")  # rows a worker or an admin may still act on

VERSION_EXTERNAL: BoundedCache[bool] = BoundedCache(256)  # version checksum -> has external tasks?


def version_has_external(conn, version_id: int, checksum: str) -> bool:
    return VERSION_EXTERNAL.get(checksum, lambda: wfa.has_external_tasks(*version_specs(conn, version_id, checksum)))


def record_external_tasks(conn, instance_id: int, ready: list, step: store.StepWrite) -> None:
    """Open a row for each newly READY external task of the instance (`ready`: those of the workflow
    after the step), cancel the rows left behind."""
    ready = ready if step.status == "running" else []
    ids = [str(task.id) for task in ready]
    ending = update(table).where(table.c.instance_id == instance_id, table.c.status.in_(LIVE))
    if ids:
        ending = ending.where(table.c.task_id.not_in(ids))
    conn.execute(ending.values(status="cancelled", worker=None, lock_expires_at=None, updated_at=step.now))
    if not ids:
        return
    known = set(conn.execute(select(table.c.task_id).where(table.c.task_id.in_(ids))).scalars())
    variables = json.loads(json.dumps(step.data, default=str))  # plain JSON, as a worker receives it
    rows = [{"task_id": str(task.id), "instance_id": instance_id, "element_id": task.task_spec.bpmn_id,
             "topic": _topic(task),
             "status": "open", "available_at": step.now, "variables": variables, "created_at": step.now,
             "updated_at": step.now}
            for task in ready if str(task.id) not in known]
    if rows:
        conn.execute(insert(table), rows)


def _topic(task) -> str:
    return getattr(task.task_spec, "extensions", {}).get("liaison", {}).get("topic") or task.task_spec.bpmn_id
