"""The scratch org chart of a package's scenarios: a scenario's optional `org:` key puts managers, roles
and departments (with heads) into the scratch directory, so rules like `manager`, `role:finance` and
`department_head` resolve there as they do against the real org chart.

```yaml
org:
  managers: {zhang: li}                              # person -> direct manager
  roles: {finance: [qian], general_manager: [zhao]}  # role key -> holders
  departments: {RD: {head: li, members: [zhang, li]}}
```

The `org:` of all scenarios of a package is merged (they share one scratch database).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.data.models import Department, Person, PersonRole, Role


def org_problems(spec: dict) -> list[str]:
    """What is wrong with the shape of a scenario's `org:` (empty: nothing)."""
    org = spec.get("org")
    if org is None:
        return []
    if not isinstance(org, dict) or set(org) - {"managers", "roles", "departments"}:
        return ["`org` must be a mapping of `managers`, `roles` and `departments`"]
    problems = []
    managers, roles, departments = (org.get(k) or {} for k in ("managers", "roles", "departments"))
    if not isinstance(managers, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in managers.items()):
        problems.append("`org.managers` maps a username to their manager's username")
    if not isinstance(roles, dict) or not all(isinstance(v, list) for v in roles.values()):
        problems.append("`org.roles` maps a role key to a list of usernames")
    if not isinstance(departments, dict) or not all(
            isinstance(d, dict) and isinstance(d.get("members") or [], list) for d in departments.values()):
        problems.append("`org.departments` maps a code to `{head: USER, members: [USER, ...]}`")
    return problems


def org_people(spec: dict) -> set[str]:
    """Every username a scenario's `org:` names (they join the scratch directory)."""
    if org_problems(spec):
        return set()
    org = spec.get("org") or {}
    names: set[str] = set()
    for person, manager in (org.get("managers") or {}).items():
        names.update((person, manager))
    for holders in (org.get("roles") or {}).values():
        names.update(holders or [])
    for department in (org.get("departments") or {}).values():
        names.update([department.get("head"), *(department.get("members") or [])])
    return {name for name in names if isinstance(name, str) and name}


def apply_org(session: Session, scenarios: Iterable[dict]) -> None:
    """Write the merged `org:` of the scenarios into the scratch directory (its people exist already)."""
    managers: dict[str, str] = {}
    roles: dict[str, set[str]] = {}
    departments: dict[str, dict] = {}
    for spec in scenarios:
        if not isinstance(spec, dict) or org_problems(spec):
            continue  # the scenario reports it and does not run
        org = spec.get("org") or {}
        managers.update(org.get("managers") or {})
        for key, holders in (org.get("roles") or {}).items():
            roles.setdefault(key, set()).update(holders or [])
        departments.update(org.get("departments") or {})
    people = {p.username: p for p in session.scalars(select(Person))}
    for person, manager in managers.items():
        people[person].manager_id = people[manager].id
    for key, holders in sorted(roles.items()):
        role = Role(key=key, name=key)
        session.add(role)
        session.flush()
        session.add_all(PersonRole(person_id=people[name].id, role_id=role.id) for name in sorted(holders))
    for code, department in sorted(departments.items()):
        _add_department(session, people, code, department)
    session.flush()


def _add_department(session: Session, people: dict[str, Person], code: str, spec: dict) -> None:
    department = Department(code=code, name=code, path="")
    session.add(department)
    session.flush()
    department.path = f"/{department.id}/"
    if spec.get("head"):
        department.head_id = people[spec["head"]].id
    for name in spec.get("members") or []:
        people[name].department_id = department.id
