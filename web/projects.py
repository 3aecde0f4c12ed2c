"""Task collaboration (`/projects`): the projects one sees and creating one; a project's board (drag with
SortableJS, or the keyboard-usable move buttons), list with filters and CSV / XLSX export, calendar by due
date and summary (counts, overdue, burn-down); a task's page (fields, checklist, subtasks, files, linked
instances, discussion with @mentions, history).

Views are thin: every rule (who sees and changes what, a status change through the task's instance) is
`engine.projects`'s. A refused post shows the page again with the reason and the refusal's 4xx status.
"""

from __future__ import annotations

from datetime import date, datetime, time

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_timezone
from flask_babel import gettext as _

from engine.errors import LiaisonError, NotFoundError
from engine.people.org import department_names, display_names, role_choices
from engine.projects import access, discussion, export, projects, tasks, views
from engine.projects.access import Viewer
from engine.projects.life import MOVES, STATUSES
from engine.projects.projects import ProjectInput
from engine.projects.tasks import PRIORITIES, TaskInput
from engine.runtime import uploads
from forms.render import markdown
from web.errors import status_for, translated

from .auth import current_account
from .files import posted_attachments, send_upload
from .i18n import current_language

bp = Blueprint("projects", __name__, url_prefix="/projects")
VIEWS = ("board", "list", "calendar", "summary")


def _sessions():
    return current_app.extensions["liaison_sessions"]


@bp.app_context_processor
def _helpers() -> dict:
    return {"task_markdown": markdown, "task_statuses": STATUSES, "task_moves": MOVES}


def _words(value: str | None) -> list[str]:
    return [w.strip() for w in (value or "").replace("，", ",").split(",") if w.strip()]


