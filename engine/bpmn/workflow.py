"""SpiffWorkflow runtime adapter: run engine steps, project user tasks, capture the path taken.

The `engine.bpmn` modules alone touch SpiffWorkflow; the runtime works with the plain values they
return. Over 600 lines on purpose: this is the whole surface a step uses on a live workflow (run,
ready tasks, waits, timers, messages, signals, data), and every function here reads SpiffWorkflow's task
tree the same way; split, each half would re-import the other's internals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from uuid import UUID
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import ThrowingEvent
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.expressions import LiaisonScriptEngine
from engine.bpmn.serialization import compact, tree_depth
from engine.bpmn.services import collecting_effects
from engine.bpmn.specs import ExternalTask
from engine.config import load_settings
from engine.data.calendar import WorkdayCalendar
from engine.errors import (
    ExpressionError,
    InvalidTaskDataError,
    NotFoundError,
    ProcessRuntimeError,
    TaskConflictError,
    msg,
    reason_failed,
)
from forms.dates import MAX_WORKDAYS

TIMER_REASON = msg("a due date or timer of the process is not valid")  # ProcessRuntimeError.reason

# SpiffWorkflow's task iterator stops at depth 1000 and then reports a running process as
# completed. Compaction keeps trees shallow; should a tree still grow this deep, stop loudly.
DEPTH_LIMIT = 800
COMPACT_EVERY = 25  # engine steps between compactions inside one long run

_HIDDEN_SPECS = {"Root", "Start", "End"}


@dataclass
class StepRecord:
    """One element the engine passed through, for the history."""

    element_id: str
    element_type: str
    name: str | None
    task_id: str
    top_level: bool = True  # False inside a subprocess or call activity
    signal: str | None = None  # a signal this throw event broadcast (to route to other instances)
    payload: dict | None = None
    effects: list = field(default_factory=list)  # what its service operation left to write (a webhook call)
    message: dict | None = None  # a message this throw event sent: name, correlation_key, payload (to route)


@dataclass
class UserTaskView:
    """A waiting user task with what the inbox needs to know about it."""

    id: str
    element_id: str
    name: str | None
    form: str | None
    assignee: str | None
    candidate_users: list[str]
    candidate_groups: list[str]
    due_at: datetime | None
    attributes: dict = field(default_factory=dict)


_SCRIPT_ENGINE = LiaisonScriptEngine()


def script_engine() -> LiaisonScriptEngine:
    """The restricted script engine shared by every workflow (it holds no per-instance state)."""
    return _SCRIPT_ENGINE


def run_engine(workflow) -> list[StepRecord]:
    """Run every automatic task until the process waits or ends; return the elements passed.

    Raises ProcessRuntimeError with the failing element and its own error message; the workflow
    object is then half-run and must be discarded, never saved.
    """
    records: list[StepRecord] = []
    with collecting_effects() as effects:

        def did_complete(task) -> None:
            record = _record(task)
            if record is not None:
                record.effects, effects[:] = list(effects), []
                records.append(record)
            if len(records) % COMPACT_EVERY == 0:
                compact(workflow)
                _check_depth(workflow, task)

        _run_steps(workflow, did_complete)
    compact(workflow)
    _check_depth(workflow, None)
    return records


def _run_steps(workflow, did_complete) -> None:
    try:
        workflow.do_engine_steps(did_complete_task=did_complete)
        workflow.get_events()  # drain: uncaught thrown events would pile up in the saved state
    except ProcessRuntimeError:
        raise
    except (SpiffWorkflowException, WorkflowException) as exc:
        raise _runtime_error(exc) from exc
    except ExpressionError as exc:
        raise ProcessRuntimeError(str(exc), reason=exc.reason) from exc
    except Exception as exc:  # noqa: BLE001 - SpiffWorkflow raises bare Exception / AttributeError on bad timers
        raise ProcessRuntimeError(f"{type(exc).__name__}: {exc}") from exc


def _check_depth(workflow, task) -> None:
    depth = tree_depth(workflow)
    if depth > DEPTH_LIMIT:
        element = task.task_spec.bpmn_id if task is not None else None
        raise ProcessRuntimeError(
            f"the process tree grew {depth} levels deep (limit {DEPTH_LIMIT}); a loop or a chain of "
            f"parallel branches runs too long: move the loop body into a call activity", element,
            reason=msg("the process ran through a loop too many times"))


def _runtime_error(exc: Exception) -> ProcessRuntimeError:
    task = getattr(exc, "task", None)
    element = None
    if task is not None:
        element = getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name
    cause = getattr(exc, "exception", None) or exc.__cause__
    message = str(exc).strip()
    if cause is not None and cause is not exc and str(cause) not in message:
        message = f"{message}: {type(cause).__name__}: {cause}"
    where = f"element `{element}`: " if element else ""
    return ProcessRuntimeError(f"{where}{' '.join(message.split())}", element, cause, reason=_reason(exc, cause))


def _reason(exc: Exception, cause: BaseException | None):
    """What a person is told about a failed step: the script engine's reason, else the error's type."""
    for error in (exc, cause, getattr(cause, "__cause__", None)):
        reason = getattr(error, "reason", None)
        if reason is not None:
            return reason
    return reason_failed(cause) if isinstance(cause, Exception) else None


def _record(task) -> StepRecord | None:
    spec = task.task_spec
    bpmn_id = getattr(spec, "bpmn_id", None)
    if bpmn_id is None or spec.name in _HIDDEN_SPECS:
        return None
    if getattr(spec, "extensions", {}).get("liaison", {}).get("synthetic"):
        return None  # inserted by bpmn_normalize (implicit split, start or end): not drawn, not history
    record = StepRecord(bpmn_id, type(spec).__name__, getattr(spec, "bpmn_name", None), str(task.id),
                        task.workflow is task.workflow.top_workflow)
    definition = getattr(spec, "event_definition", None)
    if isinstance(definition, SignalEventDefinition) and isinstance(spec, ThrowingEvent):
        # SpiffWorkflow already delivered it inside this instance; Liaison broadcasts it to the others
        record.signal = definition.name
        expression = getattr(definition, "expression", None)
        record.payload = task.workflow.script_engine.evaluate(task, expression) if expression else {}
    elif isinstance(definition, MessageEventDefinition) and isinstance(spec, ThrowingEvent):
        record.message = _thrown_message(task, definition)
    return record


def _thrown_message(task, definition) -> dict:
    """What a message throw event sends to other instances: its name, the key from its
    `liaison:correlationKey` expression over the data (none without one) and its payload (the
    `spiffworkflow:messagePayload` expression, a dict; none without one)."""
    engine = task.workflow.script_engine
    expression = getattr(definition, "expression", None)
    payload = engine.evaluate(task, expression) if expression else {}
    if not isinstance(payload, dict):
        raise ProcessRuntimeError(f"element `{task.task_spec.bpmn_id}`: the payload of message `{definition.name}` "
                                  f"must be a dict, not {type(payload).__name__}", task.task_spec.bpmn_id)
    key_expression = getattr(task.task_spec, "extensions", {}).get("liaison", {}).get("correlationKey")
    key = engine.evaluate(task, key_expression) if key_expression else None
    return {"name": definition.name, "correlation_key": None if key is None else str(key), "payload": payload}


def ready_user_tasks(workflow) -> list:
    """The READY manual tasks (user and manual tasks), in and below subprocesses; not external tasks."""
    return [t for t in workflow.get_tasks(state=TaskState.READY, manual=True) if not isinstance(t.task_spec, ExternalTask)]


def ready_external_tasks(workflow) -> list:
    """The READY external service tasks (waiting for a worker)."""
    return [t for t in workflow.get_tasks(state=TaskState.READY, manual=True) if isinstance(t.task_spec, ExternalTask)]


def has_external_tasks(spec, subspecs: dict | None = None) -> bool:
    """Whether the spec (or one of its subprocesses) has an external service task."""
    return any(isinstance(task_spec, ExternalTask)
               for candidate in [spec, *(subspecs or {}).values()] for task_spec in candidate.task_specs.values())


def describe_user_task(task, workdays=None) -> tuple[UserTaskView, bool]:
    """Project a READY user task to what its inbox row holds; True if it was described just now.

    Assignee and candidate expressions and the due date are evaluated once, when the task is
    first described, and kept with the task's own state, so they never change afterwards.
    `workdays` (an `engine.data.calendar` calendar, read lazily) counts a due date in workdays
    (`P3WD`); without it only weekends are days off.
    """
    attrs = task.task_spec.extensions.get("liaison", {})
    kept = task.internal_data.get("liaison_assignment")
    is_new = kept is None
    if is_new:
        due = _due(task, attrs.get("dueDate"), workdays)
        kept = {
            "assignee": _as_text(_resolve(task, attrs.get("assignee"))),
            "candidate_users": _as_list(_resolve(task, attrs.get("candidateUsers"))),
            "candidate_groups": _as_list(_resolve(task, attrs.get("candidateGroups"))),
            "due_at": due.isoformat() if due else None,
        }
        task.internal_data["liaison_assignment"] = kept
    view = UserTaskView(
        id=str(task.id), element_id=task.task_spec.bpmn_id, name=task.task_spec.bpmn_name,
        form=attrs.get("form"), assignee=kept["assignee"], candidate_users=list(kept["candidate_users"]),
        candidate_groups=list(kept["candidate_groups"]),
        due_at=datetime.fromisoformat(kept["due_at"]) if kept["due_at"] else None, attributes=dict(attrs))
    return view, is_new


def ready_task_ids(workflow) -> set[str]:
    """Ids of the READY user and external tasks: exactly the open work_task / external_task rows."""
    return {str(t.id) for t in workflow.get_tasks(state=TaskState.READY, manual=True)}


def _resolve(task, value):
    if isinstance(value, str) and value.strip().startswith("${"):
        try:
            return task.workflow.script_engine.evaluate(task, value.strip())
        except Exception as exc:  # noqa: BLE001 - any failure is the diagram's, report it with the node
            raise ProcessRuntimeError(
                f"element `{task.task_spec.bpmn_id}`: cannot evaluate `{value}`: {exc}",
                task.task_spec.bpmn_id, exc, reason=getattr(exc, "reason", None) or reason_failed(exc)) from exc
    return value


def _as_text(value) -> str | None:
    return None if value in (None, "") else str(value)


def _as_list(value) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(v) for v in value]


def _due(task, value, workdays=None) -> datetime | None:
    value = _resolve(task, value)
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=company_zone())
    text = str(value).strip()
    count = workday_count(text)
    if count is not None:
        return (workdays or WorkdayCalendar()).add(company_now(), count)
    try:
        if text.upper().startswith("P"):
            start = datetime.now(UTC)
            return start + TimerEventDefinition.get_timedelta_from_start(
                TimerEventDefinition.parse_iso_duration(text), start)
        parsed = datetime.fromisoformat(text)
        # a date without a zone means the company's local time, not the server's or UTC
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=company_zone())
    except (ValueError, TypeError) as exc:
        raise ProcessRuntimeError(
            f"element `{task.task_spec.bpmn_id}`: due date `{text}` is not an ISO 8601 date or duration, "
            "nor workdays such as P3WD",
            task.task_spec.bpmn_id, exc, reason=TIMER_REASON) from exc


@cache
def company_zone() -> ZoneInfo:
    """The company's time zone (`LIAISON_TIMEZONE`), in which dates written without a zone are read."""
    return ZoneInfo(load_settings().timezone)


