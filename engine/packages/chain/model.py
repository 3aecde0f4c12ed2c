"""The chain's vocabulary (node kinds, the attributes each carries) and its checks as data.

See the package docstring (`engine/packages/chain/__init__.py`) for the model itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from engine.errors import LiaisonError, Message, msg
from engine.packages.chain.conditions import (
    LIST_OPS,
    NO_VALUE_OPS,
    OPERATORS,
    ConditionShapeError,
    condition_to_python,
    leaves,
    operators_for,
)
from engine.runtime.assignment import EMPTY_OPTIONS, SELF_APPROVAL_OPTIONS, parse_rule
from engine.runtime.node_rules import NODE_OPERATIONS, RETURN_TARGETS, names_of

KINDS = ("approver", "handler", "cc", "condition", "parallel", "inclusive", "delay", "trigger")
BRANCHING = ("condition", "parallel", "inclusive")
PERSON_TASKS = ("approver", "handler")
# chain key == liaison:* attribute name, written as text, on approver / handler user tasks
TASK_ATTRIBUTES = ("form", "approvers", "approversEmpty", "selfApproval", "dueDate", "remindAfter",
                   "escalateAfter", "timeoutAfter", "timeoutAction", "allow", "returnTo")
APPROVER_ATTRIBUTES = ("mode", "voteWeights", "voteThreshold")
MODES = ("sequential", "all", "any", "vote")
FIELD_MODES = ("editable", "readonly", "hidden")
CC_WHEN = ("reach", "finish")
CC_RULE_KINDS = ("users", "role", "department", "department_head", "manager", "initiator")
END_ID = "end"
# ids the writer derives from a node id; a node id may not end like this
SUFFIXES = ("_decided", "_rejected", "_join")
_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ChainShapeError(LiaisonError):
    """A BPMN process that the chain editor cannot show: names the first element that does not fit."""

    def __init__(self, element_id: str | None, reason: Message | str):
        self.element_id = element_id
        self.reason = reason
        super().__init__(msg("element %(element)s does not fit the approval chain: %(reason)s",
                             element=element_id or "?", reason=reason))


def walk(nodes: list[dict]) -> Iterator[dict]:
    """Every node of a node list, branches' nodes included, depth first in chain order."""
    for node in nodes:
        yield node
        for branch in node.get("branches") or []:
            yield from walk(branch.get("nodes") or [])


def all_ids(chain: dict) -> list[str]:
    """The ids the chain gives: start, nodes and branches (in order, duplicates kept)."""
    ids = [chain.get("start", {}).get("id")]
    for node in walk(chain.get("nodes") or []):
        ids.append(node.get("id"))
        ids.extend(branch.get("id") for branch in node.get("branches") or [])
    return ids


def chain_problems(chain: dict, forms: dict[str, dict]) -> list[tuple[str | None, Message]]:
    """What is wrong with a chain, as (node id, translatable message) pairs; empty when it can be saved.

    `forms` maps form names to schemas (the package's forms); conditions read the start form."""
    problems: list[tuple[str | None, Message]] = []
    start = chain.get("start") or {}
    start_form = forms.get(start.get("form") or "")
    if start.get("form") and start_form is None:
        problems.append((start.get("id"), msg("the start form %(form)s does not exist", form=start["form"])))
    problems.extend(_id_problems(chain))
    fields = {f["name"]: f for f in (start_form or {}).get("fields", []) if isinstance(f, dict) and "name" in f}
    for node in walk(chain.get("nodes") or []):
        problems.extend((node.get("id"), message) for message in _node_problems(node, fields, forms))
    return problems


def _id_problems(chain: dict) -> list[tuple[str | None, Message]]:
    problems, seen = [], set()
    for node_id in all_ids(chain):
        if not isinstance(node_id, str) or not _ID.match(node_id):
            problems.append((node_id, msg("%(id)s is not a valid id (letters, digits and _; not first a digit)",
                                          id=str(node_id))))
        elif node_id in seen or node_id == END_ID:
            problems.append((node_id, msg("the id %(id)s is used twice", id=node_id)))
        elif node_id.endswith(SUFFIXES):
            problems.append((node_id, msg("an id may not end in %(suffixes)s", suffixes=", ".join(SUFFIXES))))
        seen.add(node_id)
    return problems


def _node_problems(node: dict, fields: dict, forms: dict) -> list[Message]:
    kind = node.get("kind")
    if kind not in KINDS:
        return [msg("unknown node kind %(kind)s", kind=str(kind))]
    if kind in PERSON_TASKS:
        return _task_problems(node, forms) + _field_problems(node, forms, fields)
    if kind in BRANCHING:
        return _branch_problems(node, fields)
    if kind == "cc":
        return _cc_problems(node)
    if kind == "delay":
        if bool(node.get("duration")) == bool(node.get("date_field")):
            return [msg("a delay waits either a duration or until the date in a field")]
        if node.get("date_field") and node["date_field"] not in fields:
            return [msg("the start form has no field %(field)s", field=node["date_field"])]
        return []
    if bool(node.get("operation")) == bool(node.get("message")):
        return [msg("a trigger calls either an operation or sends a message")]
    return []


