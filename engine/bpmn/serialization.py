"""SpiffWorkflow persistence adapter: specs stored once per version, instance state without them.

SpiffWorkflow's default serializer embeds the whole process definition in every instance
(about twice the size, and slower). Liaison stores the parsed spec once per deployed version
(`spec_to_json`), keeps restored specs in a per-process cache, and serializes instances with a
converter that leaves the spec out (`dump_state` / `load_state`).

`compact` keeps instance state small and step cost flat: it splices completed tasks out of
the task tree once nothing can need them (Liaison keeps its own append-only history), which
also keeps BPMN loops far from SpiffWorkflow's 1000-level tree-iteration limit.
"""

from __future__ import annotations

import contextvars
import copy
import json
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.defaults import (
    BusinessRuleTask,
    ManualTask,
    ParallelMultiInstanceTask,
    SequentialMultiInstanceTask,
)
from SpiffWorkflow.util.task import TaskState

from engine.caching import BoundedCache

STATE_FORMAT = 2  # bump with a migration function in _STATE_MIGRATIONS when the layout changes
SPEC_FORMAT = 1  # of `spec_to_json`
_SPEC_CONTEXT: contextvars.ContextVar[tuple] = contextvars.ContextVar("liaison_spec_context")


class _SpecFreeWorkflowConverter(BpmnWorkflowConverter):
    """Serializes a workflow without its spec; restores it with the spec from the context."""

    def to_dict(self, workflow):
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct):
        spec, subprocess_specs = _SPEC_CONTEXT.get()
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _liaison_config() -> dict:
    """SpiffWorkflow's converters, plus Liaison's spec classes (each converted like the class it extends)."""
    from engine.bpmn.specs import (
        CollectionExpression,
        ExternalTask,
        LiaisonBusinessRuleTask,
        LiaisonParallelMultiInstanceTask,
        LiaisonSequentialMultiInstanceTask,
    )
    config = dict(SPIFF_CONFIG)
    config[LiaisonParallelMultiInstanceTask] = SPIFF_CONFIG[ParallelMultiInstanceTask]
    config[LiaisonSequentialMultiInstanceTask] = SPIFF_CONFIG[SequentialMultiInstanceTask]
    config[LiaisonBusinessRuleTask] = SPIFF_CONFIG[BusinessRuleTask]
    config[ExternalTask] = SPIFF_CONFIG[ManualTask]
    config[CollectionExpression] = SPIFF_CONFIG[TaskDataReference]
    return config


def _make_serializer() -> BpmnWorkflowSerializer:
    config = _liaison_config()
    config[BpmnWorkflow] = _SpecFreeWorkflowConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


_SERIALIZER = _make_serializer()
_SPEC_SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(_liaison_config()))


def spec_to_json(spec, subprocess_specs: dict) -> str:
    """Serialize one process spec and the specs it calls, to be stored once per version."""
    return json.dumps({
        "format": SPEC_FORMAT,
        "spec": _SPEC_SERIALIZER.to_dict(spec),
        "subprocess_specs": {name: _SPEC_SERIALIZER.to_dict(s) for name, s in subprocess_specs.items()},
    })


def spec_from_json(text: str) -> tuple:
    """Restore `(spec, subprocess_specs)` from `spec_to_json` output."""
    dct = json.loads(text)
    spec = _SPEC_SERIALIZER.from_dict(dct["spec"])
    subs = {name: _SPEC_SERIALIZER.from_dict(s) for name, s in dct["subprocess_specs"].items()}
    return spec, subs


class SpecCache(BoundedCache[tuple]):
    """Restored specs by version checksum; versions are immutable, so entries never go stale."""

    def get(self, checksum: str, load_json) -> tuple:  # type: ignore[override]
        """Return `(spec, subprocess_specs)` for a version's checksum, calling `load_json()` on a miss."""
        return super().get(checksum, lambda: spec_from_json(load_json()))


SPEC_CACHE = SpecCache(256)


def new_workflow(spec, subprocess_specs: dict, script_engine) -> BpmnWorkflow:
    """Create a fresh workflow for a spec."""
    return BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine)


def dump_state(workflow: BpmnWorkflow, shared: dict | None = None) -> str:
    """Serialize an instance's state (task tree, task data, events), never its spec.

    Values equal to the same key in `shared` (the instance's process data, stored in its own
    table) are written as references, so the process data is stored once, not twice: in task data
    and in the workflow's (and each subprocess's) own data, which SpiffWorkflow fills when it ends.
    """
    registry = _SERIALIZER.registry
    registry._encoder_mode = True
    try:
        dct = _SERIALIZER.to_dict(workflow)
    finally:
        registry._encoder_mode = False
    if shared:
        for tasks in _task_dicts(dct):
            for task in tasks.values():
                _share(task, shared)
        for wf in _workflow_dicts(dct):
            _share_workflow_data(wf, shared)
    dct["liaison_state_format"] = STATE_FORMAT
    return json.dumps(dct, separators=(",", ":"), cls=_SERIALIZER._encoder_cls)


