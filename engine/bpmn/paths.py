"""The user tasks a new instance would reach, read from a parsed process spec without running it.

An adapter (it reads SpiffWorkflow task specs): `upcoming_user_tasks(spec, data, evaluate)` walks
the sequence flows from the start event in order, through exclusive and inclusive gateways whose
conditions `evaluate(expression, data)` can decide with the data known now (the start form), and
through parallel gateways along every branch. A business rule task's decision table is evaluated on
the data known now and its outputs join the data (unchanged when the data cannot decide it). A gateway whose condition cannot be decided yet (it
reads a later decision, `approved`, or a field still empty) is followed only when a single one of
its branches reaches a user task: the tasks past it are marked `conditional` with the gateway;
otherwise the walk stops there and names the gateway in `undecided`. Subprocesses and call
activities are not entered (named in `opaque`). Also `element_attributes_all`, every user task's
Liaison attributes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.specs.MultiChoice import MultiChoice

from engine.bpmn.expressions import LiaisonScriptEngine
from engine.bpmn.specs import decide

MAX_STEPS = 200  # elements visited at most: a preview, not a proof
_PREVIEW_ENGINE = LiaisonScriptEngine()


@dataclass
class Upcoming:
    """A user task the instance would reach."""

    element_id: str
    name: str | None
    attributes: dict
    conditional: dict | None = None  # {"id", "name"} of the undecided gateway this task lies behind


@dataclass
class Walk:
    tasks: list[Upcoming] = field(default_factory=list)
    undecided: list[dict] = field(default_factory=list)  # [{"id", "name"}] gateways that stop the walk
    opaque: list[dict] = field(default_factory=list)  # [{"id", "name"}] subprocesses not looked into


def _is_user_task(spec) -> bool:
    return isinstance(spec, UserTask)


def _entry(spec) -> dict:
    return {"id": spec.bpmn_id, "name": spec.bpmn_name}


def _branches(spec, data: dict, evaluate: Callable[[str, dict], Any]) -> list | None:
    """The outputs a gateway takes for `data`, or None when a condition cannot be evaluated yet."""
    if not isinstance(spec, MultiChoice) or not spec.cond_task_specs:
        return list(spec.outputs)
    chosen, default = [], []
    exclusive = getattr(spec, "default_task_spec", None) is not None or type(spec).__name__ == "ExclusiveGateway"
    for condition, name in spec.cond_task_specs:
        target = spec._wf_spec.get_task_spec_from_name(name)
        if condition is None:
            default.append(target)
            continue
        try:
            matched = bool(evaluate(condition.args[0], data))
        except Exception:  # noqa: BLE001 - a condition over data not known yet: undecided
            return None
        if matched:
            chosen.append(target)
            if exclusive:
                break
    return chosen or default


def _decided(spec, data: dict) -> dict:
    """`data` with the outputs of a business rule task's decision table merged in (one row, no result
    variable, as the runtime merges them); `data` itself for any other element or when it cannot decide."""
    engine = getattr(spec, "dmnEngine", None)
    attributes = (getattr(spec, "extensions", None) or {}).get("liaison", {})
    if engine is None or attributes.get("resultVariable"):
        return data
    stand_in = SimpleNamespace(data=dict(data), task_spec=spec,
                               workflow=SimpleNamespace(script_engine=_PREVIEW_ENGINE))
    try:
        rows = decide(engine, stand_in)
    except Exception:  # noqa: BLE001 - a table over data not known yet: the gateways after it stay undecided
        return data
    return {**data, **rows[0]} if len(rows) == 1 else data


def _reaches_user_task(spec, seen: set[str], budget: list[int]) -> bool:
    """Whether any path from `spec` reaches a user task (before running out of budget)."""
    stack = [spec]
    while stack and budget[0] > 0:
        current = stack.pop()
        if current.name in seen:
            continue
        seen.add(current.name)
        budget[0] -= 1
        if _is_user_task(current):
            return True
        stack.extend(current.outputs)
    return False


def upcoming_user_tasks(spec, data: dict, evaluate: Callable[[str, dict], Any]) -> Walk:
    """The user tasks reached from the start with `data`, in the order a token meets them."""
    walk = Walk()
    queue: list[tuple[Any, dict | None]] = [(output, None) for output in spec.start.outputs]
    seen: set[str] = set()
    steps = 0
    while queue and steps < MAX_STEPS:
        current, conditional = queue.pop(0)
        if current.name in seen:
            continue
        seen.add(current.name)
        steps += 1
        if _is_user_task(current):
            extensions = getattr(current, "extensions", {}) or {}
            walk.tasks.append(Upcoming(current.bpmn_id, current.bpmn_name, dict(extensions.get("liaison", {})),
                                       conditional))
        elif type(current).__name__ in ("SubWorkflowTask", "CallActivity", "SubprocessTask", "TransactionSubprocess"):
            walk.opaque.append(_entry(current))
        data = _decided(current, data)
        outputs = _branches(current, data, evaluate)
        if outputs is None:
            leading = [o for o in current.outputs if _reaches_user_task(o, set(seen), [MAX_STEPS])]
            if len(leading) > 1:
                walk.undecided.append(_entry(current))
                continue
            outputs, conditional = leading, _entry(current)
        queue.extend((output, conditional) for output in outputs)
    return walk


def element_attributes_all(spec, subspecs: dict | None = None) -> list[dict]:
    """The Liaison attributes of every user task of a spec and its subprocess / called specs."""
    found = []
    for candidate in [spec, *(subspecs or {}).values()]:
        for task_spec in candidate.task_specs.values():
            if _is_user_task(task_spec):
                found.append(dict((getattr(task_spec, "extensions", {}) or {}).get("liaison", {})))
    return found


def plain_people(attributes: dict, data: dict, evaluate: Callable[[str, dict], Any]) -> dict:
    """A node without an approver rule: its `assignee`, `candidateUsers` and `candidateGroups` for `data`,
    read as the runtime reads them when the task is created (`workflow.describe_user_task`)."""
    from engine.bpmn.workflow import _as_list, _as_text

    def value(text):
        if isinstance(text, str) and text.strip().startswith("${"):
            return evaluate(text.strip(), data)
        return text

    return {"assignee": _as_text(value(attributes.get("assignee"))),
            "candidate_users": _as_list(value(attributes.get("candidateUsers"))),
            "candidate_groups": _as_list(value(attributes.get("candidateGroups")))}
