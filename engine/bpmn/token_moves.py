"""SpiffWorkflow adapter: move a process's token from a waiting user task to another element.

The engine piece of return (退回), jump (跳转), take back (拿回) and resubmission after a return.
Liaison compacts instance state (`serialization.compact`), so the task an earlier node ran as
is usually gone from the tree and SpiffWorkflow's `reset_from_task_id` cannot be used. A move
therefore *starts a new token* at the target instead:

1. the waiting task's branch is cut off: the task (with its boundary events, if it has any)
   and everything predicted below it leave the tree; timers and message subscriptions of those
   events leave the event manager;
2. a new task for the target element is added as a child of the task the waiting one hung
   from, exactly where SpiffWorkflow itself puts a loop's next pass, and is made READY with
   the process data the waiting task had (earlier form data stay for the person to edit);
3. the new task remembers where the token came from (`internal_data["liaison_moved_from"]`),
   so the runtime can send a resubmission straight back to the node that returned it.

What is refused (`TokenMoveError`, a `NotPermittedError`):

- an element that does not exist, or lies in another process, pool or subprocess than the
  waiting task (a move never crosses a subprocess boundary);
- gateways, start events, boundary and intermediate events, multi-instance and loop
  activities (a token cannot sit there, or their inner state cannot be rebuilt);
- while other branches of a parallel (or inclusive) split are still running or waiting at
  the join: any element outside the straight run of the waiting task's own branch (moving
  there would add a token the join cannot count, or leave one it waits on forever);
- an element inside a parallel branch when the waiting task is outside it: a lone token in one
  branch of a join that already fired can never be joined again.

Elements after the waiting task (a jump forward) are allowed by the same rules.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from uuid import UUID

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.specs.mixins.parallel_gateway import ParallelGateway
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.specs.ExclusiveChoice import ExclusiveChoice
from SpiffWorkflow.specs.MultiChoice import MultiChoice
from SpiffWorkflow.util.task import TaskState

from engine.errors import NotFoundError, NotPermittedError, TaskConflictError

MOVED_FROM = "liaison_moved_from"  # internal_data key of a moved-to task: where the token came from
REASONS = ("return", "jump", "take_back", "resubmit", "move")
AFTER_RETURN = ("rerun", "direct")


class TokenMoveError(NotPermittedError):
    """A token move the engine refuses (a gateway, an event, a missing element, another branch); the
    message says why, naming the elements."""


def movable_targets(workflow, from_task_id: str, path: Sequence[str] | None = None) -> list[dict]:
    """The user and manual tasks the token of waiting task `from_task_id` may move to.

    Only elements of the same (sub)process that `move_token` accepts are listed, in document
    order. Each is `{"id", "name", "passed", "previous", "resubmit", "current"}`:

    - `passed`: the element occurs in `path`, the element ids the instance passed (Liaison's
      history, `queries.path_taken`; the compacted tree has forgotten them). Without a path,
      `passed` says whether the element lies upstream of the waiting task in the diagram;
    - `previous`: the last user task passed before the waiting task (the target of "return to
      the previous node" and of "take back"); needs `path`;
    - `resubmit`: the node the start event names with `liaison:resubmit` (return to initiator);
    - `current`: the waiting task's own element (moving there restarts the node).
    """
    task = _waiting_task(workflow, from_task_id)
    allowed = _allowed_specs(task)
    current = task.task_spec.bpmn_id
    resubmit = return_settings(workflow, from_task_id)["resubmit"]
    upstream = _upstream_ids(task.task_spec)
    manual = [s for s in _element_specs(task.workflow.spec) if s.name in allowed and s.manual]
    previous = _previous(path, current, {s.bpmn_id for s in manual}) if path else None
    targets = []
    for spec in manual:
        bpmn_id = spec.bpmn_id
        targets.append({
            "id": bpmn_id,
            "name": getattr(spec, "bpmn_name", None),
            "passed": bpmn_id in path if path is not None else bpmn_id in upstream,
            "previous": bpmn_id == previous,
            "resubmit": bpmn_id == resubmit,
            "current": bpmn_id == current,
        })
    return targets


def move_token(workflow, from_task_id: str, target_element_id: str, data: dict | None = None,
               reason: str = "move") -> str:
    """Cancel waiting user task `from_task_id` (only the branch it is on) and start a token at
    `target_element_id`; return the id of the new task (READY; run the engine afterwards).

    The new task gets the process data the waiting task had, updated with `data` (a resubmitted
    form, say). `reason` (`return`, `jump`, `take_back`, `resubmit`, `move`) is kept with the
    new task together with the element and task the token came from (`moved_from`).
    Raises TokenMoveError when the target is refused (see the module's docstring),
    NotFoundError for an unknown task and TaskConflictError when it does not wait any more;
    every check runs before anything changes. Should starting the target itself fail (a
    TokenMoveError naming it), the workflow is half-moved and must be discarded, like a failed step.
    """
    if reason not in REASONS:
        raise TokenMoveError(f"unknown move reason `{reason}`; one of {', '.join(REASONS)}")
    task = _waiting_task(workflow, from_task_id)
    wf = task.workflow
    spec = _target_spec(workflow, task, target_element_id)
    allowed = _allowed_specs(task)
    if spec.name not in allowed:
        raise TokenMoveError(_refusal(task, spec))
    carried = copy.deepcopy(task.data)
    carried.update(copy.deepcopy(data or {}))
    entry = _entry(task)
    anchor = entry.parent
    _cut_branch(workflow, entry)
    entry_spec = wf.spec.task_specs.get(f"{spec.name}.BoundaryEventSplit", spec)
    new = anchor._add_child(entry_spec, TaskState.FUTURE)
    new.internal_data[MOVED_FROM] = {"element": task.task_spec.bpmn_id, "task": str(task.id), "reason": reason}
    try:
        new.task_spec._predict(new, mask=TaskState.PREDICTED_MASK | TaskState.FUTURE)
        new.task_spec._update(new)
    except WorkflowException as exc:
        raise TokenMoveError(f"element `{target_element_id}` cannot be started: {exc}") from exc
    new.data.update(carried)
    wf.last_task = anchor
    return str(new.id)


def moved_from(workflow, task_id: str) -> dict | None:
    """Where the token of task `task_id` came from, if it was moved there: `{"element", "task",
    "reason"}`; None for a task the flow reached by itself.

    A target with boundary events first starts as their split: the mark is read from there too.
    """
    task = _find(workflow, task_id)
    for node in (task, task.parent):
        if node is not None and MOVED_FROM in node.internal_data:
            return dict(node.internal_data[MOVED_FROM])
    return None


def return_settings(workflow, task_id: str | None = None) -> dict:
    """What the process declares about returns, on the start event of the (sub)process of
    `task_id` (the top process without one):

    - `resubmit`: the user task named by `liaison:resubmit` where a request returned to its
      initiator waits (typically assigned `initiator`, showing the start form; it needs no
      incoming flow: only a move reaches it), or None;
    - `after_return`: `liaison:afterReturn`, `rerun` (default: the resubmitted request runs
      through every node again) or `direct` (it goes straight back to the node that returned it).
    """
    spec = _find(workflow, task_id).workflow.spec if task_id else workflow.spec
    settings = {"resubmit": None, "after_return": "rerun"}
    for task_spec in _element_specs(spec):
        if isinstance(task_spec, StartEvent):
            attrs = getattr(task_spec, "extensions", {}).get("liaison", {})
            settings["resubmit"] = attrs.get("resubmit") or settings["resubmit"]
            after = attrs.get("afterReturn")
            if after:
                if after not in AFTER_RETURN:
                    raise TokenMoveError(f"start event `{task_spec.bpmn_id}`: liaison:afterReturn is `{after}`, "
                                         f"not one of {', '.join(AFTER_RETURN)}")
                settings["after_return"] = after
    return settings


# --- finding tasks and specs ---------------------------------------------------------------------

def _find(workflow, task_id: str):
    try:
        task = workflow.get_task_from_id(UUID(str(task_id)))
    except (ValueError, TypeError, WorkflowException):
        task = None
    if task is None:
        raise NotFoundError(f"task {task_id} is not part of this instance any more")
    return task


def _waiting_task(workflow, task_id: str):
    task = _find(workflow, task_id)
    if not task.task_spec.manual:
        raise TokenMoveError(f"task {task_id} (`{task.task_spec.bpmn_id}`) is not a user task; only a "
                             "waiting user task's token can be moved")
    if task.state != TaskState.READY:
        raise TaskConflictError(f"task {task_id} is {TaskState.get_name(task.state).lower()}, not waiting")
    if task.parent is not None and isinstance(task.parent.task_spec, LoopTask):
        raise TokenMoveError(f"task {task_id} is one instance of the multi-instance or loop activity "
                             f"`{task.task_spec.bpmn_id}`; its token cannot be moved alone")
    return task


def _element_specs(spec) -> list:
    """The specs of a process's BPMN elements (not SpiffWorkflow's helper specs), in document order."""
    return [s for s in spec.task_specs.values()
            if getattr(s, "bpmn_id", None) and s.name == s.bpmn_id]


def _target_spec(workflow, task, element_id: str):
    spec = task.workflow.spec
    target = spec.task_specs.get(element_id)
    if target is None or getattr(target, "bpmn_id", None) != element_id:
        elsewhere = [name for name, sub in workflow.subprocess_specs.items() if element_id in sub.task_specs]
        if workflow.spec is not spec and element_id in workflow.spec.task_specs:
            elsewhere.insert(0, workflow.spec.name)
        if elsewhere:
            raise TokenMoveError(f"element `{element_id}` is in process `{elsewhere[0]}`, not in `{spec.name}` "
                                 f"where task `{task.task_spec.bpmn_id}` waits; a token never leaves its "
                                 "(sub)process")
        raise TokenMoveError(f"process `{spec.name}` has no element `{element_id}` (SpiffWorkflow leaves out "
                             "elements that no sequence flow from a start event reaches)")
    kind = _refused_kind(target)
    if kind:
        raise TokenMoveError(f"element `{element_id}` is {kind}; a token can only be moved to a task, a "
                             "subprocess or an end event")
    return target


def _refused_kind(spec) -> str | None:
    if isinstance(spec, (MultiChoice, ParallelGateway, InclusiveGateway, ExclusiveChoice)) \
            or "Gateway" in type(spec).__name__:
        return "a gateway"
    if isinstance(spec, StartEvent):
        return "a start event (name a resubmit node with liaison:resubmit instead)"
    if isinstance(spec, CatchingEvent) or "Event" in type(spec).__name__ and type(spec).__name__ != "EndEvent":
        return "an event"
    if isinstance(spec, LoopTask):
        return "a multi-instance or loop activity"
    return None


def _entry(task):
    """The task that stands for the waiting element: its boundary-event split when it has one."""
    parent = task.parent
    return parent if parent is not None and isinstance(parent.task_spec, BoundaryEventSplit) else task


def _cut_branch(top, entry) -> None:
    """Remove `entry` and every task below it (events, subprocesses) from the tree."""
    wf = entry.workflow
    doomed = list(_subtree(entry))
    for node in doomed:
        top.event_manager.remove_task(node)
        if isinstance(node.task_spec, SubWorkflowTask) and node.id in top.subprocesses:
            for sub_task in top.subprocesses[node.id].tasks.values():
                top.event_manager.remove_task(sub_task)
            top.delete_subprocess(node)
    wf._remove_task(entry.id)


def _subtree(task):
    stack = [task]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(c for c in node.children if c is not None)


# --- where a token may go -----------------------------------------------------------------------

def _is_join(spec) -> bool:
    return isinstance(spec, (ParallelGateway, InclusiveGateway)) and len(spec.inputs) > 1


def _is_fork(spec) -> bool:
    return isinstance(spec, (ParallelGateway, InclusiveGateway)) and len(spec.outputs) > 1


def _live_split(task):
    """The nearest task above the waiting one whose other branches still have unfinished tasks
    (a parallel or inclusive split whose join has not fired), or None."""
    child, node = _entry(task), _entry(task).parent
    while node is not None:
        if len(node._children) > 1:
            for other in node.children:
                if other is not None and other is not child and any(
                        t.has_state(TaskState.NOT_FINISHED_MASK) for t in _subtree(other)):
                    return node
        child, node = node, node.parent
    return None


def _walk(start_specs, step, stop) -> set:
    seen: set = set()
    stack = list(start_specs)
    while stack:
        spec = stack.pop()
        if spec.name in seen or stop(spec):
            continue
        seen.add(spec.name)
        stack.extend(step(spec))
    return seen


def _branch_segment(spec, split_spec=None) -> set:
    """The elements connected to `spec` without passing a parallel/inclusive gateway (or the split)."""
    def stop(s):
        return s is split_spec or isinstance(s, (ParallelGateway, InclusiveGateway))
    before = _walk(spec.inputs, lambda s: s.inputs, stop)
    after = _walk(spec.outputs, lambda s: s.outputs, stop)
    return before | after | {spec.name}


def _in_parallel_region(wf_spec) -> set:
    """Elements that lie between a parallel/inclusive fork and a join (or an end) in the diagram."""
    region: set = set()
    for spec in wf_spec.task_specs.values():
        if _is_fork(spec):
            region |= _walk(spec.outputs, lambda s: s.outputs, _is_join)
    return region


def _allowed_specs(task) -> set:
    """Names of the specs the waiting task's token may move to (before the kind checks)."""
    spec = task.task_spec
    wf_spec = task.workflow.spec
    split = _live_split(task)
    if split is not None:
        reachable = _walk(split.task_spec.outputs, lambda s: s.outputs, _is_join)
        return _branch_segment(spec, split.task_spec) & reachable
    everything = {s.name for s in _element_specs(wf_spec)}
    return (everything - _in_parallel_region(wf_spec)) | (_branch_segment(spec) & everything)


def _upstream_ids(spec) -> set:
    """Elements from which the diagram's flows lead to `spec`."""
    return _walk(spec.inputs, lambda s: s.inputs, lambda s: False)


def _previous(path: Sequence[str], current: str, candidates: set) -> str | None:
    """The last of `candidates` passed before the current element's latest arrival."""
    items = list(path)
    if current in items:
        items = items[: len(items) - 1 - items[::-1].index(current)]
    for element in reversed(items):
        if element != current and element in candidates:
            return element
    return None


def _refusal(task, spec) -> str:
    here, there = task.task_spec.bpmn_id, spec.bpmn_id
    if _live_split(task) is not None:
        return (f"task `{here}` waits in one branch of a parallel split whose other branches are still open; "
                f"its token can only move within its own branch, and `{there}` is outside it")
    return (f"element `{there}` lies inside a parallel branch; a token started there alone could never "
            f"be joined again (move to the element before the parallel split instead)")
