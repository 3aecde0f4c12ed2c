"""The OpenAPI 3.1 document, generated from the `endpoint` declarations by apispec with its marshmallow
plugin, served at /api/v1/openapi.json, and the Swagger UI page at /api/v1/docs (swagger-ui-dist from
npm, served like `web/vendor.py` serves bpmn-js; the page's own script is a static file, as the CSP wants).

Why apispec + marshmallow and not flask-smorest or spectree: flask-smorest registers an app-wide
HTTPException handler and its own error bodies (webargs), which would change every HTML error page of
the app and the API's error shape; spectree would add pydantic beside WTForms. apispec only writes the
document, and the same marshmallow schemas parse the requests (`core.endpoint`), so the two agree.
"""

from __future__ import annotations

import re
from functools import cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import abort, render_template, send_from_directory, url_for

from engine.people.api_tokens import SCOPES

from ..vendor import NODE_MODULES
from . import schemas as s
from .core import ENDPOINTS, bp, json_response

VERSION = "1.0.0"
_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
ERRORS = {"400": "bad JSON or a body / query that does not match the schema",
          "401": "no token, or an unknown, revoked or expired one",
          "403": "the token lacks the scope, or its person may not do this",
          "404": "not found, or not visible to the token's person",
          "409": "stale or concurrent: someone changed or completed it first",
          "413": "the body, or the data it would store, is too large",
          "422": "refused: the form's messages per field, an invalid package, a reused Idempotency-Key",
          "429": "too soon again (see Retry-After)"}


def build_spec() -> dict:
    """The document of every declared endpoint (scopes, parameters, bodies, responses, errors)."""
    spec = APISpec(title="Liaison API", version=VERSION, openapi_version="3.1.0", plugins=[MarshmallowPlugin()],
                   info={"description": "Drive Liaison from other systems: deploy packages, start requests, "
                                        "list and complete tasks. Bearer tokens with scopes: "
                                        + ", ".join(SCOPES) + ". See docs/api.md."},
                   servers=[{"url": bp.url_prefix}])
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "description": "`liaison token create USERNAME --scopes ...`"})
    spec.components.schema("Error", schema=s.Error)
    for name, declared in ENDPOINTS:
        path, parameters = _path(declared.rule)
        operation = {"operationId": name.split(".", 1)[1], "summary": declared.summary,
                     "description": (declared.description + f"\n\nScope: `{declared.scope}`.").strip(),
                     "tags": list(declared.tags), "security": [{"bearer": [declared.scope]}],
                     "parameters": parameters, "responses": _responses(declared)}
        if declared.query is not None:
            operation["parameters"].append({"in": "query", "schema": declared.query})
        if declared.idempotent:
            operation["parameters"].append({"in": "header", "name": "Idempotency-Key", "required": False,
                                            "schema": {"type": "string", "maxLength": 200},
                                            "description": "a retry with the same key and body returns the "
                                                           "first response (24 hours)"})
        if declared.body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": declared.body}}}
        elif declared.multipart is not None:
            operation["requestBody"] = {"required": True, "content": declared.multipart}
        spec.path(path=path, operations={declared.method.lower(): operation})
    return spec.to_dict()


def _path(rule: str) -> tuple[str, list[dict]]:
    parameters = [{"in": "path", "name": name, "required": True,
                   "schema": {"type": "integer"} if kind == "int" else {"type": "string"}}
                  for kind, name in _PARAM.findall(rule)]
    return _PARAM.sub(r"{\2}", rule), parameters  # relative to the server URL, /api/v1


def _responses(declared) -> dict:
    if declared.response is not None:
        schema = {"type": "array", "items": declared.response} if declared.many else declared.response
        content = {"application/json": {"schema": schema}}
    elif declared.rule.endswith("/export"):
        content = {"application/zip": {"schema": {"type": "string", "format": "binary"}}}
    else:
        content = None
    responses = {str(declared.status): {"description": "done", **({"content": content} if content else {})}}
    if declared.links:
        responses[str(declared.status)]["links"] = {
            name: {"operationId": operation, "parameters": parameters}
            for name, (operation, parameters) in declared.links.items()}
    error = {"application/json": {"schema": "Error"}}
    for code, text in ERRORS.items():
        responses[code] = {"description": text, "content": error}
    return responses


@cache
def _document() -> dict:
    return build_spec()


@bp.get("/openapi.json")
def openapi():
    return json_response(_document())


@bp.get("/docs")
def docs():
    return render_template("api/docs.html", spec_url=url_for("api.openapi"))


# Swagger UI from npm (`make setup`), served like web/vendor.py serves bpmn-js, but readable without
# signing in, as the docs page is: only these two files of node_modules are reachable.
DOCS_ASSETS = {"swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
               "swagger-ui.css": "swagger-ui-dist/swagger-ui.css"}


@bp.get("/docs/assets/<name>")
def docs_asset(name: str):
    relative = DOCS_ASSETS.get(name)
    if relative is None or not (NODE_MODULES / relative).is_file():
        abort(404)
    return send_from_directory(NODE_MODULES, relative, max_age=86400)
