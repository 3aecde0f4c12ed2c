"""Roles and their members, and the admin tiers (who is a super admin, who administers which department).

Roles are company-wide: a role key is a candidate group of every process and a name in
assignment rules, so only super admins list or change roles here; a department admin gets
NotPermittedError (the web pages are for super admins only, and a department admin does not
see roles at all, not even read-only: a role's members span every department). The same holds
for admin grants. Every function takes the acting `SessionUser` and the caller's session
(the caller commits); refusals are `RoleError` with a message meant for the admin.

The last active super admin cannot be revoked: `revoke_admin` locks the super admin grants
(FOR UPDATE on PostgreSQL; SQLite has one writer) before counting, so two super admins revoking
each other at the same moment cannot leave nobody.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from engine.data.models import AdminGrant, Department, Person, PersonRole, Role
from engine.errors import LiaisonError, Message, NotFoundError, NotPermittedError, Username, msg
from engine.people.accounts import SessionUser
from engine.results import EXTERNAL_PREFIX

KEY_MAX, NAME_MAX = 100, 200
# what the org import splits a "roles" cell on may not be part of a key
_KEY_FORBIDDEN = re.compile(r"[,，、;；\s]")


class RoleError(LiaisonError):
    """A change to roles or admin tiers was refused (a taken key, a role still in use, the last super admin...).

    `code` names the case; the message is a `Message` (translated on pages, people by display name) and
    `params` its values; `str()` is English.
    """

    def __init__(self, code: str, message: Message):
        super().__init__(message)
        self.code = code
        self.params = dict(message.params)


@dataclass(frozen=True)
class RoleInfo:
    """A role with its member count."""

    id: int
    key: str
    name: str
    name_en: str | None
    members: int


@dataclass(frozen=True)
class Member:
    """A person holding a role or an admin grant."""

    username: str
    name: str
    active: bool
    name_en: str | None = None

    def label(self, lang: str) -> str:
        """The person's name in the reader's language."""
        return (self.name_en if lang == "en" and self.name_en else self.name) or self.username


@dataclass(frozen=True)
class AdminEntry:
    """One admin grant: a super admin (no department) or the admin of a department's subtree."""

    grant_id: int
    username: str
    name: str
    active: bool
    department_id: int | None = None
    department_code: str | None = None
    department_name: str | None = None
    name_en: str | None = None
    department_name_en: str | None = None

    def label(self, lang: str) -> str:
        """The person's name in the reader's language."""
        return (self.name_en if lang == "en" and self.name_en else self.name) or self.username

    def department_label(self, lang: str) -> str | None:
        return self.department_name_en if lang == "en" and self.department_name_en else self.department_name


@dataclass(frozen=True)
class AdminTiers:
    """Every grant: super admins, and department admins in pinyin order of their names then department path."""

    super_admins: list[AdminEntry]
    department_admins: list[AdminEntry]


def _require_super_admin(user: SessionUser) -> None:
    if not user.is_super_admin:
        raise NotPermittedError(msg("only a super admin may manage roles and admins"))


def _role(session: Session, role_id: int) -> Role:
    role = session.get(Role, role_id)
    if role is None:
        raise NotFoundError(msg("no role with id %(id)s", id=role_id))
    return role


def _person(session: Session, username: str) -> Person:
    username = username.strip()
    person = session.scalar(select(Person).where(Person.username == username)) if username else None
    if person is None:
        raise RoleError("no_person", msg("Nobody has the username %(username)s.", username=username))
    return person


def _names(name: str, name_en: str | None) -> tuple[str, str | None]:
    name, name_en = name.strip(), (name_en or "").strip() or None
    if not name:
        raise RoleError("no_name", msg("The role needs a name."))
    if len(name) > NAME_MAX or (name_en and len(name_en) > NAME_MAX):
        raise RoleError("long_name", msg("A role name has at most %(n)s characters.", n=NAME_MAX))
    return name, name_en


def _count_members(session: Session, role_id: int) -> int:
    return session.scalar(select(func.count()).select_from(PersonRole).where(PersonRole.role_id == role_id))


# -- roles --------------------------------------------------------------------------------------------

def list_roles(session: Session, user: SessionUser) -> list[RoleInfo]:
    """Every role with its member count, by key (one query)."""
    _require_super_admin(user)
    counts = (select(PersonRole.role_id, func.count().label("n")).group_by(PersonRole.role_id).subquery())
    rows = session.execute(select(Role.id, Role.key, Role.name, Role.name_en, func.coalesce(counts.c.n, 0))
                           .outerjoin(counts, counts.c.role_id == Role.id).order_by(Role.key))
    return [RoleInfo(*row) for row in rows]


def get_role(session: Session, user: SessionUser, role_id: int) -> tuple[RoleInfo, list[Member]]:
    """A role and its members, in pinyin order of their names."""
    _require_super_admin(user)
    role = _role(session, role_id)
    members = [Member(*row) for row in session.execute(
        select(Person.username, Person.name, Person.active, Person.name_en)
        .join(PersonRole, PersonRole.person_id == Person.id)
        .where(PersonRole.role_id == role_id).order_by(Person.sort_key, Person.username))]
    return RoleInfo(role.id, role.key, role.name, role.name_en, len(members)), members