def _due(value: str | None) -> datetime | None:
    """A posted due date (YYYY-MM-DD, the end of that day in the reader's zone) or due time."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value) if "T" in value else datetime.combine(date.fromisoformat(value), time(18))
    except ValueError:
        abort(400)
    if moment.tzinfo:
        return moment
    zone = get_timezone()  # a pytz zone: `localize`, since `replace` would take its first (LMT) offset
    return zone.localize(moment) if hasattr(zone, "localize") else moment.replace(tzinfo=zone)


# -- projects --------------------------------------------------------------------------------------------

@bp.get("/")
def index(problem: str | None = None, status: int = 200):
    user = current_account()
    with _sessions()() as session:
        rows = projects.projects_for(session, user.username)
        names = display_names(session, {p.owner for p in rows}, current_language())
        choices = _member_choices(session, {})
    return render_template("projects/index.html", rows=rows, names=names, problem=problem,
                           given=request.form, **choices), status


def _member_choices(session, members: dict) -> dict:
    """What the member fields show: every role by name (a checklist) and the names of the departments
    already chosen (the department picker's labels)."""
    lang = current_language()
    return {"role_choices": role_choices(session, lang),
            "department_labels": department_names(session, members.get("department") or [], lang)}


@bp.post("/")
def create():
    user, form = current_account(), request.form
    data = ProjectInput(name=form.get("name", ""), description=form.get("description", ""),
                        people=_words(form.get("people")), departments=_words(form.get("departments")),
                        roles=_words(",".join(form.getlist("roles"))), visibility=form.get("visibility", "members"))
    try:
        with _sessions()() as session, session.begin():
            project_id = projects.create_project(session, user.username, data)
    except LiaisonError as exc:
        return index(translated(exc), status_for(exc))
    flash(_("The project is created."), "success")
    return redirect(url_for("projects.show", project_id=project_id))


def _filter() -> views.TaskFilter:
    args = request.args
    return views.TaskFilter(owner=args.get("owner") or None, label=args.get("label") or None,
                            due=args.get("due") or None, overdue=args.get("overdue") == "1",
                            status=args.get("status") if args.get("status") in STATUSES else None)


@bp.get("/<int:project_id>")
def show(project_id: int, problem: str | None = None, status: int = 200):
    user, lang, tz = current_account(), current_language(), get_timezone()
    view = request.args.get("view") if request.args.get("view") in VIEWS else "board"
    with _sessions()() as session:
        try:
            project = access.project_for(session, project_id, Viewer(session, user.username))
        except NotFoundError:
            abort(404)
        all_tasks = views.tasks_of(session, project_id)
        people = projects.member_people(session, project)
        members = projects.members_of(session, project_id)
        names = display_names(session, {p.username for p in people} | {t.owner for t in all_tasks}, lang)
        choices = _member_choices(session, members)
        session.expunge_all()
    today = datetime.now(tz)
    year = request.args.get("year", today.year, type=int)
    month = min(12, max(1, request.args.get("month", today.month, type=int)))
    how = _filter()
    summary = views.summary(all_tasks)
    context = {"project": project, "view": view, "names": names, "people": people, "members": members,
               "board": views.board([t for t in all_tasks if t.parent_id is None]),
               "listed": views.filtered(all_tasks, how), "how": how,
               "labels": sorted({label for t in all_tasks for label in t.labels or []}),
               "month": views.month_of(all_tasks, year, month, tz), "summary": summary,
               "burn_remaining": ["" if v is None else v for v in summary.remaining],
               "is_overdue": lambda t: views.is_overdue(t, datetime.now(tz)), "priorities": PRIORITIES,
               "is_owner": project.owner == user.username, "problem": problem, "given": request.form,
               **choices}
    return render_template("projects/project.html", **context), status


@bp.post("/<int:project_id>/tasks")
def add_task(project_id: int):
    user, form = current_account(), request.form
    data = TaskInput(title=form.get("title", ""), owner=form.get("owner") or user.username,
                     description=form.get("description", ""), collaborators=_words(form.get("collaborators")),
                     priority=form.get("priority", "normal"), labels=_words(form.get("labels")),
                     start_on=date.fromisoformat(form["start_on"]) if form.get("start_on") else None,
                     due_at=_due(form.get("due")), parent_id=form.get("parent_id", type=int))
    try:
        project_task_id = tasks.create_task(_sessions(), user.username, project_id, data)
    except NotFoundError:
        abort(404)
    except LiaisonError as exc:
        if data.parent_id:
            return task_page(data.parent_id, translated(exc), status_for(exc))
        return show(project_id, translated(exc), status_for(exc))
    flash(_("The task is added."), "success")
    if data.parent_id:
        return redirect(url_for("projects.task_page", project_task_id=data.parent_id))
    return redirect(url_for("projects.show", project_id=project_id, view=request.args.get("view", "board"),
                            _anchor=f"task-{project_task_id}"))


@bp.post("/<int:project_id>/settings")
def settings(project_id: int):
    user, form = current_account(), request.form
    try:
        with _sessions()() as session, session.begin():
            if "archive" in form:
                projects.set_archived(session, user.username, project_id, form["archive"] == "1")
            else:
                projects.update_project(session, user.username, project_id, ProjectInput(
                    name=form.get("name", ""), description=form.get("description", ""),
                    people=_words(form.get("people")), departments=_words(form.get("departments")),
                    roles=_words(",".join(form.getlist("roles"))), visibility=form.get("visibility", "members")))
    except NotFoundError:
        abort(404)
    except LiaisonError as exc:
        return show(project_id, translated(exc), status_for(exc))
    flash(_("The project is saved."), "success")
    return redirect(url_for("projects.show", project_id=project_id, view="summary"))


@bp.get("/<int:project_id>/export.<kind>")
def export_list(project_id: int, kind: str):
    if kind not in ("csv", "xlsx"):
        abort(404)
    user, lang = current_account(), current_language()
    with _sessions()() as session:
        try:
            project = access.project_for(session, project_id, Viewer(session, user.username))
        except NotFoundError:
            abort(404)
        listed = views.filtered(views.tasks_of(session, project_id), _filter())
        names = display_names(session, {t.owner for t in listed}, lang)
        table = export.rows(listed, names, lang, get_timezone())
    body = export.to_csv(table) if kind == "csv" else export.to_xlsx(table)
    response = make_response(body)
    response.headers["Content-Type"] = ("text/csv; charset=utf-8" if kind == "csv" else
                                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response.headers["Content-Disposition"] = f"attachment; filename=project-{project.id}-tasks.{kind}"
    return response


# -- tasks -----------------------------------------------------------------------------------------------

@bp.get("/tasks/<int:project_task_id>")
def task_page(project_task_id: int, problem: str | None = None, status: int = 200):
    user, lang = current_account(), current_language()
    with _sessions()() as session:
        try:
            task, project = access.task_for(session, project_task_id, Viewer(session, user.username))
        except NotFoundError:
            abort(404)
        comments = discussion.comments_of(session, project_task_id)
        history = tasks.history_of(session, project_task_id)
        files = tasks.files_of(session, project_task_id)
        subtasks = tasks.subtasks_of(session, project_task_id)
        links = tasks.visible_links(session, task, user.username)
        people = projects.member_people(session, project)
        parent = session.get(type(task), task.parent_id) if task.parent_id else None
        who = {task.owner, *task.collaborators, *(c.author for c in comments), *(h.actor for h in history),
               *(str(h.detail.get(k)) for h in history if h.detail.get("field") == "owner" for k in ("old", "new")),
               *(s.owner for s in subtasks), *(p.username for p in people)}
        names = display_names(session, who, lang)
        may_change = access.may_change_task(project, task, user.username)
        session.expunge_all()
    return render_template("projects/task.html", task=task, project=project, comments=comments, history=history,
                           files=files, subtasks=subtasks, linked=links, names=names, people=people, parent=parent,
                           may_change=may_change, priorities=PRIORITIES, problem=problem, given=request.form,
                           overdue=views.is_overdue(task, datetime.now(get_timezone()))), status


def _act(project_task_id: int, action, done: str, back: str | None = None):
    """Run an engine call for the task; a refusal shows the task page again with the reason."""
    try:
        action(current_account().username)
    except NotFoundError:
        abort(404)
    except LiaisonError as exc:
        if request.accept_mimetypes.best == "application/json":
            return jsonify({"error": translated(exc)}), status_for(exc)
        return task_page(project_task_id, translated(exc), status_for(exc))
    if request.accept_mimetypes.best == "application/json":
        return jsonify({"ok": True})
    flash(done, "success")
    return redirect(back or url_for("projects.task_page", project_task_id=project_task_id))


@bp.post("/tasks/<int:project_task_id>/move")
def move(project_task_id: int):
    status = request.form.get("status", "")
    back = request.form.get("back")
    back = back if back and back.startswith("/projects/") else None
    return _act(project_task_id, lambda u: tasks.move_task(_sessions(), u, project_task_id, status), _("The task is moved."), back)


@bp.post("/tasks/<int:project_task_id>/edit")
def edit(project_task_id: int):
    form = request.form
    changes = {"title": form.get("title", ""), "description": form.get("description", ""),
               "collaborators": form.getlist("collaborators"), "priority": form.get("priority", "normal"),
               "labels": _words(form.get("labels")), "due_at": _due(form.get("due")),
               "start_on": date.fromisoformat(form["start_on"]) if form.get("start_on") else None}
    if form.get("owner"):
        changes["owner"] = form["owner"]
    return _act(project_task_id, lambda u: tasks.update_task(_sessions(), u, project_task_id, changes), _("The task is saved."))


@bp.post("/tasks/<int:project_task_id>/checklist")
def checklist(project_task_id: int):
    form = request.form
    items = [{"text": text, "done": str(i) in form.getlist("done")}
             for i, text in enumerate(form.getlist("item"))]
    if form.get("new", "").strip():
        items.append({"text": form["new"], "done": False})
    return _act(project_task_id, lambda u: tasks.set_checklist(_sessions(), u, project_task_id, items), _("The checklist is saved."))


@bp.post("/tasks/<int:project_task_id>/comments")
def comment(project_task_id: int):
    body = request.form.get("body", "")
    return _act(project_task_id, lambda u: discussion.add_comment(_sessions(), u, project_task_id, body), _("The comment is posted."))


@bp.post("/tasks/<int:project_task_id>/files")
def add_files(project_task_id: int):
    user = current_account()
    ids, problem = posted_attachments(request.form.get("attachments"), user.username)
    if problem:
        return task_page(project_task_id, problem, 422)
    if not ids:
        return task_page(project_task_id, _("Choose a file to upload."), 422)
    return _act(project_task_id, lambda u: tasks.add_files(_sessions(), u, project_task_id, ids), _("The files are attached."))


@bp.post("/tasks/<int:project_task_id>/links")
def link(project_task_id: int):
    instance_id = request.form.get("instance_id", type=int)
    if not instance_id:
        return task_page(project_task_id, _("Enter the number of a request you can see."), 422)
    return _act(project_task_id, lambda u: tasks.link_instance(_sessions(), u, project_task_id, instance_id), _("The request is linked."))


@bp.get("/files/<int:file_id>")
def download(file_id: int):
    """A task's file, to whoever sees the task; 404 for anyone else."""
    with _sessions()() as session:
        try:
            row = tasks.file_for(session, file_id, current_account().username)
        except NotFoundError:
            abort(404)
        found = uploads.get(session, row.upload_id)
    if found is None:
        abort(404)
    return send_upload(found)