def company_now() -> datetime:
    """Now on the company's wall clock (serial numbers, "today" in forms)."""
    return datetime.now(company_zone())


def find_task(workflow, task_id: str):
    """The task with this id anywhere in the workflow, or NotFoundError."""
    try:
        task = workflow.get_task_from_id(UUID(task_id))
    except (ValueError, TypeError, WorkflowException):
        task = None
    if task is None:
        raise NotFoundError(f"task {task_id} is not part of this instance any more")
    return task


def complete_user_task(workflow, task_id: str, data: dict) -> StepRecord:
    """Merge submitted data into a READY user task and complete it (engine steps not yet run)."""
    task = find_task(workflow, task_id)
    if not task.task_spec.manual:
        raise InvalidTaskDataError(f"task {task_id} is not a user task")
    if task.state != TaskState.READY:
        raise TaskConflictError(f"task {task_id} is {TaskState.get_name(task.state).lower()}, not waiting")
    task.data.update(data)
    try:
        task.run()
    except (SpiffWorkflowException, WorkflowException) as exc:
        raise _runtime_error(exc) from exc
    return _record(task)


def start_form(spec) -> str | None:
    """The form key of the process's (first) none start event, if it declares one."""
    for spec_task in spec.task_specs.values():
        if type(spec_task).__name__ == "StartEvent" and getattr(spec_task, "event_definition", None) is not None \
                and type(spec_task.event_definition).__name__ == "NoneEventDefinition":
            form = getattr(spec_task, "extensions", {}).get("liaison", {}).get("form")
            if form:
                return form
    return None


