"""The signed-in person's own settings: out of office (a date window and a deputy who receives
their new tasks meanwhile)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, StringField
from wtforms.validators import DataRequired, Length

from engine.people import org

from .auth import current_account
from .i18n import current_language

bp = Blueprint("me", __name__, url_prefix="/me")


def sessions():
    return current_app.extensions["liaison_sessions"]


class OutOfOfficeForm(FlaskForm):
    starts_on = DateField(_l("First day away"), validators=[DataRequired()])
    ends_on = DateField(_l("Last day away"), validators=[DataRequired()])
    deputy = StringField(_l("Deputy"), validators=[DataRequired(), Length(max=100)])


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def _window(form: OutOfOfficeForm) -> tuple[datetime, datetime]:
    """From the first day's start to the end of the last day, on the company's clock."""
    zone = _zone()
    starts = datetime.combine(form.starts_on.data, time(), zone)
    ends = datetime.combine(form.ends_on.data + timedelta(days=1), time(), zone)
    return starts, ends


def _check(session, form: OutOfOfficeForm, username: str) -> bool:
    """Dates in order, the deputy an active person other than oneself; errors go on the fields."""
    if form.ends_on.data < form.starts_on.data:
        form.ends_on.errors = [*form.ends_on.errors, _("The last day cannot be before the first day.")]
    name = form.deputy.data.strip()
    deputy = org.person_by_username(session, name)
    if name == username:
        form.deputy.errors = [*form.deputy.errors, _("You cannot be your own deputy.")]
    elif deputy is None:
        form.deputy.errors = [*form.deputy.errors, _("There is nobody with this username.")]
    elif not deputy.active:
        form.deputy.errors = [*form.deputy.errors, _("This person's account is not active.")]
    return not (form.ends_on.errors or form.deputy.errors)


@bp.route("/out-of-office", methods=["GET", "POST"])
def out_of_office():
    """The person's current and planned windows, and a form adding one."""
    account = current_account()
    form = OutOfOfficeForm()
    status = 200
    lang = current_language()  # the deputy by their name in the page's language
    with sessions()() as session, session.begin():
        if form.validate_on_submit():
            if _check(session, form, account.username):
                starts, ends = _window(form)
                org.set_out_of_office(session, account.username, form.deputy.data.strip(), starts, ends)
                flash(_("Saved: new tasks go to your deputy during this time."), "success")
                return redirect(url_for(".out_of_office"))
            status = 422
        elif form.is_submitted():
            status = 422
        windows = [{"id": window.id, "starts_on": window.starts_at.astimezone(_zone()).date(),
                    "ends_on": (window.ends_at.astimezone(_zone()) - timedelta(microseconds=1)).date(),
                    "deputy": (deputy.name_en if lang == "en" and deputy.name_en else deputy.name) or deputy.username}
                   for window, deputy in org.out_of_office_windows(session, account.username)]
    return render_template("me/out_of_office.html", form=form, windows=windows), status


@bp.post("/out-of-office/<int:window_id>/delete")
def delete_out_of_office(window_id: int):
    """Remove one of one's own windows (another person's is a 404)."""
    account = current_account()
    with sessions()() as session, session.begin():
        if not org.delete_out_of_office(session, account.username, window_id):
            abort(404)
    flash(_("Removed."), "success")
    return redirect(url_for(".out_of_office"))
