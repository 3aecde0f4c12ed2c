"""The inbox (to-do, done, drafts) and my requests: filters, search, paging, CSV export, claim,
batch approval.

Every list is the signed-in user's own (engine.inbox scopes each query); a task page is the work
blueprint's. Counts for the navigation come from `engine.inbox.counts` (one query).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import runtime
from engine.config import load_settings
from engine.errors import NotFoundError, NotPermittedError, TaskConflictError
from engine.people import org
from engine.runtime import operations
from engine.work import batch, drafts, inbox, queries

from .auth import current_account, safe_next
from .i18n import current_language

bp = Blueprint("inbox", __name__, url_prefix="/inbox")

PER_PAGE = 20
EXPORT_ROWS = 1000


def sessions():
    return current_app.extensions["liaison_sessions"]


def day_filter(name: str, end: bool = False) -> datetime | None:
    """A yyyy-mm-dd filter as an instant (the start of that day, or of the next one for `end`)."""
    try:
        day = datetime.strptime(request.args.get(name, ""), "%Y-%m-%d").date()
        day += timedelta(days=1 if end else 0)
        zone = ZoneInfo(load_settings().timezone)  # days begin at midnight in the company's zone
        return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)  # 0001-01-01 and 9999-12-31 too
    except (ValueError, OverflowError):
        return None  # not a day, or one past the calendar's ends: no filter


def list_filters() -> dict:
    return {"process": request.args.get("process") or None, "search": request.args.get("q") or None}


def page_number() -> int:
    return max(1, request.args.get("page", 1, type=int) or 1)


@bp.get("/")
def index():
    """To-do (default) or done, with filters; ?format=csv exports the filtered list."""
    user = current_account()
    if request.args.get("view") == "drafts":
        return drafts_page()
    if request.args.get("view") == "cc":
        return cc_page()
    view = "done" if request.args.get("view") == "done" else "todo"
    export = request.args.get("format") == "csv"
    page, per_page = (1, EXPORT_ROWS) if export else (page_number(), PER_PAGE)
    with sessions()() as session:
        if view == "done":
            result = inbox.done(session, user.username, **list_filters(), completed_from=day_filter("from"),
                                completed_to=day_filter("to", end=True), page=page, per_page=per_page)
        else:
            overdue = True if request.args.get("overdue") == "1" else None
            result = inbox.todo(session, user.username, user.groups, **list_filters(),
                                initiator=request.args.get("initiator") or None, overdue=overdue,
                                created_from=day_filter("from"), created_to=day_filter("to", end=True),
                                page=page, per_page=per_page)
        counts = navigation_counts(session)
        names = org.display_names(session, [u for item in result.items
                                            for u in (item.initiator, item.on_behalf_of)], current_language())
    if export:
        return csv_response(result.items, f"inbox-{view}.csv")
    return render_template("inbox/index.html", page=result, view=view, counts=counts, names=names,
                           lang=current_language(), args=filter_args())


def drafts_page():
    """The person's saved start forms, newest first, each to resume or delete."""
    user = current_account()
    lang = current_language()
    with sessions()() as session:
        items = drafts.list_drafts(session, user.username)
        names = {p["key"]: p["name"] or {} for p in queries.list_processes(session)}
        counts = navigation_counts(session)
    rows = [{"draft": item, "process": names.get(item.process_key, {}).get(lang)
             or next(iter(names.get(item.process_key, {}).values()), item.process_key)} for item in items]
    return render_template("inbox/index.html", view="drafts", drafts=rows, counts=counts, lang=lang,
                           args=filter_args(), page=None)


