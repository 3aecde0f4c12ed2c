"""Assignment rules: who gets an approval node, resolved against the org chart when the task is created.

A user task names its approvers with one attribute, `liaison:approvers="KIND[:ARGUMENT]"`
(reference: docs/approvals.md):

| rule | who |
|---|---|
| `users:alice,bob` | the named people |
| `role:finance` (or `role:finance,hr`) | everyone holding the role: offered as candidate groups |
| `department:SALES` / `department:SALES+` | the members of a department (by code) / with its subdepartments |
| `initiator` | the person who started the instance |
| `manager` / `manager:2` | the initiator's direct / Nth-level manager up the reporting line |
| `department_head` / `department_head:SALES` | the head of the initiator's department / of a named one |
| `picked:field` | the user (or users) the initiator picked in a start-form field |
| `expr:python expression` | a username or list of usernames computed from process data |

`liaison:approversEmpty` (`fail` | `skip` | `admin`) says what happens when a rule yields nobody;
`liaison:selfApproval` (`allow` | `skip` | `manager`) what happens when the initiator is among the
approvers. A node without a rule that names its people with `liaison:assignee` / `liaison:candidateUsers`
(`${field}` or an expression) obeys its `selfApproval` the same way: when they include the initiator,
they are resolved as a rule (`picked:field`, or `users:` the people named) under the node's options. Only active people are returned, never their out-of-office deputies (the runtime
redirects assigned tasks after resolution).

No SpiffWorkflow, no Flask: `resolve` takes a SQLAlchemy Core connection (or a Session) and the
caller's sandboxed `evaluate`; it costs one to three indexed queries.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, bindparam, case, func, literal, select
from sqlalchemy.orm import Session, aliased

from engine.bpmn import paths
from engine.bpmn.sandbox import check_expression
from engine.data.models import AdminGrant, Department, Person, PersonRole, Role
from engine.errors import ProcessRuntimeError, msg
from engine.people.org import within

# The rule kinds, with what their argument is (the designer's dropdown offers these).
RULE_KINDS: dict[str, str] = {
    "users": "usernames, comma-separated",
    "role": "role keys, comma-separated",
    "department": "a department code, with a trailing + for its subdepartments too",
    "initiator": "no argument",
    "manager": "optional: the level up the reporting line, 1 to 20; 1, the direct manager, by default",
    "department_head": "optional: a department code; the initiator's own department by default",
    "picked": "the name of a start-form field holding a username or a list of usernames",
    "expr": "a Python expression over process data giving a username or a list of usernames",
}
_OPTIONAL_ARGUMENT = {"initiator": "", "manager": ", or `manager:2`", "department_head": ", or `department_head:SALES`"}
EMPTY_OPTIONS = ("fail", "skip", "admin")
SELF_APPROVAL_OPTIONS = ("allow", "skip", "manager")
# The attributes this module reads from a task's `extensions["liaison"]`.
APPROVAL_ATTRIBUTES = frozenset({"approvers", "approversEmpty", "selfApproval"})
MAX_MANAGER_LEVEL = 20
_CONFLICTING = ("assignee", "candidateUsers", "candidateGroups")
_NAME = re.compile(r"[^\s,:+]+")
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FIELD_REFERENCE = re.compile(r"\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}")
_PLAIN_PEOPLE = ("assignee", "candidateUsers")
_BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"

Conn = Connection | Session
Evaluate = Callable[[str, dict], Any]

# What a person is told when assignment fails (ProcessRuntimeError.reason)
NOBODY = msg("nobody can be found to handle it: tell the process owner or an admin who should")
RULE_FAILED = msg("its rule for who handles it could not be applied")


@dataclass(frozen=True)
class Rule:
    """A parsed `liaison:approvers` value. `str(rule)` gives its canonical text."""

    kind: str
    names: tuple[str, ...] = ()  # users: usernames; role: role keys
    value: str | None = None  # department / department_head: code; picked: field; expr: expression
    level: int = 1  # manager: how far up
    subtree: bool = False  # department: with subdepartments

    def __str__(self) -> str:
        if self.kind in ("users", "role"):
            return f"{self.kind}:{','.join(self.names)}"
        if self.kind == "department":
            return f"department:{self.value}{'+' if self.subtree else ''}"
        if self.kind == "manager":
            return "manager" if self.level == 1 else f"manager:{self.level}"
        if self.value is not None:
            return f"{self.kind}:{self.value}"
        return self.kind


@dataclass
class Resolution:
    """Who gets the node: assign to `users` (or offer to them) and offer to `groups`."""

    users: list[str]  # usernames resolved (ordered, de-duplicated, active people only)
    groups: list[str]  # role keys offered as candidate groups (for role: rules)
    skipped: bool = False  # the node should be skipped (empty + skip, or self-approval skip with nobody left)
    note: str | None = None  # why (for the history): "rule role:finance yielded nobody; skipped"
    skip_reason: str | None = None  # when skipped, for the people reading the history: requester | nobody


# -- parsing -------------------------------------------------------------------------------------------

@lru_cache(maxsize=1024)
def parse_rule(text: str) -> Rule:
    """Read a `liaison:approvers` value; ValueError with a precise message on bad syntax.

    Cached per text (rules are immutable), so the engine may call it on every task it creates.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"the rule is empty (expected one of: {', '.join(RULE_KINDS)})")
    kind, colon, argument = text.strip().partition(":")
    kind, argument = kind.strip(), argument.strip()
    if kind not in RULE_KINDS:
        raise ValueError(f"unknown rule kind `{kind}` (known: {', '.join(RULE_KINDS)})")
    if colon and not argument and kind not in ("expr", "picked"):
        if kind in _OPTIONAL_ARGUMENT:
            raise ValueError(f"`{kind}:` has nothing after the colon (write `{kind}` alone"
                             f"{_OPTIONAL_ARGUMENT[kind]})")
        raise ValueError(f"`{kind}:` has nothing after the colon (expected {RULE_KINDS[kind]})")
    return _PARSERS[kind](kind, argument if colon else None)


