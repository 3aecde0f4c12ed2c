"""Org chart import: people with their departments, positions, managers and roles, from CSV or XLSX.

Over 600 lines on purpose: the plan and its application share the `ImportPlan`, `PlannedPerson`
and `_Directory` records and their invariants (ids resolved in the plan are the ones written);
reading files lives apart in `org_files`.

`org_files.read_org_file` reads a file into an `OrgTable` (re-exported here); `plan_import` is the dry run: every problem with its row number, and what would be
created, updated or left as it is; `apply_import` writes a clean plan in the caller's
transaction. Lookups are bulk: a plan costs a fixed number of queries whatever the row count.

People are matched by username, then employee number, then e-mail; re-importing a file
changes nothing. People missing from the file are kept (deactivated when asked, except super
admins). A column that is absent leaves that attribute alone; an empty cell clears it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from engine.data.models import AdminGrant, Department, Person, PersonRole, Position, Role, utcnow
from engine.data.sorting import sort_key
from engine.errors import LiaisonError, msg
from engine.people.org_files import (  # noqa: F401 - callers read files through this module too
    COLUMNS,
    HEADERS,
    MAX_COLUMNS,
    MAX_FILE_BYTES,
    MAX_ROWS,
    MAX_XLSX_MEMBERS,
    MAX_XLSX_RATIO,
    MAX_XLSX_UNPACKED,
    REQUIRED,
    OrgTable,
    RowError,
    UnreadableOrgFileError,
    read_org_bytes,
    read_org_file,
)
from engine.results import EXTERNAL_PREFIX, SYSTEM_ACTOR

Progress = Callable[[int, int], None]  # on_progress(done, total), for the upload page's progress bar

# -- the plan (dry run) ------------------------------------------------------------------------------

_UNIQUE = ("username", "employee_no", "email")  # also the order people are matched in
_LABEL = {"username": msg("username"), "employee_no": msg("employee number"), "email": msg("e-mail")}
# a column in a row error (translated on pages; the English text is the column's key)
_FIELD = {"username": msg("username"), "name": msg("name"), "name_en": msg("name_en"), "email": msg("email"),
          "employee_no": msg("employee_no"), "position": msg("position"), "manager": msg("manager"),
          "department": msg("department"), "department_head": msg("department_head"), "active": msg("active"),
          "roles": msg("roles")}
_LIMITS = {"username": 100, "name": 200, "name_en": 200, "email": 254, "employee_no": 100,
           "position": 100, "manager": 254}
_YES = {"yes", "y", "true", "1", "是", "在职", "√", "✓", "✔", "on"}
_NO = {"no", "n", "false", "0", "否", "离职", "×", "✗", "off", "-"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_KEYS_SPLIT = re.compile(r"[,，、;；\s]+")
_PATH_SPLIT = re.compile(r"\s*[/／>＞]\s*")

DepartmentRef = int | tuple[str, ...]  # an existing department's id, or the names path of a new one


class ImportRefusedError(LiaisonError):
    """`apply_import` was given a plan with errors: nothing was written."""


@dataclass
class PlannedPerson:
    """One row of the file, checked: what it says, who it matches and what would change."""

    row: int
    username: str
    name: str | None
    name_en: str | None = None
    email: str | None = None
    employee_no: str | None = None
    department: str | None = None  # as written in the file
    position: str | None = None
    manager: str | None = None
    roles: tuple[str, ...] = ()
    head: bool = False
    active: bool = True
    existing_id: int | None = None
    action: str = "create"  # create | update | unchanged | invalid
    changes: tuple[str, ...] = ()
    node: int = 0  # existing person id, or -(index + 1) for a person still to create
    department_ref: DepartmentRef | None = None
    position_ref: int | str | None = None  # existing id, or the name of a new position
    manager_node: int | None = None


@dataclass
class _Directory:
    """Everything the plan compares against, loaded in a fixed number of bulk queries."""

    people: dict[int, Any]
    index: dict[str, dict[str, int]]  # unique field -> value -> person id (e-mails lowercased)
    roles_of: dict[int, frozenset[str]]
    role_ids: dict[str, int]
    positions: dict[str, int]  # code and name -> id
    departments: dict[int, Any]
    department_codes: dict[str, int]
    children: dict[tuple[int | None, str], int]
    by_name: dict[str, list[int]]
    head_of: dict[int, frozenset[int]]  # person id -> departments they head
    super_admins: set[int]

    def path_names(self, department_id: int) -> str:
        ids = [int(i) for i in self.departments[department_id].path.strip("/").split("/") if i]
        return "/".join(self.departments[i].name for i in ids if i in self.departments)


@dataclass
class ImportPlan:
    """The dry run of an import; `apply_import` writes it when `errors` is empty."""

    source: str
    columns: tuple[str, ...]
    people: list[PlannedPerson] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    new_positions: list[str] = field(default_factory=list)
    new_roles: list[str] = field(default_factory=list)
    deactivate: list[str] = field(default_factory=list)  # usernames
    department_parents: dict[tuple[str, ...], DepartmentRef | None] = field(default_factory=dict)
    directory: _Directory | None = field(default=None, repr=False)
    row_count: int = 0  # data rows in the file, including those too broken to plan

    @property
    def ok(self) -> bool:
        """Whether the plan can be applied."""
        return not self.errors

    @property
    def new_departments(self) -> list[str]:
        """Departments the import creates, as paths of names."""
        return ["/".join(path) for path in self.department_parents]

    def counts(self) -> dict[str, int]:
        """How many rows would create, update, leave unchanged; how many people are deactivated."""
        actions = [p.action for p in self.people]
        return {"rows": self.row_count, "create": actions.count("create"), "update": actions.count("update"),
                "unchanged": actions.count("unchanged"), "deactivate": len(self.deactivate),
                "errors": len(self.errors), "new_departments": len(self.department_parents),
                "new_positions": len(self.new_positions), "new_roles": len(self.new_roles)}

    def report(self) -> list[str]:
        """Readable lines: the counts, what is new, then every error and warning as `SOURCE:ROW: message`."""
        c = self.counts()
        lines = [f"{c['rows']} rows: {c['create']} to create, {c['update']} to update, {c['unchanged']} unchanged, "
                 f"{c['deactivate']} to deactivate, {c['errors']} errors"]
        for label, names in (("new departments", self.new_departments), ("new positions", self.new_positions),
                             ("new roles", self.new_roles), ("deactivated", self.deactivate)):
            if names:
                lines.append(f"{label}: " + ", ".join(names[:50]) + (" ..." if len(names) > 50 else ""))
        lines += [f"{self.source}:{e.row}: {e.message}" for e in self.errors]
        lines += [f"{self.source}:{w.row}: warning: {w.message}" for w in self.warnings]
        return lines

    def to_dict(self) -> dict:
        """JSON-ready form: counts, new names, errors, warnings and every row that changes something."""
        return {"source": self.source, "ok": self.ok, "counts": self.counts(),
                "new_departments": self.new_departments, "new_positions": self.new_positions,
                "new_roles": self.new_roles, "deactivate": self.deactivate,
                "errors": [{"row": e.row, "message": e.message} for e in self.errors],
                "warnings": [{"row": w.row, "message": w.message} for w in self.warnings],
                "changes": [{"row": p.row, "username": p.username, "action": p.action, "changes": list(p.changes)}
                            for p in self.people if p.action in ("create", "update")]}

    def _error(self, row: int, message: str) -> None:
        self.errors.append(RowError(row, message))


def plan_import(session: Session, rows: OrgTable | Iterable[Mapping[str, object]], *,
                deactivate_missing: bool = False, on_progress: Progress | None = None) -> ImportPlan:
    """Check rows against each other and the directory; change nothing.

    `rows` is a table from `read_org_file` or dicts keyed by column headers. Problems found
    in one row do not stop the others from being checked, so one run lists every error.
    """
    table = rows if isinstance(rows, OrgTable) else OrgTable.from_records(rows)
    directory = _load_directory(session)
    plan = ImportPlan(table.source, table.columns, errors=list(table.problems), directory=directory,
                      row_count=len(table.rows))
    plan.warnings += [RowError(table.header_row, msg("column `%(column)s` is not known and is ignored", column=h))
                      for h in table.ignored_headers]
    if plan.errors:  # a missing column makes every row wrong: say it once
        return plan
    parsed = []
    for done, (number, cells) in enumerate(table.rows, 1):
        person = _parse_row(number, cells, plan)
        if person is not None:
            parsed.append(person)
        if on_progress and (done % 1000 == 0 or done == len(table.rows)):
            on_progress(done, len(table.rows))
    plan.people = parsed
    people = _match_existing(_drop_duplicates(parsed, plan), directory, plan)
    _check_taken(people, directory, plan)
    _resolve_names(people, directory, plan)
    _resolve_managers(people, directory, plan)
    _check_loops(people, directory, plan)
    _check_heads(people, directory, plan)
    plan.errors.sort(key=lambda e: e.row)  # stable: a row's errors keep the order they were found in
    invalid = {e.row for e in plan.errors}
    for person in parsed:
        _set_action(person, directory, plan.columns, person.row in invalid)
    if deactivate_missing:
        matched = {p.existing_id for p in parsed}
        plan.deactivate = sorted(r.username for pid, r in directory.people.items()
                                 if r.active and pid not in matched and pid not in directory.super_admins)
    return plan


def _load_directory(session: Session) -> _Directory:
    people = {r.id: r for r in session.execute(select(
        Person.id, Person.username, Person.email, Person.employee_no, Person.name, Person.name_en,
        Person.department_id, Person.position_id, Person.manager_id, Person.active, Person.session_version))}
    index = {f: {_old_value(r, f): pid for pid, r in people.items() if getattr(r, f)} for f in _UNIQUE}
    roles_of: dict[int, set[str]] = {}
    for person_id, key in session.execute(select(PersonRole.person_id, Role.key).join(Role)):
        roles_of.setdefault(person_id, set()).add(key)
    positions: dict[str, int] = {}
    for pid, code, name in session.execute(select(Position.id, Position.code, Position.name).order_by(Position.id)):
        positions[code] = pid
        positions.setdefault(name, pid)
    departments = {r.id: r for r in session.execute(select(
        Department.id, Department.code, Department.name, Department.parent_id, Department.path,
        Department.head_id).order_by(Department.id))}
    by_name: dict[str, list[int]] = {}
    head_of: dict[int, set[int]] = {}
    for r in departments.values():
        by_name.setdefault(r.name, []).append(r.id)
        if r.head_id is not None:
            head_of.setdefault(r.head_id, set()).add(r.id)
    return _Directory(
        people=people, index=index, roles_of={k: frozenset(v) for k, v in roles_of.items()},
        role_ids={k: v for k, v in session.execute(select(Role.key, Role.id))}, positions=positions,
        departments=departments, department_codes={r.code: r.id for r in departments.values()},
        children={(r.parent_id, r.name): r.id for r in reversed(departments.values())}, by_name=by_name,
        head_of={k: frozenset(v) for k, v in head_of.items()},
        super_admins=set(session.scalars(select(AdminGrant.person_id).where(AdminGrant.department_id.is_(None)))))


def _old_value(record, name: str):
    value = getattr(record, name)
    return value.lower() if name == "email" and value else value


def _flag(cells: dict[str, str], name: str, default: bool, number: int, plan: ImportPlan) -> bool:
    text = cells.get(name, "").lower()
    if not text:
        return default
    if text in _YES or text in _NO:
        return text in _YES
    plan._error(number, msg("%(field)s must be yes or no (是/否), not `%(value)s`", field=_FIELD.get(name, name),
                            value=cells[name]))
    return default


def _parse_row(number: int, cells: dict[str, str], plan: ImportPlan) -> PlannedPerson | None:
    """A row's values, checked one by one; a refused value is reported and left out."""
    values: dict[str, str | None] = {}
    for name, limit in _LIMITS.items():
        value = cells.get(name) or None
        if value is not None and len(value) > limit:
            plan._error(number, msg("%(field)s is longer than %(limit)d characters", field=_FIELD.get(name, name),
                                    limit=limit))
            value = None
        values[name] = value
    if values["username"] and re.search(r"\s", values["username"]):
        plan._error(number, msg("username `%(value)s` contains spaces", value=values["username"]))
        values["username"] = None
    if values["email"]:
        values["email"] = values["email"].lower()
        if not _EMAIL.match(values["email"]):
            plan._error(number, msg("`%(value)s` is not an e-mail address", value=cells["email"]))
            values["email"] = None
    for name in REQUIRED:
        if not cells.get(name):
            plan._error(number, msg("%(field)s is empty", field=_FIELD.get(name, name)))
    roles = tuple(dict.fromkeys(k for k in _KEYS_SPLIT.split(cells.get("roles", "")) if k))
    for key in roles:
        if len(key) > 100:
            plan._error(number, msg("role `%(value)s...` is longer than 100 characters", value=key[:20]))
    roles = _drop_reserved(number, values, roles, plan)
    head = _flag(cells, "department_head", False, number, plan)
    active = _flag(cells, "active", True, number, plan)
    if not values["username"]:
        return None
    return PlannedPerson(row=number, department=cells.get("department") or None, roles=roles, head=head,
                         active=active, **values)


