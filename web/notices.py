"""Policy notices and surveys for people (`/notices`): one's notices, a notice's page (opening it records the
read; acknowledge; answer its questionnaire), and for its sender and super admins the read receipts (per
department, the unread, "remind the unread") and the questionnaire's results (charts, XLSX).

Views are thin: every rule (who sees what, the throttle, the answer's checks) is in `engine.notices`.
Notices are composed through the `policy_notice` and `needs_survey` process packages (their start forms).
"""

from __future__ import annotations

import io
from dataclasses import replace

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from engine.errors import FormInvalidError, LiaisonError, NotFoundError, NotPermittedError
from engine.notices import receipts, sending, surveys
from engine.people.org import display_names
from engine.runtime import uploads
from forms.build import FormContext
from forms.schema import load_schema
from web.errors import form_errors, translated

from .auth import current_account
from .files import send_upload
from .i18n import current_language
from .work import editable_form

bp = Blueprint("notices", __name__, url_prefix="/notices")
UNREAD_PER_PAGE = 100


def _sessions():
    return current_app.extensions["liaison_sessions"]


@bp.app_context_processor
def _instance_link() -> dict:
    """`notice_of_instance(id)` for the request page: the notice that request sent, for its sender."""
    def notice_of_instance(instance_id: int):
        user = current_account()
        if user is None:
            return None
        with _sessions()() as session:
            return receipts.notice_of_instance(session, instance_id, user.username)

    return {"notice_of_instance": notice_of_instance}


@bp.get("/")
def index():
    """The notices one received (newest first) and those one sent, with their fan-out progress."""
    user, lang = current_account(), current_language()
    page_number = max(1, request.args.get("page", 1, type=int) or 1)
    with _sessions()() as session:
        received = receipts.my_notices(session, user.username, page=page_number)
        sent = receipts.sent_notices(session, user.username)
        names = display_names(session, {n.sender for n, *_ in received.items}, lang)
    return render_template("notices/index.html", received=received, sent=sent, names=names, lang=lang)


@bp.get("/all")
def all_notices():
    """Every notice with its sender and fan-out progress (super admins; linked from the admin page)."""
    user, lang = current_account(), current_language()
    page_number = max(1, request.args.get("page", 1, type=int) or 1)
    with _sessions()() as session:
        page = receipts.all_notices(session, user.username, page_number)
        names = display_names(session, {n.sender for n in page.items}, lang)
    return render_template("notices/all.html", page=page, names=names, lang=lang)


def _survey_form(session, view, lang: str, formdata=None, errors=None):
    """The questionnaire as a form of the forms engine, or None (no survey, not a recipient, answered)."""
    if view.survey_id is None or not view.is_recipient:
        return None, False
    survey = session.get(surveys.Survey, view.survey_id)
    person_id = surveys.notice_survey(session, view.id, current_account().username)[1]
    if surveys.has_answered(session, survey.id, person_id):
        return None, True
    schema = load_schema(surveys.form_schema(survey))
    return editable_form(schema, FormContext(lang=lang), formdata, errors), False


def _show(notice_id: int, formdata=None, errors=None, problem: str | None = None, status: int = 200):
    user, lang = current_account(), current_language()
    with _sessions()() as session, session.begin():
        view = receipts.open_notice(session, notice_id, user.username)
        form, answered = _survey_form(session, view, lang, formdata, errors)
        anonymous = bool(view.survey_id and session.get(surveys.Survey, view.survey_id).anonymous)
        sender = display_names(session, [view.sender], lang).get(view.sender, view.sender)
        progress = sending.progress(session, notice_id) if view.may_see_receipts else None
    return render_template("notices/show.html", view=view, form=form, answered=answered, anonymous=anonymous,
                           sender=sender, progress=progress, problem=problem, ack_text=sending.ACK_TEXT[lang],
                           lang=lang), status


@bp.get("/<int:notice_id>")
def show(notice_id: int):
    """The notice; the first opening by a recipient records the read."""
    return _show(notice_id)