def _parse_names(kind: str, argument: str | None) -> Rule:
    what = "username" if kind == "users" else "role key"
    if argument is None:
        raise ValueError(f"`{kind}` needs {what}s, e.g. `{kind}:{'alice,bob' if kind == 'users' else 'finance'}`")
    names = []
    for part in argument.split(","):
        name = part.strip()
        if not name:
            raise ValueError(f"`{kind}:{argument}` has an empty {what} (two commas, or a comma at an end)")
        if not _NAME.fullmatch(name):
            raise ValueError(f"`{kind}:` {what} `{name}` cannot contain spaces, `:` or `+`")
        if name not in names:
            names.append(name)
    return Rule(kind, names=tuple(names))


def _parse_department(kind: str, argument: str | None) -> Rule:
    if argument is None:
        raise ValueError("`department` needs a department code, e.g. `department:SALES` (or `department:SALES+`)")
    subtree = argument.endswith("+")
    code = argument[:-1].strip() if subtree else argument
    if not _NAME.fullmatch(code):
        raise ValueError(f"`department:{argument}`: `{code}` is not a department code "
                         "(one code, optionally followed by +)")
    return Rule(kind, value=code, subtree=subtree)


def _parse_initiator(kind: str, argument: str | None) -> Rule:
    if argument is not None:
        raise ValueError(f"`initiator` takes no argument (got `initiator:{argument}`)")
    return Rule(kind)


def _parse_manager(kind: str, argument: str | None) -> Rule:
    if argument is None:
        return Rule(kind)
    if not argument.isdigit() or not 1 <= int(argument) <= MAX_MANAGER_LEVEL:
        raise ValueError(f"`manager:{argument}`: the level must be a whole number from 1 to "
                         f"{MAX_MANAGER_LEVEL} (1 is the direct manager)")
    return Rule(kind, level=int(argument))