def set_start_data(workflow, data: dict) -> None:
    """Put the start form's data where the first tasks will inherit it."""
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(data)


def is_completed(workflow) -> bool:
    """True when the process reached its end (every token consumed or a terminate end event)."""
    return workflow.is_completed()


def end_event(records: list[StepRecord]) -> str | None:
    """The BPMN id of the top-level end event among the elements just passed, if any."""
    ends = [r.element_id for r in records if r.top_level and r.element_type == "EndEvent"]
    return ends[-1] if ends else None


def waiting_elements(workflow) -> list[str]:
    """Elements the process waits on (user tasks, events); empty means nothing can move it on."""
    waiting = workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED)
    return [t.task_spec.bpmn_id for t in waiting if getattr(t.task_spec, "bpmn_id", None)]


def current_data(workflow, ready: list | None = None) -> dict:
    """Process data as the people following the instance see it now. `ready`: the READY user tasks,
    when the caller has them already (finding them walks the task tree)."""
    if workflow.is_completed():
        data = dict(workflow.data)
    else:
        last = workflow.last_task
        data = dict(last.data) if last is not None else {}
        for task in ready_user_tasks(workflow) if ready is None else ready:
            data.update(task.data)
    if not data.get("data_objects"):
        data.pop("data_objects", None)  # SpiffWorkflow's bookkeeping, not process data
    return data


