"""API tokens in the browser (issue 13): a person's own tokens under their menu (create: the secret is
shown once on the answer page and never again; revoke; last used), and every token for super admins.
The rules are `engine.people.api_tokens`'s, as for `liaison token`."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from wtforms import DateField, SelectMultipleField, StringField, widgets
from wtforms.validators import DataRequired, Length, Optional

from engine.errors import LiaisonError
from engine.people import api_tokens, org

from .auth import current_account, require_super_admin
from .errors import translated
from .i18n import current_language

bp = Blueprint("tokens", __name__)

SCOPE_LABELS = {"read": _l("read: lists, requests, tasks, people"), "start": _l("start: start requests, send messages"),
                "work": _l("work: complete tasks, approval operations"), "deploy": _l("deploy: deploy and export packages"),
                "admin": _l("admin: terminate and move requests (if you may)")}
SCOPE_NAMES = {"read": lazy_pgettext("scope", "read"), "start": lazy_pgettext("scope", "start"),  # the token list's words
               "work": lazy_pgettext("scope", "work"), "deploy": lazy_pgettext("scope", "deploy"),
               "admin": lazy_pgettext("scope", "admin")}


def sessions():
    return current_app.extensions["liaison_sessions"]


class TokenForm(FlaskForm):
    name = StringField(_l("Name (what it is for)"), validators=[DataRequired(), Length(max=api_tokens.MAX_NAME)])
    scopes = SelectMultipleField(_l("Scopes"), choices=[(s, SCOPE_LABELS[s]) for s in api_tokens.SCOPES],
                                 default=["read"], validators=[DataRequired()],
                                 widget=widgets.ListWidget(prefix_label=False),
                                 option_widget=widgets.CheckboxInput())
    expires_on = DateField(_l("Valid until (optional)"), validators=[Optional()])


def _expiry(day) -> datetime | None:
    """The end of the chosen day on the company's clock."""
    if day is None:
        return None
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return datetime.combine(day + timedelta(days=1), time(), zone)


@bp.route("/me/tokens", methods=["GET", "POST"])
def mine():
    """The person's tokens and a form making one; a made token's secret is on this answer only."""
    account = current_account()
    form = TokenForm()
    secret, status = None, 200
    if form.validate_on_submit():
        try:
            with sessions()() as session:
                _info, secret = api_tokens.create_token(session, account.username, form.name.data, form.scopes.data,
                                                        _expiry(form.expires_on.data), created_by=account.username)
            form = TokenForm(formdata=None)
            status = 201
        except LiaisonError as exc:
            form.name.errors = [*form.name.errors, translated(exc)]
            status = 422
    elif form.is_submitted():
        status = 422
    with sessions()() as session:
        tokens = api_tokens.list_tokens(session, account)
    return render_template("me/tokens.html", form=form, tokens=tokens, secret=secret, everyone=False,
                           scope_names=SCOPE_NAMES), status


@bp.post("/me/tokens/<int:token_id>/revoke")
def revoke(token_id: int):
    """Revoke one of one's own tokens (another person's is a 404)."""
    with sessions()() as session:
        api_tokens.revoke_token(session, token_id, current_account())
    flash(_("The token was revoked."), "success")
    return redirect(url_for(".mine"))


@bp.get("/admin/tokens")
@require_super_admin
def all_tokens():
    """Every API token, for super admins."""
    with sessions()() as session:
        tokens = api_tokens.list_tokens(session, current_account(), everyone=True)
        names = org.display_names(session, {t.username for t in tokens}, current_language())
    return render_template("me/tokens.html", form=None, tokens=tokens, secret=None, everyone=True, names=names,
                           scope_names=SCOPE_NAMES)


@bp.post("/admin/tokens/<int:token_id>/revoke")
@require_super_admin
def revoke_any(token_id: int):
    """A super admin revokes any token."""
    with sessions()() as session:
        api_tokens.revoke_token(session, token_id, current_account())
    flash(_("The token was revoked."), "success")
    return redirect(url_for(".all_tokens"))