def _drop_reserved(number: int, values: dict, roles: tuple[str, ...], plan: ImportPlan) -> tuple[str, ...]:
    """Usernames and role keys may not start with `ext:`: outsiders' identities and groups do; no username may be
    the engine's own actor (`system`)."""
    if values["username"] and values["username"].lower().startswith(EXTERNAL_PREFIX):
        plan._error(number, msg("username `%(value)s` may not start with `%(prefix)s` (kept for external users)",
                                value=values["username"], prefix=EXTERNAL_PREFIX))
        values["username"] = None
    if values["username"] and values["username"].lower() == SYSTEM_ACTOR:
        plan._error(number, msg("the username `%(value)s` is kept for the engine's own actions", value=values["username"]))
        values["username"] = None
    for key in roles:
        if key.lower().startswith(EXTERNAL_PREFIX):
            plan._error(number, msg("role `%(value)s` may not start with `%(prefix)s` (kept for external users)",
                                    value=key, prefix=EXTERNAL_PREFIX))
    return tuple(k for k in roles if not k.lower().startswith(EXTERNAL_PREFIX))


def _drop_duplicates(people: list[PlannedPerson], plan: ImportPlan) -> list[PlannedPerson]:
    """Report values given twice in the file; a repeated username drops the later row from further checks."""
    first: dict[str, dict[str, PlannedPerson]] = {f: {} for f in _UNIQUE}
    kept = []
    for person in people:
        for name in _UNIQUE:
            value = getattr(person, name)
            earlier = first[name].setdefault(value, person) if value else person
            if earlier is not person:
                plan._error(person.row, msg("duplicate %(field)s `%(value)s` (also on row %(row)d)", field=_LABEL[name],
                                            value=value, row=earlier.row))
                if name == "username":
                    break
                setattr(person, name, None)
        else:
            kept.append(person)
    return kept