def cancel(workflow) -> None:
    """Cancel every unfinished task."""
    workflow.cancel()


# --- timers and messages (issue 4) -------------------------------------------------------------

def _company_datetime(expression):
    """SpiffWorkflow's reading of a timer date, with a date written without a zone taken in the
    company's zone (SpiffWorkflow itself uses the server's zone)."""
    value = datetime.fromisoformat(expression)
    if value.tzinfo is None:
        value = value.replace(tzinfo=company_zone())
    return value.astimezone(UTC)


# Every timer date, cycle start and due date in a diagram goes through this one function.
TimerEventDefinition.get_datetime = staticmethod(_company_datetime)


@dataclass
class TimerWait:
    """A timer event the process waits on: fire it at `due_at` (UTC)."""

    task_id: str
    element_id: str
    due_at: datetime


@dataclass
class MessageWait:
    """A message catch event or receive task the process waits on."""

    task_id: str
    element_id: str
    message_name: str
    correlation: str | None  # the element's `liaison:correlationKey` expression, if any


def _event_tasks(workflow) -> list:
    return list(workflow.top_workflow.event_manager.tasks.values())


def waiting_timers(workflow) -> list[TimerWait]:
    """The timer events waiting now, each with its next due time."""
    waits = []
    for task in _event_tasks(workflow):
        definition = task.task_spec.event_definition
        if not isinstance(definition, TimerEventDefinition):
            continue
        value = task.internal_data.get("event_value")
        if isinstance(definition, CycleTimerEventDefinition):
            value = value.get("next") if isinstance(value, dict) and value.get("cycles") != 0 else None
        if not value:
            continue
        try:
            due = TimerEventDefinition.parse_time_or_duration(str(value))
        except Exception as exc:  # noqa: BLE001 - SpiffWorkflow raises bare exceptions here
            raise ProcessRuntimeError(f"element `{task.task_spec.bpmn_id}`: timer value `{value}` is not an "
                                      "ISO 8601 date", task.task_spec.bpmn_id, exc, reason=TIMER_REASON) from exc
        if not isinstance(due, datetime):
            raise ProcessRuntimeError(f"element `{task.task_spec.bpmn_id}`: timer date `{value}` is a duration",
                                      task.task_spec.bpmn_id, reason=TIMER_REASON)
        waits.append(TimerWait(str(task.id), task.task_spec.bpmn_id, due))
    return waits


