"""Who may see and change what in task collaboration, decided here and nowhere else.

- See a project (its tasks, files, discussion, history): the project owner, its members - people named,
  people of a member department or any department below it, people holding a member role -, and
  everyone when the project's visibility is `company`.
- Add tasks and comment: whoever sees the project (a company-visible project too), while it is not archived.
- Change a task (status, fields, checklist, files, links): the task's owner, its collaborators and the
  project owner, while the project is not archived.
- Change the project itself (members, visibility, archive): its owner only.

Every refusal of something the viewer may not see is a NotFoundError, so nobody learns which ids exist.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.data.models import Department, Person
from engine.data.project_models import Project, ProjectMember, ProjectTask
from engine.errors import NotFoundError, NotPermittedError, msg
from engine.people import org


class Viewer:
    """A person as the rules see them: username, department path and role keys (read once)."""

    def __init__(self, session: Session, username: str):
        self.username = username
        person = session.scalar(select(Person).where(Person.username == username, Person.active))
        self.path = None
        if person is not None and person.department_id is not None:
            self.path = session.scalar(select(Department.path).where(Department.id == person.department_id))
        self.groups = org.groups_of(session, username) if person is not None else ()


def _member_clause(viewer: Viewer):
    """Project ids where the viewer is a member, as a subquery."""
    parts = [(ProjectMember.kind == "person") & (ProjectMember.ref == viewer.username)]
    if viewer.groups:
        parts.append((ProjectMember.kind == "role") & ProjectMember.ref.in_(viewer.groups))
    if viewer.path:
        ancestors = [f"/{'/'.join(viewer.path.strip('/').split('/')[:n])}/"
                     for n in range(1, viewer.path.strip("/").count("/") + 2)]
        codes = select(Department.code).where(Department.path.in_(ancestors))
        parts.append((ProjectMember.kind == "department") & ProjectMember.ref.in_(codes))
    return select(ProjectMember.project_id).where(or_(*parts))


def visible_clause(viewer: Viewer):
    """The WHERE clause of the projects the viewer sees (one query, no per-project checks)."""
    return or_(Project.owner == viewer.username, Project.visibility == "company",
               Project.id.in_(_member_clause(viewer)))


def may_see(session: Session, project: Project, viewer: Viewer) -> bool:
    """Whether the viewer sees the project and everything in it."""
    if project.owner == viewer.username or project.visibility == "company":
        return True
    return session.scalar(_member_clause(viewer).where(ProjectMember.project_id == project.id).limit(1)) is not None


def project_for(session: Session, project_id: int, viewer: Viewer) -> Project:
    """The project if the viewer sees it, else NotFoundError (the same for a missing one)."""
    project = session.get(Project, project_id)
    if project is None or not may_see(session, project, viewer):
        raise NotFoundError(msg("no project %(id)s", id=project_id))
    return project


def task_for(session: Session, task_id: int, viewer: Viewer) -> tuple[ProjectTask, Project]:
    """The task and its project if the viewer sees them, else NotFoundError."""
    task = session.get(ProjectTask, task_id)
    if task is None:
        raise NotFoundError(msg("no project task %(id)s", id=task_id))
    try:
        return task, project_for(session, task.project_id, viewer)
    except NotFoundError:
        raise NotFoundError(msg("no project task %(id)s", id=task_id)) from None


def check_open(project: Project) -> None:
    """NotPermittedError when the project is archived (read-only)."""
    if project.archived:
        raise NotPermittedError(msg("the project is archived and can no longer be changed"))


def may_change_task(project: Project, task: ProjectTask, username: str) -> bool:
    """Owner, collaborators and the project owner change a task of a project that is not archived."""
    return not project.archived and (username in (task.owner, project.owner) or username in (task.collaborators or []))


def check_change_task(project: Project, task: ProjectTask, username: str) -> None:
    """NotPermittedError unless the person may change the task."""
    check_open(project)
    if not may_change_task(project, task, username):
        raise NotPermittedError(msg("only the task's owner, its collaborators and the project owner may change it"))


def check_manage(project: Project, username: str) -> None:
    """NotPermittedError unless the person owns the project (members, visibility, archive)."""
    if project.owner != username:
        raise NotPermittedError(msg("only the project owner may change the project"))