def _match_existing(people: list[PlannedPerson], directory: _Directory, plan: ImportPlan) -> list[PlannedPerson]:
    """Match each row to an existing person by username, then employee number, then e-mail."""
    claimed: dict[int, PlannedPerson] = {}
    kept = []
    for i, person in enumerate(people):
        found = [(n, directory.index[n][v]) for n in _UNIQUE if (v := getattr(person, n)) in directory.index[n]]
        person.node = -(i + 1)
        if not found:
            kept.append(person)
            continue
        how, pid = found[0]
        if pid in claimed:
            plan._error(person.row, msg("is the same person as row %(row)d (`%(username)s`, by %(field)s)",
                                        row=claimed[pid].row, username=directory.people[pid].username,
                                        field=_LABEL[how]))
            continue
        claimed[pid] = person
        person.existing_id = person.node = pid
        if how != "username":
            plan.warnings.append(RowError(person.row, msg(
                "username of `%(old)s` changes to `%(new)s` (matched by %(field)s); tasks and history keep the old "
                "name", old=directory.people[pid].username, new=person.username, field=_LABEL[how])))
        kept.append(person)
    return kept


def _check_taken(people: list[PlannedPerson], directory: _Directory, plan: ImportPlan) -> None:
    """A username, employee number or e-mail may not belong to somebody else who is not in the file."""
    matched = {p.existing_id for p in people}
    for person in people:
        for name in _UNIQUE:
            value = getattr(person, name)
            owner = directory.index[name].get(value) if value else None
            if owner is not None and owner != person.existing_id and owner not in matched:
                plan._error(person.row, msg("%(field)s `%(value)s` already belongs to `%(username)s`, who is not in "
                                            "this file", field=_LABEL[name], value=value,
                                            username=directory.people[owner].username))


