"""Checks of a package's BPMN attributes at deploy: service tasks, `liaison:*` attributes (forms, expressions,
timers, approval modes, approver rules, CC), the resubmit rule of start events, and package.yaml `messages`.

Split out of `deployment` (which loads, validates as a whole and deploys) so each stays readable; every
function returns `Problem`s or messages and touches no database.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from engine.bpmn.expressions import check_expression
from engine.bpmn.parser import BPMN_NS, read_liaison_attributes
from engine.bpmn.services import service_names
from engine.bpmn.workflow import check_wait, duration
from engine.errors import Problem, msg
from engine.packages.trigger_checks import webhook_problems
from engine.runtime.approvals import mode_problems
from engine.runtime.assignment import APPROVAL_ATTRIBUTES
from engine.runtime.assignment_checks import rule_problems, start_fields_for
from engine.runtime.cc_events import cc_problems
from engine.runtime.node_rules import allow_problems

SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"


def check_service_tasks(file: str, doc) -> list[Problem]:
    """Every service task names an operation of the service registry, or is external with a topic."""
    problems = []
    for node in doc.iter(f"{{{BPMN_NS}}}serviceTask"):
        attributes = read_liaison_attributes(node)
        if attributes.get("camundaType") == "external":
            # waits for an outside worker (`engine.runtime.worker_tasks`): fetched by its topic
            if not (attributes.get("topic") or "").strip():
                problems.append(Problem(file, node.sourceline, node.get("id"),
                                        msg("external service task needs camunda:topic (the topic workers fetch)")))
            continue
        operation = attributes.get("operation")
        if operation is None:
            operator = node.find(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}serviceTaskOperator")
            operation = operator.get("id") if operator is not None else None
        if operation is None:
            problems.append(Problem(file, node.sourceline, node.get("id"),
                                    msg("service task needs liaison:operation naming a registered operation "
                                        "(known: %(known)s)", known=", ".join(service_names()))))
        elif operation not in service_names():
            problems.append(Problem(file, node.sourceline, node.get("id"),
                                    msg("unknown service operation `%(operation)s` (known: %(known)s)",
                                        operation=operation, known=", ".join(service_names()))))
        elif operation == "webhook":
            problems.extend(Problem(file, node.sourceline, node.get("id"), message)
                            for message in webhook_problems(attributes.get("parameters") or {}))
    return problems


_EXPRESSION_ATTRIBUTES = ("assignee", "candidateUsers", "candidateGroups", "dueDate")


def _return_problems(file: str, doc) -> list[Problem]:
    """A start event's `liaison:resubmit` names a user task of its process; `afterReturn` is rerun or direct."""
    problems = []
    for start in doc.iter(f"{{{BPMN_NS}}}startEvent"):
        attributes = read_liaison_attributes(start)
        after = attributes.get("afterReturn")
        if after is not None and after not in ("rerun", "direct"):
            problems.append(Problem(file, start.sourceline, start.get("id"),
                                    msg("liaison:afterReturn `%(value)s` must be rerun or direct", value=after)))
        resubmit = attributes.get("resubmit")
        if resubmit is not None:
            process = start.getparent()
            tasks = {t.get("id") for t in process.iter(f"{{{BPMN_NS}}}userTask")}
            if resubmit not in tasks:
                problems.append(Problem(file, start.sourceline, start.get("id"),
                                        msg("liaison:resubmit `%(task)s` is not a user task of this process",
                                            task=resubmit)))
    return problems