@bp.post("/<int:notice_id>")
def answer(notice_id: int):
    """Answer the notice's questionnaire (once). Refused answers come back with each question's error."""
    user, lang = current_account(), current_language()
    try:
        with _sessions()() as session, session.begin():
            surveys.answer_notice(session, notice_id, user.username, MultiDict(request.form), lang)
    except FormInvalidError as exc:
        return _show(notice_id, MultiDict(request.form), form_errors(exc), status=422)
    except NotFoundError:
        abort(404)
    except LiaisonError as exc:
        return _show(notice_id, problem=translated(exc), status=409)
    flash(_("Thank you: your answers are saved."), "success")
    return redirect(url_for(".show", notice_id=notice_id))


@bp.post("/<int:notice_id>/acknowledge")
def acknowledge(notice_id: int):
    """Record "I have read and understood"."""
    try:
        with _sessions()() as session, session.begin():
            receipts.acknowledge(session, notice_id, current_account().username)
    except NotFoundError:
        abort(404)
    except LiaisonError as exc:
        return _show(notice_id, problem=translated(exc), status=409)
    flash(_("Confirmed: you have read and understood this notice."), "success")
    return redirect(url_for(".show", notice_id=notice_id))


@bp.get("/<int:notice_id>/files/<file_id>")
def attachment(notice_id: int, file_id: str):
    """One of the notice's attachments, to those who may see the notice (its uploads belong to the instance
    that composed it, whose page recipients may not open); 404 for anyone else."""
    with _sessions()() as session:
        try:
            receipts.attachment(session, notice_id, current_account().username, file_id)
        except NotFoundError:
            abort(404)
        found = uploads.get(session, file_id)
    if found is None:
        abort(404)
    return send_upload(found)


@bp.get("/<int:notice_id>/receipts")
def receipts_page(notice_id: int, problem: str | None = None, status: int = 200):
    """Read / unread / acknowledged per department, the unread people, the reminder button."""
    user, lang = current_account(), current_language()
    page_number = max(1, request.args.get("page", 1, type=int) or 1)
    with _sessions()() as session:
        result = receipts.receipts(session, user.username, notice_id, lang)
        unread = receipts.unread_people(session, user.username, notice_id, lang, page_number, UNREAD_PER_PAGE)
        reminded_by = display_names(session, [result.notice.reminded_by], lang) if result.notice.reminded_by else {}
    # recipients in no department are one row the engine names "—": say so, as the dashboards do
    departments = [replace(d, name=_("No department")) if d.id is None else d for d in result.departments]
    top = [d for d in departments if d.depth <= 1] or departments
    return render_template("notices/receipts.html", r=result, departments=departments, notice=result.notice,
                           unread=unread, top=top,
                           reminded_by=reminded_by.get(result.notice.reminded_by or ""), problem=problem,
                           lang=lang), status


@bp.post("/<int:notice_id>/remind")
def remind(notice_id: int):
    """Remind the unread (one background job; not twice within an hour)."""
    try:
        with _sessions()() as session, session.begin():
            receipts.request_reminder(session, current_account().username, notice_id)
    except NotFoundError:
        abort(404)
    except NotPermittedError:
        abort(403)
    except LiaisonError as exc:
        return receipts_page(notice_id, problem=translated(exc), status=409)
    flash(_("The reminder is being sent to everyone who has not read the notice yet."), "success")
    return redirect(url_for(".receipts_page", notice_id=notice_id))


@bp.get("/<int:notice_id>/results")
def results(notice_id: int):
    """The questionnaire's results: a chart and a table per question, the open answers."""
    user, lang = current_account(), current_language()
    with _sessions()() as session:
        notice = surveys.notice_survey(session, notice_id, user.username, for_results=True)[0]
        survey, responses, questions = surveys.results(session, notice.survey_id, lang)
        delivered = sending.progress(session, notice_id)[0]
    return render_template("notices/results.html", notice=notice, survey=survey, responses=responses,
                           questions=questions, delivered=delivered, lang=lang)


@bp.get("/<int:notice_id>/results.xlsx")
def results_xlsx(notice_id: int):
    """The results as an XLSX file."""
    user, lang = current_account(), current_language()
    with _sessions()() as session:
        notice = surveys.notice_survey(session, notice_id, user.username, for_results=True)[0]
        data = surveys.export_xlsx(session, notice.survey_id, lang)
    return send_file(io.BytesIO(data), as_attachment=True, download_name=f"survey-{notice_id}.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", max_age=0)
