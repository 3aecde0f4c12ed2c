"""Scenario tests of a process package: `tests/*.yaml`, run against a scratch database.

A scenario starts the process with some data, completes tasks as given users with given data,
and checks the outcome (status, end event, path, data, open tasks, notifications). Process owners
write them next to the diagram; `liaison test PATH` and the project's own test suite run them the
same way.

```yaml
name: manager approves
start: {user: zhang, data: {days: 2, manager: li}, business_key: LV-1}
steps:
  - task: manager_approval        # element id of an open task
    user: li
    groups: []                    # optional
    data: {approved: true}
    expect_assignee: li           # optional checks on the task before completing it
  - task: hr_record
    user: hu
    groups: [hr]
    expect_error: not assigned    # optional: the step must fail with this text (nothing is saved)
  - task: confirm_order           # an external task (liaison:external): done by an outsider of that
    as: ext:supplier              # kind, acting as `ext:contact:0` with the group `ext:supplier`
    data: {answer: confirm}
  - message: po_shipped           # a message from outside (`liaison message send`), correlated by `key`
    key: PO-1
    data: {carrier: SF}           # optional payload
  - timer: no_show_timer          # the pending timer event `no_show_timer` fires now (never waits on the clock)
people: [li, hu]                  # optional: more people of the scratch directory
org: {managers: {zhang: li}, roles: {finance: [qian]}}   # optional: see scenario_org.py
expect:
  status: completed               # running | completed | cancelled
  end_event: approved_end
  path: [manager_approval, hr_record, approved_end]   # in this order, other elements may come between
  not_path: [rejected_end]
  data: {approved: true}          # these keys with these values
  open_tasks: []                  # element ids of the tasks still open at the end
  notifications:                  # these must have been produced for the instance (others may be too)
    - {event: task_assigned, to: li}    # event as in engine/notify (task_assigned, approved, cc, ...)
    - {event: approved, to: zhang}      # to: a username, an e-mail address or a webhook endpoint name
```

`notifications` is checked against the in-app `notification` rows and the `outbox` rows written for
the instance, whatever the channel (an e-mail to a person counts for their username); the failure
names each missing one.

The scratch directory holds the people the scenario names: `start.user`, each step's `user` and
`people` (user fields of the forms must name people of the directory).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import runtime
from engine.data import db
from engine.data.models import Notification, OutboxMessage, Person, Timer
from engine.errors import LiaisonError
from engine.external.identity import KINDS, external_group
from engine.notify.render import EVENTS
from engine.packages import deployment as packages
from engine.packages import scenario_org
from engine.runtime import messages, timers
from engine.work import queries

_STEP_KEYS = {"task", "user", "groups", "data", "comment", "expect_assignee", "expect_candidate_groups",
              "expect_error", "as"}
_MESSAGE_KEYS = {"message", "key", "data"}
SCENARIO_OUTSIDER = "ext:contact:0"  # who an `as: ext:KIND` step acts as
_TOP_KEYS = {"name", "start", "steps", "expect", "description", "people", "org"}


@dataclass
class StepResult:
    """One step of a scenario as run: its number, task, user and the failures it had (none: passed)."""

    number: int
    task: str
    user: str
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when the step held."""
        return not self.failures


@dataclass
class ScenarioResult:
    """The outcome of one scenario: passed, or the reasons it failed."""

    package: str
    file: str
    name: str
    failures: list[str] = field(default_factory=list)
    steps: list[StepResult] = field(default_factory=list)  # one per step run, in order
    path: list[str] = field(default_factory=list)  # element ids the token passed (for the diagram)

    @property
    def passed(self) -> bool:
        """True when every check held."""
        return not self.failures


def run_package_scenarios(path: str | Path, database_url: str | None = None,
                          only: str | None = None) -> list[ScenarioResult]:
    """Validate the package, deploy it to a scratch database and run each of its scenarios (with `only`,
    the one of that file name)."""
    package = packages.load_package(path)
    with tempfile.TemporaryDirectory(prefix="liaison-scenarios-") as scratch:
        url = database_url or f"sqlite:///{Path(scratch) / 'scenarios.db'}"
        db.upgrade(url)
        engine = db.make_engine(url)
        try:
            sessions = db.make_session_factory(engine)
            with sessions() as session, session.begin():
                packages.deploy(session, package, "scenario-runner")
            _add_people(sessions, package.tests.values())
            return [run_scenario(sessions, package.key, name, spec)
                    for name, spec in sorted(package.tests.items()) if only is None or name == only]
        finally:
            engine.dispose()