def waiting_messages(workflow) -> list[MessageWait]:
    """The message catch events and receive tasks waiting now (not message start events)."""
    waits = []
    for task in _event_tasks(workflow):
        definition = task.task_spec.event_definition
        if isinstance(definition, MessageEventDefinition) and type(task.task_spec).__name__ != "StartEvent":
            attrs = getattr(task.task_spec, "extensions", {}).get("liaison", {})
            waits.append(MessageWait(str(task.id), task.task_spec.bpmn_id, definition.name,
                                     attrs.get("correlationKey")))
    return waits


def correlation_value(workflow, task_id: str, expression: str | None, business_key: str | None) -> str | None:
    """The key a waiting message event takes: its `correlationKey` expression over the process
    data, or else the instance's business key."""
    if not expression:
        return business_key
    task = find_task(workflow, task_id)
    try:
        value = workflow.script_engine.environment.evaluate(expression, dict(task.data))
    except Exception as exc:  # noqa: BLE001 - report with the element
        raise ProcessRuntimeError(
            f"element `{task.task_spec.bpmn_id}`: correlation key `{expression}` cannot be evaluated: {exc}",
            task.task_spec.bpmn_id, exc, reason=getattr(exc, "reason", None) or reason_failed(exc)) from exc
    return None if value is None else str(value)


def fire_timers(workflow) -> list[StepRecord]:
    """Let every due timer fire, then run until the process waits (what a scheduler tick does)."""
    try:
        workflow.refresh_timers()
    except (SpiffWorkflowException, WorkflowException) as exc:
        raise _runtime_error(exc) from exc
    return run_engine(workflow)


def deliver_message(workflow, task_id: str, name: str, payload: dict) -> list[StepRecord]:
    """Hand a message to exactly the waiting event `task_id` (Liaison already matched its key),
    bypassing SpiffWorkflow's own correlation, then run until the process waits."""
    task = find_task(workflow, task_id)
    definition = getattr(task.task_spec, "event_definition", None)
    if not isinstance(definition, MessageEventDefinition) or definition.name != name \
            or task.state != TaskState.WAITING:
        raise TaskConflictError(f"element `{task.task_spec.bpmn_id}` no longer waits for message `{name}`")
    event = BpmnEvent(definition, payload=payload)
    if getattr(definition, "message_var", None) is None and isinstance(payload, dict):
        task.data.update(payload)  # no message variable named: the payload's fields join the process data
    try:
        task.task_spec.catch(task, event)
        task.task_spec._update(task)
    except (SpiffWorkflowException, WorkflowException) as exc:
        raise _runtime_error(exc) from exc
    return run_engine(workflow)


def message_start_names(spec) -> dict[str, str]:
    """`{message name: start event id}` for the process's message start events."""
    names = {}
    for task_spec in spec.task_specs.values():
        definition = getattr(task_spec, "event_definition", None)
        if type(task_spec).__name__ == "StartEvent" and isinstance(definition, MessageEventDefinition):
            names[definition.name] = task_spec.bpmn_id
    return names


