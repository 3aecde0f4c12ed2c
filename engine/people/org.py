"""Read side of the org chart: people, their roles, managers, department heads, admin scope, deputies.

Used by the inbox (a user's groups), permissions (who administers whom) and assignment rules
(Nth-level manager, department head, deputy while out of office). Every function takes the
session explicitly and is one query, so a rule resolving approvers costs one round trip.

Departments are named by id (int) or code (str). A department's subtree is every department
whose `path` starts with its own ("/1/4/" covers "/1/4/9/").
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, and_, bindparam, delete, exists, false, literal, or_, select
from sqlalchemy.orm import Session, aliased

from engine.caching import scoped
from engine.data import sorting
from engine.data.models import AdminGrant, Department, OutOfOffice, Person, PersonRole, Role, utcnow
from engine.errors import LiaisonError, NotFoundError, Username, msg

DepartmentRef = int | str  # id or code


class OrgDataError(LiaisonError):
    """A change to the org chart was refused (an out-of-office window that ends before it starts...)."""


def _department_is(department: DepartmentRef, table=Department) -> ColumnElement[bool]:
    if isinstance(department, int):
        return table.id == department
    return table.code == department


def within(path_column, ancestor_path) -> ColumnElement[bool]:
    """The one department-subtree rule: a department is in the subtree of another (itself included)
    when its materialized `path` starts with the other's. `ancestor_path` is a string, a column or
    a scalar subquery."""
    return path_column.like(ancestor_path + "%")


def within_any(path_column, ancestor_paths) -> ColumnElement[bool]:
    """`within` one of several subtrees; false for none."""
    paths = list(ancestor_paths)
    return or_(*[within(path_column, path) for path in paths]) if paths else false()


def _subtree_of(department: DepartmentRef) -> ColumnElement[bool]:
    """`Department` rows in the subtree of `department` (itself included)."""
    root = aliased(Department)
    root_path = select(root.path).where(_department_is(department, root)).scalar_subquery()
    return within(Department.path, root_path)


def person_by_username(session: Session, username: str) -> Person | None:
    """The person signing in as `username` (active or not), or None."""
    return session.scalar(select(Person).where(Person.username == username))


def groups_of(session: Session, username: str) -> tuple[str, ...]:
    """The role keys of an active person, sorted: what `work_task.candidate_groups` hold."""
    query = (select(Role.key).join(PersonRole, PersonRole.role_id == Role.id)
             .join(Person, Person.id == PersonRole.person_id)
             .where(Person.username == username, Person.active).order_by(Role.key))
    return scoped(("groups", username), lambda: tuple(session.scalars(query)))


def manager_of(session: Session, username: str, level: int = 1) -> Person | None:
    """The `level`-th manager up the reporting line (1: the direct manager); None past the top.

    The returned person may be inactive: the caller (an assignment rule) decides what to do then.
    """
    if level < 1:
        raise ValueError("level starts at 1 (the direct manager)")
    chain = (select(Person.id.label("id"), Person.manager_id.label("manager_id"), literal(0).label("depth"))
             .where(Person.username == username).cte("chain", recursive=True))
    above = aliased(Person)
    chain = chain.union_all(select(above.id, above.manager_id, chain.c.depth + 1)
                            .where(above.id == chain.c.manager_id, chain.c.depth < level))
    return session.scalar(select(Person).join(chain, chain.c.id == Person.id).where(chain.c.depth == level))


def department_head(session: Session, department: DepartmentRef) -> Person | None:
    """The head of a department (by id or code), or None when it has none."""
    query = (select(Person).join(Department, Department.head_id == Person.id)
             .where(_department_is(department)))
    return session.scalar(query)


def head_of_department_of(session: Session, username: str) -> Person | None:
    """The head of the person's department; when it has none, or it is the person themself, the
    nearest department up the tree whose head is somebody else. None when there is nobody."""
    person, own, head = aliased(Person), aliased(Department), aliased(Person)
    query = (select(head)
             .join(Department, Department.head_id == head.id)
             .join(own, within(own.path, Department.path))
             .join(person, person.department_id == own.id)
             .where(person.username == username, head.id != person.id)
             .order_by(Department.path.desc()).limit(1))
    return session.scalar(query)


def members(session: Session, department: DepartmentRef, include_subdepartments: bool = False) -> list[Person]:
    """Active people of a department (and of its whole subtree if asked), in pinyin order of their names."""
    query = select(Person).join(Department, Department.id == Person.department_id).where(Person.active)
    where = _subtree_of(department) if include_subdepartments else _department_is(department)
    return list(session.scalars(query.where(where).order_by(Person.sort_key, Person.username)))


def subtree_ids(session: Session, department: DepartmentRef) -> list[int]:
    """Ids of the department and of every department below it; empty when it does not exist."""
    return list(session.scalars(select(Department.id).where(_subtree_of(department)).order_by(Department.path)))


def is_super_admin(session: Session, username: str) -> bool:
    """Whether an active person holds the super admin grant (a grant with no department)."""
    query = (select(AdminGrant.id).join(Person, Person.id == AdminGrant.person_id)
             .where(Person.username == username, Person.active, AdminGrant.department_id.is_(None)).limit(1))
    return scoped(("super_admin", username), lambda: session.scalar(query) is not None)


def admin_departments(session: Session, username: str) -> tuple[int, ...]:
    """Ids of the departments whose subtrees an active person administers (super admin not included)."""
    query = (select(AdminGrant.department_id).join(Person, Person.id == AdminGrant.person_id)
             .where(Person.username == username, Person.active, AdminGrant.department_id.is_not(None))
             .order_by(AdminGrant.department_id))
    return tuple(session.scalars(query))


def may_administer(session: Session, admin_username: str, person_username: str) -> bool:
    """Whether `admin_username` is a super admin, or administers a department above the person's."""
    admin, target, target_department = aliased(Person), aliased(Person), aliased(Department)
    target_path = (select(target_department.path)
                   .join(target, target.department_id == target_department.id)
                   .where(target.username == person_username).scalar_subquery())
    target_exists = exists(select(target.id).where(target.username == person_username))
    query = (select(AdminGrant.id).join(admin, admin.id == AdminGrant.person_id)
             .outerjoin(Department, Department.id == AdminGrant.department_id)
             .where(admin.username == admin_username, admin.active, target_exists,
                    or_(AdminGrant.department_id.is_(None), within(target_path, Department.path)))
             .limit(1))
    return session.scalar(query) is not None


