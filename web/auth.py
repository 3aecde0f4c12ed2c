"""Signing in and out, password changes, and the guards every other blueprint relies on.

Every page needs a signed-in person unless its view is marked `@public` (or its blueprint
`public_blueprint(bp)`). A view reads the person with `current_account()` (a
`engine.accounts.SessionUser`: `username`, `groups`, `is_super_admin`...); templates use
`current_user`, which has the same attributes.

A signed-in browser is a server-side session (`engine.people.sessions`): the cookie carries only a
random token whose hash names a `user_session` row, read on every request; signing out revokes
that row, so a copied cookie stops working too. The person's groups and grants are kept per directory
version (`accounts.signed_in_user`), so a signed-in request costs one query to know who is asking.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from functools import wraps
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import AnonymousUserMixin, LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from engine.people import accounts, external_sign_in, invitations
from engine.people import sessions as user_sessions
from engine.people.accounts import SessionUser

from .i18n import LANGUAGES

bp = Blueprint("auth", __name__)
login_manager = LoginManager()

# Reachable without signing in, besides views marked @public and every static endpoint.
PUBLIC_ENDPOINTS = {"home.healthz"}


def _now() -> float:
    return time.time()  # tests move this clock


def _utcnow() -> datetime:
    return datetime.fromtimestamp(_now(), UTC)


def _sessions():
    return current_app.extensions["liaison_sessions"]()


def _read_sessions():
    """A session for short reads, in autocommit on PostgreSQL (`db.make_read_session_factory`)."""
    return current_app.extensions["liaison_read_sessions"]()


# -- the signed-in person --------------------------------------------------------------------------

class CurrentUser(UserMixin):
    """Flask-Login's view of a `SessionUser`; its attributes read through to the account."""

    def __init__(self, account: SessionUser, token: str):
        self.account = account
        self.token = token

    def get_id(self) -> str:
        # The cookie keeps only the session's random token; its row says who and whether it is live.
        return self.token

    def __getattr__(self, name: str):
        if name in ("account", "token"):
            raise AttributeError(name)
        return getattr(self.account, name)


class AnonymousUser(AnonymousUserMixin):
    """Nobody signed in: no groups, no admin rights, no language of their own."""

    username = None
    name = None
    locale = None
    groups: tuple[str, ...] = ()
    is_super_admin = False
    is_admin = False
    admin_department_ids: tuple[int, ...] = ()


# A view whose first read can go along with the session's (one round trip for both): endpoint -> function
# of the request's view arguments giving `(statement, parameters)`; the row is `read_along()` in the view,
# and only for a signed-in person (a web-form completion: `work.complete`).
READ_ALONG: dict = {}


def read_along():
    """The row read along with this request's session check (`READ_ALONG`), once; None without one."""
    return g.pop("liaison_read_along", None)


@login_manager.user_loader
def _load_user(token: str) -> CurrentUser | None:
    # one query per request (the session row, its person still active, the directory's version); the
    # person's groups and grants are read again only after a directory change (`accounts.signed_in_user`)
    along = READ_ALONG.get(request.endpoint) if request.method == "POST" else None
    with _read_sessions() as db_session:  # PostgreSQL: no BEGIN / COMMIT around the one read
        if along is None:
            account = accounts.signed_in_user(db_session, token, _utcnow())
        else:
            account, row = accounts.signed_in_user_along(db_session, token, _utcnow(), *along(request.view_args))
            g.liaison_read_along = row
        db_session.commit()  # last_seen_at, when it was old enough to be written (already, on PostgreSQL)
    return CurrentUser(account, token) if account is not None else None


@login_manager.unauthorized_handler
def _send_to_login():
    return redirect(url_for("auth.login", next=_local_target()))


def current_account() -> SessionUser | None:
    """The signed-in person of this request, or None."""
    return current_user.account if current_user.is_authenticated else None


# -- guards ----------------------------------------------------------------------------------------

def public(view):
    """Mark a view as reachable without signing in."""
    view.liaison_public = True
    return view


def public_blueprint(blueprint: Blueprint) -> Blueprint:
    """Mark a whole blueprint (the portal, the token-authenticated API) as not needing a session."""
    blueprint.liaison_public = True
    return blueprint


def _is_public() -> bool:
    endpoint = request.endpoint
    if endpoint is None:
        # unknown paths: anonymous visitors learn nothing about which exist; under /api/ (whose paths
        # the public OpenAPI document lists) the answer is the API's JSON 404, never the sign-in page
        return request.path.startswith("/api/")
    if endpoint in PUBLIC_ENDPOINTS or endpoint == "static" or endpoint.endswith(".static"):
        return True
    if getattr(current_app.view_functions.get(endpoint), "liaison_public", False):
        return True
    return getattr(current_app.blueprints.get(request.blueprint or ""), "liaison_public", False)