def _task_problems(node: dict, forms: dict) -> list[Message]:
    problems = []
    rule = node.get("approvers")
    if not rule:
        problems.append(msg("no approver rule: say who handles this node"))
    else:
        try:
            parse_rule(rule)
        except ValueError as exc:
            problems.append(msg("approver rule %(rule)s: %(reason)s", rule=rule, reason=str(exc)))
    if node.get("mode") is not None and (node["kind"] != "approver" or node["mode"] not in MODES):
        problems.append(msg("approval mode %(mode)s is not one of %(modes)s", mode=str(node["mode"]),
                            modes=", ".join(MODES)))
    if node.get("approversEmpty", "fail") not in EMPTY_OPTIONS:
        problems.append(msg("unknown choice %(value)s", value=str(node["approversEmpty"])))
    if node.get("selfApproval", "allow") not in SELF_APPROVAL_OPTIONS:
        problems.append(msg("unknown choice %(value)s", value=str(node["selfApproval"])))
    form = node.get("form")
    if form and form not in forms:
        problems.append(msg("the form %(form)s does not exist", form=form))
    return problems + _allow_problems(node)


def _allow_problems(node: dict) -> list[Message]:
    """`allow` / `returnTo`: names the engine knows (`engine.runtime.node_rules`)."""
    problems = []
    for value in (n for n in names_of(node.get("allow")) if n not in NODE_OPERATIONS):
        problems.append(msg("unknown operation %(value)s (known: %(known)s)", value=value,
                            known=", ".join(NODE_OPERATIONS)))
    for value in (n for n in names_of(node.get("returnTo")) if n not in RETURN_TARGETS):
        problems.append(msg("unknown return target %(value)s (known: %(known)s)", value=value,
                            known=", ".join(RETURN_TARGETS)))
    return problems


def _field_problems(node: dict, forms: dict, start_fields: dict) -> list[Message]:
    """Field permissions name fields of the node's form or of the start form; a start-form field can be
    editable only where the node's form has it."""
    problems = []
    own = form_field_names(forms.get(node.get("form") or ""))
    for name, mode in (node.get("fields") or {}).items():
        if mode not in FIELD_MODES:
            problems.append(msg("field %(field)s: %(mode)s is not editable, readonly or hidden", field=name,
                                mode=str(mode)))
        elif name not in own and name not in start_fields:
            problems.append(msg("neither the node's form nor the start form has a field %(field)s", field=name))
        elif name not in own and mode == "editable":
            problems.append(msg("field %(field)s is on the start form only: this node's form cannot edit it",
                                field=name))
    return problems


def form_field_names(schema: dict | None) -> list[str]:
    """The names of a form schema's fields, in order."""
    return [f["name"] for f in (schema or {}).get("fields", []) if isinstance(f, dict) and "name" in f]


def _branch_problems(node: dict, fields: dict) -> list[Message]:
    branches = node.get("branches") or []
    if len(branches) < 2:
        return [msg("a branch node needs at least two branches")]
    if node["kind"] == "parallel":
        return [msg("parallel branches take no condition") for b in branches if b.get("condition")][:1]
    problems = []
    for position, branch in enumerate(branches):
        last = position == len(branches) - 1
        condition = branch.get("condition")
        if condition is None and not last:
            problems.append(msg("branch %(branch)s has no condition (only the last branch, other cases, has none)",
                                branch=str(branch.get("id"))))
        elif condition is not None:
            problems.extend(_condition_problems(condition, fields, str(branch.get("id"))))
    return problems


def _condition_problems(condition: dict, fields: dict, branch: str) -> list[Message]:
    problems = []
    for leaf in leaves(condition):
        name, op = leaf.get("field"), leaf.get("op")
        if name not in fields:
            problems.append(msg("branch %(branch)s: the start form has no field %(field)s", branch=branch,
                                field=str(name)))
        elif op not in OPERATORS or op not in operators_for(fields[name]):
            problems.append(msg("branch %(branch)s: %(op)s cannot compare field %(field)s", branch=branch,
                                op=str(op), field=name))
        elif op not in NO_VALUE_OPS and leaf.get("value") in (None, "", []):
            problems.append(msg("branch %(branch)s: the condition on %(field)s has no value", branch=branch,
                                field=name))
        elif op in LIST_OPS and not isinstance(leaf.get("value"), list):
            problems.append(msg("branch %(branch)s: %(op)s needs a list of values", branch=branch, op=op))
    if not problems:
        try:
            condition_to_python(condition)
        except (ConditionShapeError, KeyError, TypeError) as exc:
            problems.append(msg("branch %(branch)s: %(reason)s", branch=branch, reason=str(exc)))
    return problems


def _cc_problems(node: dict) -> list[Message]:
    rules = node.get("to") or []
    problems = [] if rules else [msg("a CC node names nobody")]
    for rule in rules:
        try:
            parsed = parse_rule(rule)
        except ValueError as exc:
            problems.append(msg("approver rule %(rule)s: %(reason)s", rule=str(rule), reason=str(exc)))
            continue
        if parsed.kind not in CC_RULE_KINDS or ";" in rule:
            problems.append(msg("a CC node copies people, roles, departments or managers, not %(rule)s", rule=rule))
    if node.get("when", "reach") not in CC_WHEN:
        problems.append(msg("unknown choice %(value)s", value=str(node["when"])))
    return problems
