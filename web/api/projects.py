"""Projects and their tasks over the API (issue 20): the same engine functions as the project pages
(`engine.projects`), so the same rules hold: a project only for who sees it (404 for anyone else), a task
changed only by its owner, collaborators and the project owner, a status change through the task's instance."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from engine.projects import access, discussion, projects, tasks, views
from engine.projects.access import Viewer
from engine.projects.life import STATUSES
from engine.projects.projects import ProjectInput
from engine.projects.tasks import PRIORITIES, TaskInput

from .core import endpoint, identity, sessions


class ProjectBody(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="")
    people = fields.List(fields.String(), load_default=list, metadata={"description": "usernames"})
    departments = fields.List(fields.String(), load_default=list, metadata={"description": "codes (with subtrees)"})
    roles = fields.List(fields.String(), load_default=list, metadata={"description": "role keys"})
    visibility = fields.String(load_default="members", validate=validate.OneOf(("members", "company")))


class TaskBody(Schema):
    title = fields.String(required=True)
    owner = fields.String(required=True, metadata={"description": "a username of a member"})
    description = fields.String(load_default="", metadata={"description": "markdown (raw HTML is shown as text)"})
    collaborators = fields.List(fields.String(), load_default=list)
    priority = fields.String(load_default="normal", validate=validate.OneOf(PRIORITIES))
    labels = fields.List(fields.String(), load_default=list)
    start_on = fields.Date(load_default=None, allow_none=True)
    due_at = fields.AwareDateTime(load_default=None, allow_none=True)
    parent_id = fields.Integer(load_default=None, allow_none=True)
    waiting_instance_id = fields.Integer(load_default=None, allow_none=True, metadata={
        "description": "a running instance (with a business key) that waits for `project_tasks_done`"})


class TaskChanges(Schema):
    title = fields.String()
    owner = fields.String(metadata={"description": "a member's username: the task (and its inbox entry) goes to them"})
    description = fields.String()
    collaborators = fields.List(fields.String())
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    labels = fields.List(fields.String())
    start_on = fields.Date(allow_none=True)
    due_at = fields.AwareDateTime(allow_none=True)


class MoveBody(Schema):
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))


class CommentBody(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class TaskQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    owner = fields.String(load_default=None)
    label = fields.String(load_default=None)
    due = fields.String(load_default=None, metadata={"description": "week, month or a date YYYY-MM-DD"})
    overdue = fields.Boolean(load_default=False)
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))


class ProjectOut(Schema):
    class Meta:
        unknown = "include"

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    owner = fields.String(required=True)
    visibility = fields.String(required=True)
    archived = fields.Boolean(required=True)


class TaskOut(Schema):
    class Meta:
        unknown = "include"

    id = fields.Integer(required=True)
    project_id = fields.Integer(required=True)
    title = fields.String(required=True)
    owner = fields.String(required=True)
    status = fields.String(required=True)
    due_at = fields.String(allow_none=True)


def _project(p) -> dict:
    return {"id": p.id, "name": p.name, "description": p.description, "owner": p.owner, "visibility": p.visibility,
            "archived": p.archived, "created_at": p.created_at.isoformat()}


def _task(t) -> dict:
    return {"id": t.id, "project_id": t.project_id, "parent_id": t.parent_id, "title": t.title,
            "description": t.description, "owner": t.owner, "collaborators": t.collaborators, "status": t.status,
            "priority": t.priority, "labels": t.labels, "checklist": t.checklist,
            "start_on": t.start_on.isoformat() if t.start_on else None,
            "due_at": t.due_at.isoformat() if t.due_at else None, "done_at": t.done_at.isoformat() if t.done_at else None,
            "life_instance_id": t.life_instance_id}


def _me() -> str:
    return identity().user.username


@endpoint("GET", "/projects", scope="read", response=ProjectOut, many=True, tags=["projects"])
def list_projects():
    """The projects the token's person sees, open ones first."""
    with sessions()() as session:
        return [_project(p) for p in projects.projects_for(session, _me())]