def _resolve_names(people: list[PlannedPerson], directory: _Directory, plan: ImportPlan) -> None:
    """Departments, positions and roles: existing ones by code or name, the others to create."""
    new_positions, new_roles = {}, {}
    # paths first, so a bare name can stand for a department that another row's path creates
    for person in sorted(people, key=lambda p: p.department is None or not _PATH_SPLIT.search(p.department)):
        if person.department:
            ref = _department_ref(person.department, directory, plan.department_parents)
            if isinstance(ref, str):
                plan._error(person.row, ref)
            else:
                person.department_ref = ref
    for person in people:
        if person.position:
            person.position_ref = directory.positions.get(person.position, person.position)
            if isinstance(person.position_ref, str):
                new_positions.setdefault(person.position)
        for key in person.roles:
            if key not in directory.role_ids:
                new_roles.setdefault(key)
    plan.new_positions, plan.new_roles = list(new_positions), list(new_roles)


def _department_ref(text: str, directory: _Directory, new: dict) -> DepartmentRef | str:
    """An existing department by code, by unique name or by path; else the path to create. A str is an error."""
    if text in directory.department_codes:
        return directory.department_codes[text]
    parts = tuple(_PATH_SPLIT.split(text.strip("/／ ")))
    if not all(parts) or any(len(p) > 200 for p in parts):
        return msg("department `%(value)s`: every name in the path must have 1 to 200 characters", value=text)
    if len(parts) == 1:
        found = directory.by_name.get(parts[0], []) + [names for names in new if names[-1] == parts[0]]
        if len(found) > 1:
            example = "/".join(found[0]) if isinstance(found[0], tuple) else directory.path_names(found[0])
            return msg("department `%(value)s` is ambiguous: %(count)d departments have that name; write its "
                       "path, e.g. `%(example)s`", value=text, count=len(found), example=example)
        if found:
            return found[0]
    parent: DepartmentRef | None = None
    for depth in range(len(parts)):
        found = directory.children.get((parent, parts[depth])) if not isinstance(parent, tuple) else None
        if found is None:
            for j in range(depth, len(parts)):
                new.setdefault(parts[:j + 1], parent if j == depth else parts[:j])
            return parts
        parent = found
    return parent


