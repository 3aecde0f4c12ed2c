"""The directory as JSON for the pickers (`static/picker.js`): people and departments matching typed text.

`GET /directory/people?q=zh` and `GET /directory/departments?q=sa` answer a JSON list of at most 10
suggestions `{value, label, detail}`: `value` is what the picker posts (a username, a department
code), `label` the name in the page's language, `detail` a line under it: a person's department (never
the username: people are shown by display name, and two namesakes apart by department), a department's
code and parent. `GET /directory/people?names=a,b` shows values already
chosen, in that order, inactive people included (`active: false`). Signed-in people only (the
app-wide guard sends anyone else to the sign-in page); no e-mail or employee number is answered.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from engine.people import directory

from .i18n import current_language

bp = Blueprint("directory", __name__, url_prefix="/directory")

LIMIT = 10


def sessions():
    return current_app.extensions["liaison_sessions"]


def _person(hit: directory.PersonHit, lang: str) -> dict:
    return {"value": hit.username, "label": hit.label(lang), "detail": hit.department_label(lang),
            "active": hit.active}


def _department(hit: directory.DepartmentHit, lang: str) -> dict:
    parent = hit.parent_label(lang)
    return {"value": hit.code, "label": hit.label(lang),
            "detail": f"{hit.code} · {parent}" if parent else hit.code}


def _answer(items: list[dict]):
    response = jsonify(items)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/people")
def people():
    """People matching `q` (active only), or the people named in `names` (comma-separated)."""
    lang = current_language()
    names = request.args.get("names")
    with sessions()() as session:
        if names is not None:
            chosen = names.replace("，", ",").replace(",", " ").split()
            return _answer([_person(hit, lang) for hit in directory.display_people(session, chosen[:LIMIT])])
        hits = directory.search_people(session, request.args.get("q", ""), limit=LIMIT)
        return _answer([_person(hit, lang) for hit in hits])


@bp.get("/departments")
def departments():
    """Departments matching `q`."""
    lang = current_language()
    with sessions()() as session:
        hits = directory.search_departments(session, request.args.get("q", ""), limit=LIMIT)
        return _answer([_department(hit, lang) for hit in hits])
