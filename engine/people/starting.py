"""Who may start which process: the package's `starters`, department overrides, super admins.

The rule, in order: a super admin may start everything; otherwise the nearest department up the
person's department path with a `process_permission` row decides (allowed or forbidden);
otherwise the latest version's `starters` in package.yaml (absent: everyone). `starters` names
role keys, department codes (a department includes its subtree) and usernames; any match suffices.

`engine.runtime.start_instance` does not check any of this: the web layer asks `may_start`, and
the CLI, an operator tool, starts anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, aliased

from engine.data.models import Department, Person, ProcessDefinition, ProcessPermission, ProcessVersion
from engine.errors import NotFoundError, NotPermittedError, msg
from engine.people.accounts import SessionUser
from engine.people.org import admin_departments, groups_of, in_chart_order, is_super_admin, within_any

STARTER_KEYS = ("roles", "departments", "users")


@dataclass(frozen=True)
class _Starter:
    """What the rule needs to know about the person asking."""

    username: str
    roles: frozenset[str]
    department_ids: tuple[int, ...]  # own department first, then up to the root
    department_codes: frozenset[str]
    super_admin: bool


_UNKNOWN = object()


def may_start(session: Session, username: str, process_key: str, *, user: SessionUser | None = None,
              starters=_UNKNOWN) -> bool:
    """Whether `username` may start the deployed process `process_key` (False when it is not deployed).

    A caller that has them passes the signed-in `user` (its groups and super admin grant, kept per
    directory version: `accounts.signed_in_user`) and the latest version's `starters` (package.yaml,
    None for everyone; read from the version's cached package): then only the person's department chain
    and its overrides are read, in one query."""
    starter = _starter(session, username, user)
    if starter is None:
        return False
    if starters is _UNKNOWN:
        latest = _latest_starters(session, [process_key])
        if process_key not in latest:
            return False
        starters = latest[process_key]
    return _decide(starter, process_key, starters, _overrides(session, starter, [process_key]))


def startable(session: Session, username: str) -> list[str]:
    """Keys of every deployed process `username` may start, sorted."""
    starter = _starter(session, username)
    if starter is None:
        return []
    starters = _latest_starters(session)
    overrides = _overrides(session, starter)
    return sorted(key for key, rule in starters.items() if _decide(starter, key, rule, overrides))


def set_permission(session: Session, admin_username: str, process_key: str, department_id: int,
                   allowed: bool | None) -> None:
    """Allow (True) or forbid (False) `process_key` for a department's subtree, or remove the
    department's own setting (None: inherit). Only a super admin or an admin of a department at or
    above it may; anyone else gets NotPermittedError."""
    department = session.get(Department, department_id)
    if department is None:
        raise NotFoundError(msg("no department with id %(id)s", id=department_id))
    if not may_manage(session, admin_username, department):
        raise NotPermittedError(msg("you may set process permissions only for the departments you administer"))
    if session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == process_key)) is None:
        raise NotFoundError(msg("no process `%(process)s` is deployed", process=process_key))
    row = session.scalar(select(ProcessPermission).where(ProcessPermission.process_key == process_key,
                                                         ProcessPermission.department_id == department_id))
    if allowed is None:
        if row is not None:
            session.execute(delete(ProcessPermission).where(ProcessPermission.id == row.id))
    elif row is None:
        session.add(ProcessPermission(process_key=process_key, department_id=department_id, allowed=allowed))
    else:
        row.allowed = allowed
    session.flush()


def may_manage(session: Session, admin_username: str, department: Department) -> bool:
    """Whether the person is a super admin or administers `department` (it lies in a subtree they hold)."""
    if is_super_admin(session, admin_username):
        return True
    held = admin_departments(session, admin_username)
    return any(f"/{held_id}/" in department.path for held_id in held)


def managed_departments(session: Session, admin_username: str) -> list[Department]:
    """Departments whose process permissions the person may set, in chart order (`org.in_chart_order`; all for
    a super admin)."""
    query = select(Department)
    if not is_super_admin(session, admin_username):
        held = admin_departments(session, admin_username)
        if not held:
            return []
        root = aliased(Department)
        paths = list(session.scalars(select(root.path).where(root.id.in_(held))))
        query = query.where(within_any(Department.path, paths))
    return in_chart_order(session.scalars(query))


def permissions_of(session: Session, department_id: int) -> dict[str, bool]:
    """The department's own settings: `{process key: allowed}` (processes it inherits are absent)."""
    rows = session.execute(select(ProcessPermission.process_key, ProcessPermission.allowed)
                           .where(ProcessPermission.department_id == department_id))
    return {key: allowed for key, allowed in rows}


