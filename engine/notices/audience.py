"""Who a notice reaches: the one SQL filter over `person` for an audience.

An audience is {people: [usernames], departments: [codes], roles: [keys], everyone: bool}; a
department reaches its whole subtree (the org chart's `within` rule). Only active people. Being named
twice (as a person and through a department or a role) reaches a person once: the filter is one
`WHERE ... OR ...` over `person`, so each person is one row, however many parts name them.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.orm import Session

from engine.data.models import Department, Person, PersonRole, Role
from engine.errors import LiaisonError, msg
from engine.people.org import within_any

PARTS = ("people", "departments", "roles")
MAX_NAMES = 5000  # names of each kind in one audience


class AudienceError(LiaisonError):
    """An audience that names nobody, or names what does not exist."""


def clean(audience: dict | None) -> dict:
    """The audience with each part a sorted list of distinct non-blank strings and `everyone` a bool."""
    audience = audience or {}
    cleaned: dict = {"everyone": bool(audience.get("everyone"))}
    for part in PARTS:
        value = audience.get(part) or []
        if isinstance(value, str):
            value = [v for v in value.replace("，", ",").split(",")]
        names = sorted({str(v).strip() for v in value if str(v).strip()})
        if len(names) > MAX_NAMES:
            raise AudienceError(msg("at most %(count)s names of one kind in an audience", count=MAX_NAMES))
        cleaned[part] = names
    return cleaned


def check(session: Session, audience: dict) -> None:
    """Refuse an audience naming nobody, or unknown departments or roles (each named in the message)."""
    if not audience["everyone"] and not any(audience[p] for p in PARTS):
        raise AudienceError(msg("choose at least one recipient: people, departments or roles"))
    if audience["departments"]:
        known = set(session.scalars(select(Department.code).where(Department.code.in_(audience["departments"]))))
        unknown = [c for c in audience["departments"] if c not in known]
        if unknown:
            raise AudienceError(msg("unknown department: %(names)s", names=", ".join(unknown)))
    if audience["roles"]:
        known = set(session.scalars(select(Role.key).where(Role.key.in_(audience["roles"]))))
        unknown = [r for r in audience["roles"] if r not in known]
        if unknown:
            raise AudienceError(msg("unknown role: %(names)s", names=", ".join(unknown)))


def person_filter(session: Session, audience: dict) -> ColumnElement[bool]:
    """The `person` rows an audience reaches (active ones): one expression for a SELECT.

    Costs one query (the named departments' paths); the rest runs inside the caller's statement.
    """
    if audience.get("everyone"):
        return Person.active.is_(True)
    parts = []
    if audience.get("people"):
        parts.append(Person.username.in_(audience["people"]))
    if audience.get("departments"):
        paths = list(session.scalars(select(Department.path).where(Department.code.in_(audience["departments"]))))
        parts.append(Person.department_id.in_(select(Department.id).where(within_any(Department.path, paths))))
    if audience.get("roles"):
        parts.append(Person.id.in_(select(PersonRole.person_id).join(Role, Role.id == PersonRole.role_id)
                                   .where(Role.key.in_(audience["roles"]))))
    return Person.active.is_(True) & (or_(*parts) if parts else false())


def count(session: Session, audience: dict) -> int:
    """How many people the audience reaches now (one query)."""
    return session.scalar(select(func.count()).select_from(Person).where(person_filter(session, audience))) or 0