def _task_dicts(dct: dict):
    yield dct["tasks"]
    for sub in dct.get("subprocesses", {}).values():
        yield sub["tasks"]


def _workflow_dicts(dct: dict):
    yield dct
    yield from dct.get("subprocesses", {}).values()


def _share_workflow_data(wf: dict, shared: dict) -> None:
    values = wf.get("data")
    if not values:
        return
    refs = [key for key, value in values.items() if key in shared and shared[key] == value]
    if refs:
        wf["liaison_shared"] = refs
        for key in refs:
            del values[key]


def _unshare_workflow_data(wf: dict, shared: dict) -> None:
    refs = wf.pop("liaison_shared", None)
    if refs:
        values = wf.setdefault("data", {})
        for key in refs:
            values[key] = copy.deepcopy(shared[key])


def _share(task: dict, shared: dict) -> None:
    values = task["delta"].get("updates") if task.get("delta") else task.get("data")
    if not values:
        return
    refs = [key for key, value in values.items() if key in shared and shared[key] == value]
    if refs:
        task["shared"] = refs
        for key in refs:
            del values[key]


def _unshare(task: dict, shared: dict) -> None:
    refs = task.pop("shared", None)
    if not refs:
        return
    values = task["delta"].setdefault("updates", {}) if task.get("delta") else task.setdefault("data", {})
    for key in refs:
        values[key] = copy.deepcopy(shared[key])


def load_state(text: str, spec, subprocess_specs: dict, script_engine, shared: dict | None = None) -> BpmnWorkflow:
    """Restore an instance from `dump_state` output, re-attaching the spec and the script engine."""
    dct = json.loads(text, cls=_SERIALIZER.json_decoder_cls)
    _migrate(dct)
    for tasks in _task_dicts(dct):
        for task in tasks.values():
            _unshare(task, shared or {})
    for wf in _workflow_dicts(dct):
        _unshare_workflow_data(wf, shared or {})
    token = _SPEC_CONTEXT.set((spec, subprocess_specs))
    try:
        workflow = _SERIALIZER.from_dict(dct)
    finally:
        _SPEC_CONTEXT.reset(token)
    workflow.script_engine = script_engine
    return workflow


def _migrate(dct: dict) -> None:
    version = dct.pop("liaison_state_format", STATE_FORMAT)
    if version > STATE_FORMAT:  # written by newer code (a rolling deploy): refuse rather than misread
        raise ValueError(f"instance state format {version} is newer than this code's {STATE_FORMAT}")
    while version < STATE_FORMAT:
        _STATE_MIGRATIONS[version](dct)
        version += 1


def _from_1(dct: dict) -> None:
    """Format 2 may store the workflow's own data as references (`liaison_shared`); a format 1
    state has none, so it reads as it is. The bump only makes format 1 code refuse format 2."""


_STATE_MIGRATIONS: dict = {1: _from_1}  # format N -> function upgrading a state dict from N to N + 1


def compact(workflow: BpmnWorkflow) -> int:
    """Splice completed tasks that nothing can need out of every task tree; return how many.

    A task is removed when it is COMPLETED, has exactly one child and that child is COMPLETED
    too: its data has already flowed on and no join, boundary event or subprocess refers to it.
    A join's input (the last task of a branch, whose child is a waiting or cancelled join task)
    is never removed, so joins still merge every branch's data.
    """
    removed = 0
    for wf in [workflow, *workflow.subprocesses.values()]:
        removed += _compact_tree(workflow, wf)
    return removed


def _compact_tree(top: BpmnWorkflow, wf) -> int:
    tasks = wf.tasks
    root_id = wf.task_tree.id if wf.task_tree is not None else None
    doomed = []
    for task in tasks.values():
        if (task.id != root_id and task._parent is not None and task.state == TaskState.COMPLETED
                and len(task._children) == 1):
            child = tasks.get(task._children[0])
            if child is not None and child.state == TaskState.COMPLETED:
                doomed.append(task)
    for task in doomed:
        parent = tasks.get(task._parent)
        child_id = task._children[0]
        if parent is None or child_id not in tasks:
            continue
        if isinstance(task.task_spec, SubWorkflowTask) and task.id in top.subprocesses:
            top.delete_subprocess(task)
        position = parent._children.index(task.id)
        parent._children[position] = child_id
        tasks[child_id]._parent = parent.id
        del tasks[task.id]
        if wf.last_task is task:
            wf.last_task = tasks[child_id]
    return len(doomed)


def tree_depth(workflow: BpmnWorkflow) -> int:
    """The deepest task's distance from its tree root, over the top workflow and its subprocesses."""
    deepest = 0
    for wf in [workflow, *workflow.subprocesses.values()]:
        depths: dict = {}
        for task in wf.tasks.values():
            chain, node = [], task
            while node is not None and node.id not in depths:
                chain.append(node)
                node = wf.tasks.get(node._parent) if node._parent is not None else None
            base = depths[node.id] if node is not None else -1
            for item in reversed(chain):
                base += 1
                depths[item.id] = base
        deepest = max(deepest, max(depths.values(), default=0))
    return deepest