def _starter(session: Session, username: str, user: SessionUser | None = None) -> _Starter | None:
    """The active person's roles, department chain and admin tier; None for nobody or an inactive person.
    With `user` (the signed-in view of the same person) its groups and grant are used, not read again,
    and a super admin needs no query at all."""
    if user is not None and user.username == username:
        if user.is_super_admin:
            return _Starter(username, frozenset(user.groups), (), frozenset(), True)
    else:
        user = None
    row = session.execute(select(Person.active, Department.path).outerjoin(
        Department, Department.id == Person.department_id).where(Person.username == username)).first()
    if row is None or not row.active:
        return None
    chain = tuple(int(part) for part in reversed((row.path or "").strip("/").split("/")) if part)
    codes = frozenset(session.scalars(select(Department.code).where(Department.id.in_(chain)))) if chain else frozenset()
    if user is not None:
        return _Starter(username, frozenset(user.groups), chain, codes, False)
    return _Starter(username, frozenset(groups_of(session, username)), chain, codes,
                    is_super_admin(session, username))


def _latest_starters(session: Session, keys: list[str] | None = None) -> dict[str, dict | None]:
    """`{process key: starters of its latest version}`, one query."""
    latest = (select(ProcessVersion.definition_id, func.max(ProcessVersion.number).label("number"))
              .group_by(ProcessVersion.definition_id).subquery())
    query = (select(ProcessDefinition.key, ProcessVersion.package)
             .join(latest, latest.c.definition_id == ProcessDefinition.id)
             .join(ProcessVersion, (ProcessVersion.definition_id == latest.c.definition_id)
                   & (ProcessVersion.number == latest.c.number)))
    if keys is not None:
        query = query.where(ProcessDefinition.key.in_(keys))
    return {key: ((package or {}).get("meta") or {}).get("starters") for key, package in session.execute(query)}


def _overrides(session: Session, starter: _Starter, keys: list[str] | None = None) -> dict[str, bool]:
    """`{process key: allowed}` from the nearest department of the person's chain with a row."""
    if not starter.department_ids:
        return {}
    query = select(ProcessPermission.process_key, ProcessPermission.department_id, ProcessPermission.allowed).where(
        ProcessPermission.department_id.in_(starter.department_ids))
    if keys is not None:
        query = query.where(ProcessPermission.process_key.in_(keys))
    depth = {department_id: index for index, department_id in enumerate(starter.department_ids)}
    nearest: dict[str, tuple[int, bool]] = {}
    for key, department_id, allowed in session.execute(query):
        if key not in nearest or depth[department_id] < nearest[key][0]:
            nearest[key] = (depth[department_id], allowed)
    return {key: allowed for key, (_depth, allowed) in nearest.items()}


def _decide(starter: _Starter, key: str, rule: dict | None, overrides: dict[str, bool]) -> bool:
    if starter.super_admin:
        return True
    if key in overrides:
        return overrides[key]
    if rule is None:
        return True
    return (starter.username in (rule.get("users") or ())
            or bool(starter.roles.intersection(rule.get("roles") or ()))
            or bool(starter.department_codes.intersection(rule.get("departments") or ())))


def starters_problems(starters) -> list[str]:
    """What is wrong with a package's `starters` value (empty when it is valid); names are not looked up."""
    if starters is None:
        return []
    if not isinstance(starters, dict):
        return ["`starters` must be a mapping with `roles`, `departments` and/or `users`"]
    problems = [f"`starters` has an unknown key `{name}` (known: {', '.join(STARTER_KEYS)})"
                for name in starters if name not in STARTER_KEYS]
    for name in STARTER_KEYS:
        value = starters.get(name)
        if value is not None and (not isinstance(value, list)
                                  or not all(isinstance(item, str) and item.strip() for item in value)):
            problems.append(f"`starters.{name}` must be a list of names")
    return problems