def check_liaison_attributes(documents: dict, forms: dict, root: Path) -> list[Problem]:
    """Form references must exist in the package; `${...}` attribute expressions must be safe."""
    problems = []
    for file, doc in documents.items():
        problems.extend(_return_problems(file, doc))
        for node in doc.iter():
            if not isinstance(node.tag, str) or not node.tag.startswith(f"{{{BPMN_NS}}}"):
                continue
            attributes = read_liaison_attributes(node)
            form = attributes.get("form")
            if form and form not in forms:
                problems.append(Problem(
                    file, node.sourceline, node.get("id"),
                    msg("form `%(form)s` is not in %(folder)s (expected %(form)s.yaml)", form=form,
                        folder=str(root / "forms"))))
            for name in _EXPRESSION_ATTRIBUTES:
                value = attributes.get(name)
                if isinstance(value, str) and value.strip().startswith("${"):
                    message = check_expression(value.strip(), "condition")
                    if message:
                        problems.append(Problem(file, node.sourceline, node.get("id"),
                                                msg("%(attribute)s expression `%(text)s`: %(message)s",
                                                    attribute=name, text=value, message=message)))
            problems.extend(Problem(file, node.sourceline, node.get("id"), message)
                            for message in _timer_attribute_problems(attributes) + mode_problems(attributes)
                            + allow_problems(attributes, etree.QName(node).localname))
            if APPROVAL_ATTRIBUTES & attributes.keys():  # approver rules: syntax and start-form fields
                fields = start_fields_for(node, forms, lambda start: read_liaison_attributes(start).get("form"))
                problems.extend(Problem(file, node.sourceline, node.get("id"), message, severity)
                                for severity, message in rule_problems(None, attributes, start_fields=fields))
            problems.extend(Problem(file, node.sourceline, node.get("id"), message, severity)
                            for severity, message in cc_problems(attributes))  # liaison:cc, ccWhen
    return problems


_DURATION_ATTRIBUTES = ("remindAfter", "escalateAfter", "timeoutAfter")


def _timer_attribute_problems(attributes: dict) -> list[str]:
    """A user task's reminder / escalation / timeout settings: ISO 8601 durations and a known action;
    a correlation key expression must be safe."""
    problems = []
    for name in _DURATION_ATTRIBUTES:
        value = attributes.get(name)
        if value is not None and _bad_duration(value, check_wait):
            problems.append(msg("liaison:%(attribute)s `%(value)s` is not an ISO 8601 duration such as PT4H or "
                                "P2D, nor workdays such as P3WD", attribute=name, value=value))
    action = attributes.get("timeoutAction")
    if action is not None and action not in ("approve", "reject"):
        problems.append(msg("liaison:timeoutAction `%(value)s` must be approve or reject", value=action))
    if action is not None and attributes.get("timeoutAfter") is None:
        problems.append(msg("liaison:timeoutAction needs liaison:timeoutAfter (when to decide)"))
    key = attributes.get("correlationKey")
    if key is not None:
        message = check_expression(key.strip(), "condition")
        if message:
            problems.append(msg("liaison:correlationKey `%(text)s`: %(message)s", text=key, message=message))
    return problems


def _bad_duration(value: str, check=duration) -> bool:
    try:
        check(value)
    except ValueError:
        return True
    return False


def messages_problems(messages) -> list[str]:
    """package.yaml `messages`: `{name: {early: keep|refuse, keep_for: ISO duration}}`."""
    if messages is None:
        return []
    if not isinstance(messages, dict):
        return ["`messages` must map message names to {early: keep|refuse, keep_for: duration}"]
    problems = []
    for name, rule in messages.items():
        if not isinstance(rule, dict):
            problems.append(f"messages.{name}: must be a mapping with `early` and/or `keep_for`")
            continue
        unknown = sorted(set(rule) - {"early", "keep_for"})
        if unknown:
            problems.append(f"messages.{name}: unknown key(s) {', '.join(unknown)} (known: early, keep_for)")
        if rule.get("early", "keep") not in ("keep", "refuse"):
            problems.append(f"messages.{name}.early: `{rule.get('early')}` must be keep or refuse")
        if rule.get("keep_for") is not None and _bad_duration(rule["keep_for"]):
            problems.append(f"messages.{name}.keep_for: `{rule['keep_for']}` is not an ISO 8601 duration")
    return problems
