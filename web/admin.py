"""Administration: people (scoped to the departments an admin holds), who may start which process in
those departments, and the org chart import.

Import is two steps: the upload is planned as a dry run and shown (counts, each row's error), and
its parsed rows are kept in a queued `org_import_job` row; "apply" runs that job in a background
thread of this process (`engine.org_import_jobs.run_job`: planned again and written in one
transaction) and sends the admin to a progress page polled by `static/org-import-progress.js`.
Roles (`/admin/roles`) and admin tiers (`/admin/admins`). Super admins only, except people and
process permissions, which department admins see for their departments.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from engine.errors import NotFoundError, UnreadableFileError, Username, msg
from engine.people import org_import, org_import_jobs, people_admin, roles, starting
from engine.work import queries
from web.errors import translated

from .auth import current_account, require_admin, require_super_admin
from .i18n import current_language

bp = Blueprint("admin", __name__, url_prefix="/admin")
log = logging.getLogger("liaison.web.admin")
PER_PAGE = 50
# what a preview row says changes: the plan's field keys as a person reads them (never `name_en`)
CHANGED_FIELDS = {"username": _l("Username"), "name": _l("Name"), "name_en": _l("English name"),
                  "email": _l("E-mail"), "employee_no": _l("Employee number"), "department": _l("Department"),
                  "position": _l("Position"), "manager": _l("Manager"), "active": _l("Active"),
                  "roles": _l("Roles"), "department_head": _l("Department head")}


def _sessions():
    return current_app.extensions["liaison_sessions"]


@bp.get("/")
@require_admin
def index():
    """People the admin may manage: everyone for a super admin, their departments' subtrees otherwise
    (the people list's own engine function: names and departments in the reader's language)."""
    user = current_account()
    query = request.args.get("q", "").strip()[:200]
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 10**9))
    with _sessions()() as db:
        rows, more = people_admin.list_people(db, user.username, query, page, PER_PAGE)
    return render_template("admin/index.html", rows=rows, more=more, page=page, q=query, lang=current_language())


@bp.get("/departments")
@require_admin
def departments():
    """The department tree the admin manages (read only): heads and active people, after an import too."""
    with _sessions()() as db:
        rows = people_admin.list_departments(db, current_account().username)
    return render_template("admin/departments.html", rows=rows, lang=current_language())


@bp.route("/org-import", methods=["GET", "POST"])
@require_super_admin
def org_import_page():
    """Upload a CSV/XLSX: a dry run is shown; nothing is written until it is applied."""
    if request.method == "GET":
        return render_template("admin/org_import.html", plan=None)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a CSV or XLSX file."), "error")
        return render_template("admin/org_import.html", plan=None), 400
    data = upload.read(org_import.MAX_FILE_BYTES + 1)
    name = Path(upload.filename).name
    try:
        table = org_import.read_org_bytes(data, name)
    except UnreadableFileError as exc:
        flash(f"{exc.path}: {translated(exc.reason)}", "error")
        return render_template("admin/org_import.html", plan=None), 400
    deactivate = request.form.get("deactivate_missing") == "1"
    with _sessions()() as db:
        plan = org_import.plan_import(db, table, deactivate_missing=deactivate)
    if not plan.ok:
        return render_template("admin/org_import.html", plan=plan, name=name), 422
    job_id = org_import_jobs.start_job(_sessions(), plan, table, current_account(), deactivate_missing=deactivate)
    return render_template("admin/org_import.html", plan=plan, name=name, job_id=job_id, fields=CHANGED_FIELDS)


def _run_import(sessions, job_id: int) -> None:
    """The body of an import's background thread (run_job records every failure in the job row)."""
    try:
        org_import_jobs.run_job(sessions, job_id)
    except Exception:  # noqa: BLE001 - recording the failure itself failed (database down): log it
        log.exception("org import job %s could not run", job_id)


@bp.post("/org-import/apply")
@require_super_admin
def org_import_apply():
    """Start the previewed job in a background thread; the progress page follows it."""
    job_id = request.form.get("job_id", type=int)
    if job_id is None:
        abort(400)
    job = org_import_jobs.job_status(_sessions(), job_id, current_account())  # someone else's: 404
    if job["status"] == org_import_jobs.QUEUED:
        threading.Thread(target=_run_import, args=(_sessions(), job_id), daemon=True,
                         name=f"org-import-{job_id}").start()
    return redirect(url_for("admin.org_import_progress", job_id=job_id), 303)


@bp.get("/org-import/progress/<int:job_id>")
@require_super_admin
def org_import_progress(job_id: int):
    """The job's progress bar (polled by a script; without one the page refreshes itself)."""
    job = org_import_jobs.job_status(_sessions(), job_id, current_account())
    return render_template("admin/org_import_progress.html", job=job)


@bp.get("/org-import/jobs/<int:job_id>")
@require_super_admin
def org_import_job(job_id: int):
    """The job as JSON: status, done, total, summary, error."""
    return jsonify(org_import_jobs.job_status(_sessions(), job_id, current_account()))


_SETTINGS = {"allow": True, "forbid": False, "inherit": None}


