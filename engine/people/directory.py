"""The directory behind the people and department pickers: find people and departments as one types.

`search_people` and `search_departments` are one query each, on SQLite and PostgreSQL alike: the
typed text, lower-cased, is matched as a prefix of the identifiers (username, employee number,
e-mail; department code) and anywhere in the names (Chinese and English), case-insensitively.
Exact identifier matches come first, then prefixes, then the rest, each in pinyin order of the names
(`engine.data.sorting`).

Indexes: an exact username, e-mail or employee number is an equality on a unique column; the
prefix and contains matches of a few letters cannot use a B-tree (`lower(...) LIKE '%zh%'`), so
they read the `person` table, which at 10,000 people takes a few milliseconds; the LIMIT keeps the
answer small. `display_people` is one `IN` query on the unique `username` index.

Only active people are found (an inactive one cannot receive a task); `display_people` shows
whoever is named, with their `active` flag, since a chosen value may have left since.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from sqlalchemy import ColumnElement, case, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from engine.data.models import Department, Person
from engine.people.org import within

MAX_LIMIT = 50
MAX_QUERY = 100  # characters of the typed text that are matched; nobody types more


@dataclass(frozen=True)
class PersonHit:
    """One person as a picker shows them: `username` is the value posted."""

    username: str
    name: str
    name_en: str | None
    department: str | None
    department_en: str | None
    active: bool = True

    def label(self, lang: str = "zh") -> str:
        """The display name in `lang` (the English name on English pages when there is one)."""
        return (self.name_en if lang == "en" and self.name_en else self.name) or self.username

    def department_label(self, lang: str = "zh") -> str:
        """The department's name in `lang`, or "" when the person has none."""
        return (self.department_en if lang == "en" and self.department_en else self.department) or ""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DepartmentHit:
    """One department as a picker shows it: `code` is the value posted."""

    code: str
    name: str
    name_en: str | None
    parent: str | None
    parent_en: str | None

    def label(self, lang: str = "zh") -> str:
        return (self.name_en if lang == "en" and self.name_en else self.name) or self.code

    def parent_label(self, lang: str = "zh") -> str:
        return (self.parent_en if lang == "en" and self.parent_en else self.parent) or ""

    def as_dict(self) -> dict:
        return asdict(self)


def _normalized(query: str | None) -> str:
    return " ".join((query or "").split())[:MAX_QUERY].lower()


def _like_escaped(text: str) -> str:
    """`text` with LIKE's wildcards taken literally (escape character `\\`)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _starts(column, text: str) -> ColumnElement[bool]:
    return func.lower(column).like(_like_escaped(text) + "%", escape="\\")


def _contains(column, text: str) -> ColumnElement[bool]:
    return func.lower(column).like("%" + _like_escaped(text) + "%", escape="\\")


def _limit(limit: int) -> int:
    return max(1, min(int(limit), MAX_LIMIT))


def search_people(session: Session, query: str | None, limit: int = 10,
                  scope: int | str | None = None) -> list[PersonHit]:
    """Active people whose username, employee number or e-mail starts with `query`, or whose name
    (Chinese or English) or username contains it; best matches first, at most `limit` (capped at 50).

    `scope`, a department id or code, keeps only the people of that department's subtree.
    An empty query finds nobody.
    """
    text = _normalized(query)
    if not text:
        return []
    exact = or_(func.lower(Person.username) == text, func.lower(Person.employee_no) == text,
                func.lower(Person.email) == text)
    prefix = or_(_starts(Person.username, text), _starts(Person.employee_no, text), _starts(Person.email, text),
                 _starts(Person.name, text), _starts(Person.name_en, text))
    contains = or_(_contains(Person.username, text), _contains(Person.name, text), _contains(Person.name_en, text))
    rank = case((exact, literal(0)), (prefix, literal(1)), else_=literal(2))
    statement = (select(Person.username, Person.name, Person.name_en, Department.name, Department.name_en)
                 .outerjoin(Department, Department.id == Person.department_id)
                 .where(Person.active, or_(prefix, contains))
                 .order_by(rank, Person.sort_key, Person.username).limit(_limit(limit)))
    if scope is not None:
        root = aliased(Department)
        root_path = select(root.path).where(root.id == scope if isinstance(scope, int) else root.code == scope)
        statement = statement.where(within(Department.path, root_path.scalar_subquery()))
    return [PersonHit(username, name, name_en, department, department_en)
            for username, name, name_en, department, department_en in session.execute(statement)]


def search_departments(session: Session, query: str | None, limit: int = 10) -> list[DepartmentHit]:
    """Departments whose code starts with `query` or whose name (Chinese or English) contains it,
    with their parent's name; best matches first, at most `limit` (capped at 50)."""
    text = _normalized(query)
    if not text:
        return []
    parent = aliased(Department)
    exact = func.lower(Department.code) == text
    prefix = or_(_starts(Department.code, text), _starts(Department.name, text), _starts(Department.name_en, text))
    contains = or_(_contains(Department.name, text), _contains(Department.name_en, text))
    rank = case((exact, literal(0)), (prefix, literal(1)), else_=literal(2))
    statement = (select(Department.code, Department.name, Department.name_en, parent.name, parent.name_en)
                 .outerjoin(parent, parent.id == Department.parent_id)
                 .where(or_(prefix, contains))
                 .order_by(rank, Department.sort_key, Department.code).limit(_limit(limit)))
    return [DepartmentHit(*row) for row in session.execute(statement)]


def display_people(session: Session, usernames: Iterable[str]) -> list[PersonHit]:
    """The people named by `usernames` (active or not), in the order given; unknown names are left out."""
    wanted = list(dict.fromkeys(u.strip() for u in usernames if u and u.strip()))[:MAX_LIMIT]
    if not wanted:
        return []
    statement = (select(Person.username, Person.name, Person.name_en, Department.name, Department.name_en,
                        Person.active)
                 .outerjoin(Department, Department.id == Person.department_id)
                 .where(Person.username.in_(wanted)))
    found = {row[0]: PersonHit(*row) for row in session.execute(statement)}
    return [found[u] for u in wanted if u in found]