def cc_page():
    """Requests copied to the person (抄送), newest first; `?unread=1` keeps the unread ones."""
    user = current_account()
    lang = current_language()
    unread = request.args.get("unread") == "1"
    with sessions()() as session:
        result = operations.cc_for(session, user.username, unread_only=unread, page=page_number(), per_page=PER_PAGE)
        counts = navigation_counts(session)
        names = org.display_names(session, [u for item in result.items for u in (item.initiator, item.cc_by)], lang)
    return render_template("inbox/index.html", view="cc", page=result, counts=counts, names=names, lang=lang,
                           args=filter_args(), unread=unread)


@bp.post("/drafts/<int:draft_id>/delete")
def delete_draft(draft_id: int):
    with sessions()() as session, session.begin():
        drafts.delete_draft(session, current_account().username, draft_id)  # NotFoundError: 404
    flash(_("Draft deleted."), "success")
    return redirect(url_for("inbox.index", view="drafts"))


BATCH_REASONS = {
    "not_found": lambda: _("not found, or not yours to complete"),
    "no_approval": lambda: _("its form has no approve choice; open it to decide"),
    "invalid": lambda: _("its form needs more than an approval; open it to complete it"),
    "conflict": lambda: _("someone else completed it first"),
    "failed": lambda: _("a step of the process failed, nothing was saved"),
    "too_many": lambda: _("too many tasks selected at once"),
}


@bp.post("/batch")
def batch_approve():
    """Approve every selected task the person may act on whose form offers "approved: yes"."""
    user = current_account()
    selected = request.form.getlist("task")
    if not selected:
        flash(_("Select the tasks to approve first."), "error")
        return redirect(url_for("inbox.index"))
    outcomes = batch.approve_tasks(sessions(), selected, user.username, user.groups, lang=current_language())
    approved = [o for o in outcomes if o.ok]
    if approved:
        flash(_("Approved %(count)d task(s): %(names)s", count=len(approved),
                names=", ".join(o.name for o in approved)), "success")
    for outcome in outcomes:
        if not outcome.ok:
            reason = BATCH_REASONS.get(outcome.reason)
            flash(_("Not approved: %(task)s — %(reason)s", task=outcome.name or outcome.task_id,
                    reason=reason() if reason else outcome.reason), "error")
    return redirect(url_for("inbox.index"))


@bp.post("/tasks/<task_id>/claim")
def claim(task_id: str):
    user = current_account()
    try:
        runtime.claim_task(sessions(), task_id, user.username, user.groups)
        flash(_("The task is yours now."), "ok")
    except TaskConflictError as exc:
        flash(str(exc), "error")
    except (NotPermittedError, NotFoundError):
        # the same answer whether the task does not exist or is not offered to this person
        flash(_("This task is not available to you."), "error")
    return redirect(safe_next(request.form.get("next"), url_for("inbox.index")))


def csv_response(items, filename: str, requests: bool = False) -> Response:
    """The list as CSV: UTF-8 with a byte order mark (Excel then reads Chinese right), for every export."""
    text = inbox.export_csv(items, lang=current_language(), requests=requests)
    return Response(text, mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def filter_args() -> dict:
    """The list's filters from the query string, for links that keep them (export, paging): never
    `format` or `page`, which those links set themselves."""
    return {k: v for k, v in request.args.items() if k not in ("format", "page")}


def page_url(number: int) -> str:
    """The current list with another page number."""
    args = {k: v for k, v in request.args.items() if k != "page"}
    return url_for(request.endpoint, page=number, **args)


@bp.app_context_processor
def _navigation_counts():
    """`inbox_counts` for the top bar (to-do and overdue), only for signed-in pages."""
    return {"inbox_counts": navigation_counts, "page_url": page_url}


def navigation_counts(session=None) -> dict:
    """The signed-in user's inbox counts, queried once per request however many places show them."""
    if "inbox_counts" not in g:
        user = current_account()
        if user is None:
            return {}
        if session is None:
            with sessions()() as own:
                g.inbox_counts = inbox.counts(own, user.username, user.groups)
        else:
            g.inbox_counts = inbox.counts(session, user.username, user.groups)
    return g.inbox_counts