def start_by_message(workflow, name: str, payload: dict) -> list[StepRecord]:
    """Start a new workflow at its message start event `name` with the message's payload."""
    run_engine(workflow)  # reach the waiting start event
    for task in _event_tasks(workflow):
        definition = task.task_spec.event_definition
        if type(task.task_spec).__name__ == "StartEvent" and isinstance(definition, MessageEventDefinition) \
                and definition.name == name:
            return deliver_message(workflow, str(task.id), name, payload)
    raise NotFoundError(f"the process has no message start event for `{name}`")


def fire_timer_task(workflow, task_id: str) -> str:
    """Fire the waiting timer event `task_id` now (its row came due); returns its BPMN id.

    A duration or date timer is marked fired; a cycle fires when its next time has passed on the
    clock (the scheduler only hands it over then) and re-arms for the next one.
    """
    task = find_task(workflow, task_id)
    definition = getattr(task.task_spec, "event_definition", None)
    if not isinstance(definition, TimerEventDefinition) or task.state != TaskState.WAITING:
        raise TaskConflictError(f"element `{task.task_spec.bpmn_id}` no longer waits on a timer")
    planned = None
    if isinstance(definition, CycleTimerEventDefinition):
        # SpiffWorkflow fires a cycle when its next time is past on the server's clock; the scheduler
        # already decided it is due, so make it due, then re-arm from the planned time, not from now
        value = task.internal_data.get("event_value")
        if isinstance(value, dict) and value.get("cycles") != 0:
            planned = datetime.fromisoformat(value["next"])
            value["next"] = _LONG_AGO
    else:
        task._set_internal_data(event_fired=True)
    try:
        task.task_spec._update(task)
    except (SpiffWorkflowException, WorkflowException) as exc:
        raise _runtime_error(exc) from exc
    value = task.internal_data.get("event_value")
    if planned is not None and isinstance(value, dict) and "next" in value:
        value["next"] = (planned + timedelta(seconds=value["duration"])).isoformat()
    return task.task_spec.bpmn_id


_LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC).isoformat()


_WORKDAYS_RE = re.compile(r"P([0-9]{1,4})WD|([0-9]{1,4}) *(?:WD|workdays?)", re.IGNORECASE)


def workday_count(text: str) -> int | None:
    """The number of workdays `P3WD`, `3WD` or `3 workdays` stand for; None for anything else.

    Not ISO 8601 (which has no workdays): Liaison's own unit for due dates, reminders,
    escalations and timeouts, counted on the workday calendar (`engine.data.calendar`)."""
    match = _WORKDAYS_RE.fullmatch(str(text).strip().strip('"').strip("'"))
    if match is None:
        return None
    count = int(match.group(1) or match.group(2))
    if count > MAX_WORKDAYS:
        raise ValueError(f"`{text}`: at most {MAX_WORKDAYS} workdays")
    return count


def wait_until(text: str, now: datetime, workdays=None) -> datetime:
    """When a wait written as `text` after `now` ends: an ISO 8601 duration (`PT4H`, `P2D`) or
    workdays (`P3WD`: the same company-local time of day on the 3rd workday after today)."""
    count = workday_count(text)
    if count is None:
        return now + duration(text)
    return (workdays or WorkdayCalendar()).add(now.astimezone(company_zone()), count).astimezone(UTC)


def check_wait(text: str) -> None:
    """ValueError unless `text` is an ISO 8601 duration or a count of workdays."""
    if workday_count(text) is None:
        try:
            duration(text)
        except ValueError:
            raise ValueError(f"`{text}` is not an ISO 8601 duration such as PT4H or P2D, nor workdays such as "
                             "P3WD") from None


