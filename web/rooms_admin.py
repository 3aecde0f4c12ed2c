"""Rooms for super admins (`/admin/rooms/`): the list, a form to add or change one (name zh/en, seats,
equipment, location, who may book, approval). The checks are `engine.resources.rooms.save_room`'s (the
same as `liaison rooms import`); a refusal keeps what was typed and says which field is wrong.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.errors import LiaisonError, NotFoundError
from engine.people.org import department_names, display_names, role_names
from engine.resources import rooms

from .auth import require_super_admin
from .errors import translated
from .i18n import current_language

bp = Blueprint("rooms_admin", __name__, url_prefix="/admin/rooms")
FIELDS = ("key", "name", "name_en", "capacity", "equipment", "location", "departments", "roles",
          "needs_approval", "approver", "approver_role", "active")


def _sessions():
    return current_app.extensions["liaison_sessions"]


def _as_form(room) -> dict:
    bookers = room.bookers or {}
    return {"key": room.key, "name": room.name, "name_en": room.name_en or "", "capacity": str(room.capacity),
            "equipment": ", ".join(room.equipment or []), "location": room.location or "",
            "departments": ", ".join(bookers.get("departments") or []), "roles": ", ".join(bookers.get("roles") or []),
            "needs_approval": room.needs_approval, "approver": room.approver or "",
            "approver_role": room.approver_role or "", "active": room.active}


@bp.get("/")
@require_super_admin
def index():
    with _sessions()() as db:
        found = rooms.list_rooms(db, include_inactive=True)
        lang = current_language()
        names = display_names(db, {room.approver for room in found if room.approver}, lang)
        roles = role_names(db, {key for room in found for key in (room.bookers or {}).get("roles", [])}
                           | {room.approver_role for room in found if room.approver_role}, lang)
        departments = department_names(db, {c for room in found for c in (room.bookers or {}).get("departments", [])},
                                       lang)
    bookers = {room.key: [departments.get(c, c) for c in (room.bookers or {}).get("departments", [])]
               + [roles.get(k, k) for k in (room.bookers or {}).get("roles", [])] for room in found}
    return render_template("admin/rooms.html", rooms=found, names=names, roles=roles, bookers=bookers)


@bp.get("/edit")
@require_super_admin
def edit():
    """The form: empty for a new room, filled for `?key=`."""
    key = request.args.get("key")
    form = {"capacity": "6", "active": True}
    if key:
        with _sessions()() as db:
            try:
                form = _as_form(rooms.get_room(db, key))
            except NotFoundError:
                return redirect(url_for("rooms_admin.index"))
    return render_template("admin/room_edit.html", form=form, existing=bool(key), error=None)


@bp.post("/edit")
@require_super_admin
def save():
    posted = {name: request.form.get(name, "").strip() for name in FIELDS}
    posted["needs_approval"] = request.form.get("needs_approval") == "on"
    posted["active"] = request.form.get("active") == "on"
    data = {**posted, "bookers": {"departments": posted["departments"], "roles": posted["roles"]}}
    try:
        with _sessions()() as db, db.begin():
            rooms.save_room(db, data)
    except LiaisonError as exc:
        return render_template("admin/room_edit.html", form=posted, existing=request.form.get("existing") == "1",
                               error=translated(exc)), 422
    name = posted["name_en"] if current_language() == "en" and posted["name_en"] else posted["name"]
    flash(_("Room %(key)s saved.", key=name or posted["key"]), "ok")  # by its name, as the list shows it
    return redirect(url_for("rooms_admin.index"), 303)
