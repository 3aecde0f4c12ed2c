"""An instance's outcome as people read it, and an approver's decision: one rule for the instance page,
the inbox, my requests, their CSV exports and the notifications a step sends.

The outcome of an ended instance is `approved` / `rejected` when the process data holds a decision
(`approved` true / false, the key every approval form and approval node sets), `withdrawn` /
`terminated` when someone cancelled it through those operations, `finished` for a completed process
without a decision, `cancelled` for any other cancellation and `failed` for an instance in error.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import select

from engine.data.models import HistoryEntry, InstanceData, ProcessInstance

DECISION_KEY = "approved"  # the process data key a decision sets (true: approve, false: reject)
OUTCOMES = ("running", "approved", "rejected", "withdrawn", "terminated", "finished", "cancelled", "failed")
ENDED_BY = ("withdrawn", "terminated")  # history actions that cancel an instance on purpose


def decision(value) -> str | None:
    """`approved` / `rejected` for a decision value (true / false), None for anything else."""
    if value is True:
        return "approved"
    if value is False:
        return "rejected"
    return None


def outcome(status: str, approved=None, ended_by: str | None = None) -> str:
    """The outcome of an instance with `status`, the process data's decision `approved` and the
    history action that cancelled it (`ended_by`)."""
    if status == "running":
        return "running"
    if status == "completed":
        return decision(approved) or "finished"
    if status == "cancelled":
        return ended_by if ended_by in ENDED_BY else "cancelled"
    return "failed"


def outcomes(session, instance_ids: Iterable[int]) -> dict[int, str]:
    """The outcome of each instance, in three indexed queries whatever the number of instances."""
    ids = sorted(set(instance_ids))
    if not ids:
        return {}
    statuses = dict(session.execute(select(ProcessInstance.id, ProcessInstance.status)
                                    .where(ProcessInstance.id.in_(ids))).all())
    ended = [i for i, status in statuses.items() if status != "running"]
    decisions, ended_by = {}, {}
    if ended:
        for instance_id, value in session.execute(select(InstanceData.instance_id, InstanceData.value).where(
                InstanceData.instance_id.in_(ended), InstanceData.key == DECISION_KEY)):
            decisions[instance_id] = _loads(value)
        cancelled = [i for i in ended if statuses[i] == "cancelled"]
        if cancelled:
            for instance_id, action in session.execute(select(HistoryEntry.instance_id, HistoryEntry.action).where(
                    HistoryEntry.instance_id.in_(cancelled), HistoryEntry.action.in_(ENDED_BY))
                    .order_by(HistoryEntry.id)):
                ended_by[instance_id] = action
    return {i: outcome(status, decisions.get(i), ended_by.get(i)) for i, status in statuses.items()}


def task_decisions(session, task_ids: Iterable[str]) -> dict[str, str]:
    """The decision (`approved` / `rejected`) each completed task was submitted with, when it had one."""
    ids = sorted(set(task_ids))
    if not ids:
        return {}
    found = {}
    for task_id, data in session.execute(select(HistoryEntry.task_id, HistoryEntry.data).where(
            HistoryEntry.task_id.in_(ids), HistoryEntry.action.in_(("task_completed", "signed"))).order_by(HistoryEntry.id)):
        made = decision((data or {}).get(DECISION_KEY)) if isinstance(data, dict) else None
        if made:
            found[task_id] = made
    return found


def _loads(text: str):
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None
