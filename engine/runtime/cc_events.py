"""CC (抄送) from the diagram: an intermediate throw event with `liaison:cc="RULE;RULE"` copies the
instance to the people its rules name, as the `cc` operation does (`operations.cc`): one `cc_record`
row per person and instance, a `cc` history entry, a `cc` notification.

The rules have the syntax of `liaison:approvers` (`assignment.parse_rule`: users, role, department,
department_head, manager, initiator, ...) and are resolved against the org chart for the instance's
initiator and data. `liaison:ccWhen` says when: `reach` (the default) as the instance passes the
event, `finish` when the instance completes, if it passed the event on its way. Either way the copy
is part of the step's own write (`store.StepWrite.cc`): it commits with the step or not at all.
A rule that yields nobody copies to nobody; people copied before (by hand or by another event) are
skipped, so everyone is copied at most once per instance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from engine.bpmn import sandbox
from engine.bpmn import workflow as wfa
from engine.caching import BoundedCache
from engine.data import store
from engine.data.models import CcRecord, HistoryEntry
from engine.errors import msg
from engine.notify import render as notifications
from engine.results import SYSTEM_ACTOR
from engine.runtime import assignment
from engine.runtime.assignment_checks import _org_problems
from engine.runtime.versions import version_specs

CC_WHEN = ("reach", "finish")
CC_BY = SYSTEM_ACTOR  # cc_record.cc_by of a copy the diagram made (no person did)
CC_ATTRIBUTES = frozenset({"cc", "ccWhen"})

_cc = CcRecord.__table__
_history = HistoryEntry.__table__


@dataclass(frozen=True)
class CcEvent:
    """A CC event of a version: its rules (canonical text) and when it copies."""

    rules: tuple[str, ...]
    when: str


def cc_rules(text: str) -> list[assignment.Rule]:
    """The rules of a `liaison:cc` value (`;`-separated); ValueError naming the first bad one."""
    parts = [part.strip() for part in (text or "").split(";") if part.strip()]
    if not parts:
        raise ValueError("name at least one rule, such as role:hr or department_head")
    return [assignment.parse_rule(part) for part in parts]


def cc_problems(attributes: Mapping) -> list[tuple[str, str]]:
    """Deploy-time findings about an element's `liaison:cc` / `liaison:ccWhen`: `(severity, message)`."""
    if not CC_ATTRIBUTES & attributes.keys():
        return []
    problems: list[tuple[str, str]] = []
    when = attributes.get("ccWhen")
    if when is not None and when not in CC_WHEN:
        problems.append(("error", msg("liaison:ccWhen `%(value)s` must be one of %(known)s", value=when,
                                      known=", ".join(CC_WHEN))))
    text = attributes.get("cc")
    if text is None:
        return [*problems, ("warning", msg("liaison:ccWhen has no effect without liaison:cc"))]
    parts = cc_rule_texts(attributes)
    if not parts:
        problems.append(("error", msg("liaison:cc names no rule (such as role:hr or department_head)")))
    for part in parts:
        try:
            assignment.parse_rule(part)
        except ValueError as exc:
            problems.append(("error", msg("liaison:cc `%(rule)s`: %(message)s", rule=part, message=str(exc))))
    return problems


def cc_rule_texts(attributes: Mapping) -> list[str]:
    """The rule texts of an element's `liaison:cc` (for the org-chart warnings at deploy)."""
    return [part.strip() for part in str(attributes.get("cc") or "").split(";") if part.strip()]


VERSION_CC: BoundedCache[dict] = BoundedCache(256)  # version checksum -> {element id: CcEvent}


def version_cc_events(conn, version_id: int, checksum: str) -> dict[str, CcEvent]:
    """The CC events of a version, by element id, looked up once per version."""
    def compute() -> dict[str, CcEvent]:
        spec, subspecs = version_specs(conn, version_id, checksum)
        return {element: CcEvent(tuple(str(r) for r in cc_rules(attributes["cc"])),
                                 attributes.get("ccWhen") or "reach")
                for element, attributes in wfa.elements_with_attribute(spec, "cc", subspecs).items()}

    return VERSION_CC.get(checksum, compute)


def copy_step(conn, step: store.StepWrite, records, version: tuple[int, str]) -> list[notifications.Event]:
    """The copies the step makes: `cc` rows and history added to `step`; returns the `cc` events to notify.

    Call once the step's status and data are known: `reach` events among the elements passed (`records`)
    copy now; on completion, the `finish` events passed in this step or an earlier one copy too."""
    events = version_cc_events(conn, *version)
    if not events:
        return []
    passed = list(dict.fromkeys(r.element_id for r in records if r.element_id in events))
    due = [e for e in passed if events[e].when == "reach"]
    if step.status == "completed":
        finish = [e for e in events if events[e].when == "finish"]
        earlier = _passed_before(conn, step.instance_id, finish) if finish else set()
        due += [e for e in finish if e in passed or e in earlier]
    if not due:
        return []
    copied = _copied_before(conn, step.instance_id)
    notices = []
    for element in due:
        people = _resolve(conn, events[element].rules, step, element)
        added = [p for p in people if p not in copied]
        if not added:
            continue
        copied.update(added)
        step.cc += [{"username": name, "cc_by": CC_BY} for name in added]
        step.history.append({"actor": None, "action": "cc", "element_id": element,
                             "data": {"to": added, "skipped": [p for p in people if p not in added]}})
        notices.append(notifications.Event("cc", recipients=added))
    return notices


def _resolve(conn, rules: tuple[str, ...], step: store.StepWrite, element: str) -> list[str]:
    """The active people the rules name for this instance, in order, without repeats (roles expanded)."""
    people: list[str] = []
    for text in rules:
        found = assignment.resolve(conn, assignment.parse_rule(text), initiator=step.initiator, data=step.data,
                                   evaluate=sandbox.evaluate, empty="skip", element_id=element)
        people += found.users + (assignment.role_members(conn, found.groups) if found.groups else [])
    return list(dict.fromkeys(people))


_COPIED = select(_cc.c.username).where(_cc.c.instance_id == bindparam("b_instance"))
_PASSED = (select(_history.c.element_id).distinct()
           .where(_history.c.instance_id == bindparam("b_instance"), _history.c.action == "step",
                  _history.c.element_id.in_(bindparam("b_elements", expanding=True))))


def _copied_before(conn, instance_id: int | None) -> set[str]:
    if instance_id is None:
        return set()
    return set(conn.execute(_COPIED, {"b_instance": instance_id}).scalars())


def _passed_before(conn, instance_id: int | None, elements: list[str]) -> set[str]:
    """Which of `elements` the instance passed in an earlier step (their `step` history entries)."""
    if instance_id is None:
        return set()
    return set(conn.execute(_PASSED, {"b_instance": instance_id, "b_elements": elements}).scalars())


def cc_org_warnings(conn, attributes: Mapping) -> list[str]:
    """What the org chart does not know about an element's `liaison:cc` rules (unknown users, roles,
    departments): warnings, as for approver rules, since the chart may be imported after the deploy."""
    warnings = []
    for part in cc_rule_texts(attributes):
        try:
            rule = assignment.parse_rule(part)
        except ValueError:
            continue  # an error already (`cc_problems`)
        warnings += [f"liaison:cc `{rule}`: {message}" for message in _org_problems(conn, rule)]
    return warnings