def _parse_head(kind: str, argument: str | None) -> Rule:
    if argument is not None and not _NAME.fullmatch(argument):
        raise ValueError(f"`department_head:{argument}`: `{argument}` is not a department code")
    return Rule(kind, value=argument)


def _parse_picked(kind: str, argument: str | None) -> Rule:
    if not argument:
        raise ValueError("`picked` needs the start-form field holding the user, e.g. `picked:approver`")
    if not _FIELD.fullmatch(argument):
        raise ValueError(f"`picked:{argument}`: `{argument}` is not a field name")
    return Rule(kind, value=argument)


def _parse_expr(kind: str, argument: str | None) -> Rule:
    if not argument:
        raise ValueError("`expr` needs an expression, e.g. `expr:data_owner if amount > 1000 else 'alice'`")
    if argument.startswith("${"):
        raise ValueError(f"`expr:{argument}`: write the Python expression without ${{...}}")
    message = check_expression(argument, "condition")
    if message:
        raise ValueError(f"`expr:{argument}`: {message}")
    return Rule(kind, value=argument)


_PARSERS = {"users": _parse_names, "role": _parse_names, "department": _parse_department,
            "initiator": _parse_initiator, "manager": _parse_manager, "department_head": _parse_head,
            "picked": _parse_picked, "expr": _parse_expr}


# -- prebuilt statements (Core; the engine resolves inside its step's transaction) --------------------------

_ACTIVE_AMONG = select(Person.username).where(Person.username.in_(bindparam("b_names", expanding=True)),
                                              Person.active)
_ROLE_HOLDERS = (select(Person.username).join(PersonRole, PersonRole.person_id == Person.id)
                 .join(Role, Role.id == PersonRole.role_id)
                 .where(Role.key.in_(bindparam("b_roles", expanding=True)), Person.active))
_ROLE_COUNT = select(
    func.count(func.distinct(Person.id)),
    func.coalesce(func.max(case((Person.username == bindparam("b_initiator"), 1), else_=0)), 0),
).join(PersonRole, PersonRole.person_id == Person.id).join(Role, Role.id == PersonRole.role_id).where(
    Role.key.in_(bindparam("b_roles", expanding=True)), Person.active)
# people in pinyin order of their names (`engine.data.sorting`): the order a task's candidates are shown in
_ROLE_MEMBERS = (_ROLE_HOLDERS.add_columns(Person.sort_key).distinct()
                 .order_by(Person.sort_key, Person.username))
_DEPT = aliased(Department)
_MEMBERS = (select(Person.username).join(Department, Department.id == Person.department_id)
            .where(Person.active, Department.code == bindparam("b_code")).order_by(Person.sort_key, Person.username))
_SUBTREE_MEMBERS = (select(Person.username).join(Department, Department.id == Person.department_id)
                    .where(Person.active, within(
                        Department.path, select(_DEPT.path).where(_DEPT.code == bindparam("b_code")).scalar_subquery()))
                    .order_by(Person.sort_key, Person.username))
_HEAD_OF = (select(Person.username, Person.active).join(Department, Department.head_id == Person.id)
            .where(Department.code == bindparam("b_code")))
_SUPER_ADMINS = (select(Person.username, Person.sort_key).join(AdminGrant, AdminGrant.person_id == Person.id)
                 .where(AdminGrant.department_id.is_(None), Person.active).distinct()
                 .order_by(Person.sort_key, Person.username))


def _manager_statement():
    """The `b_level`-th manager of `b_username` up the reporting line: (username, active), no row past the top."""
    chain = (select(Person.id.label("id"), Person.manager_id.label("manager_id"), literal(0).label("depth"))
             .where(Person.username == bindparam("b_username")).cte("chain", recursive=True))
    above = aliased(Person)
    chain = chain.union_all(select(above.id, above.manager_id, chain.c.depth + 1)
                            .where(above.id == chain.c.manager_id, chain.c.depth < bindparam("b_level")))
    return (select(Person.username, Person.active).join(chain, chain.c.id == Person.id)
            .where(chain.c.depth == bindparam("b_level")))