def deputy_for(session: Session, username: str, at: datetime | None = None) -> Person | None:
    """Who receives `username`'s new tasks at `at` (default now): the deputy of their out-of-office
    window, or that deputy's own deputy when they are away too, and so on. A chain that comes back
    to someone already in it stops at the last person before the repeat. None when not away.

    Windows naming an inactive deputy are ignored. One query: every window open at `at`.
    """
    at = at or utcnow()
    owner, deputy = aliased(Person), aliased(Person)
    query = (select(owner.username, deputy)
             .join(OutOfOffice, OutOfOffice.person_id == owner.id)
             .join(deputy, deputy.id == OutOfOffice.deputy_id)
             .where(OutOfOffice.starts_at <= at, OutOfOffice.ends_at > at, deputy.active)
             .order_by(OutOfOffice.starts_at, OutOfOffice.id))
    away = {name: person for name, person in session.execute(query)}  # the latest window wins
    return _follow_deputies(away, username, lambda person: person.username)


def _follow_deputies(away: dict, username: str, name_of):
    """The end of `username`'s deputy chain in `away` (who -> deputy), stopping before a repeat."""
    seen, current = {username}, None
    while (following := away.get(name_of(current) if current else username)) is not None:
        if name_of(following) in seen:
            break
        seen.add(name_of(following))
        current = following
    return current


