"""My requests: the instances the signed-in user started, with where each waits now; CSV export."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from engine.work import inbox

from .auth import current_account
from .i18n import current_language
from .inbox import (
    EXPORT_ROWS,
    PER_PAGE,
    csv_response,
    day_filter,
    filter_args,
    list_filters,
    page_number,
    sessions,
)

bp = Blueprint("requests", __name__, url_prefix="/requests")


@bp.get("/")
def index():
    """The instances the user started, with where each one waits now."""
    user = current_account()
    status = request.args.get("status") if request.args.get("status") in ("running", "completed",
                                                                           "cancelled") else None
    export = request.args.get("format") == "csv"
    page, per_page = (1, EXPORT_ROWS) if export else (page_number(), PER_PAGE)
    with sessions()() as session:
        result = inbox.my_requests(session, user.username, status, **list_filters(),
                                   created_from=day_filter("from"), created_to=day_filter("to", end=True),
                                   page=page, per_page=per_page, lang=current_language())
    if export:
        return csv_response(result.items, "my-requests.csv", requests=True)
    return render_template("inbox/requests.html", page=result, status=status, lang=current_language(),
                           args=filter_args())