def _initiator_head_statement():
    """The head of `b_username`'s department, or the nearest one up the tree whose head is somebody else
    (as `org.head_of_department_of`): (username, active)."""
    head, own, person = aliased(Person), aliased(Department), aliased(Person)
    return (select(head.username, head.active)
            .join(Department, Department.head_id == head.id)
            .join(own, within(own.path, Department.path))
            .join(person, person.department_id == own.id)
            .where(person.username == bindparam("b_username"), head.id != person.id)
            .order_by(Department.path.desc()).limit(1))


def _deepest_line_statement():
    """The number of managers above the lowest person of the org chart (0: nobody has a manager)."""
    tree = (select(Person.id.label("id"), literal(0).label("depth"))
            .where(Person.manager_id.is_(None)).cte("tree", recursive=True))
    below = aliased(Person)
    tree = tree.union_all(select(below.id, tree.c.depth + 1)
                          .where(below.manager_id == tree.c.id, tree.c.depth < 64))
    return select(func.coalesce(func.max(tree.c.depth), 0))


_MANAGER = _manager_statement()
_INITIATOR_HEAD = _initiator_head_statement()
_DEEPEST_LINE = _deepest_line_statement()


def _active_among(conn: Conn, names: Iterable[str]) -> list[str]:
    """`names` in their order, de-duplicated, keeping only active people (one query)."""
    wanted = list(dict.fromkeys(n for n in names if n))
    if not wanted:
        return []
    active = set(conn.execute(_ACTIVE_AMONG, {"b_names": wanted}).scalars())
    return [name for name in wanted if name in active]


def _one_active(conn: Conn, statement, params: dict) -> list[str]:
    row = conn.execute(statement, params).first()
    return [row[0]] if row is not None and row[1] else []


# -- resolving -----------------------------------------------------------------------------------------

def resolve(conn: Conn, rule: Rule, *, initiator: str | None, data: dict, evaluate: Evaluate,
            empty: str = "fail", self_approval: str = "allow", process_admins: Iterable[str] = (),
            element_id: str | None = None) -> Resolution:
    """Who gets a node under `rule`, for an instance started by `initiator` with process data `data`.

    `evaluate(expression, data)` runs `expr:` rules (the runtime's sandbox). `empty` (fail, skip,
    admin) applies when nobody is left; `self_approval` (allow, skip, manager) when the initiator is
    among the approvers; `process_admins` are package.yaml's `admins` (the `admin` fallback; the
    super admins when none of them is active). Raises ProcessRuntimeError naming the node and the
    rule for `fail`, for an `expr:` that fails or gives something that is not usernames, and for
    `admin` when there is no active admin at all.
    """
    if empty not in EMPTY_OPTIONS:
        raise ValueError(f"empty must be one of {', '.join(EMPTY_OPTIONS)} (got {empty!r})")
    if self_approval not in SELF_APPROVAL_OPTIONS:
        raise ValueError(f"self_approval must be one of {', '.join(SELF_APPROVAL_OPTIONS)} (got {self_approval!r})")
    result, notes = Resolution(users=[], groups=[]), []
    if rule.kind == "role":
        _resolve_role(conn, rule, initiator, self_approval, result, notes)
    else:
        result.users = _people(conn, rule, initiator, data, evaluate, element_id)
        if initiator and initiator in result.users and self_approval != "allow":
            _self_approval(conn, rule, initiator, self_approval, result, notes)
    if not result.users and not result.groups and not result.skipped:
        _when_empty(conn, rule, initiator, empty, process_admins, element_id, result, notes)
    result.note = "; ".join(notes) or None
    return result


