"""Projects: create one (name, description, owner, members as people / department subtrees / roles,
visibility), change its members and visibility, archive it (read-only, still readable), list the ones a
person sees, and the people who may be mentioned or own a task (everyone who sees it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.data.models import Department, Person, PersonRole, Role, utcnow
from engine.data.project_models import Project, ProjectHistory, ProjectMember
from engine.errors import InvalidTaskDataError, Username, msg
from engine.people import org
from engine.projects import access
from engine.projects.access import Viewer

VISIBILITIES = ("members", "company")
NAME_LIMIT = 200


class InvalidProjectError(InvalidTaskDataError):
    """A project or task that cannot be saved; the message names the field and the problem."""


@dataclass
class ProjectInput:
    """What a person fills in to create or change a project."""

    name: str
    description: str = ""
    people: list[str] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    visibility: str = "members"


def _clean(values) -> list[str]:
    if isinstance(values, str):
        values = values.replace("，", ",").split(",")
    return list(dict.fromkeys(v.strip() for v in values or () if v and v.strip()))


def _check(session: Session, data: ProjectInput) -> ProjectInput:
    name = (data.name or "").strip()
    if not name or len(name) > NAME_LIMIT:
        raise InvalidProjectError(msg("a project needs a name of 1 to %(n)s characters", n=NAME_LIMIT))
    if data.visibility not in VISIBILITIES:
        raise InvalidProjectError(msg("visibility must be members or company"))
    people, departments, roles = _clean(data.people), _clean(data.departments), _clean(data.roles)
    known = set(session.scalars(select(Person.username).where(Person.username.in_(people), Person.active)))
    if missing := [p for p in people if p not in known]:
        raise InvalidProjectError(msg("no active person has the username %(names)s", names=", ".join(missing)))
    known = set(session.scalars(select(Department.code).where(Department.code.in_(departments))))
    if missing := [d for d in departments if d not in known]:
        raise InvalidProjectError(msg("no department has the code `%(code)s`", code=", ".join(missing)))
    known = set(session.scalars(select(Role.key).where(Role.key.in_(roles))))
    if missing := [r for r in roles if r not in known]:
        raise InvalidProjectError(msg("no role has the key `%(key)s`", key=", ".join(missing)))
    return ProjectInput(name, (data.description or "").strip()[:20000], people, departments, roles, data.visibility)


def create_project(session: Session, actor: str, data: ProjectInput) -> int:
    """A new project owned by `actor` (the caller commits); InvalidProjectError saves nothing."""
    data = _check(session, data)
    project = Project(name=data.name, description=data.description, owner=actor, visibility=data.visibility,
                      archived=False, created_by=actor, created_at=utcnow())
    session.add(project)
    session.flush()
    _set_members(session, project.id, data)
    session.add(ProjectHistory(project_id=project.id, actor=actor, action="project_created",
                               detail={"name": data.name, "visibility": data.visibility}, at=utcnow()))
    return project.id


def _set_members(session: Session, project_id: int, data: ProjectInput) -> None:
    session.execute(delete(ProjectMember).where(ProjectMember.project_id == project_id))
    session.add_all([ProjectMember(project_id=project_id, kind=kind, ref=ref)
                     for kind, refs in (("person", data.people), ("department", data.departments),
                                        ("role", data.roles)) for ref in refs])


def update_project(session: Session, actor: str, project_id: int, data: ProjectInput) -> None:
    """Change name, description, members and visibility (the owner only, not while archived)."""
    project = access.project_for(session, project_id, Viewer(session, actor))
    access.check_manage(project, actor)
    access.check_open(project)
    data = _check(session, data)
    project.name, project.description, project.visibility = data.name, data.description, data.visibility
    _set_members(session, project_id, data)
    session.add(ProjectHistory(project_id=project_id, actor=actor, action="project_changed",
                               detail={"name": data.name, "visibility": data.visibility}, at=utcnow()))


def set_archived(session: Session, actor: str, project_id: int, archived: bool) -> None:
    """Archive (read-only) or restore the project; the owner only."""
    project = access.project_for(session, project_id, Viewer(session, actor))
    access.check_manage(project, actor)
    project.archived = bool(archived)
    session.add(ProjectHistory(project_id=project_id, actor=actor,
                               action="archived" if archived else "restored", detail={}, at=utcnow()))


def projects_for(session: Session, username: str, include_archived: bool = True) -> list[Project]:
    """The projects the person sees, open ones first, newest first (one query)."""
    query = select(Project).where(access.visible_clause(Viewer(session, username)))
    if not include_archived:
        query = query.where(Project.archived.is_(False))
    return list(session.scalars(query.order_by(Project.archived, Project.id.desc())))


def members_of(session: Session, project_id: int) -> dict[str, list[str]]:
    """The member entries by kind: {"person": [...], "department": [...], "role": [...]}."""
    found: dict[str, list[str]] = {"person": [], "department": [], "role": []}
    for kind, ref in session.execute(select(ProjectMember.kind, ProjectMember.ref)
                                     .where(ProjectMember.project_id == project_id).order_by(ProjectMember.ref)):
        found.setdefault(kind, []).append(ref)
    return found


def member_people(session: Session, project: Project) -> list[Person]:
    """Every active person who is a member (or the owner): the people a task may go to or mention.
    For a company-visible project this is still the member list, not the whole company."""
    entries = members_of(session, project.id)
    names = set(entries["person"]) | {project.owner}
    for code in entries["department"]:
        names |= {p.username for p in org.members(session, code, include_subdepartments=True)}
    if entries["role"]:
        names |= set(session.scalars(select(Person.username).join(PersonRole, PersonRole.person_id == Person.id)
                                     .join(Role, Role.id == PersonRole.role_id).where(Role.key.in_(entries["role"]))))
    return list(session.scalars(select(Person).where(Person.username.in_(names), Person.active)
                                .order_by(Person.sort_key, Person.username)))


def check_assignable(session: Session, project: Project, usernames) -> None:
    """InvalidProjectError unless each person is an active person who sees the project."""
    for username in usernames:
        person = session.scalar(select(Person).where(Person.username == username, Person.active))
        if person is None or not access.may_see(session, project, Viewer(session, username)):
            raise InvalidProjectError(msg("%(person)s is not a member of this project", person=Username(username)))