# Built once: the engine asks on every step that creates an assigned task (a hot path).
_WINDOW_OPEN = and_(OutOfOffice.starts_at <= bindparam("b_at"), OutOfOffice.ends_at > bindparam("b_at"))


def window_open(starts_at: datetime, ends_at: datetime, at: datetime) -> bool:
    """Whether an out-of-office window covers `at` (the rule `_WINDOW_OPEN` states in SQL)."""
    return starts_at <= at < ends_at


def away_windows(names):
    """SQL: `(starts_at, ends_at)` of every window of `names` (an expanding bind parameter), for
    statements that read them along: judged by `window_open`, then `deputies_of` when one is open."""
    return (select(OutOfOffice.starts_at, OutOfOffice.ends_at).join(Person, Person.id == OutOfOffice.person_id)
            .where(Person.username.in_(names)))


_ANY_AWAY = select(exists(select(OutOfOffice.id).join(Person, Person.id == OutOfOffice.person_id)
                          .where(Person.username.in_(bindparam("b_names", expanding=True)), _WINDOW_OPEN)))
_OWNER, _DEPUTY = aliased(Person), aliased(Person)
_AWAY_NOW = (select(_OWNER.username, _DEPUTY.username)
             .join(OutOfOffice, OutOfOffice.person_id == _OWNER.id)
             .join(_DEPUTY, _DEPUTY.id == OutOfOffice.deputy_id)
             .where(_WINDOW_OPEN, _DEPUTY.active)
             .order_by(OutOfOffice.starts_at, OutOfOffice.id))


def deputies_of(conn: Connection | Session, usernames: Iterable[str], at: datetime) -> dict[str, str]:
    """`{username: deputy username}` for those of `usernames` away at `at` (chains followed as
    `deputy_for` does); the engine calls it for the assignees of the tasks a step creates.

    Works on a Core connection (the engine step has no ORM session). One indexed EXISTS query
    when nobody of them is away, which is nearly always; otherwise a second query reads every
    window open at `at` to follow the chains.
    """
    names = sorted(set(usernames))
    if not names:
        return {}
    if not conn.execute(_ANY_AWAY, {"b_names": names, "b_at": at}).scalar():
        return {}
    away = {name: deputy_name for name, deputy_name in conn.execute(_AWAY_NOW, {"b_at": at})}  # latest wins
    found = {name: _follow_deputies(away, name, lambda person: person) for name in names}
    return {name: deputy_name for name, deputy_name in found.items() if deputy_name is not None}


def set_out_of_office(session: Session, username: str, deputy_username: str, starts_at: datetime,
                      ends_at: datetime) -> OutOfOffice:
    """Record that `deputy_username` takes `username`'s new tasks from `starts_at` until `ends_at`.

    Windows of the same person overlapping the new one are replaced by it.
    """
    if ends_at <= starts_at:
        raise OrgDataError(msg("an out-of-office window must end after it starts"))
    if deputy_username == username:
        raise OrgDataError(msg("nobody can be their own deputy"))
    people = {p.username: p for p in session.scalars(
        select(Person).where(Person.username.in_([username, deputy_username])))}
    for name in (username, deputy_username):
        if name not in people:
            raise NotFoundError(msg("no person with username `%(person)s`", person=name))
    if not people[deputy_username].active:
        raise OrgDataError(msg("`%(person)s` is not active and cannot be a deputy", person=Username(deputy_username)))
    person_id = people[username].id
    session.execute(delete(OutOfOffice).where(and_(
        OutOfOffice.person_id == person_id, OutOfOffice.starts_at < ends_at, OutOfOffice.ends_at > starts_at)))
    window = OutOfOffice(person_id=person_id, deputy_id=people[deputy_username].id,
                         starts_at=starts_at, ends_at=ends_at)
    session.add(window)
    session.flush()
    return window