@bp.get("/processes")
@require_admin
def processes():
    """Per department the admin holds (`?department=<id>`): each process allowed, forbidden or inherited."""
    user = current_account()
    with _sessions()() as db:
        departments = starting.managed_departments(db, user.username)
        chosen = request.args.get("department", type=int)
        department = next((d for d in departments if d.id == chosen), departments[0] if departments else None)
        settings = starting.permissions_of(db, department.id) if department else {}
        rows = queries.list_processes(db) if department else []
    return render_template("admin/processes.html", departments=departments, department=department,
                           rows=rows, settings=settings, lang=current_language())


@bp.post("/processes")
@require_admin
def process_permission():
    """Set one process's setting for one department; the engine refuses departments the admin does not hold."""
    setting = request.form.get("setting", "")
    department_id = request.form.get("department_id", type=int)
    if setting not in _SETTINGS or department_id is None:
        abort(400)
    try:
        with _sessions()() as db, db.begin():
            starting.set_permission(db, current_account().username, request.form.get("process_key", ""),
                                    department_id, _SETTINGS[setting])  # NotPermittedError: 403
    except NotFoundError:
        abort(400)
    flash(_("Saved"), "ok")
    return redirect(url_for("admin.processes", department=department_id))


# -- roles and admin tiers (super admins only; the engine checks again) -------------------------------

def _role_error(exc: roles.RoleError) -> str:
    """The refusal in the reader's language, people by display name (the engine's message)."""
    return translated(exc)


def _change(action, done_message: str, back: str):
    """Run an engine change in a transaction; flash its outcome and go back to `back` (303)."""
    try:
        with _sessions()() as db, db.begin():
            action(db, current_account())
    except roles.RoleError as exc:
        flash(_role_error(exc), "error")
    else:
        flash(done_message, "ok")
    return redirect(back, 303)


@bp.get("/roles")
@require_super_admin
def roles_page():
    """Every role with its member count, and a form to create one."""
    with _sessions()() as db:
        rows = roles.list_roles(db, current_account())
    return render_template("admin/roles.html", rows=rows, lang=current_language())


@bp.post("/roles")
@require_super_admin
def role_create():
    form = request.form
    return _change(lambda db, user: roles.create_role(db, user, form.get("key", ""), form.get("name", ""),
                                                      form.get("name_en")),
                   _("Role created."), url_for("admin.roles_page"))


@bp.get("/roles/<int:role_id>")
@require_super_admin
def role_page(role_id: int):
    """A role: its names, its members (add, remove), and deleting it when nobody holds it."""
    with _sessions()() as db:
        role, members = roles.get_role(db, current_account(), role_id)  # NotFoundError: 404
    return render_template("admin/role.html", role=role, members=members, lang=current_language())


@bp.post("/roles/<int:role_id>/rename")
@require_super_admin
def role_rename(role_id: int):
    form = request.form
    return _change(lambda db, user: roles.rename_role(db, user, role_id, form.get("name", ""), form.get("name_en")),
                   _("Saved"), url_for("admin.role_page", role_id=role_id))


@bp.post("/roles/<int:role_id>/delete")
@require_super_admin
def role_delete(role_id: int):
    return _change(lambda db, user: roles.delete_role(db, user, role_id), _("Role deleted."),
                   url_for("admin.roles_page"))


@bp.post("/roles/<int:role_id>/members")
@require_super_admin
def role_add_member(role_id: int):
    username = request.form.get("username", "")
    return _change(lambda db, user: roles.add_member(db, user, role_id, username),
                   translated(msg("%(username)s added.", username=Username(username.strip()))), url_for("admin.role_page", role_id=role_id))


@bp.post("/roles/<int:role_id>/members/remove")
@require_super_admin
def role_remove_member(role_id: int):
    username = request.form.get("username", "")
    return _change(lambda db, user: roles.remove_member(db, user, role_id, username),
                   translated(msg("%(username)s removed.", username=Username(username.strip()))),
                   url_for("admin.role_page", role_id=role_id))


@bp.get("/admins")
@require_super_admin
def admins_page():
    """Super admins and department admins, with forms to grant and revoke."""
    with _sessions()() as db:
        tiers = roles.list_admins(db, current_account())
    return render_template("admin/admins.html", tiers=tiers, lang=current_language())


@bp.post("/admins")
@require_super_admin
def admin_grant():
    """Grant `tier` super (every department) or department (`department`: its code) to `username`."""
    form = request.form
    tier = form.get("tier", "")
    if tier not in ("super", "department"):
        abort(400)
    department = form.get("department", "").strip() if tier == "department" else None
    if tier == "department" and not department:
        flash(_("Choose the department."), "error")
        return redirect(url_for("admin.admins_page"), 303)
    return _change(lambda db, user: roles.grant_admin(db, user, form.get("username", ""), department),
                   _("Admin granted."), url_for("admin.admins_page"))


@bp.post("/admins/<int:grant_id>/revoke")
@require_super_admin
def admin_revoke(grant_id: int):
    return _change(lambda db, user: roles.revoke_admin(db, user, grant_id), _("Admin revoked."),
                   url_for("admin.admins_page"))
