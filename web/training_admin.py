"""HR's training pages (`/training/admin`): courses (list, create, edit with materials and the quiz),
assigning a course to people and departments, and the score table (考核成绩统计表) with its charts
and XLSX export. For the role `hr` and super admins; the rules are `engine.training`'s.
"""

from __future__ import annotations

from datetime import datetime, time
from urllib.parse import quote
from zoneinfo import ZoneInfo

import yaml
from flask import Blueprint, abort, current_app, make_response, redirect, render_template, request, url_for
from flask_babel import get_timezone
from flask_babel import gettext as _

from engine.config import load_settings
from engine.errors import LiaisonError, msg
from engine.runtime import uploads
from engine.training import assignments, courses, scores
from engine.training.courses import InvalidCourseError
from forms.files import UploadRefused, accepts, safe_name
from web.errors import status_for, translated

from .auth import current_account
from .files import file_store
from .i18n import current_language

bp = Blueprint("training_admin", __name__, url_prefix="/training/admin")
MAX_MATERIAL_BYTES = 20 * 1024 * 1024
COURSE_FIELDS = ("title", "title_en", "description", "description_en", "links", "quiz", "pass_mark",
                 "attempt_limit", "due_days", "grant_role")


def _sessions():
    return current_app.extensions["liaison_sessions"]


@bp.before_request
def _hr_only():
    user = current_account()
    if not courses.may_manage(user.groups, user.is_super_admin):
        abort(403)


@bp.get("/")
def courses_page():
    with _sessions()() as db:
        rows = courses.list_courses(db)
        role_names = dict(courses.role_choices(db, current_language()))  # roles by name, never by key
    return render_template("training/admin_courses.html", rows=rows, lang=current_language(), role_names=role_names)


def _form_values(course=None) -> dict:
    if course is None:
        return {"pass_mark": 80, "attempt_limit": 3, "due_days": 14, "materials": [], "quiz": "", "links": ""}
    quiz = [{k: v for k, v in q.items() if k not in ("type", "label", "required", "readonly")} for q in course.quiz]
    return {"title": course.title, "title_en": course.title_en, "description": course.description,
            "description_en": course.description_en, "pass_mark": course.pass_mark,
            "attempt_limit": course.attempt_limit, "due_days": course.due_days, "grant_role": course.grant_role or "",
            "materials": list(course.materials), "quiz": yaml.safe_dump(quiz, allow_unicode=True, sort_keys=False),
            "links": "\n".join(f"{link.get('label', '')} | {link['url']}" for link in course.links)}


def _editor(values: dict, course_id: int | None, error: str | None = None, status: int = 200):
    lang = current_language()
    with _sessions()() as db:
        roles = courses.role_choices(db, lang)
        materials = list(uploads.find(db, values.get("materials", [])).values())
    return render_template("training/admin_course.html", values=values, course_id=course_id, roles=roles,
                           materials=materials, error=error, lang=lang), status


@bp.get("/new")
def new_course():
    return _editor(_form_values(), None)


@bp.get("/<int:course_id>/edit")
def edit_course(course_id: int):
    with _sessions()() as db:
        try:
            course = courses.get_course(db, course_id)
        except LiaisonError:
            abort(404)
        values = _form_values(course)
    return _editor(values, course_id)


def _number(name: str, default: int) -> int:
    try:
        return int(request.form.get(name, default))
    except ValueError:
        return -1  # out of every range: the engine names the field


def _posted() -> dict:
    values = {name: request.form.get(name, "")[:100_000] for name in COURSE_FIELDS}
    kept = [i for i in request.form.getlist("materials") if i not in request.form.getlist("remove")]
    values["materials"] = uploads.clean_ids(kept)
    chosen = request.files.get("material")
    if chosen is not None and chosen.filename:
        allowed = current_app.config.get("LIAISON_UPLOAD_ACCEPT")
        if allowed and not accepts(allowed, safe_name(chosen.filename), None):
            raise InvalidCourseError(msg("`%(name)s` is not a file type that can be uploaded here",
                                         name=safe_name(chosen.filename)))
        try:
            ref = file_store().put(chosen.stream, chosen.filename, None, max_size=MAX_MATERIAL_BYTES)
        except UploadRefused as exc:
            raise InvalidCourseError(msg("the file is larger than %(size)s", size="20 MB")) from exc
        with _sessions()() as db, db.begin():
            uploads.record(db, ref.to_dict(), current_account().username)
        values["materials"].append(ref.id)
    return values


