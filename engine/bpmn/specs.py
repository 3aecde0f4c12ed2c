"""Liaison's own SpiffWorkflow task specs (adapter): Camunda-style multi-instance, business rule tasks
with checked hit policies and Camunda result mapping, external service tasks that wait for a worker.

Each class is registered in `serialization` (same converters as the SpiffWorkflow class it extends),
so specs stored per version restore to these classes.
"""

from __future__ import annotations

from SpiffWorkflow.bpmn.exceptions import WorkflowDataException, WorkflowTaskException
from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference
from SpiffWorkflow.spiff.specs.defaults import (
    BusinessRuleTask,
    ManualTask,
    ParallelMultiInstanceTask,
    SequentialMultiInstanceTask,
)
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

_MISSING = object()

# -- multi-instance -------------------------------------------------------------------------------


class CollectionExpression(TaskDataReference):
    """`camunda:collection="${order.approvers}"`: the items come from an expression, evaluated in the
    sandbox when the activity starts (a plain variable name stays a TaskDataReference)."""

    def get(self, my_task):
        return my_task.workflow.script_engine.evaluate(my_task, self.bpmn_name)

    def exists(self, my_task):
        return True

    def set(self, my_task, value):
        raise WorkflowDataException(f"the collection `{self.bpmn_name}` is an expression, not a variable", my_task)


class _CamundaCounters:
    """Multi-instance as Camunda runs it: `loopCounter` in each instance; `nrOfInstances`,
    `nrOfCompletedInstances`, `nrOfActiveInstances` (and `loopCounter`) visible to the completion
    condition; the element variable stays local to its instance (not merged into the process data)."""

    def create_child(self, my_task, item, key_or_index=None):
        # the element variable shadows a process variable of the same name (SpiffWorkflow would refuse)
        name = self.input_item.bpmn_id if self.input_item is not None else None
        shadowed = my_task.data.pop(name) if name in my_task.data else _MISSING
        try:
            super().create_child(my_task, item, key_or_index)
        finally:
            if shadowed is not _MISSING:
                my_task.data[name] = shadowed
        child = my_task.children[-1]
        child.data["loopCounter"] = len(list(self._instances(my_task))) - 1

    def merge_child(self, workflow, child):
        if self.data_output is None:
            for name in [self.input_item.bpmn_id if self.input_item else None, "loopCounter"]:
                child.data.pop(name, None) if name else None
        super().merge_child(workflow, child)

    def counters(self, my_task) -> dict:
        merged = len(my_task.internal_data.get("merged", []))
        total = self.total(my_task)
        return {"nrOfInstances": total, "nrOfCompletedInstances": merged,
                "nrOfActiveInstances": self.active(my_task, total, merged)}

    def check_completion_condition(self, my_task):
        merged = my_task.internal_data.get("merged", [])
        if not merged or self.condition is None:
            return None
        last = next(c for c in my_task.children if str(c.id) == merged[-1])
        context = {**self.counters(my_task), "loopCounter": len(merged) - 1}
        return my_task.workflow.script_engine.evaluate(last, self.condition, external_context=context)


class LiaisonParallelMultiInstanceTask(_CamundaCounters, ParallelMultiInstanceTask):
    def total(self, my_task):
        return len(list(self._instances(my_task)))

    def active(self, my_task, total, merged):
        return sum(1 for c in self._instances(my_task) if not c.has_state(TaskState.FINISHED_MASK))


class LiaisonSequentialMultiInstanceTask(_CamundaCounters, SequentialMultiInstanceTask):
    def total(self, my_task):
        if self.data_input is not None:
            return len(my_task.internal_data.get("merged", [])) + len(my_task.internal_data.get("remaining", []))
        return my_task.internal_data.get("cardinality", 0)

    def active(self, my_task, total, merged):
        return 1 if merged < total else 0


# -- business rule tasks --------------------------------------------------------------------------

MAP_RESULTS = ("singleEntry", "singleResult", "collectEntries", "resultList")


class LiaisonBusinessRuleTask(BusinessRuleTask):
    """A DMN decision table: hit policies UNIQUE (checked), FIRST, ANY (checked), COLLECT (with
    SUM/MIN/MAX/COUNT), RULE ORDER; the result goes to `camunda:resultVariable` shaped by
    `camunda:mapDecisionResult`, or else its outputs are merged into the process data."""

    def _run_hook(self, my_task):
        attrs = self.extensions.get("liaison", {})
        try:
            outputs = decide(self.dmnEngine, my_task)
            variable = attrs.get("resultVariable")
            if variable:
                my_task.data[variable] = map_result(outputs, attrs.get("mapDecisionResult", "resultList"))
            else:
                for row in outputs[:1] if len(outputs) == 1 else []:
                    my_task.data = DeepMerge.merge(my_task.data, row)
                if len(outputs) > 1:  # COLLECT / RULE ORDER without a result variable: lists per output
                    merged = {}
                    for row in outputs:
                        for key, value in row.items():
                            merged.setdefault(key, []).append(value)
                    my_task.data = DeepMerge.merge(my_task.data, merged)
        except WorkflowTaskException:
            raise
        except Exception as exc:  # noqa: BLE001 - a decision error is the diagram's: name the task
            raise WorkflowTaskException(f"decision `{self.bpmn_id}`: {exc}", task=my_task, exception=exc) from exc
        return True


def decide(engine, my_task) -> list[dict]:
    """The output rows of a decision table for this task's data, by its hit policy."""
    table = engine.decision_table
    policy = (table.hit_policy or "UNIQUE").upper()
    matched = []
    for rule in table.rules:
        if engine._DMNEngine__check_rule(rule, my_task):
            matched.append(rule)
            if policy == "FIRST":
                break
    rows = [dict(rule.output_as_dict(my_task)) for rule in matched]
    numbers = ", ".join(str(r.row_number) for r in matched)
    if policy == "UNIQUE" and len(rows) > 1:
        raise ValueError(f"rules {numbers} all match, but the hit policy UNIQUE allows one")
    if policy == "ANY" and any(row != rows[0] for row in rows):
        raise ValueError(f"rules {numbers} match with different outputs (hit policy ANY)")
    if policy in ("UNIQUE", "ANY", "FIRST"):
        return rows[:1]
    aggregation = (getattr(table, "aggregation", None) or "").upper()
    if aggregation:
        return [_aggregate(rows, aggregation)]
    return rows


def _aggregate(rows, aggregation):
    keys = rows[0].keys() if rows else []
    functions = {"SUM": sum, "MIN": min, "MAX": max, "COUNT": len}
    return {k: functions[aggregation]([r[k] for r in rows]) for k in keys} if rows else {}


def map_result(rows: list[dict], how: str):
    """Camunda's `mapDecisionResult`: singleEntry (one value), singleResult (one row), collectEntries
    (the values of the one output), resultList (the rows)."""
    if how == "resultList":
        return rows
    if how == "collectEntries":
        return [next(iter(r.values())) for r in rows]
    if len(rows) > 1:
        raise ValueError(f"mapDecisionResult {how} needs at most one matching rule, {len(rows)} matched")
    if how == "singleResult":
        return rows[0] if rows else None
    return next(iter(rows[0].values())) if rows else None  # singleEntry


# -- external service tasks -----------------------------------------------------------------------


class ExternalTask(ManualTask):
    """`serviceTask camunda:type="external" camunda:topic="x"`: waits READY (like a user task, but no
    inbox row) until an external worker completes it through `runtime.complete_external_task`."""