def _resolve_managers(people: list[PlannedPerson], directory: _Directory, plan: ImportPlan) -> None:
    """A manager is named by username, employee number or e-mail, of a row in the file or anyone else."""
    refs: dict[str, dict[str, int]] = {name: {} for name in _UNIQUE}
    in_file = {p.existing_id for p in people}
    for pid, record in directory.people.items():
        if pid not in in_file:
            for name in _UNIQUE:
                if value := _old_value(record, name):
                    refs[name][value] = pid
    for person in people:
        for name in _UNIQUE:
            if value := getattr(person, name):
                refs[name][value] = person.node
    for person in people:
        if person.manager:
            node = next((refs[n][key] for n in _UNIQUE
                         if (key := person.manager.lower() if n == "email" else person.manager) in refs[n]), None)
            if node is None:
                plan._error(person.row, msg("unknown manager `%(value)s`: no username, employee number or "
                                            "e-mail in the file or the directory", value=person.manager))
            person.manager_node = node


def _find_loops(graph: dict[int, int | None]) -> list[list[int]]:
    """Each cycle of a graph where every node has at most one successor, once."""
    walk_of: dict[int, int] = {}
    loops = []
    for start in graph:
        walk, node = [], start
        while node is not None and node not in walk_of:
            walk_of[node] = start
            walk.append(node)
            node = graph.get(node)
        if node is not None and walk_of[node] == start:
            loops.append(walk[walk.index(node):])
    return loops