def _people(conn: Conn, rule: Rule, initiator: str | None, data: dict, evaluate: Evaluate,
            element_id: str | None) -> list[str]:
    """The active people a rule names (every kind but role), in the rule's order."""
    kind = rule.kind
    if kind == "users":
        return _active_among(conn, rule.names)
    if kind == "department":
        return list(conn.execute(_SUBTREE_MEMBERS if rule.subtree else _MEMBERS, {"b_code": rule.value}).scalars())
    if kind == "department_head" and rule.value is not None:
        return _one_active(conn, _HEAD_OF, {"b_code": rule.value})
    if kind == "picked":
        return _active_among(conn, _usernames(data.get(rule.value), rule, element_id))
    if kind == "expr":
        return _active_among(conn, _usernames(_evaluate(rule, data, evaluate, element_id), rule, element_id))
    if not initiator:  # initiator, manager, department_head of the initiator's department
        return []
    if kind == "initiator":
        return _active_among(conn, [initiator])
    if kind == "manager":
        return _one_active(conn, _MANAGER, {"b_username": initiator, "b_level": rule.level})
    return _one_active(conn, _INITIATOR_HEAD, {"b_username": initiator})


def _evaluate(rule: Rule, data: dict, evaluate: Evaluate, element_id: str | None):
    try:
        return evaluate(rule.value, data)
    except Exception as exc:  # noqa: BLE001 - any failure is the diagram's: report it with the node and rule
        raise ProcessRuntimeError(f"{_where(element_id)}approver rule `{rule}` failed: {exc}",
                                  element_id, exc, reason=RULE_FAILED) from exc