def duration(text: str):
    """An ISO 8601 duration (`PT4H`, `P2D`) as a timedelta from now; ValueError when it is not one."""
    text = str(text).strip().strip('"').strip("'")
    if not text.upper().startswith("P"):
        raise ValueError(f"`{text}` is not an ISO 8601 duration such as PT4H or P2D")
    try:
        parsed = TimerEventDefinition.parse_iso_duration(text)
    except Exception as exc:  # noqa: BLE001 - SpiffWorkflow raises a bare Exception
        raise ValueError(f"`{text}` is not an ISO 8601 duration such as PT4H or P2D") from exc
    return TimerEventDefinition.get_timedelta_from_start(parsed, datetime.now(UTC))


def needs_assignment(task) -> bool:
    """A READY user task with a `liaison:approvers` rule (or a `selfApproval` policy for its assignee or
    candidates) that has not been resolved yet."""
    attrs = task.task_spec.extensions.get("liaison", {})
    return (("approvers" in attrs or "mode" in attrs or "selfApproval" in attrs)
            and "liaison_assignment" not in task.internal_data)


def is_undescribed(task) -> bool:
    """A READY user task whose people have not been worked out yet (it just became ready)."""
    return "liaison_assignment" not in task.internal_data


TASK_TIMER_KEYS = ("dueDate", "remindAfter", "escalateAfter", "timeoutAfter")


def may_wait(spec, subspecs: dict | None = None) -> bool:
    """Whether instances of the spec can ever have timer rows or message subscriptions: it has a
    timer or message event, or a user task with a due date, reminder, escalation or timeout."""
    for candidate in [spec, *(subspecs or {}).values()]:
        for task_spec in candidate.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            if isinstance(definition, (TimerEventDefinition, MessageEventDefinition)):
                return True
            attributes = getattr(task_spec, "extensions", {}).get("liaison", {})
            if any(key in attributes for key in TASK_TIMER_KEYS):
                return True
    return False


def element_attributes(spec, element_id: str, subspecs: dict | None = None) -> dict:
    """The Liaison attributes of an element of a process spec or of its subprocess / called specs."""
    for candidate in [spec, *(subspecs or {}).values()]:
        for task_spec in candidate.task_specs.values():
            if getattr(task_spec, "bpmn_id", None) == element_id:
                return dict(getattr(task_spec, "extensions", {}).get("liaison", {}))
    return {}


def elements_with_attribute(spec, name: str, subspecs: dict | None = None) -> dict[str, dict]:
    """The Liaison attributes of every element (of the spec and its subprocess / called specs) that
    has the Liaison attribute `name`, by BPMN id."""
    found = {}
    for candidate in [spec, *(subspecs or {}).values()]:
        for task_spec in candidate.task_specs.values():
            attributes = getattr(task_spec, "extensions", {}).get("liaison", {})
            bpmn_id = getattr(task_spec, "bpmn_id", None)
            if bpmn_id and name in attributes:
                found.setdefault(bpmn_id, dict(attributes))
    return found


def task_attributes(task) -> dict:
    """The task's Liaison attributes."""
    return dict(task.task_spec.extensions.get("liaison", {}))


def element_of(task) -> str:
    """The BPMN id of a task's element."""
    return task.task_spec.bpmn_id


def set_assignment(task, users: list[str], groups: list[str], workdays=None) -> None:
    """Give a task the people an assignment rule resolved (kept with the task, never re-resolved):
    one person is the assignee, several are candidates (first to claim), groups are candidate groups."""
    describe_user_task(task, workdays)  # evaluates and keeps the due date
    kept = task.internal_data["liaison_assignment"]
    kept["assignee"] = users[0] if len(users) == 1 and not groups else None
    kept["candidate_users"] = [] if kept["assignee"] else list(users)
    kept["candidate_groups"] = list(groups)


# --- signals ----------------------------------------------------------------------------------

@dataclass
class SignalWait:
    """A signal catch event (intermediate, boundary) or event-based gateway with a signal branch the process waits on."""

    task_id: str
    element_id: str
    signal_name: str


def _signal_definitions(definition) -> list:
    """The signal definitions an event waits on: its own, or those among an event-based gateway's events."""
    if isinstance(definition, SignalEventDefinition):
        return [definition]
    if isinstance(definition, MultipleEventDefinition) and not definition.parallel:
        return [d for d in definition.event_definitions if isinstance(d, SignalEventDefinition)]
    return []