def out_of_office_windows(session: Session, username: str, at: datetime | None = None) -> list[tuple]:
    """The person's current and planned windows (not those already over), soonest first:
    `(window, deputy)` pairs."""
    at = at or utcnow()
    owner, deputy = aliased(Person), aliased(Person)
    query = (select(OutOfOffice, deputy)
             .join(owner, owner.id == OutOfOffice.person_id)
             .join(deputy, deputy.id == OutOfOffice.deputy_id)
             .where(owner.username == username, OutOfOffice.ends_at > at)
             .order_by(OutOfOffice.starts_at, OutOfOffice.id))
    return [tuple(row) for row in session.execute(query)]


def delete_out_of_office(session: Session, username: str, window_id: int) -> bool:
    """Remove one of the person's own windows; False when they have no window with that id."""
    owner = select(Person.id).where(Person.username == username).scalar_subquery()
    result = session.execute(delete(OutOfOffice).where(OutOfOffice.id == window_id,
                                                       OutOfOffice.person_id == owner))
    return result.rowcount == 1


def _names_by(session: Session, key_column, name_column, name_en_column, keys, lang: str) -> dict[str, str]:
    """`{key: name in lang}` for the non-empty `keys`, in one query: the English name on English pages
    when there is one; a key nothing has is shown as it is."""
    wanted = frozenset(k for k in keys if k)

    def read() -> dict[str, str]:
        found = {k: k for k in wanted}
        if wanted:
            for key, name, name_en in session.execute(select(key_column, name_column, name_en_column)
                                                      .where(key_column.in_(sorted(wanted)))):
                found[key] = (name_en if lang == "en" and name_en else name) or key
        return found

    return dict(scoped(("names", str(key_column), wanted, lang), read))


def display_names(session: Session, usernames, lang: str = "zh") -> dict[str, str]:
    """Display names by username in one query (see `_names_by`)."""
    return _names_by(session, Person.username, Person.name, Person.name_en, usernames, lang)


def by_name(session: Session, usernames) -> list[str]:
    """`usernames` in pinyin order of the people's names (`engine.data.sorting`, the order of every list of
    people), in one query; a name nobody has goes by itself, an empty one (None, "") last."""
    wanted = sorted({u for u in usernames if u})
    keys = dict(session.execute(select(Person.username, Person.sort_key).where(Person.username.in_(wanted))).all()) \
        if wanted else {}
    ordered = sorted(wanted, key=lambda u: (keys.get(u) or sorting.sort_key(u), u))
    return ordered + [u for u in dict.fromkeys(usernames) if not u]


def in_chart_order(departments: Iterable) -> list:
    """Departments (anything with `id`, `parent_id`, `sort_key`) as the org chart lists them: each right after
    its parent, siblings in pinyin order of their names; one whose parent is not among them starts a tree."""
    rows = list(departments)
    ids = {row.id for row in rows}
    children: dict = {}
    for row in rows:
        children.setdefault(row.parent_id if row.parent_id in ids else None, []).append(row)
    for siblings in children.values():
        siblings.sort(key=lambda row: (row.sort_key, row.id), reverse=True)  # popped from the end
    ordered, stack = [], list(children.get(None, []))
    while stack:
        row = stack.pop()
        ordered.append(row)
        stack.extend(children.get(row.id, []))
    return ordered


def department_names(session: Session, codes, lang: str = "zh") -> dict[str, str]:
    """Department names by code in one query (see `_names_by`)."""
    return _names_by(session, Department.code, Department.name, Department.name_en, codes, lang)


def role_names(session: Session, keys, lang: str = "zh") -> dict[str, str]:
    """Role display names by key in one query (see `_names_by`)."""
    return _names_by(session, Role.key, Role.name, Role.name_en, keys, lang)


def role_choices(session: Session, lang: str = "zh") -> list[tuple[str, str]]:
    """Every role as (key, name in lang), by key: what a page offers when roles are chosen by name."""
    return [(key, (name_en if lang == "en" and name_en else name) or key)
            for key, name, name_en in session.execute(select(Role.key, Role.name, Role.name_en).order_by(Role.key))]
