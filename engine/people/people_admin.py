"""The admin's people list and its changes: deactivate / reactivate, move department, change manager;
the admin's department tree (read only: departments come from the org import).

Scoped like every admin page: a super admin sees and changes everyone; a department admin the
people of their departments' subtrees who hold no admin grant, and only into departments they
administer (`invitations.check_may_issue` is the one rule). A deactivated person cannot sign in
and every session they have ends at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, aliased

from engine.data.models import Department, Person, PersonRole, Role
from engine.errors import LiaisonError, Message, NotFoundError, NotPermittedError, Username, msg
from engine.results import paging

from . import org
from . import sessions as user_sessions
from .invitations import check_may_issue

MAX_MANAGER_CHAIN = 200


class PeopleAdminError(LiaisonError):
    """A change was refused: `code` names the case (self, no_manager, manager_loop), for a translated message."""

    def __init__(self, code: str, message: Message):
        super().__init__(message)
        self.code = code
        self.params = dict(message.params)


@dataclass(frozen=True)
class PersonRow:
    """One line of the admin's people list."""

    id: int
    username: str
    name: str
    name_en: str | None
    department: str | None
    department_en: str | None
    department_code: str | None
    manager: str | None  # the manager's username
    manager_name: str | None
    manager_name_en: str | None
    active: bool
    has_password: bool
    email: str | None
    last_sign_in_at: datetime | None

    def label(self, lang: str) -> str:
        return (self.name_en if lang == "en" and self.name_en else self.name) or self.username

    def department_label(self, lang: str) -> str | None:
        return (self.department_en if lang == "en" and self.department_en else self.department) or None

    def manager_label(self, lang: str) -> str | None:
        if self.manager is None:
            return None
        return (self.manager_name_en if lang == "en" and self.manager_name_en else self.manager_name) or self.manager


def _scope(session: Session, admin_username: str):
    """The department condition of what the admin sees (None: everything)."""
    if org.is_super_admin(session, admin_username):
        return None
    held = org.admin_departments(session, admin_username)
    paths = list(session.scalars(select(Department.path).where(Department.id.in_(held)))) if held else []
    return org.within_any(Department.path, paths)


def _rows(session: Session, admin_username: str):
    manager = aliased(Person)
    query = (select(Person.id, Person.username, Person.name, Person.name_en, Department.name, Department.name_en,
                    Department.code, manager.username, manager.name, manager.name_en, Person.active,
                    Person.password_hash.is_not(None), Person.email, Person.last_sign_in_at)
             .outerjoin(Department, Department.id == Person.department_id)
             .outerjoin(manager, manager.id == Person.manager_id))
    scope = _scope(session, admin_username)
    return query if scope is None else query.where(scope)


def list_people(session: Session, admin_username: str, text: str = "", page: int = 1,
                per_page: int = 50) -> tuple[list[PersonRow], bool]:
    """People the admin may manage matching `text` (username, name, e-mail), in pinyin order of their names: `(rows, more pages?)`."""
    query = _rows(session, admin_username)
    text = text.strip()
    if text:
        like = f"%{text}%"
        query = query.where(or_(Person.username.ilike(like), Person.name.ilike(like), Person.name_en.ilike(like),
                                Person.email.ilike(like)))
    page, per_page = paging(page, per_page, 200)
    rows = session.execute(query.order_by(Person.sort_key, Person.username).limit(per_page + 1)
                           .offset((page - 1) * per_page)).all()
    return [PersonRow(*row) for row in rows[:per_page]], len(rows) > per_page


def get_person(session: Session, admin_username: str, person_id: int) -> PersonRow:
    """One person of the list; NotFoundError when the admin may not manage them (or there is nobody)."""
    person = session.get(Person, person_id)
    if person is None:
        raise NotFoundError(msg("no person %(id)s", id=person_id))
    try:
        check_may_issue(session, admin_username, person)
    except NotPermittedError as exc:
        raise NotFoundError(msg("no person %(id)s", id=person_id)) from exc
    return PersonRow(*session.execute(_rows(session, admin_username).where(Person.id == person.id)).one())


def roles_of(session: Session, person_id: int, lang: str = "zh") -> list[tuple[int, str]]:
    """The person's roles as (role id, name in `lang`), by name: one query."""
    rows = session.execute(select(Role.id, Role.name, Role.name_en).join(PersonRole, PersonRole.role_id == Role.id)
                           .where(PersonRole.person_id == person_id)).all()
    return sorted(((r.id, (r.name_en or r.name) if lang == "en" else r.name) for r in rows), key=lambda r: r[1])


def _managed(session: Session, actor: str | None, username: str) -> Person:
    person = org.person_by_username(session, username)
    if person is None:
        raise NotFoundError(msg("Nobody has the username %(username)s.", username=username))
    check_may_issue(session, actor, person)
    return person