def waiting_signals(workflow) -> list[SignalWait]:
    """The signal catch events (and event-based gateways with a signal) waiting now, not the process's own
    signal start events."""
    waits = []
    for task in _event_tasks(workflow):
        if type(task.task_spec).__name__ == "StartEvent" and task.workflow is task.workflow.top_workflow:
            continue
        waits += [SignalWait(str(task.id), task.task_spec.bpmn_id, definition.name)
                  for definition in _signal_definitions(task.task_spec.event_definition)]
    return waits


def deliver_signal(workflow, name: str, payload: dict | None) -> list[StepRecord]:
    """Broadcast signal `name` to every event of this instance waiting for it, then run on.

    The payload's fields join each catching event's data (a signal catch event with
    `spiffworkflow:variableName` gets it in that variable instead)."""
    catching = [(task, definition) for task in _event_tasks(workflow) if task.state == TaskState.WAITING
                for definition in _signal_definitions(task.task_spec.event_definition) if definition.name == name]
    if not catching:
        raise TaskConflictError(f"the instance no longer waits for signal `{name}`")
    for task, definition in catching:
        if task.state != TaskState.WAITING:
            continue  # an earlier catch (an interrupting boundary event) ended it
        if payload and getattr(definition, "variable", None) is None:
            task.data.update(payload)
        try:
            task.task_spec.catch(task, BpmnEvent(definition, payload=payload or None))
            task.task_spec._update(task)
        except (SpiffWorkflowException, WorkflowException) as exc:
            raise _runtime_error(exc) from exc
    return run_engine(workflow)


def may_wait_on_signal(spec, subspecs: dict | None = None) -> bool:
    """Whether the spec (or a subprocess / called spec) has a signal catch event other than a start of its own."""
    for candidate in [spec, *(subspecs or {}).values()]:
        for task_spec in candidate.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            if _signal_definitions(definition) and not isinstance(task_spec, ThrowingEvent) and not (
                    candidate is spec and type(task_spec).__name__ == "StartEvent"):
                return True
    return False


def signal_start_names(spec) -> dict[str, str]:
    """`{signal name: start event id}` for the process's signal start events."""
    return {ts.event_definition.name: ts.bpmn_id for ts in spec.task_specs.values()
            if type(ts).__name__ == "StartEvent" and isinstance(getattr(ts, "event_definition", None),
                                                                SignalEventDefinition)}


def start_by_signal(workflow, name: str, payload: dict | None) -> list[StepRecord]:
    """Start a new workflow at its signal start event `name`."""
    records = run_engine(workflow)  # reach the waiting start event
    if not any(isinstance(t.task_spec.event_definition, SignalEventDefinition)
               and t.task_spec.event_definition.name == name for t in _event_tasks(workflow)):
        raise NotFoundError(f"the process has no signal start event for `{name}`")
    return records + deliver_signal(workflow, name, payload)


def timer_literal_problem(kind: str, text: str) -> str | None:
    """Deploy time: a timer written as a quoted ISO 8601 text that SpiffWorkflow will not parse, or None.
    `kind`: timeDuration, timeDate or timeCycle. Expressions (not plain string literals) are left alone."""
    import ast
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return None
    if not isinstance(value, str):
        return None
    try:
        if kind == "timeDuration":
            TimerEventDefinition.parse_iso_duration(value)
        elif kind == "timeCycle":
            TimerEventDefinition.parse_iso_recurring_interval(value)
        else:
            datetime.fromisoformat(value)
    except Exception:  # noqa: BLE001 - SpiffWorkflow raises bare Exception
        return msg({"timeDuration": "timer `%(value)s` is not an ISO 8601 duration (PT5M, P2D)",
                    "timeDate": "timer `%(value)s` is not an ISO 8601 date-time",
                    "timeCycle": "timer `%(value)s` is not an ISO 8601 repeating interval (R3/PT10M)"}[kind],
                   value=value)
    return None
