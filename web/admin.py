"""Administration: people (scoped to the departments an admin holds), who may start which process in
those departments, and the org chart import.

Import is two steps: the upload is planned as a dry run and shown (counts, each row's error);
only "apply" writes, re-planning the same file inside the write transaction. Super admins only.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import or_, select

from engine import org_import, queries, starting
from engine.config import load_settings
from engine.errors import NotFoundError, UnreadableFileError
from engine.models import Department, Person

from .auth import current_account, require_admin, require_super_admin
from .i18n import current_language

bp = Blueprint("admin", __name__, url_prefix="/admin")
PER_PAGE = 50


def _sessions():
    return current_app.extensions["liaison_sessions"]


def _upload_dir() -> Path:
    folder = Path(current_app.config.get("LIAISON_UPLOAD_DIR") or load_settings().instance_dir / "uploads")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@bp.get("/")
@require_admin
def index():
    """People the admin may manage: everyone for a super admin, their departments' subtrees otherwise."""
    user = current_account()
    query = request.args.get("q", "").strip()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    with _sessions()() as db:
        people = select(Person, Department.name).outerjoin(Department, Department.id == Person.department_id)
        if not user.is_super_admin:
            paths = db.scalars(select(Department.path).where(Department.id.in_(user.admin_department_ids)))
            people = people.where(or_(*[Department.path.like(f"{path}%") for path in paths] or [False]))
        if query:
            like = f"%{query}%"
            people = people.where(or_(Person.username.ilike(like), Person.name.ilike(like),
                                      Person.email.ilike(like)))
        rows = db.execute(people.order_by(Person.username).limit(PER_PAGE + 1)
                          .offset((page - 1) * PER_PAGE)).all()
    return render_template("admin/index.html", rows=rows[:PER_PAGE], more=len(rows) > PER_PAGE, page=page,
                           q=query)


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
        flash(str(exc), "error")
        return render_template("admin/org_import.html", plan=None), 400
    deactivate = request.form.get("deactivate_missing") == "1"
    with _sessions()() as db:
        plan = org_import.plan_import(db, table, deactivate_missing=deactivate)
    if not plan.ok:
        session.pop("org_import", None)
        return render_template("admin/org_import.html", plan=plan, name=name), 422
    token = secrets.token_hex(16)
    (_upload_dir() / f"org-{token}").write_bytes(data)
    session["org_import"] = {"token": token, "name": name, "deactivate": deactivate,
                             "sha256": hashlib.sha256(data).hexdigest()}
    return render_template("admin/org_import.html", plan=plan, name=name)


@bp.post("/org-import/apply")
@require_super_admin
def org_import_apply():
    pending = session.pop("org_import", None)
    if not pending:
        abort(400)
    path = _upload_dir() / f"org-{pending['token']}"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        abort(400)
    finally:
        path.unlink(missing_ok=True)
    if hashlib.sha256(data).hexdigest() != pending["sha256"]:
        abort(400)
    table = org_import.read_org_bytes(data, pending["name"])
    with _sessions()() as db, db.begin():
        plan = org_import.plan_import(db, table, deactivate_missing=pending["deactivate"])
        if not plan.ok:  # the org chart changed since the preview: show the new problems
            return render_template("admin/org_import.html", plan=plan, name=pending["name"]), 409
        counts = org_import.apply_import(db, plan)
    flash(_("Imported: %(created)s new, %(updated)s updated.", created=counts.get("create", 0),
            updated=counts.get("update", 0)), "ok")
    return redirect(url_for("admin.index"))


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