@endpoint("POST", "/projects", scope="work", body=ProjectBody, response=ProjectOut, status=201, tags=["projects"])
def create_project(body: dict):
    """Create a project owned by the token's person (members: people, departments with subtrees, roles)."""
    with sessions()() as session, session.begin():
        project_id = projects.create_project(session, _me(), ProjectInput(**body))
    with sessions()() as session:
        return _project(access.project_for(session, project_id, Viewer(session, _me())))


@endpoint("GET", "/projects/<int:project_id>", scope="read", response=ProjectOut, tags=["projects"])
def get_project(project_id: int):
    """One project with its member entries and its summary counts (404 for who does not see it)."""
    with sessions()() as session:
        project = access.project_for(session, project_id, Viewer(session, _me()))
        summary = views.summary(views.tasks_of(session, project_id))
        return {**_project(project), "members": projects.members_of(session, project_id), "counts": summary.counts,
                "overdue": [t.id for t in summary.overdue]}


@endpoint("GET", "/projects/<int:project_id>/tasks", scope="read", query=TaskQuery, response=TaskOut, many=True,
          tags=["projects"])
def list_project_tasks(project_id: int, args: dict):
    """The project's tasks (subtasks too), with the list page's filters: owner, label, due, overdue, status."""
    with sessions()() as session:
        access.project_for(session, project_id, Viewer(session, _me()))
        return [_task(t) for t in views.filtered(views.tasks_of(session, project_id), views.TaskFilter(**args))]


@endpoint("POST", "/projects/<int:project_id>/tasks", scope="work", body=TaskBody, response=TaskOut, status=201,
          tags=["projects"])
def create_project_task(project_id: int, body: dict):
    """Add a task (its `project_task` instance starts at once); `waiting_instance_id` names a process that
    goes on when all tasks naming it are done."""
    waiting = body.pop("waiting_instance_id")
    task_id = tasks.create_task(sessions(), _me(), project_id, TaskInput(**body), waiting_instance_id=waiting)
    return get_project_task.__wrapped__(task_id)


@endpoint("GET", "/project-tasks/<int:task_id>", scope="read", response=TaskOut, tags=["projects"])
def get_project_task(task_id: int):
    """A task with its comments, files and history (404 for who does not see its project)."""
    with sessions()() as session:
        task, _project_row = access.task_for(session, task_id, Viewer(session, _me()))
        return {**_task(task), "links": tasks.visible_links(session, task, _me()),
                "comments": [{"id": c.id, "author": c.author, "body": c.body, "mentions": c.mentions,
                              "created_at": c.created_at.isoformat()} for c in discussion.comments_of(session, task_id)],
                "files": [{"id": f.id, "name": f.name, "size": f.size, "added_by": f.added_by}
                          for f in tasks.files_of(session, task_id)],
                "history": [{"actor": h.actor, "action": h.action, "detail": h.detail, "at": h.at.isoformat()}
                            for h in tasks.history_of(session, task_id)]}


@endpoint("PATCH", "/project-tasks/<int:task_id>", scope="work", body=TaskChanges, response=TaskOut, tags=["projects"])
def update_project_task(task_id: int, body: dict):
    """Change a task's fields (its owner, collaborators or the project owner may); each change is in its
    history. A new owner or due date restarts the task's instance (inbox entry, reminder, escalation)."""
    tasks.update_task(sessions(), _me(), task_id, body)
    return get_project_task.__wrapped__(task_id)


@endpoint("POST", "/project-tasks/<int:task_id>/move", scope="work", body=MoveBody, response=TaskOut, tags=["projects"])
def move_project_task(task_id: int, body: dict):
    """Move a task to another status through its instance (done / cancelled -> open reopens it); 409 when
    the move cannot follow the current status."""
    tasks.move_task(sessions(), _me(), task_id, body["status"])
    return get_project_task.__wrapped__(task_id)


@endpoint("POST", "/project-tasks/<int:task_id>/comments", scope="work", body=CommentBody, status=201,
          tags=["projects"])
def comment_project_task(task_id: int, body: dict):
    """Comment on a task; members it mentions (@username or @name) get an in-app notification."""
    return {"id": discussion.add_comment(sessions(), _me(), task_id, body["body"])}
