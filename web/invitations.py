"""Invite a visitor (`/invitations`): an employee issues an invitation code for a start form they may
invite to (a visitor asking for a visit, as its host), sees it once, and lists and withdraws the codes
they issued.

Who may is `engine.work.invitations.may_issue_code`; these views parse, call it, and show its outcome.
Reception (and admins) pick the host the code is issued on behalf of (`invitations.may_name_host`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.errors import LiaisonError, NotFoundError
from engine.external import parties
from engine.people import org
from engine.work import invitations, queries
from web.errors import status_for, translated

from .auth import current_account
from .i18n import current_language

bp = Blueprint("invitations", __name__, url_prefix="/invitations")
DEFAULT_DAYS = 3


def _sessions():
    return current_app.extensions["liaison_sessions"]


@bp.app_context_processor
def _navigation() -> dict:
    """`may_invite()` for the pages that offer "Invite a visitor" (the catalog, the reception page)."""
    def may_invite() -> bool:
        user = current_account()
        if not user:
            return False
        with _sessions()() as db:
            return bool(invitations.invitable_processes(db, user.username))
    return {"may_invite": may_invite}


def _page(issued: invitations.IssuedCode | None = None, key: str = "", problem: str = "", status: int = 200,
          host: str = ""):
    """The form (the processes the person may invite to; the host to pick for reception), the code just
    issued, the codes they hold (each with its host when issued on somebody's behalf, its issuer when issued on theirs)."""
    username = current_account().username
    lang = current_language()
    with _sessions()() as db:
        processes = invitations.invitable_processes(db, username)
        held = invitations.codes_held_by(db, username)
        people = org.display_names(db, {g.host for g in held if g.host} | {g.created_by for g in held if g.created_by}
                                   | ({host} if host else set()), lang)
        kinds = {p["party"] for p in processes if p["needs_party"]}
        companies = [c for c in parties.list_parties(db.connection(), active=True) if c.kind in kinds]
        # every process by name: a host's code may be for one they cannot issue codes for themselves
        names = {key: n.get(lang) or n.get("zh") or key for key, n in queries.process_names(db)}
    return render_template("invitations/index.html", processes=processes, names=names, key=key, issued=issued,
                           codes=held, problem=problem, max_days=invitations.MAX_CODE_DAYS,
                           default_days=DEFAULT_DAYS, names_host=any(p["names_host"] for p in processes),
                           host=host, people=people, companies=companies, party=request.form.get("party", ""),
                           lang=lang, me=username), status


@bp.get("/")
def index():
    return _page(key=request.args.get("process", ""))


@bp.post("/")
def issue():
    """Issue a code (shown on this response only, never again)."""
    key = request.form.get("process", "")
    host = request.form.get("host", "").strip()[:100]
    try:
        with _sessions()() as db, db.begin():
            issued = invitations.issue_invitation(db, current_account().username, key,
                                                  days=request.form.get("days", type=int),
                                                  label=request.form.get("label"), now=datetime.now(UTC),
                                                  host=host or None, party=request.form.get("party") or None)
    except LiaisonError as exc:
        return _page(key=key, problem=translated(exc), status=status_for(exc), host=host)
    return _page(issued, key=key)


@bp.post("/<int:grant_id>/withdraw")
def withdraw(grant_id: int):
    """Withdraw one of the person's own codes; someone else's is not found."""
    try:
        with _sessions()() as db, db.begin():
            done = invitations.withdraw_code(db, current_account().username, grant_id, datetime.now(UTC))
    except NotFoundError as exc:
        return _page(problem=translated(exc), status=404)
    flash(_("Withdrawn.") if done else _("It was already withdrawn."), "ok")
    return redirect(url_for("invitations.index"), 303)
