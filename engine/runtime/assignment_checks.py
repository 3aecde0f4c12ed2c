"""Deploy-time checks of the approval attributes of user tasks (`liaison:approvers`,
`approversEmpty`, `selfApproval`, plain assignee / candidates) and of package.yaml's `admins`.

Split from `assignment` (which resolves rules at run time): the same parser and options, read by
`engine.packages.deployment` only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select

from engine.data.models import Department, Person, PersonRole, Role
from engine.errors import msg
from engine.runtime.assignment import (
    _BPMN_NS,
    _CONFLICTING,
    _DEEPEST_LINE,
    _PLAIN_PEOPLE,
    APPROVAL_ATTRIBUTES,
    Conn,
    Rule,
    _options,
    parse_rule,
    rule_texts,
)


def admins_problems(admins) -> list[str]:
    """package.yaml `admins`: a list of usernames (who receives nodes whose rule yields nobody)."""
    if admins is None:
        return []
    if not isinstance(admins, list) or not all(isinstance(a, str) and a.strip() for a in admins):
        return ["`admins` must be a list of usernames"]
    return []


def rule_problems(conn: Conn | None, attributes: Mapping, *,
                  start_fields: Mapping[str, str | None] | None = None) -> list[tuple[str, str]]:
    """Deploy-time findings about a task's approval attributes: `(severity, message)` pairs.

    Syntax errors are errors. `start_fields` (field name -> type of the process's start form; None
    when the process has no start form) makes a `picked:` field missing from it an error and a
    non-user field a warning. With a connection, names the org chart does not know are warnings
    (the chart may be imported after the deploy): users, roles, departments, department heads,
    and a manager level deeper than any reporting line.
    """
    if not APPROVAL_ATTRIBUTES & attributes.keys():
        return []
    text = attributes.get("approvers")
    problems: list[tuple[str, str]] = []
    if text is None and not any(attributes.get(name) for name in _PLAIN_PEOPLE):
        problems.append(("warning", msg("liaison:approversEmpty and liaison:selfApproval have no effect without "
                                        "liaison:approvers, liaison:assignee or liaison:candidateUsers")))
    try:
        _options(attributes)
    except ValueError as exc:
        problems.append(("error", str(exc)))
    if text is None:
        return problems
    for part in rule_texts(text):
        problems.extend(_rule_problems(part, attributes, start_fields, conn))
    return problems


def _rule_problems(text: str, attributes: Mapping, start_fields: Mapping[str, str | None] | None,
                   conn: Conn | None) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    try:
        rule = parse_rule(text)
    except ValueError as exc:
        return [("error", msg("liaison:approvers `%(rule)s`: %(message)s", rule=text, message=str(exc)))]
    conflicting = [f"liaison:{name}" for name in _CONFLICTING if attributes.get(name)]
    if conflicting:
        problems.append(("error", msg("liaison:approvers `%(rule)s` and %(others)s both say who gets the task: "
                                      "keep one", rule=text, others=", ".join(conflicting))))
    if rule.kind == "picked" and start_fields is not None:
        problems.extend(_picked_problems(rule, start_fields))
    if conn is not None:
        problems.extend(("warning", msg("liaison:approvers `%(rule)s`: %(message)s", rule=str(rule), message=message))
                        for message in _org_problems(conn, rule))
    return problems


def _picked_problems(rule: Rule, start_fields: Mapping[str, str | None]) -> list[tuple[str, str]]:
    if rule.value not in start_fields:
        known = ", ".join(sorted(start_fields)) or msg("none")
        return [("error", msg("liaison:approvers `%(rule)s`: the start form has no field `%(field)s` (its fields: "
                              "%(known)s)", rule=str(rule), field=rule.value, known=known))]
    kind = start_fields[rule.value]
    if kind not in (None, "user"):
        return [("warning", msg("liaison:approvers `%(rule)s`: field `%(field)s` is a %(kind)s field, not a user "
                                "picker", rule=str(rule), field=rule.value, kind=kind))]
    return []


def _org_problems(conn: Conn, rule: Rule) -> list[str]:
    """What the org chart does not know about a rule (one or two queries)."""
    if rule.kind == "users":
        present = {name: active for name, active in conn.execute(
            select(Person.username, Person.active).where(Person.username.in_(list(rule.names))))}
        return [msg("no person with username `%(name)s`", name=name) if name not in present
                else msg("`%(name)s` is not active", name=name)
                for name in rule.names if not present.get(name)]
    if rule.kind == "role":
        known = set(conn.execute(select(Role.key).where(Role.key.in_(list(rule.names)))).scalars())
        held = set(conn.execute(select(Role.key).join(PersonRole, PersonRole.role_id == Role.id)
                                .join(Person, Person.id == PersonRole.person_id)
                                .where(Role.key.in_(list(rule.names)), Person.active)).scalars())
        return [msg("no role `%(key)s`", key=key) if key not in known
                else msg("no active person holds role `%(key)s`", key=key)
                for key in rule.names if key not in held]
    if rule.kind in ("department", "department_head") and rule.value is not None:
        row = conn.execute(select(Department.id, Department.head_id)
                           .where(Department.code == rule.value)).first()
        if row is None:
            return [msg("no department with code `%(code)s`", code=rule.value)]
        if rule.kind == "department_head" and row.head_id is None:
            return [msg("department `%(code)s` has no head", code=rule.value)]
        return []
    if rule.kind == "manager":
        deepest = conn.execute(_DEEPEST_LINE).scalar() or 0
        if rule.level > deepest:
            if deepest == 1:
                return [msg("the deepest reporting line has 1 level")]
            return [msg("the deepest reporting line has %(count)s levels", count=deepest)]
    return []


def start_fields_for(node, forms: Mapping[str, Any], form_of: Callable[[Any], str | None]
                     ) -> dict[str, str | None] | None:
    """The fields (name -> type) of the start form(s) of the BPMN process holding `node` (an lxml element),
    for `rule_problems`; None when that process's start events name no form of the package.

    `form_of(element)` gives an element's form name (the parser's attribute reader).
    """
    process = next(node.iterancestors(f"{{{_BPMN_NS}}}process"), None)
    if process is None:
        return None
    found: dict[str, str | None] | None = None
    for start in process.iterchildren(f"{{{_BPMN_NS}}}startEvent"):
        schema = forms.get(form_of(start) or "")
        if isinstance(schema, dict):
            found = found if found is not None else {}
            for item in schema.get("fields") or ():
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    found[item["name"]] = item.get("type")
    return found
