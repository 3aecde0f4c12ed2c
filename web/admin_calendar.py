"""The workday calendar page (`/admin/calendar`, super admins): a year by month, each day's kind,
a form to mark a day a holiday or a working weekend (调休) or make it ordinary again, and a button
that fills the year from the official notice (`engine.data.calendar.load_year`). The rules are
`engine.data.calendar`'s; this view only reads the form and shows the outcome.
"""

from __future__ import annotations

import calendar as monthly
from datetime import date

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.data import calendar
from engine.data.models import utcnow
from engine.errors import LiaisonError

from .auth import current_account, require_super_admin
from .errors import translated
from .i18n import current_language

bp = Blueprint("admin_calendar", __name__, url_prefix="/admin/calendar")
MIN_YEAR, MAX_YEAR = 1900, 9999


def _sessions():
    return current_app.extensions["liaison_sessions"]


def _year(value) -> int:
    try:
        year = int(value)
    except (TypeError, ValueError):
        return date.today().year
    return year if MIN_YEAR <= year <= MAX_YEAR else date.today().year


def _day(value) -> date | None:
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        return None


@bp.get("/")
@require_super_admin
def page():
    """The year's months (weeks Monday to Sunday), with the days set and the edit form."""
    year = _year(request.args.get("year"))
    chosen = _day(request.args.get("day"))
    with _sessions()() as db:
        days = calendar.year_days(db, year)
    months = [(month, monthly.Calendar().monthdatescalendar(year, month)) for month in range(1, 13)]
    published = calendar.package_years()
    return render_template("admin/calendar.html", year=year, months=months, days=days, chosen=chosen,
                           chosen_row=days.get(chosen) if chosen else None, lang=current_language(),
                           published=published, can_load=year in published)


@bp.post("/day")
@require_super_admin
def set_day():
    """Mark a day (holiday / workday) or make it what its weekday says (kind `normal`)."""
    form = request.form
    day = _day(form.get("day"))
    if day is None or not MIN_YEAR <= day.year <= MAX_YEAR:
        flash(_("Enter a date as YYYY-MM-DD."), "error")
        return redirect(url_for("admin_calendar.page", year=_year(form.get("year"))), 303)
    kind = form.get("kind", "")
    try:
        with _sessions()() as db, db.begin():
            if kind == "normal":
                calendar.clear_day(db, day)
            else:
                calendar.set_day(db, day, kind, current_account().username, utcnow(),
                                 name_zh=form.get("name_zh"), name_en=form.get("name_en"))
    except LiaisonError as exc:
        flash(_calendar_error(exc, day, kind), "error")
    else:
        flash(_("%(day)s saved.", day=day.isoformat()), "ok")
    return redirect(url_for("admin_calendar.page", year=day.year, day=day.isoformat()), 303)


@bp.post("/load")
@require_super_admin
def load():
    """Fill the year from the chinese-calendar package (days an admin set are kept)."""
    year = _year(request.form.get("year"))
    try:
        with _sessions()() as db, db.begin():
            result = calendar.load_year(db, year, current_account().username, utcnow())
    except LiaisonError:
        published = calendar.package_years()
        flash(_("The official holidays of %(year)s are not published in the installed calendar package "
                "(it covers %(first)s to %(last)s): mark the days by hand or upgrade the package.",
                year=year, first=published.start, last=published.stop - 1), "error")
    else:
        flash(_("%(year)s loaded: %(added)s days added, %(replaced)s replaced, %(kept)s set by an admin kept.",
                year=year, added=result.added, replaced=result.replaced, kept=result.kept), "ok")
    return redirect(url_for("admin_calendar.page", year=year), 303)


def _calendar_error(exc: LiaisonError, day: date, kind: str) -> str:
    """The engine's refusal in the page's language."""
    if kind not in calendar.KINDS:
        return _("Choose holiday, working weekend or ordinary day.")
    if kind == calendar.WORKDAY and day.weekday() < 5:
        return _("%(day)s is a weekday, a workday already: only a Saturday or Sunday can be a working weekend.",
                 day=day.isoformat())
    return translated(exc)