def create_role(session: Session, user: SessionUser, key: str, name: str, name_en: str | None = None) -> int:
    """Add a role; returns its id. The key is what processes name, so it cannot change later."""
    _require_super_admin(user)
    key = key.strip()
    if not key or len(key) > KEY_MAX:
        raise RoleError("bad_key", msg("A role key has 1 to %(n)s characters.", n=KEY_MAX))
    if _KEY_FORBIDDEN.search(key):
        raise RoleError("bad_key_chars", msg("A role key may not contain spaces, commas, 、 or semicolons."))
    if key.lower().startswith(EXTERNAL_PREFIX):
        raise RoleError("bad_key_prefix", msg("A role key may not start with %(prefix)s (kept for external users).",
                                              prefix=EXTERNAL_PREFIX))
    name, name_en = _names(name, name_en)
    if session.scalar(select(Role.id).where(Role.key == key)) is not None:
        raise RoleError("key_taken", msg("The role key %(key)s is taken.", key=key))
    role = Role(key=key, name=name, name_en=name_en)
    session.add(role)
    session.flush()
    return role.id


def rename_role(session: Session, user: SessionUser, role_id: int, name: str, name_en: str | None = None) -> None:
    """Change a role's Chinese and English names (its key stays)."""
    _require_super_admin(user)
    role = _role(session, role_id)
    role.name, role.name_en = _names(name, name_en)
    session.flush()


def delete_role(session: Session, user: SessionUser, role_id: int) -> None:
    """Remove a role nobody holds; a role with members is refused with their count."""
    _require_super_admin(user)
    role = _role(session, role_id)
    members = _count_members(session, role_id)
    if members:
        raise RoleError("in_use", msg("The role %(key)s has %(n)s members: remove them first.", key=role.key,
                                      n=members))
    session.execute(delete(Role).where(Role.id == role_id))


def add_member(session: Session, user: SessionUser, role_id: int, username: str) -> None:
    """Give a person (by username) the role; giving it again is refused."""
    _require_super_admin(user)
    role = _role(session, role_id)
    person = _person(session, username)
    held = session.scalar(select(PersonRole.role_id).where(PersonRole.role_id == role_id,
                                                           PersonRole.person_id == person.id))
    if held is not None:
        raise RoleError("already_member", msg("%(username)s already has the role %(key)s.",
                                              username=Username(person.username), key=role.key))
    session.execute(insert(PersonRole).values(person_id=person.id, role_id=role_id))


def remove_member(session: Session, user: SessionUser, role_id: int, username: str) -> None:
    """Take the role from a person (by username); someone without it is refused."""
    _require_super_admin(user)
    role = _role(session, role_id)
    person = _person(session, username)
    removed = session.execute(delete(PersonRole).where(PersonRole.role_id == role_id,
                                                       PersonRole.person_id == person.id)).rowcount
    if not removed:
        raise RoleError("not_member", msg("%(username)s does not have the role %(key)s.",
                                          username=Username(person.username), key=role.key))


# -- admin tiers --------------------------------------------------------------------------------------

def list_admins(session: Session, user: SessionUser) -> AdminTiers:
    """Super admins and department admins (with their departments), in one query."""
    _require_super_admin(user)
    rows = session.execute(
        select(AdminGrant.id, Person.username, Person.name, Person.active, Department.id, Department.code,
               Department.name, Person.name_en, Department.name_en)
        .join(Person, Person.id == AdminGrant.person_id)
        .outerjoin(Department, Department.id == AdminGrant.department_id)
        .order_by(Person.sort_key, Person.username, Department.path))
    entries = [AdminEntry(*row) for row in rows]
    return AdminTiers([e for e in entries if e.department_id is None],
                      [e for e in entries if e.department_id is not None])


def grant_admin(session: Session, user: SessionUser, username: str, department: int | str | None) -> int:
    """Make a person a super admin (`department` None) or the admin of a department (id or code)
    and its subtree; returns the grant's id. A grant held already is refused."""
    _require_super_admin(user)
    person = _person(session, username)
    department_id = None
    if department is not None:
        where = Department.id == department if isinstance(department, int) else Department.code == department.strip()
        department_id = session.scalar(select(Department.id).where(where))
        if department_id is None:
            raise RoleError("no_department", msg("No department %(department)s.", department=str(department)))
    held = select(AdminGrant.id).where(AdminGrant.person_id == person.id)
    held = held.where(AdminGrant.department_id.is_(None) if department_id is None
                      else AdminGrant.department_id == department_id)
    if session.scalar(held) is not None:
        raise RoleError("already_admin", msg("%(username)s already holds this admin grant.",
                                             username=Username(person.username)))
    grant = AdminGrant(person_id=person.id, department_id=department_id)
    session.add(grant)
    session.flush()
    return grant.id


def revoke_admin(session: Session, user: SessionUser, grant_id: int) -> None:
    """Remove an admin grant. The last super admin grant of an active person is refused."""
    _require_super_admin(user)
    grant = session.get(AdminGrant, grant_id)
    if grant is None:
        raise NotFoundError(msg("no admin grant with id %(id)s", id=grant_id))
    if grant.department_id is None:
        # lock every super admin grant, then count the others held by active people
        supers = session.execute(select(AdminGrant.id, AdminGrant.person_id)
                                 .where(AdminGrant.department_id.is_(None)).with_for_update()).all()
        if grant_id not in {row.id for row in supers}:
            raise NotFoundError(msg("no admin grant with id %(id)s", id=grant_id))
        others = {row.person_id for row in supers if row.id != grant_id}
        active = session.scalar(select(func.count()).select_from(Person)
                                .where(Person.id.in_(others), Person.active)) if others else 0
        if not active:
            raise RoleError("last_super_admin", msg("This is the last super admin: make someone else a super admin first."))
    session.execute(delete(AdminGrant).where(AdminGrant.id == grant_id))
