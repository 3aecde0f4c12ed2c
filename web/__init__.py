"""The Flask app factory: loads settings, opens the database, installs security and languages,
registers the blueprints."""

from __future__ import annotations

import importlib
import os
from datetime import timedelta

from flask import Flask, abort, current_app, render_template, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

import designer
from engine.config import instance_secret, load_settings
from engine.data import db
from engine.errors import LiaisonError, NotFoundError, NotPermittedError
from web.errors import TOO_LARGE, form_too_large_message, status_for, too_large_message, translated

MAX_FORM_POST_BYTES = 4 * 1024 * 1024  # a page's plain form post; uploads (multipart) have their own limits

# One line per blueprint: a module of this package with a `bp`. Order matters only for `auth`,
# whose guard must come before the others' own request hooks.
BLUEPRINTS = (
    "auth",
    "sso",
    "home",
    "inbox",
    "my_requests",
    "vendor",
    "work",
    "records",
    "vendor_scores",
    "dashboards",
    "catalog",
    "admin",
    "people_admin",
    "admin_calendar",
    "me",
    "notifications",
    "directory",
    "files",
    "portal",
    "external_admin",
    "reception",
    "invitations",
    "api",
    "tokens",
    "webhooks",
    "rooms",
    "rooms_admin",
    "training",
    "training_admin",
    "notices",
    "projects",
    "external_tasks",
)

# Scripts from this site only: no inline script, no eval. Styles may be inline (diagram
# libraries set style attributes); nothing may frame the app.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

csrf = CSRFProtect()


