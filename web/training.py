"""Training for everyone (`/training`): my courses, taking a course's quiz (one attempt at a time; the
answer key only in the graded result after submitting), past attempts, certificates as PDF, and the
course materials. The rules are `engine.training`'s; HR's pages are `web/training_admin.py`.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, make_response, render_template, request, send_file

from engine.errors import LiaisonError, NotFoundError
from engine.runtime import uploads
from engine.training import assignments, attempts, certificates, courses
from web.errors import status_for, translated

from .auth import current_account
from .files import file_store
from .i18n import current_language, when

bp = Blueprint("training", __name__, url_prefix="/training")


def _sessions():
    return current_app.extensions["liaison_sessions"]


@bp.app_template_filter("training_when")
def training_when(value) -> str:
    """A stored moment in the reader's time zone and language, or a dash."""
    return when(value) if value else "—"


@bp.app_context_processor
def _helpers() -> dict:
    """`may_manage_training()` for the home page's Apps list."""
    def may_manage_training() -> bool:
        user = current_account()
        return bool(user) and courses.may_manage(user.groups, user.is_super_admin)
    return {"may_manage_training": may_manage_training, "answer_text": courses.answer_text}


@bp.get("/")
def index():
    user = current_account()
    with _sessions()() as db:
        rows = []
        for assignment, course in assignments.my_assignments(db, user.username):
            done = attempts.attempts_of(db, assignment.id)
            rows.append((assignment, course, done))
    return render_template("training/index.html", rows=rows, lang=current_language(),
                           may_manage=courses.may_manage(user.groups, user.is_super_admin))


def _course_page(assignment_id: int, outcome=None, error: str | None = None, given=None, status: int = 200):
    user, lang = current_account(), current_language()
    with _sessions()() as db:
        try:
            assignment = assignments.assignment_of(db, assignment_id, user.username)
        except NotFoundError:
            abort(404)
        course = courses.get_course(db, assignment.course_id)
        done = attempts.attempts_of(db, assignment_id)
        task_open = attempts.open_task_id(db, assignment) is not None
        materials = list(uploads.find(db, course.materials).values())
        certificate = certificates.certificate_of(db, assignment_id)
    may_take = (task_open and assignment.status == "open" and len(done) < course.attempt_limit and outcome is None)
    return render_template("training/course.html", assignment=assignment, course=course, attempts=done,
                           questions=courses.questions_for_taker(course) if may_take else [], may_take=may_take,
                           outcome=outcome, error=error, given=given or {}, materials=materials,
                           certificate=certificate, lang=lang), status


@bp.get("/<int:assignment_id>")
def course(assignment_id: int):
    return _course_page(assignment_id)


def _posted_answers(assignment_id: int) -> dict:
    with _sessions()() as db:
        try:
            course = courses.get_course(db, assignments.assignment_of(db, assignment_id, current_account().username)
                                        .course_id)
        except NotFoundError:
            abort(404)
    given = {}
    for question in course.quiz:
        name = question["name"]
        values = [v[:500] for v in request.form.getlist(name)]
        given[name] = values if question.get("kind") == "multiple" else (values[0] if values else None)
    return given


@bp.post("/<int:assignment_id>")
def submit(assignment_id: int):
    """Grade the posted answers; a refusal shows the page again with what was typed."""
    user = current_account()
    given = _posted_answers(assignment_id)
    try:
        outcome = attempts.submit_attempt(_sessions(), user.username, tuple(user.groups), assignment_id, given)
    except LiaisonError as exc:
        return _course_page(assignment_id, error=translated(exc), given=given, status=status_for(exc))
    return _course_page(assignment_id, outcome=outcome)


@bp.get("/certificates/<int:certificate_id>.pdf")
def certificate(certificate_id: int):
    """The certificate as PDF, for its holder and for HR and admins."""
    user = current_account()
    with _sessions()() as db:
        try:
            view = certificates.certificate_view(db, certificate_id, user.username, user.groups,
                                                 user.is_super_admin)
        except NotFoundError:
            abort(404)
    response = make_response(certificates.certificate_pdf(view))
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{view.serial}.pdf"'
    response.headers["Cache-Control"] = "no-store, private"
    return response


@bp.get("/courses/<int:course_id>/materials/<file_id>")
def material(course_id: int, file_id: str):
    """A course's file, for the people assigned to it and for HR; 404 for anyone else."""
    user = current_account()
    with _sessions()() as db:
        try:
            found = courses.material(db, course_id, file_id, user.username, user.groups, user.is_super_admin)
        except NotFoundError:
            abort(404)
    try:
        handle = file_store().open({"id": found.id})
    except (KeyError, OSError):
        abort(404)
    response = send_file(handle, mimetype="application/octet-stream", as_attachment=True,
                         download_name=found.name, max_age=0)
    response.headers["Cache-Control"] = "no-store, private"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