def _add_people(sessions: sessionmaker[Session], scenarios) -> None:
    """Put the people the scenarios name into the scratch directory."""
    names: set[str] = set()
    for spec in scenarios:
        if not isinstance(spec, dict):
            continue
        start = spec.get("start") if isinstance(spec.get("start"), dict) else {}
        names.add(start.get("user"))
        names.update(step.get("user") for step in spec.get("steps") or [] if isinstance(step, dict))
        names.update(spec.get("people") or [] if isinstance(spec.get("people"), list) else [])
        names.update(scenario_org.org_people(spec))
    with sessions() as session, session.begin():
        session.add_all(Person(username=name, name=name) for name in sorted(n for n in names if isinstance(n, str) and n))
        session.flush()
        scenario_org.apply_org(session, scenarios)


def run_scenario(sessions: sessionmaker[Session], key: str, file: str, spec: dict) -> ScenarioResult:
    """Run one scenario against a database where package `key` is deployed."""
    result = ScenarioResult(key, file, str(spec.get("name") or file))
    unknown = set(spec) - _TOP_KEYS
    if unknown:
        result.failures.append(f"unknown keys {sorted(unknown)} (allowed: {sorted(_TOP_KEYS)})")
        return result
    if scenario_org.org_problems(spec):
        result.failures.extend(scenario_org.org_problems(spec))
        return result
    start = spec.get("start") or {}
    try:
        step = runtime.start_instance(sessions, key, start.get("data") or {}, start.get("user"),
                                      start.get("business_key"))
    except LiaisonError as exc:
        result.failures.append(f"start failed: {exc}")
        return result
    instance_id = step.instance_id
    try:
        for number, item in enumerate(spec.get("steps") or [], start=1):
            if not _run_step(sessions, instance_id, number, item, result):
                return result
        _check_outcome(sessions, instance_id, spec.get("expect") or {}, result)
        return result
    finally:
        with sessions() as session:
            result.path = queries.path_taken(session, instance_id)


def _run_step(sessions, instance_id: int, number: int, item: dict, result: ScenarioResult) -> bool:
    item = item if isinstance(item, dict) else {}
    before = len(result.failures)
    passed = _run_one_step(sessions, instance_id, number, item, result)
    task = item.get("task") or (f"message {item['message']}" if "message" in item else "")
    task = task or (f"timer {item['timer']}" if "timer" in item else "")
    result.steps.append(StepResult(number, str(task), str(item.get("user") or item.get("as") or ""),
                                   result.failures[before:]))
    return passed


def _run_one_step(sessions, instance_id: int, number: int, item: dict, result: ScenarioResult) -> bool:
    if "message" in item:
        return _send_message(sessions, number, item, result)
    if "timer" in item:
        return _fire_timer(sessions, instance_id, number, item, result)
    where = f"step {number} ({item.get('task')})"
    unknown = set(item) - _STEP_KEYS
    if unknown:
        result.failures.append(f"{where}: unknown keys {sorted(unknown)}")
        return False
    user, groups = str(item.get("user") or ""), tuple(item.get("groups") or ())
    if "as" in item:
        outsider = str(item["as"])
        if outsider not in {external_group(kind) for kind in KINDS}:
            result.failures.append(f"{where}: `as` must be one of {[external_group(k) for k in KINDS]}")
            return False
        user, groups = str(item.get("user") or SCENARIO_OUTSIDER), (outsider,)
    with sessions() as session:
        view = queries.instance_view(session, instance_id)
    open_tasks = [t for t in view["tasks"] if t["status"] == "open" and t["element_id"] == item.get("task")]
    if not open_tasks:
        waiting = sorted(t["element_id"] for t in view["tasks"] if t["status"] == "open")
        result.failures.append(f"{where}: no open task `{item.get('task')}` (open: {waiting or 'none'}, "
                               f"instance {view['status']})")
        return False
    # a multi-instance node has one open task per person: the step's user takes their own
    task = next((t for t in open_tasks if t["assignee"] == user), open_tasks[0])
    if "expect_assignee" in item and task["assignee"] != item["expect_assignee"]:
        result.failures.append(f"{where}: assignee is {task['assignee']!r}, expected {item['expect_assignee']!r}")
    if "expect_candidate_groups" in item and task["candidate_groups"] != item["expect_candidate_groups"]:
        result.failures.append(f"{where}: candidate groups are {task['candidate_groups']}, "
                               f"expected {item['expect_candidate_groups']}")
    try:
        runtime.complete_task(sessions, task["id"], user, item.get("data") or {}, groups, item.get("comment"))
    except LiaisonError as exc:
        if item.get("expect_error") and str(item["expect_error"]) in str(exc):
            return True
        result.failures.append(f"{where}: {type(exc).__name__}: {exc}")
        return False
    if item.get("expect_error"):
        result.failures.append(f"{where}: expected an error containing {item['expect_error']!r}, it succeeded")
        return False
    return True