def _check_loops(people: list[PlannedPerson], directory: _Directory, plan: ImportPlan) -> None:
    """The reporting lines after the import (file rows over the directory) may not go round in a circle."""
    graph = {pid: r.manager_id for pid, r in directory.people.items()}
    names = {pid: r.username for pid, r in directory.people.items()}
    rows = {}
    for person in people:
        names[person.node], rows[person.node] = person.username, person
        if "manager" in plan.columns or person.existing_id is None:
            graph[person.node] = person.manager_node
    for loop in _find_loops(graph):
        in_file = sorted((rows[n] for n in loop if n in rows), key=lambda p: p.row)
        if not in_file:
            continue  # an old loop the file does not touch
        start = loop.index(in_file[0].node)
        loop = loop[start:] + loop[:start]
        others = ", ".join(str(p.row) for p in in_file[1:])
        chain = " -> ".join(names[n] for n in [*loop, loop[0]])
        plan._error(in_file[0].row, msg("loop in reporting lines: %(chain)s (also rows %(rows)s)", chain=chain,
                                        rows=others) if others else
                    msg("loop in reporting lines: %(chain)s", chain=chain))


def _final_department(person: PlannedPerson, directory: _Directory, columns: tuple[str, ...]):
    if "department" in columns or person.existing_id is None:
        return person.department_ref
    return directory.people[person.existing_id].department_id


def _check_heads(people: list[PlannedPerson], directory: _Directory, plan: ImportPlan) -> None:
    """A department has one head, who is one of its members."""
    heads: dict = {}
    for person in people:
        if not person.head:
            continue
        department = _final_department(person, directory, plan.columns)
        if department is None:
            if person.department is None:
                plan._error(person.row, msg("marked as department head but has no department"))
            continue
        earlier = heads.setdefault(department, person)
        if earlier is not person:
            plan._error(person.row, msg("department `%(value)s` gets two heads: `%(first)s` (row %(row)d) and "
                                        "`%(second)s`", value=person.department or department,
                                        first=earlier.username, row=earlier.row, second=person.username))


def _set_action(person: PlannedPerson, directory: _Directory, columns: tuple[str, ...], invalid: bool) -> None:
    if invalid:
        person.action = "invalid"
        return
    if person.existing_id is None:
        person.action = "create"
        return
    old = directory.people[person.existing_id]
    department = _final_department(person, directory, columns)
    heads = frozenset([department]) if person.head and department is not None else frozenset()
    pairs = [(name, getattr(person, name), _old_value(old, name))
             for name in ("username", "name", "name_en", "email", "employee_no")]
    pairs += [("department", department, old.department_id), ("position", person.position_ref, old.position_id),
              ("manager", person.manager_node, old.manager_id), ("active", person.active, old.active),
              ("roles", frozenset(person.roles), directory.roles_of.get(old.id, frozenset())),
              ("department_head", heads, directory.head_of.get(old.id, frozenset()))]
    person.changes = tuple(name for name, new, was in pairs
                           if (name in columns or name in REQUIRED) and new != was)
    person.action = "update" if person.changes else "unchanged"


# -- applying a plan ---------------------------------------------------------------------------------

_CHUNK = 1000