def _end_stale_session() -> None:
    """Sign out a session older than PERMANENT_SESSION_LIFETIME or idle past LIAISON_IDLE_TIMEOUT."""
    if "_user_id" not in session:
        return
    now = _now()
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    idle = current_app.config["LIAISON_IDLE_TIMEOUT"].total_seconds()
    signed_in_at = session.get("signed_in_at", 0)
    seen_at = session.get("seen_at", signed_in_at)
    if now - signed_in_at > lifetime or now - seen_at > idle:
        _clear_session()
        flash(_("Your session has expired. Please sign in again."), "info")
    elif now - seen_at > min(60.0, idle / 4):  # not on every request: each write re-signs the cookie
        session["seen_at"] = now


@bp.before_app_request
def _require_login():
    _end_stale_session()
    if not _is_public() and not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


def require_super_admin(view):
    """Decorator: 403 unless the signed-in person is a super admin."""
    @wraps(view)
    def guarded(*args, **kwargs):
        if not current_user.is_super_admin:
            abort(403)
        return view(*args, **kwargs)
    return guarded


def require_admin(view):
    """Decorator: 403 unless the signed-in person is a super admin or a department admin."""
    @wraps(view)
    def guarded(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)
    return guarded


def require_department_admin(department_id: int) -> None:
    """Abort with 403 unless the signed-in person administers the department (or is super admin)."""
    account = current_account()
    if account is None:
        abort(403)
    if account.is_super_admin:
        return
    with _sessions() as db_session:
        allowed = accounts.administers_department(db_session, account, department_id)
    if not allowed:
        abort(403)


# -- forms -----------------------------------------------------------------------------------------

class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=100)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1000)])


class PasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    new_password = PasswordField(_l("New password"),
                                 validators=[DataRequired(), Length(max=1000)])
    confirm = PasswordField(_l("New password again"), validators=[
        DataRequired(), EqualTo("new_password", message=_l("The two new passwords differ."))])


class SetPasswordForm(FlaskForm):
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=1000)])
    confirm = PasswordField(_l("New password again"), validators=[
        DataRequired(), EqualTo("new_password", message=_l("The two new passwords differ."))])


class LanguageForm(FlaskForm):
    lang = HiddenField()
    next = HiddenField()


def _weak_password_message(exc: accounts.WeakPasswordError) -> str:
    messages = {
        "too_short": _("The password must have at least %(count)d characters.",
                       count=accounts.MIN_PASSWORD_LENGTH),
        "too_common": _("This password is too common. Choose another one."),
        "is_username": _("The password must not be the username."),
        "unchanged": _("The new password must differ from the current one."),
    }
    return messages.get(exc.reason, str(exc))


def _sign_in_error(exc: accounts.AccountError) -> str:
    if isinstance(exc, accounts.SignInThrottledError):
        return _("Too many failed sign-ins. Try again in %(seconds)d seconds.", seconds=exc.retry_after)
    if isinstance(exc, external_sign_in.DirectoryUnavailableError):
        return _("The company directory cannot be reached. Try again in a few minutes.")
    if isinstance(exc, accounts.AccountInactiveError):
        return _("This account is deactivated. Ask an administrator.")
    return _("Wrong username or password.")


# -- redirects -------------------------------------------------------------------------------------

