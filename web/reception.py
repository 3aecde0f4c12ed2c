"""The reception page (`/reception`): type or scan a visitor's pass code, see the pass, check the visitor in
or out; below, the visits expected today.

For employees with the role `reception` and for super admins. Whether the person may complete the visit's
check-in or check-out task is decided by the task itself (`engine.work.reception`); a refusal (blacklist,
pass not valid now, not offered to them) is shown on the page in the reader's language. The code is
posted, never put in a URL: it stays out of logs and the browser's history.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import gettext as _

from engine.config import load_settings
from engine.errors import NotFoundError, NotPermittedError, TaskConflictError
from engine.external import passes
from engine.work import reception
from web.errors import translated

from .auth import current_account
from .i18n import current_language

bp = Blueprint("reception", __name__, url_prefix="/reception")
_LINK_CODE = re.compile(r"[?&]code=([^&#\s]+)")


def _sessions():
    return current_app.extensions["liaison_sessions"]


def may_use_reception(user) -> bool:
    """Whether the signed-in person may open the reception page: role `reception`, or a super admin."""
    return bool(user) and (user.is_super_admin or reception.RECEPTION_GROUP in (user.groups or ()))


@bp.app_context_processor
def _navigation() -> dict:
    """`may_reception()` for the main navigation's link."""
    return {"may_reception": lambda: may_use_reception(current_account())}


@bp.before_request
def _receptionists_only():
    if not may_use_reception(current_account()):
        abort(403)


def _today():
    return datetime.now(ZoneInfo(load_settings().timezone)).date()


def _page(code: str = "", visit: passes.PassView | None = None, result: tuple[str, str] | None = None,
          status: int = 200):
    """The page: the code field, the pass looked up (if any), the outcome of an action, today's visits."""
    lang = current_language()
    with _sessions()() as db:
        expected = reception.expected(db, _today(), lang, now=datetime.now(UTC))
    host = (visit.host_name_en if lang == "en" else visit.host_name) or visit.host if visit else None
    return render_template("reception/index.html", code=code, visit=visit, host=host, result=result,
                           expected=expected, lang=lang), status


@bp.get("/")
def index():
    return _page()


def _code() -> str:
    """The posted code; a scanned pass link (`.../portal/pass?code=ABCD1234`) gives its `code` parameter."""
    raw = request.form.get("code", "")[:500]
    link = _LINK_CODE.search(raw)
    return passes.normalize_code(unquote(link.group(1)) if link else raw)[:32]


@bp.post("/")
def look_up():
    """Show the pass of a typed or scanned code (the scanner types it and presses Enter)."""
    code = _code()
    if not code:
        return _page(result=("error", _("Type or scan the visitor's pass code.")), status=400)
    with _sessions()() as db:
        visit = reception.look_up(db, code, datetime.now(UTC))
    if visit is None:
        return _page(code, result=("error", _("No visitor pass has this code.")), status=404)
    return _page(code, visit)


@bp.post("/check-in")
def check_in():
    return _act(reception.check_in, _("Checked in: %(name)s."))


@bp.post("/check-out")
def check_out():
    return _act(reception.check_out, _("Checked out: %(name)s."))


def _act(action, done: str):
    """Check in or out; the refusal, if any, in the reader's language, with the pass as it now stands."""
    code, user, now = _code(), current_account(), datetime.now(UTC)
    try:
        visit = action(_sessions(), user.username, tuple(user.groups), code, now, lang=current_language())
    except (NotFoundError, NotPermittedError, TaskConflictError) as exc:
        with _sessions()() as db:
            visit = reception.look_up(db, code, now)
        status = 404 if visit is None else 403 if isinstance(exc, NotPermittedError) else 409
        return _page(code, visit, ("error", translated(exc)), status)
    return _page(code, visit, ("ok", done % {"name": visit.visitor_name}))