@bp.post("/new", endpoint="create_course")
@bp.post("/<int:course_id>/edit")
def save_course(course_id: int | None = None):
    """Save the course; a refusal shows the form again with everything typed (and the file kept)."""
    user = current_account()
    try:
        values = _posted()
    except LiaisonError as exc:
        return _editor({name: request.form.get(name, "") for name in COURSE_FIELDS}
                       | {"materials": request.form.getlist("materials")}, course_id, translated(exc), 400)
    try:
        data = courses.CourseInput(
            title=values["title"], title_en=values["title_en"], description=values["description"],
            description_en=values["description_en"], links=courses.parse_links(values["links"]),
            materials=values["materials"], quiz=courses.parse_quiz(values["quiz"]),
            pass_mark=_number("pass_mark", 80), attempt_limit=_number("attempt_limit", 3),
            due_days=_number("due_days", 14), grant_role=values["grant_role"] or None)
        with _sessions()() as db, db.begin():
            saved = courses.save_course(db, user.username, user.groups, user.is_super_admin, data, course_id)
    except LiaisonError as exc:
        return _editor(values, course_id, translated(exc), status_for(exc))
    return redirect(url_for("training_admin.assign_page", course_id=saved, saved=1), 303)


def _assign_page(course_id: int, error: str | None = None, result=None, status: int = 200):
    lang = current_language()
    with _sessions()() as db:
        try:
            course = courses.get_course(db, course_id)
        except LiaisonError:
            abort(404)
        departments = courses.department_choices(db, lang)
    return render_template("training/admin_assign.html", course=course, departments=departments, error=error,
                           result=result, form=request.form, lang=lang), status


@bp.get("/<int:course_id>/assign")
def assign_page(course_id: int):
    return _assign_page(course_id)


def _due_at(text: str) -> datetime | None:
    """A posted due day as 18:00 company time on that day; None for none."""
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        return datetime.min.replace(tzinfo=ZoneInfo("UTC"))  # in the past: refused by the engine
    return datetime.combine(day, time(18), ZoneInfo(load_settings().timezone))


@bp.post("/<int:course_id>/assign")
def assign(course_id: int):
    user = current_account()
    names = request.form.get("usernames", "")[:20_000].replace(",", " ").replace("，", " ").split()
    try:
        result = assignments.assign(_sessions(), user.username, user.groups, user.is_super_admin, course_id,
                                    usernames=names, departments=request.form.getlist("departments"),
                                    due_at=_due_at(request.form.get("due", "")))
    except LiaisonError as exc:
        return _assign_page(course_id, translated(exc), status=status_for(exc))
    return _assign_page(course_id, result=result)


def _filters() -> dict:
    course = request.args.get("course", "")
    return {"course_id": int(course) if course.isdigit() and len(course) < 10 else None,
            "department": request.args.get("department") or None,
            "outcome": request.args.get("outcome") if request.args.get("outcome") in scores.OUTCOMES else None}


@bp.get("/scores")
def scores_page():
    user, lang, filters = current_account(), current_language(), _filters()
    with _sessions()() as db:
        table = scores.score_table(db, user.groups, user.is_super_admin, lang=lang, **filters)
        course_list = courses.list_courses(db)
        departments = courses.department_choices(db, lang)
    return render_template("training/admin_scores.html", table=table, courses=course_list,
                           departments=departments, filters=filters, buckets=scores.BUCKETS, lang=lang)


@bp.get("/scores.xlsx")
def scores_export():
    user, lang = current_account(), current_language()
    with _sessions()() as db:
        table = scores.score_table(db, user.groups, user.is_super_admin, lang=lang, **_filters())
    response = make_response(scores.export_xlsx(table, lang, get_timezone()))
    response.headers["Content-Type"] = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    # filename*: the page's title in its language (RFC 6266); filename: an ASCII fallback for old clients
    response.headers["Content-Disposition"] = ('attachment; filename="training-scores.xlsx"; '
                                               f"filename*=UTF-8''{quote(_('Score table') + '.xlsx')}")
    return response


