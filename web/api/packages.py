"""Packages over the API: deploy an uploaded zip or lone `.bpmn`, list, read, export a version; the same
engine functions as `liaison deploy` / `liaison export` and the designer's permission rule."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Response, request
from flask_babel import gettext as _

from engine.errors import NotPermittedError, msg
from engine.packages import archive, deployment, designer_access
from engine.work import api_reads, queries

from . import schemas as s
from .core import ApiError, decode_cursor, endpoint, identity, page_of, sessions

UPLOAD = {"multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
    "file": {"type": "string", "format": "binary", "description": "a package zip or a single .bpmn file"},
    "notes": {"type": "string", "description": "the version's notes"}}}}}


@endpoint("POST", "/packages", scope="deploy", response=s.Deployed, status=201, idempotent=True,
          tags=["packages"], multipart=UPLOAD)
def deploy_package():
    """Deploy a package (multipart `file`: a zip or a lone .bpmn) as its next version.

    422 lists every problem (`details.problems`, each `PATH:LINE: ELEMENT: message`); 403 without the
    designer's deploy right on the package (or its category, for a new one)."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(400, "invalid_request", _("Send the package as the multipart field `file`."))
    suffix = ".bpmn" if upload.filename.lower().endswith(".bpmn") else ".zip"
    with tempfile.TemporaryDirectory(prefix="liaison-api-") as scratch:
        path = Path(scratch, "upload" + suffix)
        upload.save(path)
        package = archive.load_package_file(path)
    username = identity().user.username
    with sessions()() as session:
        if not designer_access.may_deploy(session, username, package.key, package.meta.get("category")):
            raise NotPermittedError(msg("you may not deploy the process %(key)s", key=package.key))
    result = deployment.deploy_package(sessions(), package, username, request.form.get("notes") or None)
    return {"key": result.key, "version": result.version, "created": result.created,
            "warnings": [str(w) for w in result.warnings]}


@endpoint("GET", "/packages", scope="read", query=s.ListQuery, response=s.page_schema(s.Package, "PackagePage"),
          tags=["packages"])
def list_packages(args: dict):
    """Deployed packages with their latest version number, by key."""
    offset = decode_cursor(args["cursor"])
    with sessions()() as session:
        items = queries.list_processes(session)
    return page_of(items[offset:offset + args["limit"] + 1], offset, args["limit"])


@endpoint("GET", "/packages/<key>", scope="read", response=s.PackageDetail, tags=["packages"])
def get_package(key: str):
    """One package and its versions."""
    with sessions()() as session:
        return api_reads.package_detail(session, key)


@endpoint("GET", "/packages/<key>/versions/<int:number>/export", scope="deploy", tags=["packages"])
def export_version(key: str, number: int):
    """A deployed version's files as a zip (what `liaison export` writes)."""
    with sessions()() as session:
        content = archive.export_version(session, key, number)
    return Response(content, mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{key}-v{number}.zip"'})