def _usernames(value, rule: Rule, element_id: str | None) -> list[str]:
    """A picked field's or an expression's value as usernames: a text ("a" or "a,b"), a list of texts, or nothing."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple | set | frozenset) and all(isinstance(v, str) for v in value):
        names = [v.strip() for v in value if v.strip()]
        return sorted(names) if isinstance(value, set | frozenset) else names
    raise ProcessRuntimeError(
        f"{_where(element_id)}approver rule `{rule}` gave {type(value).__name__} `{str(value)[:80]}`, "
        "expected a username or a list of usernames", element_id, reason=RULE_FAILED)


def _resolve_role(conn: Conn, rule: Rule, initiator: str | None, self_approval: str, result: Resolution,
                  notes: list[str]) -> None:
    """Offer the roles as candidate groups; with a self-approval rule and the initiator holding one of
    them, name the other holders instead (a group offer cannot leave one member out)."""
    count, initiator_holds = conn.execute(_ROLE_COUNT, {"b_roles": list(rule.names),
                                                        "b_initiator": initiator or ""}).one()
    if not count:
        return
    if not initiator_holds or self_approval == "allow":
        result.groups = list(rule.names)
        return
    result.users = list(conn.execute(_ROLE_MEMBERS, {"b_roles": list(rule.names)}).scalars())
    notes.append(f"initiator `{initiator}` holds {_role_words(rule)}: its holders are named instead of the group")
    _self_approval(conn, rule, initiator, self_approval, result, notes)


def _role_words(rule: Rule) -> str:
    return ("role " if len(rule.names) == 1 else "one of the roles ") + ", ".join(rule.names)


def _self_approval(conn: Conn, rule: Rule, initiator: str, self_approval: str, result: Resolution,
                   notes: list[str]) -> None:
    """The initiator is among `result.users`: drop them (skip) or put their direct manager in their place."""
    if self_approval == "skip":
        result.users = [u for u in result.users if u != initiator]
        if result.users:
            notes.append(f"initiator `{initiator}` left out (self-approval: skip)")
        else:
            result.skipped, result.skip_reason = True, "requester"
            notes.append(f"rule `{rule}` yielded only the initiator `{initiator}`; skipped (self-approval: skip)")
        return
    manager = _one_active(conn, _MANAGER, {"b_username": initiator, "b_level": 1})
    position = result.users.index(initiator)
    result.users[position:position + 1] = [m for m in manager if m not in result.users]
    if manager:
        notes.append(f"initiator `{initiator}` replaced by their manager `{manager[0]}` (self-approval: manager)")
    else:
        notes.append(f"initiator `{initiator}` left out: they have no active manager (self-approval: manager)")


def _when_empty(conn: Conn, rule: Rule, initiator: str | None, empty: str, process_admins: Iterable[str],
                element_id: str | None, result: Resolution, notes: list[str], why: str | None = None) -> None:
    why = why or (f"rule `{rule}` yielded nobody"
                  + ("" if initiator or not _needs_initiator(rule) else " (no initiator)"))
    if empty == "skip":
        result.skipped, result.skip_reason = True, "nobody"
        notes.append(f"{why}; skipped")
        return
    if empty == "admin":
        admins = _active_among(conn, process_admins)
        whom = "the process admins"
        if not admins:
            admins, whom = list(conn.execute(_SUPER_ADMINS).scalars()), "the super admins"
        if admins:
            result.users = admins
            notes.append(f"{why}; given to {whom}")
            return
        shortage = ", and there is no active process admin or super admin"
    else:
        shortage = ""
    raise ProcessRuntimeError(f"{_where(element_id)}approver {why}"
                              + (f" for initiator `{initiator}`" if initiator else "") + shortage, element_id,
                              reason=NOBODY)


def _needs_initiator(rule: Rule) -> bool:
    return rule.kind in ("initiator", "manager") or (rule.kind == "department_head" and rule.value is None)


def _where(element_id: str | None) -> str:
    return f"element `{element_id}`: " if element_id else ""


def resolve_task(conn: Conn, attributes: Mapping, *, initiator: str | None, data: dict, evaluate: Evaluate,
                 process_admins: Iterable[str] = (), element_id: str | None = None) -> Resolution | None:
    """Resolve a user task's `liaison:approvers` with its `approversEmpty` and `selfApproval` options;
    None when the task has no rule (it keeps `assignee` / `candidateUsers` / `candidateGroups`).

    A rule that slipped past deploy with bad syntax raises ProcessRuntimeError naming the node.
    """
    text = attributes.get("approvers")
    if text is None:
        return _resolve_plain(conn, attributes, initiator=initiator, data=data, evaluate=evaluate,
                              process_admins=process_admins, element_id=element_id)
    try:
        rules = [parse_rule(part) for part in rule_texts(text)]
        empty, self_approval = _options(attributes)
    except ValueError as exc:
        raise ProcessRuntimeError(f"{_where(element_id)}liaison:approvers `{text}`: {exc}", element_id, exc,
                                  reason=RULE_FAILED) from exc
    if len(rules) == 1:
        return resolve(conn, rules[0], initiator=initiator, data=data, evaluate=evaluate, empty=empty,
                       self_approval=self_approval, process_admins=process_admins, element_id=element_id)
    return _resolve_joined(conn, rules, initiator=initiator, data=data, evaluate=evaluate, empty=empty,
                           self_approval=self_approval, process_admins=process_admins, element_id=element_id)


def rule_texts(text: str) -> list[str]:
    """The rules of a `liaison:approvers` value: several joined by `;` (`role:finance;department_head`),
    their people united in order; an `expr:` value is always one rule (its expression may hold a `;`)."""
    if not isinstance(text, str) or text.strip().startswith("expr:") or ";" not in text:
        return [text]
    return [part.strip() for part in text.split(";")]


def _resolve_joined(conn: Conn, rules: list[Rule], *, initiator: str | None, data: dict, evaluate: Evaluate,
                    empty: str, self_approval: str, process_admins: Iterable[str],
                    element_id: str | None) -> Resolution:
    """Several rules for one node (a 会签 of finance and the department head): each resolved under the node's
    self-approval option, a rule that finds nobody left out; `empty` applies when all of them find nobody."""
    parts = [resolve(conn, rule, initiator=initiator, data=data, evaluate=evaluate, empty="skip",
                     self_approval=self_approval, process_admins=process_admins, element_id=element_id)
             for rule in rules]
    result = Resolution(users=list(dict.fromkeys(u for part in parts for u in part.users)),
                        groups=list(dict.fromkeys(g for part in parts for g in part.groups)))
    notes = [part.note for part in parts if part.note and (part.users or part.groups)]
    if not result.users and not result.groups:
        why = f"rules `{'; '.join(str(rule) for rule in rules)}` yielded nobody"
        _when_empty(conn, rules[0], initiator, empty, process_admins, element_id, result, notes, why=why)
    result.note = "; ".join(notes) or None
    return result


def field_reference(text) -> str | None:
    """The field a `${field}` attribute value names (None for other text)."""
    match = _FIELD_REFERENCE.fullmatch(text.strip()) if isinstance(text, str) else None
    return match.group(1) if match else None


def approver_field(attributes: Mapping) -> str | None:
    """The form field a node takes its approvers from: `picked:FIELD`, `expr:FIELD`, or, without a rule, an
    `assignee` / `candidateUsers` of `${FIELD}` (None when its people come from elsewhere)."""
    text = attributes.get("approvers")
    if text is None:
        fields = [field_reference(attributes.get(name)) for name in _PLAIN_PEOPLE if attributes.get(name)]
        return fields[0] if len(fields) == 1 else None
    try:
        rule = parse_rule(text)
    except ValueError:
        return None  # refused at deploy; the runtime names it when the node is reached
    if rule.kind == "picked":
        return rule.value
    if rule.kind == "expr" and rule.value.strip().isidentifier():
        return rule.value.strip()  # `expr:next_approver`: a field of a later form
    return None


def _resolve_plain(conn: Conn, attributes: Mapping, *, initiator: str | None, data: dict, evaluate: Evaluate,
                   process_admins: Iterable[str], element_id: str | None) -> Resolution | None:
    """A node without a rule whose `assignee` / `candidateUsers` include the initiator, under a `selfApproval`
    that is not `allow`: resolved as the rule those attributes amount to, with the node's options (the
    runtime's own `resolve`). None otherwise: the node keeps its attributes as the workflow reads them."""
    try:
        empty, self_approval = _options(attributes)
    except ValueError as exc:
        raise ProcessRuntimeError(f"{_where(element_id)}{exc}", element_id, exc) from exc
    if self_approval == "allow" or not initiator or not any(attributes.get(name) for name in _PLAIN_PEOPLE):
        return None
    try:
        plain = paths.plain_people(dict(attributes), data, evaluate)
    except Exception:  # noqa: BLE001 - the workflow reports a failing expression with the node when it reads it
        return None
    users = list(dict.fromkeys(([plain["assignee"]] if plain["assignee"] else []) + plain["candidate_users"]))
    if initiator not in users:
        return None
    field = approver_field(attributes)
    rule = Rule("picked", value=field) if field else Rule("users", names=tuple(users))
    result = resolve(conn, rule, initiator=initiator, data=data, evaluate=evaluate,
                     empty="skip" if plain["candidate_groups"] else empty, self_approval=self_approval,
                     process_admins=process_admins, element_id=element_id)
    if plain["candidate_groups"]:
        result.groups, result.skipped = list(plain["candidate_groups"]), False
    return result


def _options(attributes: Mapping) -> tuple[str, str]:
    empty = (attributes.get("approversEmpty") or "fail").strip()
    self_approval = (attributes.get("selfApproval") or "allow").strip()
    if empty not in EMPTY_OPTIONS:
        raise ValueError(f"liaison:approversEmpty `{empty}` must be {' or '.join(EMPTY_OPTIONS)}")
    if self_approval not in SELF_APPROVAL_OPTIONS:
        raise ValueError(f"liaison:selfApproval `{self_approval}` must be {' or '.join(SELF_APPROVAL_OPTIONS)}")
    return empty, self_approval


def process_admins_of(meta: Mapping) -> list[str]:
    """package.yaml's `admins` (usernames) as a list; empty when absent or malformed."""
    admins = meta.get("admins")
    if not isinstance(admins, list):
        return []
    return [a for a in admins if isinstance(a, str) and a]


def role_members(conn: Conn, roles: Iterable[str]) -> list[str]:
    """Active holders of any of these role keys, in pinyin order of their names (an approval node with a mode names
    each of them as a signer)."""
    roles = list(roles)
    if not roles:
        return []
    return list(conn.execute(_ROLE_MEMBERS, {"b_roles": roles}).scalars())