def create_app(test_config: dict | None = None) -> Flask:
    """Build the web app; `test_config` overrides settings (tests pass their own database)."""
    settings = load_settings()
    app = Flask(__name__)
    app.url_map.converters["int"] = _BoundedInt
    app.config.update(
        DATABASE_URL=settings.database_url,
        LIAISON_LOCALE=settings.locale,
        SESSION_COOKIE_NAME="liaison_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Secure cookies (and HSTS) when the site is served over https (LIAISON_BASE_URL), or when asked.
        SESSION_COOKIE_SECURE=_https(settings.base_url),
        # A session ends 8 hours after signing in, or after 2 hours without a request.
        PERMANENT_SESSION_LIFETIME=timedelta(hours=_env_number("LIAISON_SESSION_HOURS", 8)),
        LIAISON_IDLE_TIMEOUT=timedelta(minutes=_env_number("LIAISON_IDLE_MINUTES", 120)),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session, which expires itself
        LIAISON_UPLOAD_DIR=str(settings.instance_dir / "files"),  # the FileStore of uploads (web/files.py)
        LIAISON_BASE_URL=settings.base_url,
        LIAISON_OIDC=settings.oidc,  # None: no "Sign in with ..." button (web/sso.py)
        LIAISON_LDAP=settings.ldap,  # None: passwords are checked locally only
        # Behind a reverse proxy (a TLS terminator, nginx): how many proxies in front add X-Forwarded-For /
        # -Proto. 0 (default): the peer's address is the client's. Sign-in and portal code throttles and the
        # access log key on the client address, so behind a proxy this must be set, or every client looks like one.
        LIAISON_PROXY_HOPS=int(_env_number("LIAISON_PROXY_HOPS", 0)),
        # PostgreSQL connections kept per process. A gunicorn sync worker serves one request at a time, and a
        # request holds at most a few at once (a page's read session while an engine rule opens its own), so 5
        # kept connections mean no request ever opens one; `max_overflow` more are opened (and closed after)
        # for threaded servers. Raise both with threads (`--threads N`: about 2N + 1 kept).
        LIAISON_DB_POOL_SIZE=int(_env_number("LIAISON_DB_POOL_SIZE", 5)),
        LIAISON_DB_MAX_OVERFLOW=int(_env_number("LIAISON_DB_MAX_OVERFLOW", 10)),
    )
    if test_config:
        app.config.update(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = settings.secret_key or instance_secret(settings.instance_dir)
    if app.config["LIAISON_PROXY_HOPS"] > 0:
        hops = app.config["LIAISON_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    engine = db.make_engine(app.config["DATABASE_URL"], pool_size=app.config["LIAISON_DB_POOL_SIZE"],
                            max_overflow=app.config["LIAISON_DB_MAX_OVERFLOW"])
    app.extensions["liaison_sessions"] = db.make_session_factory(engine)
    app.extensions["liaison_read_sessions"] = db.make_read_session_factory(engine)  # autocommit reads (PostgreSQL)

    from . import auth, i18n, sso

    csrf.init_app(app)
    i18n.init_app(app, app.config["LIAISON_LOCALE"], settings.timezone)
    auth.init_app(app)
    sso.init_app(app)
    for name in BLUEPRINTS:
        app.register_blueprint(importlib.import_module(f"{__name__}.{name}").bp)
    app.register_blueprint(designer.bp)  # the process designer, a layer below web (designer/__init__.py)
    app.url_value_preprocessor(_limit_form_posts)
    app.before_request(_refuse_nul_bytes)
    app.after_request(_security_headers)
    app.jinja_env.globals["has_endpoint"] = has_endpoint
    app.jinja_env.filters["translated"] = translated  # an engine message in the page's language
    _register_error_pages(app)
    return app


def _env_number(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


def has_endpoint(endpoint: str) -> bool:
    """True when a blueprint serving `endpoint` is registered (navigation shows only those)."""
    return endpoint in current_app.view_functions


class _BoundedInt(IntegerConverter):
    """`<int:...>` in a URL: an id past a 64-bit integer is no page (404), not a database error."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's signature
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


def _limit_form_posts(_endpoint, _values) -> None:
    """A plain form post (start and task forms, every page's buttons) is read only up to
    MAX_FORM_POST_BYTES: a longer one is a 413 page before anything parses it. Runs before every
    before_request function (the CSRF check reads the form); multipart uploads keep their limits."""
    if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
        request.max_content_length = MAX_FORM_POST_BYTES


def _refuse_nul_bytes():
    """No path, query or plain form value may hold a NUL byte (PostgreSQL text cannot): 400 before any
    view. Multipart bodies (uploads) are left to their views, which read them as a stream."""
    values = [request.path, *request.args.values()]
    if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
        values += request.form.values()
    if any("\x00" in value for value in values):
        abort(400)


def _https(base_url: str | None) -> bool:
    """Whether the site is served over https: `LIAISON_BASE_URL` says so, or `LIAISON_SECURE_COOKIES=1`
    (a TLS proxy in front of a plain-http base URL)."""
    return (base_url or "").lower().startswith("https://") or \
        os.environ.get("LIAISON_SECURE_COOKIES", "") in ("1", "true", "yes")


def _security_headers(response):
    headers = response.headers
    headers["Server"] = "Liaison"  # not the server's name and version
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if request.endpoint != "static" and "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"  # pages show personal data: no shared or back-button copies
    return response


def _error_page(code: int):
    from .api.core import error_response, is_api_request  # the API answers its errors as JSON
    if is_api_request():
        from .api.core import HTTP_CODES
        return error_response(code, HTTP_CODES.get(code, "error"), _HTTP_MESSAGES.get(code, "error"))
    return render_template(f"errors/{code}.html"), code


_HTTP_MESSAGES = {400: "bad request", 403: "forbidden", 404: "no such endpoint or object",
                  405: "this endpoint does not take that method", 413: "the body is too large"}


def _other_http_error(exc: HTTPException):
    """HTTP errors without a page of their own (405, 415...): JSON under /api/, Werkzeug's page elsewhere."""
    from .api.core import http_error, is_api_request
    return http_error(exc) if is_api_request() else exc


def _refused_page(exc: LiaisonError):
    """An engine refusal no view handled: a 4xx page with its message, never a 500."""
    code = status_for(exc)
    if code in (403, 404):
        return _error_page(code)  # no details about what exists or why one may not see it
    message = too_large_message(exc) if isinstance(exc, TOO_LARGE) else translated(exc)
    return render_template("errors/refused.html", code=code, message=message), code


def _register_error_pages(app: Flask) -> None:
    """Map HTTP errors and the engine's permission and lookup errors to pages, in one place."""
    for code in (400, 403, 404):  # 400 includes a missing or stale CSRF token
        app.register_error_handler(code, lambda _exc, code=code: _error_page(code))
    app.register_error_handler(NotPermittedError, lambda _exc: _error_page(403))
    app.register_error_handler(NotFoundError, lambda _exc: _error_page(404))
    app.register_error_handler(LiaisonError, _refused_page)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(HTTPException, _other_http_error)
    app.register_error_handler(InternalServerError, _internal_error)


def _too_large(_exc):
    if request.path.startswith("/api/"):
        return _error_page(413)
    return render_template("errors/refused.html", code=413, message=form_too_large_message()), 413


def _internal_error(_exc):
    try:
        return _error_page(500)
    except Exception:  # noqa: BLE001 - the page itself failed (database down): plain text then
        return "500 Internal Server Error", 500, {"Content-Type": "text/plain; charset=utf-8"}