def apply_import(session: Session, plan: ImportPlan, *, on_progress: Progress | None = None) -> dict[str, int]:
    """Write a clean plan in the caller's transaction (commit it, or roll back to undo everything).

    The plan must have been made in the same transaction, so the directory it read is current.
    Returns the plan's counts. Raises ImportRefusedError when the plan has errors.
    """
    if not plan.ok or plan.directory is None:
        raise ImportRefusedError(f"{plan.source or 'the import'}: {len(plan.errors)} errors, nothing was imported")
    directory = plan.directory
    role_ids = directory.role_ids | _insert_named(session, Role, "key", plan.new_roles)
    position_ids = directory.positions | _insert_named(session, Position, "code", plan.new_positions)
    department_ids = _create_departments(session, plan)
    ids = _Ids(department_ids, position_ids)
    work = [p for p in plan.people if p.action in ("create", "update")]
    total, done = len(work) + len(plan.deactivate), 0
    _release_unique_values(session, plan)
    for chunk in _chunks([p for p in work if p.action == "create"]):
        result = session.execute(insert(Person).returning(Person.id, sort_by_parameter_order=True),
                                 [_person_values(p, plan.columns, ids) for p in chunk])
        for person, new_id in zip(chunk, result.scalars(), strict=True):
            ids.people[person.node] = new_id
        done += len(chunk)
        _report(on_progress, done, total)
    updates = [u for u in (_update_values(p, plan, ids) for p in work) if len(u) > 1]
    created = done
    for written, chunk in enumerate(_chunks(updates), 1):
        session.execute(update(Person), chunk)
        # the updates stand for the rest of `work` (new people's managers are among them)
        _report(on_progress, created + (len(work) - created) * min(written * _CHUNK, len(updates)) // len(updates),
                total)
    _write_roles(session, plan, work, ids, role_ids)
    _write_heads(session, plan, ids)
    deactivate = [directory.index["username"][u] for u in plan.deactivate]
    for written, chunk in enumerate(_chunks(deactivate), 1):
        session.execute(update(Person).where(Person.id.in_(chunk))
                        .values(active=False, session_version=Person.session_version + 1, updated_at=utcnow())
                        .execution_options(synchronize_session=False))
        _report(on_progress, len(work) + min(written * _CHUNK, len(deactivate)), total)
    session.flush()
    _report(on_progress, total, total)
    return plan.counts()


@dataclass
class _Ids:
    departments: dict[DepartmentRef, int]
    positions: dict[str, int]
    people: dict[int, int] = field(default_factory=dict)  # node of a new person -> its id

    def person(self, node: int | None) -> int | None:
        return None if node is None else self.people.get(node, node)

    def department(self, ref: DepartmentRef | None) -> int | None:
        return self.departments[ref] if isinstance(ref, tuple) else ref

    def position(self, ref: int | str | None) -> int | None:
        return self.positions[ref] if isinstance(ref, str) else ref


def _report(on_progress: Progress | None, done: int, total: int) -> None:
    if on_progress:
        on_progress(done, total)


def _chunks(items: list) -> Iterable[list]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def _insert_named(session: Session, model, key: str, names: list[str]) -> dict[str, int]:
    if not names:
        return {}
    column = getattr(model, key)
    rows = session.execute(insert(model).returning(column, model.id), [{key: n, "name": n} for n in names])
    return {k: v for k, v in rows}


def _create_departments(session: Session, plan: ImportPlan) -> dict[DepartmentRef, int]:
    """New departments level by level: insert, then set `path` from the new ids (two statements a level)."""
    directory = plan.directory
    ids: dict[DepartmentRef, int] = {}
    paths = {pid: r.path for pid, r in directory.departments.items()}
    codes = set(directory.department_codes)
    levels: dict[int, list[tuple[str, ...]]] = {}
    for names in plan.department_parents:
        levels.setdefault(len(names), []).append(names)
    for level in sorted(levels):
        batch = levels[level]
        parents = [_parent_id(plan.department_parents[names], ids) for names in batch]
        rows = [{"code": _new_code(names, codes), "name": names[-1], "parent_id": parent, "path": ""}
                for names, parent in zip(batch, parents, strict=True)]
        result = session.execute(insert(Department).returning(Department.id, sort_by_parameter_order=True), rows)
        new_ids = list(result.scalars())
        for names, parent, new_id in zip(batch, parents, new_ids, strict=True):
            ids[names] = new_id
            paths[new_id] = f"{paths[parent] if parent else '/'}{new_id}/"
        session.execute(update(Department), [{"id": i, "path": paths[i]} for i in new_ids])
    return ids


