"""The admin's people list (`/admin/people`): search, paging, and per person a link to set a password
(invitation or reset), deactivate / reactivate, move department, change manager.

Thin views over `engine.people.people_admin` and `engine.people.invitations`, which decide who may
do what (a super admin everyone; a department admin the people of their subtrees). An issued link is
shown once on the page that issued it and never again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.config import load_settings
from engine.errors import NotFoundError, NotPermittedError
from engine.people import accounts, invitations, people_admin

from .auth import current_account, require_admin
from .errors import translated
from .i18n import current_language

bp = Blueprint("people_admin", __name__, url_prefix="/admin/people")
PER_PAGE = 50


def _sessions():
    return current_app.extensions["liaison_sessions"]


def _now() -> datetime:
    return datetime.now(UTC)


def _refusal(exc: Exception) -> str:
    if isinstance(exc, people_admin.PeopleAdminError):
        return translated(exc)  # the engine's message, people by display name
    if isinstance(exc, NotPermittedError):
        return _("You may not change this person, or not in that way.")
    if isinstance(exc, NotFoundError):
        return _("No such department.")
    if isinstance(exc, accounts.AccountInactiveError):
        return _("This account is deactivated. Reactivate it first.")
    return translated(exc)


@bp.get("/")
@require_admin
def index():
    """The people the admin manages, by name, 50 a page, searchable."""
    query = request.args.get("q", "").strip()[:200]
    page = request.args.get("page", 1, type=int) or 1
    with _sessions()() as db:
        rows, more = people_admin.list_people(db, current_account().username, query, page, PER_PAGE)
    page = max(1, min(page, 10**9))
    return render_template("admin/people.html", rows=rows, more=more, page=page, q=query, lang=current_language())


@bp.get("/<int:person_id>")
@require_admin
def person(person_id: int):
    """One person: who they are, and the forms to change them."""
    with _sessions()() as db:
        row = people_admin.get_person(db, current_account().username, person_id)  # NotFoundError: 404
        roles = people_admin.roles_of(db, row.id, current_language())
    return render_template("admin/person.html", row=row, roles=roles, lang=current_language())


def _change(person_id: int, action):
    """Run one change on the person in a transaction; flash the outcome; back to their page (303)."""
    with _sessions()() as db:
        row = people_admin.get_person(db, current_account().username, person_id)  # NotFoundError: 404
    try:
        with _sessions()() as db, db.begin():
            action(db, row.username)
    except (people_admin.PeopleAdminError, NotPermittedError, NotFoundError, accounts.AccountError) as exc:
        flash(_refusal(exc), "error")
    else:
        flash(_("Saved"), "success")
    return redirect(url_for("people_admin.person", person_id=person_id), 303)


@bp.post("/<int:person_id>/active")
@require_admin
def set_active(person_id: int):
    active = request.form.get("active")
    if active not in ("0", "1"):
        abort(400)
    actor = current_account().username
    return _change(person_id, lambda db, username: people_admin.set_active(db, actor, username, active == "1", _now()))


@bp.post("/<int:person_id>/department")
@require_admin
def move_department(person_id: int):
    code = request.form.get("department", "").strip()[:100]
    actor = current_account().username
    return _change(person_id, lambda db, username: people_admin.move_department(db, actor, username, code, _now()))


@bp.post("/<int:person_id>/manager")
@require_admin
def set_manager(person_id: int):
    manager = request.form.get("manager", "").strip()[:100]
    actor = current_account().username
    return _change(person_id, lambda db, username: people_admin.set_manager(db, actor, username, manager, _now()))


@bp.post("/<int:person_id>/link")
@require_admin
def issue_link(person_id: int):
    """Issue an invitation or reset link: e-mailed when the person has an address, shown here once."""
    actor = current_account().username
    with _sessions()() as db:
        row = people_admin.get_person(db, actor, person_id)  # NotFoundError: 404
    try:
        with _sessions()() as db, db.begin():
            issued = invitations.issue(db, actor, row.username, _now(), load_settings().base_url)
    except (NotPermittedError, accounts.AccountError) as exc:
        flash(_refusal(exc), "error")
        return redirect(url_for("people_admin.person", person_id=person_id), 303)
    return render_template("admin/person_link.html", row=row, issued=issued, lang=current_language())
