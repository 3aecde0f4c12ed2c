"""The REST API's frame (issue 13): bearer-token auth, scopes, JSON bodies, errors, idempotency, paging.

Every endpoint is declared with `endpoint(...)`: its method and rule, the scope it needs, the marshmallow
schemas of its query, body and response. The same declaration enforces the scope, parses and checks the
input, and is what `web/api/spec.py` turns into the OpenAPI document, so the document cannot drift from
the code. Views stay thin: they call the engine function the page or command calls.

Only `Authorization: Bearer TOKEN` authenticates; the session cookie is ignored, so the blueprint has no
CSRF surface and is exempt from CSRF. Errors are `{"error": {"code", "message", "details"}}`.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps

from flask import Blueprint, Response, current_app, g, request
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import HTTPException

from engine.errors import FormInvalidError, InvalidPackageError, LiaisonError, ProcessRuntimeError
from engine.packages.limits import MAX_ZIP_BYTES
from engine.people import api_tokens
from engine.runtime.operations import UrgedTooSoonError
from engine.work import idempotency
from engine.work.api_reads import Viewer
from web import csrf
from web.auth import public_blueprint
from web.errors import failed_message, form_errors, status_for, translated

bp = public_blueprint(Blueprint("api", __name__, url_prefix="/api/v1"))
csrf.exempt(bp)

MAX_JSON_BYTES = 1024 * 1024  # a JSON body
MAX_UPLOAD_BYTES = MAX_ZIP_BYTES + 64 * 1024  # a package upload: the zip's own cap plus the multipart framing
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
OPEN_ENDPOINTS = {"api.openapi", "api.docs", "api.docs_asset"}  # readable without a token: the document and its page


@dataclass(frozen=True)
class Endpoint:
    """What `endpoint` declared about a view; `spec.py` reads it."""

    method: str
    rule: str
    scope: str
    query: type[Schema] | None
    body: type[Schema] | None
    response: type[Schema] | None
    many: bool
    status: int
    idempotent: bool
    tags: tuple[str, ...]
    summary: str
    description: str
    multipart: dict | None = None
    links: dict | None = None  # OpenAPI links of the success response: {name: (operationId, {param: expression})}


ENDPOINTS: list[tuple[str, Endpoint]] = []  # (endpoint name, declaration), in declaration order


class ApiError(Exception):
    """A refusal of the API layer itself (auth, scope, bad JSON, unknown route)."""

    def __init__(self, status: int, code: str, message: str, details=None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details, self.headers = status, code, message, details, headers


def error_response(status: int, code: str, message: str, details=None, headers: dict | None = None) -> Response:
    """The one shape of every API error."""
    body = json.dumps({"error": {"code": code, "message": message, "details": details or {}}}, ensure_ascii=False)
    response = Response(body, status=status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def json_response(payload, status: int = 200) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False, default=str), status=status, mimetype="application/json")


def identity() -> api_tokens.TokenIdentity:
    return g.api_identity


def viewer() -> Viewer:
    """The token's person as the engine's visibility rules take it."""
    user = identity().user
    return Viewer(user.username, user.groups, user.is_super_admin)


def sessions():
    return current_app.extensions["liaison_sessions"]


# -- auth ------------------------------------------------------------------------------------------

@bp.before_request
def _authenticate():
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _space, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "unauthorized", _("An `Authorization: Bearer TOKEN` header is required (session cookies are not "
                                         "accepted here)."), headers={"WWW-Authenticate": "Bearer"})
    with current_app.extensions["liaison_read_sessions"]() as session:  # PostgreSQL: autocommit, no BEGIN
        found = api_tokens.verify_token(session, secret.strip())
    if found is None:
        raise ApiError(401, "invalid_token", _("The token is unknown, revoked or expired, or its person is inactive."),
                       headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    g.api_identity = found
    return None


# -- errors ----------------------------------------------------------------------------------------

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
              422: "unprocessable", 429: "too_many_requests", 500: "internal_error"}


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


@bp.errorhandler(LiaisonError)
def _engine_refusal(exc: LiaisonError):
    """Engine refusals: the status `web.errors.status_for` gives them (the pages' mapping), the message in
    the Accept-Language's language; a refused form with its messages per field."""
    if isinstance(exc, UrgedTooSoonError):
        seconds = max(1, math.ceil((exc.allowed_at - datetime.now(UTC)).total_seconds()))
        return error_response(429, "too_many_requests", translated(exc), {"retry_after": seconds},
                              {"Retry-After": str(seconds)})
    if isinstance(exc, FormInvalidError):
        return error_response(422, "form_invalid", _("The form has errors: see the messages per field."),
                              {"fields": form_errors(exc)})
    if isinstance(exc, InvalidPackageError):
        return error_response(422, "invalid_package", _("The package was refused: see its problems."),
                              {"problems": [str(problem) for problem in exc.problems]})
    if isinstance(exc, idempotency.IdempotencyKeyReusedError):
        return error_response(422, "idempotency_key_reused", translated(exc))
    if isinstance(exc, ProcessRuntimeError) and status_for(exc) == 422:
        return error_response(500, "step_failed", failed_message(exc))
    status = status_for(exc)
    code = {404: "not_found", 403: "forbidden", 409: "conflict", 413: "too_large"}.get(status, "refused")
    return error_response(status, code, translated(exc))


def http_error(exc: HTTPException) -> Response:
    """An HTTP error (bad route, method, size) in the API's shape; also used by the app for /api/ paths."""
    status = exc.code or 500
    return error_response(status, HTTP_CODES.get(status, "error"), exc.description or exc.name)


bp.register_error_handler(HTTPException, http_error)


def is_api_request() -> bool:
    """True for a request under /api/ (the app's own error pages answer JSON there)."""
    return request.path.startswith(bp.url_prefix + "/") or request.path == bp.url_prefix


# -- input -----------------------------------------------------------------------------------------

def _json_body() -> dict:
    if request.content_length and request.content_length > MAX_JSON_BYTES:
        raise ApiError(413, "too_large", _("A JSON body may hold at most %(count)s bytes.", count=MAX_JSON_BYTES))
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", _("Send the body as application/json."))
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "bad_json", _("The body is not valid JSON: %(reason)s", reason=exc)) from None
    if not isinstance(value, dict):
        raise ApiError(400, "bad_json", _("The body must be a JSON object."))
    return value


