"""What a step starts and stops waiting on: timer rows (event timers, and the reminders, escalation,
overdue and timeout timers of user tasks), message subscriptions and signal subscriptions, found by
comparing the workflow before and after the step, written in the step's own write.
"""

from __future__ import annotations

from datetime import datetime

from engine.bpmn import workflow as wfa
from engine.caching import BoundedCache
from engine.data import store
from engine.data.signal_store import SignalWrites
from engine.runtime.versions import node_attributes, version_specs


def has_task_timers(conn, handle) -> bool:
    """Whether the task's node puts timers on its tasks (reminders, escalation, timeout, due date):
    read from the spec, so a step without them costs no timer query."""
    keys = node_attributes(conn, handle).keys()
    return "dueDate" in keys or any(name in keys for name in TASK_TIMER_ATTRIBUTES.values())


VERSION_SIGNALS: BoundedCache[bool] = BoundedCache(256)  # version checksum -> has signal catch events?


def version_has_signal_waits(conn, version_id: int, checksum: str) -> bool:
    """Whether instances of the version can wait on signals (an ending one then drops its subscriptions)."""
    return VERSION_SIGNALS.get(checksum, lambda: wfa.may_wait_on_signal(*version_specs(conn, version_id, checksum)))


NO_WAITS: tuple[dict, dict, dict] = ({}, {}, {})


# user-task attributes that put a timer on the task: kind -> attribute (an ISO 8601 duration after creation)
TASK_TIMER_ATTRIBUTES = {"remind": "remindAfter", "escalate": "escalateAfter", "timeout": "timeoutAfter"}


TIMEOUT_ACTIONS = ("approve", "reject")


def waits_of(workflow) -> tuple[dict, dict, dict]:
    """What the workflow waits on now: `({(task id, due iso): TimerWait}, {task id: MessageWait},
    {task id: SignalWait})`."""
    return ({(w.task_id, w.due_at.isoformat()): w for w in wfa.waiting_timers(workflow)},
            {w.task_id: w for w in wfa.waiting_messages(workflow)},
            {w.task_id: w for w in wfa.waiting_signals(workflow)})


def record_waits(step: store.StepWrite, workflow, before: tuple[dict, dict], open_views, workdays=None) -> None:
    """Timer rows and message subscriptions to add and end, by comparing before and after the step."""
    timers_before, messages_before, signals_before = before
    timers_after, messages_after, signals_after = waits_of(workflow)
    waiting_timer_tasks = {task_id for task_id, _ in timers_after}
    step.timers_cancel += sorted({task_id for task_id, _ in timers_before} - waiting_timer_tasks)
    step.timers_new += [{"task_id": w.task_id, "element_id": w.element_id, "kind": "event", "due_at": w.due_at,
                         "detail": None}
                        for key, w in timers_after.items() if key not in timers_before]
    step.subs_cancel += sorted(set(messages_before) - set(messages_after))
    step.subs_new += [{"task_id": w.task_id, "element_id": w.element_id, "message_name": w.message_name,
                       "correlation_key": wfa.correlation_value(workflow, w.task_id, w.correlation,
                                                                step.business_key),
                       "early": "keep"}
                      for task_id, w in messages_after.items() if task_id not in messages_before]
    if signals_before or signals_after:
        record_signal_waits(step, signals_before, signals_after)
    new_ids = {t["id"] for t in step.new_tasks}
    for view in open_views:
        if view.id in new_ids:
            step.timers_new += _task_timers(view, step.now, workdays)


def signal_writes(step: store.StepWrite) -> SignalWrites:
    """The step's signal writes (made on first use)."""
    if step.signals is None:
        step.signals = SignalWrites()
    return step.signals


def record_signal_waits(step: store.StepWrite, before: dict, after: dict) -> None:
    """Signal subscriptions to add and end."""
    writes = signal_writes(step)
    writes.subs_cancel += sorted(set(before) - set(after))
    writes.subs_new += [{"task_id": w.task_id, "element_id": w.element_id, "signal_name": w.signal_name}
                        for task_id, w in after.items() if task_id not in before]


def _task_timers(view, now: datetime, workdays=None) -> list[dict]:
    """Reminder, escalation, overdue and timeout timers of a user task that just became ready; each
    after an ISO 8601 duration or a number of workdays (`P2WD`, counted on `workdays`)."""
    rows = []
    for kind, attribute in TASK_TIMER_ATTRIBUTES.items():
        after = view.attributes.get(attribute)
        if after:
            detail = {"action": view.attributes.get("timeoutAction", "reject")} if kind == "timeout" else None
            rows.append({"task_id": view.id, "element_id": view.element_id, "kind": kind,
                         "due_at": wfa.wait_until(after, now, workdays), "detail": detail})
    if view.due_at is not None:
        rows.append({"task_id": view.id, "element_id": view.element_id, "kind": "overdue", "due_at": view.due_at,
                     "detail": None})
    return rows