def _fire_timer(sessions, instance_id: int, number: int, item: dict, result: ScenarioResult) -> bool:
    """A `timer: ELEMENT` step: the waiting timer event ELEMENT fires now, as the scheduler would at its
    due time (scenarios never wait on the clock)."""
    where = f"step {number} (timer {item.get('timer')})"
    with sessions() as session:
        timer_id = session.scalar(select(Timer.id).where(
            Timer.instance_id == instance_id, Timer.element_id == str(item["timer"]), Timer.kind == "event",
            Timer.status == "pending"))
    if timer_id is None:
        result.failures.append(f"{where}: no pending timer `{item['timer']}`")
        return False
    outcome = timers.fire(sessions, timer_id)
    if outcome != "fired":
        result.failures.append(f"{where}: the timer was {outcome}")
        return False
    return True


def _send_message(sessions, number: int, item: dict, result: ScenarioResult) -> bool:
    """A `message:` step: send the message as `liaison message send` would."""
    where = f"step {number} (message {item.get('message')})"
    unknown = set(item) - _MESSAGE_KEYS
    if unknown:
        result.failures.append(f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(_MESSAGE_KEYS)})")
        return False
    key = item.get("key")
    try:
        messages.send_message(sessions, str(item["message"]), None if key is None else str(key), item.get("data") or {})
    except LiaisonError as exc:
        result.failures.append(f"{where}: {type(exc).__name__}: {exc}")
        return False
    return True


def _check_outcome(sessions, instance_id: int, expect: dict, result: ScenarioResult) -> None:
    with sessions() as session:
        view = queries.instance_view(session, instance_id)
        path = queries.path_taken(session, instance_id)
    for name in ("status", "end_event"):
        if name in expect and view[name] != expect[name]:
            result.failures.append(f"{name} is {view[name]!r}, expected {expect[name]!r}")
    if "path" in expect and not _is_subsequence(list(expect["path"]), path):
        result.failures.append(f"path {path} does not pass {expect['path']} in that order")
    for element in expect.get("not_path") or []:
        if element in path:
            result.failures.append(f"path passed `{element}`, which it must not")
    for name, value in (expect.get("data") or {}).items():
        if view["data"].get(name) != value:
            result.failures.append(f"data `{name}` is {view['data'].get(name)!r}, expected {value!r}")
    if "open_tasks" in expect:
        still_open = sorted(t["element_id"] for t in view["tasks"] if t["status"] == "open")
        if still_open != sorted(expect["open_tasks"]):
            result.failures.append(f"open tasks are {still_open}, expected {sorted(expect['open_tasks'])}")
    if "notifications" in expect:
        _check_notifications(sessions, instance_id, expect["notifications"], result)


def _check_notifications(sessions, instance_id: int, wanted, result: ScenarioResult) -> None:
    """Every `{event, to}` of `wanted` must be among the notifications produced for the instance."""
    items = wanted if isinstance(wanted, list) else [wanted]
    bad = [item for item in items if not isinstance(item, dict) or set(item) != {"event", "to"}]
    if bad:
        result.failures.append(f"notifications: each item needs exactly `event` and `to`, not {bad}")
        return
    unknown = sorted({str(item["event"]) for item in items} - set(EVENTS))
    if unknown:
        result.failures.append(f"notifications: unknown events {unknown} (known: {', '.join(EVENTS)})")
        return
    with sessions() as session:
        produced = _notified(session, instance_id)
    missing = [f"{item['event']} to {item['to']}" for item in items
               if (str(item["event"]), str(item["to"])) not in produced]
    if missing:
        seen = ", ".join(f"{event} to {to}" for event, to in sorted(produced)) or "none"
        result.failures.append(f"notifications not produced: {', '.join(missing)} (produced: {seen})")


def _notified(session: Session, instance_id: int) -> set[tuple[str, str]]:
    """(event, recipient) of the instance's in-app and outbox rows; an e-mail to a person counts for the
    username too."""
    produced = {(row.event, row.recipient) for row in session.execute(
        select(Notification.event, Notification.recipient).where(Notification.instance_id == instance_id))}
    for row in session.execute(select(OutboxMessage.event, OutboxMessage.recipient, OutboxMessage.payload)
                               .where(OutboxMessage.instance_id == instance_id)):
        produced.add((row.event, row.recipient))
        username = (row.payload or {}).get("username") if isinstance(row.payload, dict) else None
        if username:
            produced.add((row.event, str(username)))
    return produced


def _is_subsequence(wanted: list, path: list) -> bool:
    position = 0
    for element in path:
        if position < len(wanted) and element == wanted[position]:
            position += 1
    return position == len(wanted)