def set_active(session: Session, actor: str | None, username: str, active: bool, now: datetime) -> Person:
    """Deactivate (sessions end at once) or reactivate a person; nobody deactivates themselves."""
    if not active and actor is not None and username.strip() == actor:
        raise PeopleAdminError("self", msg("You cannot deactivate yourself."))
    person = _managed(session, actor, username)
    if person.active == active:
        return person
    values: dict = {"active": active, "updated_at": now}
    if not active:
        values["session_version"] = Person.session_version + 1
    session.execute(update(Person).where(Person.id == person.id).values(**values))
    if not active:
        user_sessions.revoke_all(session, person.id, now)
    session.refresh(person)
    return person


def move_department(session: Session, actor: str | None, username: str, department_code: str | None,
                    now: datetime) -> Person:
    """Put the person in the department with this code (None or "": in none); a department admin
    moves only between departments they administer."""
    person = _managed(session, actor, username)
    department_id = None
    if department_code:
        department = session.scalar(select(Department).where(Department.code == department_code.strip()))
        if department is None:
            raise NotFoundError(msg("No department %(department)s.", department=department_code))
        department_id = department.id
    if actor is not None and not org.is_super_admin(session, actor):
        held = org.admin_departments(session, actor)
        paths = list(session.scalars(select(Department.path).where(Department.id.in_(held)))) if held else []
        inside = department_id is not None and session.scalar(
            select(Department.id).where(Department.id == department_id, org.within_any(Department.path, paths)))
        if not inside:
            raise NotPermittedError(msg("you may only move people into departments you administer"))
    session.execute(update(Person).where(Person.id == person.id).values(department_id=department_id, updated_at=now))
    session.refresh(person)
    return person


def set_manager(session: Session, actor: str | None, username: str, manager_username: str | None,
                now: datetime) -> Person:
    """Set the person's manager (an active person, not themselves, not someone below them); None: no manager."""
    person = _managed(session, actor, username)
    manager_id = None
    if manager_username and manager_username.strip():
        manager = org.person_by_username(session, manager_username.strip())
        if manager is None or not manager.active:
            raise PeopleAdminError("no_manager", msg("No active person has the username %(username)s.",
                                                       username=manager_username.strip()))
        if manager.id == person.id:
            raise PeopleAdminError("manager_loop", msg("A person cannot be their own manager."))
        above, seen = manager.manager_id, 0
        while above is not None and seen < MAX_MANAGER_CHAIN:
            if above == person.id:
                raise PeopleAdminError("manager_loop", msg("%(manager)s reports to %(person)s: choose someone else.",
                                                             manager=Username(manager.username),
                                                             person=Username(person.username)))
            above = session.scalar(select(Person.manager_id).where(Person.id == above))
            seen += 1
        manager_id = manager.id
    session.execute(update(Person).where(Person.id == person.id).values(manager_id=manager_id, updated_at=now))
    session.refresh(person)
    return person


@dataclass(frozen=True)
class DepartmentRow:
    """One department of the admin's tree: `depth` below the tree's top, its head, its active people
    (in this department itself, and in it with every department below)."""

    id: int
    code: str
    name: str
    name_en: str | None
    depth: int
    head: str | None  # the head's username
    head_name: str | None
    head_name_en: str | None
    people: int
    people_below: int

    def label(self, lang: str) -> str:
        return (self.name_en if lang == "en" and self.name_en else self.name) or self.code

    def head_label(self, lang: str) -> str | None:
        if self.head is None:
            return None
        return (self.head_name_en if lang == "en" and self.head_name_en else self.head_name) or self.head


def list_departments(session: Session, admin_username: str) -> list[DepartmentRow]:
    """The departments the admin manages (every one for a super admin, their subtrees otherwise) in tree
    order, parents before children and siblings as created, with heads and active people counts."""
    head = aliased(Person)
    counts = (select(Person.department_id, func.count().label("n")).where(Person.active)
              .group_by(Person.department_id).subquery())
    query = (select(Department.id, Department.code, Department.name, Department.name_en, Department.path,
                    head.username, head.name, head.name_en, func.coalesce(counts.c.n, 0))
             .outerjoin(head, head.id == Department.head_id)
             .outerjoin(counts, counts.c.department_id == Department.id))
    scope = _scope(session, admin_username)
    rows = session.execute(query if scope is None else query.where(scope)).all()

    def ids(path: str) -> tuple[int, ...]:
        return tuple(int(part) for part in path.strip("/").split("/") if part.isdigit())

    rows.sort(key=lambda row: ids(row[4]))
    below: dict[int, int] = {}
    for row in rows:  # every department's count added to itself and each visible ancestor
        for ancestor in ids(row[4]):
            below[ancestor] = below.get(ancestor, 0) + row[8]
    top = min((len(ids(row[4])) for row in rows), default=1)
    return [DepartmentRow(row[0], row[1], row[2], row[3], len(ids(row[4])) - top, row[5], row[6], row[7], row[8],
                          below.get(row[0], row[8])) for row in rows]
