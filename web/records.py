"""The printable record of a request (`/instances/ID/print`): what it asked, who decided what and when,
and a signature line per decision, laid out for paper (the print stylesheet in `records/print.html`).

It shows exactly what the instance page shows (`work.instance_parts`, the same scoping and hidden
fields): one owner for what a viewer may read. A PDF is the browser's "Save as PDF" of this page; the
server renders none.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, render_template

from .i18n import current_language
from .work import _may_view, instance_parts, sessions, status_label, when

bp = Blueprint("records", __name__)


@bp.get("/instances/<int:instance_id>/print")
def print_view(instance_id: int):
    """The request, its approval trail and the signatures, for printing; 404 for anyone who may not see it."""
    lang = current_language()
    with sessions()() as session:
        if not _may_view(session, instance_id):
            abort(404)
        parts = instance_parts(session, instance_id, lang)
    view = parts["instance"]
    signatures = [row for row in parts["timeline"] if row.decision]
    return render_template("records/print.html", status=status_label(view["outcome"]),
                           started=when(view["created_at"]), ended=when(view["ended_at"]),
                           signatures=signatures, printed_at=when(datetime.now(UTC)),
                           **parts)
