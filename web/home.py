"""The start page: what is deployed and the newest instances. The full inbox is its own blueprint."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from engine import queries

from .i18n import current_language

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    """List deployed processes."""
    with current_app.extensions["liaison_sessions"]() as session:
        processes = queries.list_processes(session)
    return render_template("home.html", processes=processes, lang=current_language())


@bp.get("/healthz")
def healthz():
    """Liveness probe for load balancers and docker-compose."""
    return {"status": "ok"}