def _load(schema: type[Schema], data) -> dict:
    try:
        return schema().load(data)
    except ValidationError as exc:
        raise ApiError(400, "invalid_request", _("The request does not match the endpoint's schema: see the messages per field."),
                       {"fields": exc.messages}) from None


# -- paging ----------------------------------------------------------------------------------------

def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["o"]
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, "bad_cursor", _("The cursor is not one this API gave.")) from None
    if not isinstance(offset, int) or not 0 <= offset <= 10**9:
        raise ApiError(400, "bad_cursor", _("The cursor is not one this API gave."))
    return offset


def page_of(items: list, offset: int, limit: int) -> dict:
    """A list response from `limit + 1` fetched items: the first `limit`, and a cursor when there is more."""
    more = len(items) > limit
    return {"items": items[:limit], "next_cursor": encode_cursor(offset + limit) if more else None}


# -- declaring endpoints ---------------------------------------------------------------------------

def endpoint(method: str, rule: str, *, scope: str, query=None, body=None, response=None, many: bool = False,
             status: int = 200, idempotent: bool = False, tags=(), multipart: dict | None = None,
             links: dict | None = None):
    """Declare an API endpoint: the view gets `args` (parsed query) and `body` (parsed JSON) keyword
    arguments when schemas are given, and returns a JSON-ready payload (sent with `status`) or a Response.
    `links` name the operations a success answer leads to (OpenAPI links: the docs show them, and the
    schemathesis state machine follows them)."""
    def wrap(view):
        doc = (view.__doc__ or "").strip()
        summary, _blank, description = doc.partition("\n")
        declared = Endpoint(method, rule, scope, query, body, response, many, status, idempotent, tuple(tags),
                            summary.strip(), description.strip(), multipart, links)

        @wraps(view)
        def run(**kwargs):
            # read no more than the endpoint takes (checked before any part of the body is read)
            request.max_content_length = MAX_UPLOAD_BYTES if multipart is not None else MAX_JSON_BYTES
            if scope not in identity().scopes:
                raise ApiError(403, "insufficient_scope", _("This token lacks the %(scope)s scope.", scope=scope),
                               {"required_scope": scope})
            if query is not None:
                kwargs["args"] = _load(query, request.args.to_dict())
            if body is not None:
                kwargs["body"] = _load(body, _json_body())
            key = request.headers.get("Idempotency-Key") if idempotent else None
            if key is None:
                return _respond(view(**kwargs), status)
            return _idempotent(idempotency.check_key(key), lambda: _respond(view(**kwargs), status))

        run.api = declared
        bp.add_url_rule(rule, view.__name__, run, methods=[method])
        ENDPOINTS.append((f"{bp.name}.{view.__name__}", declared))
        return run
    return wrap


def _respond(result, status: int) -> Response:
    return result if isinstance(result, Response) else json_response(result, status)


def _idempotent(key: str, run) -> Response:
    """The kept response of this token's key (same request), else reserve the key, run, keep the answer."""
    token_id = identity().token_id
    digest = idempotency.request_digest(request.method, request.path, request.get_data(cache=True))
    with sessions()() as session:
        kept = idempotency.reserve(session, token_id, key, digest)
    if kept is not None:
        response = Response(kept.body, status=kept.status, mimetype="application/json")
        response.headers["Idempotent-Replayed"] = "true"
        return response
    try:
        response = run()
    except Exception as exc:
        try:
            response = current_app.handle_user_exception(exc)
        except Exception:
            with sessions()() as session:
                idempotency.finish(session, token_id, key, 500, "")
            raise
    with sessions()() as session:
        idempotency.finish(session, token_id, key, response.status_code, response.get_data(as_text=True))
    return response


@bp.route("/<path:_rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(_rest: str):
    """Any other path under /api/v1 (after the token check): a JSON 404, never the sign-in page."""
    raise ApiError(404, "not_found", _("No such endpoint (or it does not take this method)."))