def safe_next(target: str | None, fallback: str | None = None) -> str:
    """`target` when it is a path on this site, else `fallback` (the start page)."""
    fallback = fallback or url_for("home.index")
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return fallback
    if any(ch in target for ch in "\\\r\n\t") or any(ord(ch) < 32 for ch in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target


def _local_target() -> str:
    path = request.full_path if request.query_string else request.path
    return path if request.method == "GET" else "/"


def _start_session(person_id: int) -> None:
    """Open a server-side session for the person in this browser and sign it in."""
    with _sessions() as db_session, db_session.begin():
        token = user_sessions.start(db_session, person_id, _utcnow(), current_app.permanent_session_lifetime,
                                    request.user_agent.string, request.remote_addr)
    with _sessions() as db_session:
        account = accounts.load_session_user(db_session, person_id)
    login_user(CurrentUser(account, token))


def sign_in_person(person_id: int) -> None:
    """Sign the person in in this browser, however they proved who they are (password, LDAP, OIDC)."""
    _start_session(person_id)
    session.permanent = True
    session["signed_in_at"] = session["seen_at"] = _now()


def _clear_session() -> None:
    """Revoke this browser's server-side session; forget everything of the cookie except its language."""
    token = session.get("_user_id")
    if isinstance(token, str) and token:
        with _sessions() as db_session, db_session.begin():
            user_sessions.revoke(db_session, token, _utcnow())
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang


# -- views -----------------------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """Sign in with username and password."""
    target = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(target)
    form = LoginForm()
    error, status = None, 200
    if form.validate_on_submit():
        ldap = current_app.config.get("LIAISON_LDAP")
        try:
            with _sessions() as db_session:
                if ldap is not None:  # the company directory checks the password (engine.people.external_sign_in)
                    person = external_sign_in.authenticate_with_directory(
                        db_session, ldap, form.username.data, form.password.data, _utcnow(),
                        client=request.remote_addr)
                else:
                    person = accounts.authenticate(db_session, form.username.data, form.password.data,
                                                   _utcnow(), client=request.remote_addr)
        except accounts.AccountError as exc:
            error = _sign_in_error(exc)
            status = 429 if isinstance(exc, accounts.SignInThrottledError) else 200
            if isinstance(exc, external_sign_in.DirectoryUnavailableError):
                current_app.logger.warning("LDAP sign-in: %s", exc)
                status = 503
        else:
            _clear_session()  # nothing from before signing in survives, except the language
            sign_in_person(person.id)
            return redirect(target)
    return render_template("auth/login.html", form=form, error=error,
                           oidc=current_app.config.get("LIAISON_OIDC"), next=request.args.get("next")), status


@bp.post("/logout")
def logout():
    """Sign out this browser."""
    _clear_session()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/logout-everywhere")
def logout_everywhere():
    """Sign out every browser and device of the person, this one included."""
    with _sessions() as db_session, db_session.begin():
        accounts.sign_out_everywhere(db_session, current_user.person_id, _utcnow())
    _clear_session()
    flash(_("You are signed out on every device."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
def password():
    """Change one's own password; other sessions end, this one stays."""
    ldap = current_app.config.get("LIAISON_LDAP")
    if ldap is not None and not ldap.local_fallback:  # only the directory's password signs in
        return render_template("auth/password.html", form=None, directory=True)
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            with _sessions() as db_session, db_session.begin():
                accounts.change_password(db_session, current_user.person_id, form.current_password.data,
                                         form.new_password.data, _utcnow())  # every session revoked
        except accounts.InvalidCredentialsError:
            form.current_password.errors.append(_("The current password is wrong."))
        except accounts.WeakPasswordError as exc:
            form.new_password.errors.append(_weak_password_message(exc))
        else:
            _start_session(current_user.person_id)  # this browser gets a new session
            flash(_("Your password is changed. Other sessions are signed out."), "success")
            return redirect(url_for("home.index"))
    return render_template("auth/password.html", form=form, min_length=accounts.MIN_PASSWORD_LENGTH)


def _link_refused(exc: invitations.LinkError):
    messages = {
        "used": _("This link was already used. Ask your administrator for a new one if you need it."),
        "expired": _("This link has expired. Ask your administrator for a new one."),
    }
    message = messages.get(exc.reason, _("This link is not valid. Check that you copied all of it, "
                                         "or ask your administrator for a new one."))
    status = 404 if exc.reason == "unknown" else 410
    return render_template("auth/link_refused.html", message=message), status


@bp.route("/account/password/<token>", methods=["GET", "POST"])
@public
def set_password_link(token: str):
    """An invitation or reset link: choose a password; the link then is used up."""
    form = SetPasswordForm()
    try:
        with _sessions() as db_session:
            purpose, person = invitations.look_up(db_session, token, _utcnow())
        if form.validate_on_submit():
            try:
                with _sessions() as db_session, db_session.begin():
                    invitations.redeem(db_session, token, form.new_password.data, _utcnow())
            except accounts.WeakPasswordError as exc:
                form.new_password.errors.append(_weak_password_message(exc))
            else:
                if current_user.is_authenticated:
                    _clear_session()
                flash(_("Your password is set. Sign in with it."), "success")
                return redirect(url_for("auth.login"), 303)
    except invitations.LinkError as exc:
        return _link_refused(exc)
    return render_template("auth/set_password.html", form=form, purpose=purpose, username=person.username,
                           name=person.name_en if person.locale == "en" and person.name_en else person.name,
                           min_length=accounts.MIN_PASSWORD_LENGTH)


@bp.post("/language")
@public
def language():
    """Switch the interface language; a signed-in person keeps it as their preference."""
    form = LanguageForm()
    lang = form.lang.data
    if form.validate_on_submit() and lang in LANGUAGES:
        session["lang"] = lang
        if current_user.is_authenticated:
            with _sessions() as db_session, db_session.begin():
                accounts.set_locale(db_session, current_user.person_id, lang)
    return redirect(safe_next(form.next.data))


def init_app(app: Flask) -> None:
    """Install the login manager; the app's config holds PERMANENT_SESSION_LIFETIME and LIAISON_IDLE_TIMEOUT."""
    app.config.setdefault("LIAISON_IDLE_TIMEOUT", timedelta(hours=2))
    login_manager.anonymous_user = AnonymousUser
    login_manager.init_app(app)
    app.jinja_env.globals.update(LanguageForm=LanguageForm, safe_next=safe_next)
