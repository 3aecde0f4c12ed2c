"""Moving a running workflow onto another version's spec (SpiffWorkflow's `bpmn.util.diff`).

`waiting_points` lists where a workflow waits; `blockers` says which of them cannot move to the new
spec (the element is gone and not mapped, a multi-instance node whose inputs would be lost, a subprocess
whose spec is gone); `migrate` aligns the task tree with the new spec (by id, plus an explicit
`{old id: new id}` mapping for renamed elements) and keeps what Liaison stored with each waiting task
(its assignment, a timer's due time, its data), which SpiffWorkflow's reset of waiting tasks would wipe.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.serialization import _SPEC_SERIALIZER  # the converters SpecDiff compares specs with

_WAITING = TaskState.READY | TaskState.WAITING


@dataclass(frozen=True)
class WaitingPoint:
    """One element a workflow waits at: its task, element id, type and name."""

    task_id: str
    element_id: str
    element_type: str
    name: str | None
    multi_instance: bool


def waiting_points(workflow) -> list[WaitingPoint]:
    """The BPMN elements the workflow waits at (READY or WAITING tasks, in subprocesses too)."""
    points = []
    for task in workflow.get_tasks(state=_WAITING):
        spec = task.task_spec
        element = getattr(spec, "bpmn_id", None)
        if not element:
            continue  # SpiffWorkflow's own Root/Start/End tasks
        parent_loop = task.parent is not None and isinstance(task.parent.task_spec, LoopTask)
        points.append(WaitingPoint(str(task.id), element, type(spec).__name__, getattr(spec, "bpmn_name", None),
                                   isinstance(spec, LoopTask) or parent_loop))
    return points


def _element_ids(spec, subspecs: dict) -> set[str]:
    return {getattr(s, "bpmn_id", None) for sp in [spec, *subspecs.values()] for s in sp.task_specs.values()} - {None}


def blockers(workflow, new_spec, new_subspecs: dict, mapping: dict[str, str]) -> list[tuple[str, str]]:
    """Why the workflow cannot move to the new spec: `[(element id, reason code)]`, empty when it can.
    Codes: "missing" (the element is not in the new version and not mapped), "mapped_missing" (mapped
    to an id the new version lacks), "passed_missing" (a task the instance keeps in its tree, of an
    element the new version lacks), "multi_instance" (its instances' inputs would be lost)."""
    ids = _element_ids(new_spec, new_subspecs)
    found = []
    points = waiting_points(workflow)
    waiting = {p.task_id for p in points}
    alignment = _spec_diff(workflow.spec, new_spec, mapping).alignment
    for task in workflow.get_tasks(skip_subprocesses=True):
        element = getattr(task.task_spec, "bpmn_id", None)
        if element and str(task.id) not in waiting and alignment.get(task.task_spec) is None \
                and (element, "passed_missing") not in found:
            found.append((element, "passed_missing"))  # kept in the task tree, it would name a missing spec
    for point in points:
        target = mapping.get(point.element_id, point.element_id)
        if target not in ids:
            found.append((point.element_id, "mapped_missing" if point.element_id in mapping else "missing"))
        elif point.multi_instance:
            found.append((point.element_id, "multi_instance"))
    return found


def element_attributes_of(spec, subspecs: dict, element_id: str) -> dict | None:
    """The Liaison attributes of an element of the spec (None: no such element)."""
    for candidate in [spec, *subspecs.values()]:
        for task_spec in candidate.task_specs.values():
            if getattr(task_spec, "bpmn_id", None) == element_id:
                return dict(getattr(task_spec, "extensions", {}).get("liaison", {}))
    return None


def _spec_diff(old_spec, new_spec, mapping: dict[str, str]) -> SpecDiff:
    """SpiffWorkflow's alignment of two specs, with the explicitly mapped elements aligned by `mapping`."""
    diff = SpecDiff(_SPEC_SERIALIZER.registry, old_spec, new_spec)
    by_id = {getattr(s, "bpmn_id", None): s for s in new_spec.task_specs.values()}
    for old in list(diff.alignment):
        if old is not None and getattr(old, "bpmn_id", None) in mapping:
            target = by_id.get(mapping[old.bpmn_id])
            if target is not None:
                diff.alignment[old] = target
                if target in diff.added:
                    diff.added.remove(target)
    return diff


def migrate(workflow, new_spec, new_subspecs: dict, mapping: dict[str, str]) -> None:
    """Move `workflow` onto `new_spec` (check `blockers` first: it must be empty). Waiting tasks keep
    their ids, data and Liaison state (assignment, timer due times)."""
    kept = {task.id: (copy.deepcopy(task.data), copy.deepcopy(task.internal_data))
            for task in workflow.get_tasks(state=_WAITING)}
    top = WorkflowDiff(workflow, _spec_diff(workflow.spec, new_spec, mapping))
    migrate_workflow(top, workflow, new_spec)
    for sub in list(workflow.subprocesses.values()):
        new_sub_spec = new_subspecs.get(sub.spec.name)
        if new_sub_spec is not None:  # a subprocess whose spec is gone: `blockers` names its waiting elements
            migrate_workflow(WorkflowDiff(sub, _spec_diff(sub.spec, new_sub_spec, mapping)), sub, new_sub_spec)
    workflow.subprocess_specs = new_subspecs
    for task in workflow.get_tasks(state=_WAITING):
        if task.id in kept:
            task.data, task.internal_data = kept[task.id]