def _parent_id(parent: DepartmentRef | None, ids: dict[DepartmentRef, int]) -> int | None:
    return ids[parent] if isinstance(parent, tuple) else parent


def _new_code(names: tuple[str, ...], taken: set[str]) -> str:
    """The path itself ("总部/研发部") when it fits and is free; else a short digest of it."""
    code = "/".join(names)
    if len(code) > 100 or code in taken:
        code = "dept-" + hashlib.sha1(code.encode()).hexdigest()[:12]
    while code in taken:
        code += "-1"
    taken.add(code)
    return code


def _person_values(person: PlannedPerson, columns: tuple[str, ...], ids: _Ids) -> dict:
    # the name's pinyin order (`engine.data.sorting`) goes with every write of the name, created or renamed
    values = {"username": person.username, "name": person.name, "sort_key": sort_key(person.name)}
    values.update({name: getattr(person, name) for name in ("name_en", "email", "employee_no") if name in columns})
    if "department" in columns:
        values["department_id"] = ids.department(person.department_ref)
    if "position" in columns:
        values["position_id"] = ids.position(person.position_ref)
    if "active" in columns or person.existing_id is None:
        values["active"] = person.active
    return values


def _update_values(person: PlannedPerson, plan: ImportPlan, ids: _Ids) -> dict:
    """The UPDATE of one person: every changed column of an existing person, the manager of a new one."""
    values: dict = {"id": ids.person(person.node)}
    if person.action == "update":
        old = plan.directory.people[person.existing_id]
        values.update(_person_values(person, plan.columns, ids), updated_at=utcnow())
        if old.active and not person.active:
            values["session_version"] = old.session_version + 1  # signs them out everywhere
    if "manager" in plan.columns:
        values["manager_id"] = ids.person(person.manager_node)
    return values if person.action == "update" or values.get("manager_id") else {"id": values["id"]}


def _release_unique_values(session: Session, plan: ImportPlan) -> None:
    """Free the usernames, employee numbers and e-mails that pass from one existing person to another
    (a swap), so no UNIQUE constraint sees two holders between two statements."""
    claimed = {name: {getattr(p, name) for p in plan.people if p.action in ("create", "update")} for name in _UNIQUE}
    releases = []
    for person in plan.people:
        if person.action != "update":
            continue
        old = plan.directory.people[person.existing_id]
        values = {name: (f"~import~{old.id}" if name == "username" else None) for name in _UNIQUE
                  if name in person.changes and _old_value(old, name) in claimed[name]}
        if values:
            releases.append({"id": old.id, **values})
    for chunk in _chunks(releases):
        session.execute(update(Person), chunk)


def _write_roles(session: Session, plan: ImportPlan, work: list[PlannedPerson], ids: _Ids,
                 role_ids: dict[str, int]) -> None:
    if "roles" not in plan.columns:
        return
    changed = [p for p in work if p.action == "create" or "roles" in p.changes]
    for chunk in _chunks([p.existing_id for p in changed if p.existing_id is not None]):
        session.execute(delete(PersonRole).where(PersonRole.person_id.in_(chunk)))
    rows = [{"person_id": ids.person(p.node), "role_id": role_ids[key]} for p in changed for key in p.roles]
    for chunk in _chunks(rows):
        session.execute(insert(PersonRole), chunk)


def _write_heads(session: Session, plan: ImportPlan, ids: _Ids) -> None:
    """The file decides the heads of departments for the people in it: flagged ones become heads,
    the departments they headed without a flag lose them."""
    if "department_head" not in plan.columns:
        return
    directory = plan.directory
    in_file = {p.existing_id for p in plan.people} - {None}
    heads = {dept: None for pid in in_file for dept in directory.head_of.get(pid, ())}
    for person in plan.people:
        department = ids.department(_final_department(person, directory, plan.columns))
        if person.head and department is not None:
            heads[department] = ids.person(person.node)
    rows = [{"id": dept, "head_id": head} for dept, head in heads.items()
            if dept not in directory.departments or directory.departments[dept].head_id != head]
    if rows:
        session.execute(update(Department), rows)
