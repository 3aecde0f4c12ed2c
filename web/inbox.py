"""The inbox (to-do, done, drafts) and my requests: filters, search, paging, CSV export, claim,
batch approval.

Every list is the signed-in user's own (engine.inbox scopes each query); a task page is the work
blueprint's. Counts for the navigation come from `engine.inbox.counts` (one query).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import runtime
from engine.caching import BoundedCache
from engine.config import load_settings
from engine.errors import NotFoundError, NotPermittedError, TaskConflictError
from engine.external.display import actor_names
from engine.people import org
from engine.work import batch, drafts, inbox, queries, summary
from forms.build import FormContext
from forms.render import display
from forms.schema import label_text
from web.errors import translated

from .auth import current_account, safe_next
from .i18n import current_language

bp = Blueprint("inbox", __name__, url_prefix="/inbox")

PER_PAGE = 20
EXPORT_ROWS = 1000


def sessions():
    return current_app.extensions["liaison_sessions"]


def read_sessions():
    """Sessions for reads only (autocommit on PostgreSQL: no BEGIN / ROLLBACK round trips)."""
    return current_app.extensions["liaison_read_sessions"]


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


# (database URL, directory version) -> `queries.process_names`; a deployment bumps the version (0038)
_PROCESSES: BoundedCache[list] = BoundedCache(64)


def process_choices(session) -> list[tuple[str, dict]]:
    """The deployed processes for the Process filter, read once per directory version."""
    version = getattr(current_account(), "directory_version", None)
    if version is None:
        return queries.process_names(session)
    return _PROCESSES.get((str(session.get_bind().url), version), lambda: queries.process_names(session))


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
    with read_sessions()() as session:
        if view == "done":
            result = inbox.done(session, user.username, **list_filters(), completed_from=day_filter("from"),
                                completed_to=day_filter("to", end=True), page=page, per_page=per_page,
                                lang=current_language())
        else:
            overdue = True if request.args.get("overdue") == "1" else None
            result = inbox.todo(session, user.username, user.groups, **list_filters(),
                                initiator=request.args.get("initiator") or None, overdue=overdue,
                                created_from=day_filter("from"), created_to=day_filter("to", end=True),
                                page=page, per_page=per_page, lang=current_language())
        counts = navigation_counts(session)
        names = actor_names(session, [u for item in result.items
                                      for u in (item.initiator, item.on_behalf_of)], current_language())
        shown = {} if export else summary_texts(session, result.items, current_language())
        processes = [] if export else process_choices(session)
    if export:
        return csv_response(result.items, f"inbox-{view}.csv")
    return render_template("inbox/index.html", page=result, view=view, counts=counts, names=names,
                           lang=current_language(), args=filter_args(), summaries=shown, processes=processes)


def summary_texts(session, items, lang: str) -> dict[int, list[tuple[str, str]]]:
    """Each listed request's summary (`engine.work.summary`) as (label, value) texts, the values shown as
    the forms engine shows them read-only (option labels, money...), people by their display names."""
    found = summary.summaries(session, [item.instance_id for item in items])
    people = org.display_names(session, [value for pairs in found.values() for spec, value in pairs
                                         if spec["type"] == "user" and isinstance(value, str)], lang)
    view = SimpleNamespace(context=FormContext(lang=lang))  # no option providers: their values as they are
    return {instance_id: [(label_text(spec.get("label") or spec["name"], lang),
                           people.get(value, value) if spec["type"] == "user" and isinstance(value, str)
                           else display(value, spec, view, lang)) for spec, value in pairs]
            for instance_id, pairs in found.items()}


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
    """Requests copied to the person (抄送), newest first; `?unread=1` keeps the unread ones, `?q=` those the
    inbox's search finds."""
    user = current_account()
    lang = current_language()
    unread = request.args.get("unread") == "1"
    with sessions()() as session:
        result = inbox.copied(session, user.username, search=list_filters()["search"], unread_only=unread,
                              page=page_number(), per_page=PER_PAGE)
        counts = navigation_counts(session)
        names = actor_names(session, [u for item in result.items for u in (item.initiator, item.cc_by)], lang)
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
    """Approve the selected tasks the person may act on whose form offers "approved: yes": first a
    confirmation naming the requests (and those that cannot be approved, with why), then, with
    `confirm=1`, the approvals; the result names the requests approved and the ones that were not."""
    user = current_account()
    lang = current_language()
    selected = request.form.getlist("task")
    if not selected:
        flash(_("Select the tasks to approve first."), "error")
        return redirect(url_for("inbox.index"))
    if request.form.get("confirm") != "1":
        checked = batch.check_tasks(sessions(), selected, user.username, user.groups)
        with sessions()() as session:
            labels = request_labels(session, checked, lang)
            shown = summary_texts(session, [o for o in checked if o.ok], lang)
            counts = navigation_counts(session)
        return render_template("inbox/batch_confirm.html", counts=counts, labels=labels, summaries=shown,
                               approvable=[o for o in checked if o.ok],
                               refused=[(o, batch_reason(o)) for o in checked if not o.ok])
    outcomes = batch.approve_tasks(sessions(), selected, user.username, user.groups, lang=lang)
    with sessions()() as session:
        labels = request_labels(session, outcomes, lang)
    approved = [o for o in outcomes if o.ok]
    if approved:
        flash(_("Approved %(count)d request(s): %(names)s", count=len(approved),
                names=", ".join(labels.get(o.instance_id, o.name) for o in approved)), "success")
    for outcome in outcomes:
        if not outcome.ok:
            flash(_("Not approved: %(task)s — %(reason)s",
                    task=labels.get(outcome.instance_id) or outcome.name or outcome.task_id,
                    reason=batch_reason(outcome)), "error")
    return redirect(url_for("inbox.index"))


def batch_reason(outcome: batch.BatchOutcome) -> str:
    reason = BATCH_REASONS.get(outcome.reason)
    return reason() if reason else outcome.reason


def request_labels(session, outcomes, lang: str) -> dict[int, str]:
    """`{instance id: "Leave request #12 (Zhang San)"}`: how a batch names the requests of its tasks."""
    found = batch.requests_of(session, outcomes)
    people = org.display_names(session, [r["initiator"] for r in found.values()], lang)
    return {instance_id: _("%(process)s #%(id)d (%(initiator)s)",
                           process=inbox.localized(r["process_name"], lang, r["process_key"]), id=instance_id,
                           initiator=people.get(r["initiator"], r["initiator"] or "—"))
            for instance_id, r in found.items()}


@bp.post("/tasks/<task_id>/claim")
def claim(task_id: str):
    user = current_account()
    try:
        runtime.claim_task(sessions(), task_id, user.username, user.groups)
        flash(_("The task is yours now."), "ok")
    except TaskConflictError as exc:
        flash(translated(exc), "error")
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
    """The current list with another page number (a list under a path with values, /notices/7/receipts, too)."""
    args = {k: v for k, v in request.args.items() if k != "page"}
    return url_for(request.endpoint, **{**args, **(request.view_args or {}), "page": number})


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
            with read_sessions()() as own:
                g.inbox_counts = inbox.counts(own, user.username, user.groups)
        else:
            g.inbox_counts = inbox.counts(session, user.username, user.groups)
    return g.inbox_counts
