"""The start page: what is deployed and the newest instances. The full inbox is its own blueprint."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from engine.people import starting
from engine.work import queries

from .auth import current_account
from .i18n import current_language

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    """List the deployed processes the person may start."""
    with current_app.extensions["liaison_sessions"]() as session:
        allowed = set(starting.startable(session, current_account().username))
        processes = [p for p in queries.list_processes(session) if p["key"] in allowed]
    return render_template("home.html", processes=processes, lang=current_language())


@bp.get("/healthz")
def healthz():
    """Liveness probe for load balancers and docker-compose."""
    return {"status": "ok"}
