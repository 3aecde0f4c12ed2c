"""Vendor selection's pages (processes/vendor_selection): the list of selections one may see, a
selection's ranking (table and bar chart) with the buyer's recommendation, and a scorer's score sheet
(one number per vendor and criterion). Every rule lives in `engine.work.vendor_scoring`; the inbox's task
links for these steps lead here (`work.TASK_PAGES`).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.errors import InvalidTaskDataError, LiaisonError, NotFoundError, NotPermittedError
from engine.people import org
from engine.work import vendor_scoring

from . import work
from .auth import current_account
from .errors import translated
from .i18n import current_language

bp = Blueprint("vendor_scores", __name__)


def _sessions():
    return work.sessions()


@bp.get("/vendor-selection")
def index():
    """The vendor selections the person may see, newest first."""
    account = current_account()
    with _sessions()() as session:
        rows = vendor_scoring.selections(session, account.username, account.groups, account.is_super_admin)
        people = org.display_names(session, {r["initiator"] for r in rows if r["initiator"]}, current_language())
    return render_template("vendor/index.html", rows=rows, people=people, when=work.when)


@bp.get("/vendor-selection/<int:instance_id>")
def selection(instance_id: int, recommend_error: str = "", status: int = 200):
    """A selection's ranking: the weighted totals averaged over the scorers, as a table and a bar chart;
    the buyer's recommendation form while that step is theirs."""
    account = current_account()
    with _sessions()() as session:
        if not work._may_view(session, instance_id):
            abort(404)
        try:
            result = vendor_scoring.ranking(session, instance_id)
        except NotFoundError:
            abort(404)
        recommend_task = vendor_scoring.open_task(session, instance_id, vendor_scoring.RECOMMEND_NODE)
        score_task = next((t for t in vendor_scoring.open_tasks(session, instance_id, vendor_scoring.SCORE_NODE) if t.assignee == account.username),
                          None)
        people = org.display_names(session, {*result.scored_by, *result.waiting_for}, current_language())
    may_recommend = recommend_task is not None and recommend_task.assignee == account.username
    return render_template("vendor/selection.html", instance_id=instance_id, result=result,
                           scored_names=[people.get(u, u) for u in result.scored_by],
                           waiting_names=[people.get(u, u) for u in result.waiting_for],
                           recommend_task=recommend_task if may_recommend else None, score_task=score_task,
                           recommend_error=recommend_error), status


@bp.post("/vendor-selection/tasks/<task_id>/recommend")
def recommend(task_id: str):
    """The buyer recommends one of the candidates; it goes to the manager's approval."""
    account = current_account()
    with _sessions()() as session:
        try:
            task = vendor_scoring.get_task(session, task_id)
        except NotFoundError:
            abort(404)
    try:
        vendor_scoring.recommend(_sessions(), task_id, account.username, request.form.get("vendor", ""),
                                 request.form.get("reason", ""), account.groups, current_language())
    except NotPermittedError:
        abort(403)
    except InvalidTaskDataError as exc:
        return selection(task.instance_id, recommend_error=translated(exc), status=422)
    except LiaisonError as exc:
        flash(translated(exc), "error")
        return redirect(url_for("vendor_scores.selection", instance_id=task.instance_id))
    flash(_("Your recommendation was sent for approval."), "success")
    return redirect(url_for("vendor_scores.selection", instance_id=task.instance_id))


@bp.route("/vendor-selection/tasks/<task_id>/scores", methods=["GET", "POST"])
def score_sheet(task_id: str):
    """A scorer's sheet: one whole number from 0 to 100 per vendor and criterion; a refused sheet comes back
    with each wrong cell marked and what was typed kept."""
    account = current_account()
    with _sessions()() as session:
        try:
            sheet = vendor_scoring.sheet_of(session, task_id, account.username, account.groups)
        except NotFoundError:
            abort(404)
        if not sheet["may_act"] and not work._may_view(session, sheet["task"].instance_id):
            abort(404)
    errors, values, status = {}, {f"v{v}c{c}": s for (v, c), s in sheet["saved"].items()}, 200
    if request.method == "POST":
        values = {key: value for key, value in request.form.items() if key.startswith("v")}
        try:
            vendor_scoring.submit_scores(_sessions(), task_id, account.username, values, account.groups,
                                         request.form.get("comment") or None, current_language())
        except NotPermittedError:
            abort(403)
        except vendor_scoring.ScoreSheetError as exc:
            errors = {key: [translated(m) for m in messages] for key, messages in exc.errors.items()}
            status = 422
        except LiaisonError as exc:
            flash(translated(exc), "error")
            status = 409
        else:
            flash(_("Your scores were saved."), "success")
            return redirect(url_for("vendor_scores.selection", instance_id=sheet["task"].instance_id))
    return render_template("vendor/scores.html", sheet=sheet, setup=sheet["setup"], values=values,
                           errors=errors), status


def _task_page(task) -> str | None:
    """Where the inbox's link to a vendor selection step leads."""
    if task.element_id == vendor_scoring.SCORE_NODE:
        return url_for("vendor_scores.score_sheet", task_id=task.id)
    if task.element_id == vendor_scoring.RECOMMEND_NODE:
        return url_for("vendor_scores.selection", instance_id=task.instance_id)
    return None


work.TASK_PAGES[vendor_scoring.PROCESS] = _task_page
work.INSTANCE_PAGES[vendor_scoring.PROCESS] = lambda instance_id: (
    _("Vendor ranking"), url_for("vendor_scores.selection", instance_id=instance_id))
