"""Uploads and downloads: `POST /files` stores one file and answers its reference as JSON, `GET /files/<id>`
sends it back to whoever may have it. Also the helpers the start form, the task page and the operations
use to accept only a person's own uploads.

Where files live: a `forms.files.FileStore` under `LIAISON_UPLOAD_DIR` (default `<instance>/files`),
`app.extensions["liaison_files"]`. Limits: `LIAISON_UPLOAD_MAX_SIZE` bytes (default 20 MB) and the
extensions or types in `LIAISON_UPLOAD_ACCEPT`; an upload may narrow both for a form field (`accept`,
`max_size` posted with the file, from the field's own limits). The file's type is taken from its name,
never from what the browser claims.

Who may do what (`engine.uploads`): every upload is recorded with its uploader. Until a submission,
decision or operation attaches it to an instance only the uploader may reference or download it; then
whoever may view the instance (`engine.work.may_view_instance`) downloads it. Anyone else gets a 404.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path

from flask import Blueprint, abort, current_app, jsonify, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import pgettext
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from engine.runtime import uploads
from engine.work import pages as work
from forms.files import FileStore, UploadRefused, accepts, human_size, safe_name
from forms.schema import FormSchema

from .auth import current_account

bp = Blueprint("files", __name__)

DEFAULT_MAX_SIZE = 20 * 1024 * 1024
DEFAULT_ACCEPT = (
    ".pdf", ".ofd", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".odt", ".ods", ".odp", ".wps", ".et",
    ".rtf", ".txt", ".csv", ".md", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".heic",
    ".zip", ".rar", ".7z", ".eml", ".msg",
)
MULTIPART_OVERHEAD = 64 * 1024  # the form's other parts and boundaries around the file itself
# Types a browser could run or render as a page: always sent as plain bytes.
ACTIVE_TYPES = {"text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml",
                "text/javascript", "application/javascript"}


@bp.record_once
def _set_up(state) -> None:
    """The app's FileStore and limits, from its config (test_config applied)."""
    config = state.app.config
    config.setdefault("LIAISON_UPLOAD_MAX_SIZE", DEFAULT_MAX_SIZE)
    config.setdefault("LIAISON_UPLOAD_ACCEPT", list(DEFAULT_ACCEPT))
    folder = config.get("LIAISON_UPLOAD_DIR") or str(Path(os.environ.get("LIAISON_INSTANCE_DIR", "instance"))
                                                     .resolve() / "files")
    state.app.extensions["liaison_files"] = FileStore(folder)


def file_store() -> FileStore:
    """The app's FileStore."""
    return current_app.extensions["liaison_files"]


def _sessions():
    return current_app.extensions["liaison_sessions"]


# -- upload ------------------------------------------------------------------------------------------

def _refused(status: int, code: str, message: str):
    return jsonify({"error": message, "code": code}), status


def _limits() -> tuple[int, list[str]]:
    """The size limit and accepted types of this upload: the app's, narrowed by the field's (query
    string `max_size`, `accept`: read before the body is)."""
    max_size = int(current_app.config["LIAISON_UPLOAD_MAX_SIZE"])
    requested = request.args.get("max_size", type=int)
    if requested and 0 < requested < max_size:
        max_size = requested
    field_accept = [a.strip() for a in request.args.get("accept", "").split(",") if a.strip()][:50]
    return max_size, field_accept


@bp.url_value_preprocessor
def _limit_body(endpoint: str | None, _values) -> None:
    """Before anything reads the body (the CSRF check parses the form): refuse an upload whose length
    says it is too large, and stop reading one without a length past the limit (413)."""
    if endpoint != "files.upload":
        return
    max_size, _accept = _limits()
    if request.content_length is not None and request.content_length > max_size + MULTIPART_OVERHEAD:
        raise RequestEntityTooLarge()
    request.max_content_length = max_size + MULTIPART_OVERHEAD


@bp.post("/files")
def upload():
    """Store one file (multipart field `file`) as the signed-in person's upload; answers 201
    `{id, name, size, sha256, content_type}`, or `{error, code}` with 400 (empty, missing), 413 (too
    large), 415 (type not allowed)."""
    max_size, field_accept = _limits()
    chosen = request.files.get("file")
    if chosen is None or not chosen.filename:
        return _refused(400, "missing", _("Choose a file to upload."))
    name = safe_name(chosen.filename)
    allowed = current_app.config["LIAISON_UPLOAD_ACCEPT"]
    if (allowed and not accepts(allowed, name, None)) or (field_accept and not accepts(field_accept, name, None)):
        kinds = ", ".join(field_accept or allowed)
        return _refused(415, "type", _("“%(name)s” is not a file type that can be uploaded here (%(types)s).",
                                       name=name, types=kinds))
    stream = chosen.stream
    size = stream.seek(0, os.SEEK_END)
    stream.seek(0)
    if size == 0:
        return _refused(400, "empty", _("“%(name)s” is empty.", name=name))
    if size > max_size:
        return _too_large(max_size, name)
    try:
        ref = file_store().put(stream, name, None, max_size=max_size)
    except UploadRefused:
        return _too_large(max_size, name)
    with _sessions()() as session, session.begin():
        uploads.record(session, ref.to_dict(), current_account().username)
    return jsonify({"id": ref.id, "name": ref.name, "size": ref.size, "sha256": ref.sha256,
                    "content_type": ref.content_type}), 201


def _too_large(max_size: int, name: str | None = None):
    if name:
        return _refused(413, "too_large", _("“%(name)s” is larger than %(size)s.", name=name,
                                            size=human_size(max_size)))
    return _refused(413, "too_large", _("The file is larger than %(size)s.", size=human_size(max_size)))


@bp.errorhandler(RequestEntityTooLarge)
def _body_too_large(_exc):
    return _too_large(_limits()[0])


@bp.errorhandler(CSRFError)
def _csrf_refused(_exc):
    return _refused(400, "csrf", _("The page has expired. Reload it and try again."))


# -- download ----------------------------------------------------------------------------------------

@bp.get("/files/<file_id>")
def download(file_id: str):
    """The file, as an attachment with its original name, to its uploader while it is unattached and to
    whoever may view its instance afterwards; 404 for anyone else and for ids that do not exist."""
    account = current_account()
    with _sessions()() as session:
        found = uploads.get(session, file_id)
        if found is None:
            abort(404)
        if found.instance_id is None:
            allowed = found.owner == account.username
        else:
            allowed = work.may_view_instance(session, found.instance_id, account.username, account.groups,
                                             account.is_super_admin)
    if not allowed:
        abort(404)
    return send_upload(found)


def send_upload(found):
    """An upload the viewer may have (the caller decided), as an attachment with its original name: a type
    a browser would run is sent as bytes, never kept by a browser or proxy, sandboxed; 404 when the stored
    file is gone."""
    try:
        handle = file_store().open({"id": found.id})
    except (KeyError, OSError):
        abort(404)
    kind = found.content_type if found.content_type not in ACTIVE_TYPES else "application/octet-stream"
    response = send_file(handle, mimetype=kind or "application/octet-stream", as_attachment=True,
                         download_name=found.name, max_age=0)
    response.headers["Cache-Control"] = "no-store, private"  # personal files: never kept by a browser or proxy
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# -- what pages post: attachments and file fields ---------------------------------------------------------

def _posted_ids(value: str | None) -> list[str] | None:
    """Upload ids from a widget's hidden input (a JSON list of references or ids); None when malformed."""
    if not value or not value.strip():
        return []
    try:
        items = json.loads(value)
    except ValueError:
        return None
    if not isinstance(items, list):
        items = [items]
    ids = []
    for item in items:
        upload_id = item.get("id") if isinstance(item, dict) else item
        if not isinstance(upload_id, str):
            return None
        ids.append(upload_id)
    return list(dict.fromkeys(ids))


def posted_attachments(value: str | None, username: str, instance_id: int | None = None
                       ) -> tuple[list[str], str]:
    """`(upload ids, "")` for a post's attachments when they are the person's own unattached uploads,
    else `([], message)` saying what is wrong."""
    ids = _posted_ids(value)
    if ids is None:
        return [], _("The attachments could not be read. Remove them and attach the files again.")
    if len(ids) > uploads.MAX_ATTACHMENTS:
        return [], _("Attach at most %(count)d files.", count=uploads.MAX_ATTACHMENTS)
    if not ids:
        return [], ""
    with _sessions()() as session:
        _good, refused = uploads.usable(session, ids, username)
    if refused:
        return [], _not_yours(value, refused)
    return ids, ""


def _not_yours(value: str | None, refused: list[str]) -> str:
    names = {}
    with contextlib.suppress(ValueError, TypeError):
        names = {i.get("id"): i.get("name") for i in json.loads(value or "[]") if isinstance(i, dict)}
    name = str(names.get(refused[0]) or refused[0])[:80]
    return _("The file “%(name)s” is not yours: upload it again.", name=name)


def resolve_file_fields(schema: FormSchema, formdata, username: str, node: str | None = None,
                        values: dict | None = None) -> tuple[MultiDict, dict[str, list[str]], list[str]]:
    """The post with every editable file field's references replaced by what the server recorded.

    Returns `(formdata, errors by field, new upload ids)`. A reference is accepted when it is one the
    process data already holds for that field (`values`, a task), or the person's own unattached
    upload; anything else is a field error "... is not yours". The new ids are attached to the instance
    once the submission is saved (`attach`).
    """
    access = schema.access_for(node)
    names = [f["name"] for f in schema.fields if f["type"] == "file" and access.get(f["name"]) == "editable"]
    posted = MultiDict(formdata)
    errors: dict[str, list[str]] = {}
    new_ids: list[str] = []
    for name in names:
        raw = [v for v in posted.getlist(name) if v and v.strip()]
        if not raw:
            continue
        current = {r.get("id"): r for r in ((values or {}).get(name) or []) if isinstance(r, dict)}
        wanted = []
        for value in raw:
            ids = _posted_ids(value)
            if ids is None:
                wanted = None
                break
            wanted.extend(ids)
        if wanted is None:
            continue  # the field itself reports the malformed value
        fresh = [i for i in dict.fromkeys(wanted) if i not in current]
        with _sessions()() as session:
            good, refused = uploads.usable(session, fresh, username)
        if refused:
            errors[name] = [_not_yours(raw[0], refused)]
            continue
        records = {u.id: u.ref() for u in good}
        refs = [current.get(i) or records[i] for i in dict.fromkeys(wanted)]
        posted.setlist(name, [json.dumps(refs, ensure_ascii=False)])
        new_ids.extend(records)
    return posted, errors, new_ids


def attach(ids: list[str], username: str, instance_id: int) -> None:
    """Mark the person's new uploads as the instance's, after the submission that references them."""
    if ids:
        with _sessions()() as session, session.begin():
            uploads.attach(session, ids, username, instance_id)


# -- templates ---------------------------------------------------------------------------------------------

_VALUE = re.compile(r'(<div class="lf-value"[^>]*>)(.*?)(</div>)', re.S)


def with_download_links(html: Markup, fld, values: dict, endpoint: str = "files.download") -> Markup:
    """A read-only file field's markup with its file names as download links (other fields unchanged);
    `endpoint` serves the file (the portal has its own, scoped to the outsider)."""
    spec = getattr(fld, "spec", None) or {}
    refs = values.get(fld.name) if spec.get("type") == "file" else None
    if not isinstance(refs, list) or not refs or not str(html).strip():
        return html
    items = Markup("").join(
        Markup('<li><a href="{}" download>{}</a> <span class="file-size">{}</span></li>').format(
            url_for(endpoint, file_id=ref["id"]), ref.get("name") or ref["id"], filesize(ref.get("size")))
        for ref in refs if isinstance(ref, dict) and isinstance(ref.get("id"), str))
    links = Markup('<ul class="file-links">{}</ul>').format(items)
    return Markup(_VALUE.sub(lambda m: m.group(1) + str(links) + m.group(3), str(html), count=1))  # str: not escaped


@bp.app_template_global()
def has_file_field(form) -> bool:
    """Whether a built form has a file field (the page then says files need JavaScript)."""
    return form is not None and any(getattr(f, "spec", {}).get("type") == "file" for f in form)


@bp.app_template_filter("filesize")
def filesize(size) -> str:
    """A byte count as short text (12KB, 3.5MB)."""
    return human_size(int(size)) if isinstance(size, int) else ""


def upload_words() -> dict[str, str]:
    """The upload widget's words in the page's language (upload.js fills in {name}, {reason}, ...)."""
    return {"choose": _("Upload a file"), "more": _("Upload more"), "remove_short": pgettext("upload", "Remove"),
            "remove": _("Remove %(name)s", name="{name}"), "uploading": _("Uploading %(name)s…", name="{name}"),
            "failed": _("Not uploaded: %(reason)s", reason="{reason}"), "wait": _("Wait until the files are uploaded."),
            "network": _("The connection failed. Try again."),
            "too_many": _("Attach at most %(count)s files.", count="{n}"),
            "too_large": _("“%(name)s” is larger than %(size)s.", name="{name}", size="{size}")}


@bp.app_template_global()
def upload_script() -> Markup:
    """The upload widget's script tag, with the endpoint and its words (every page with a file input)."""
    return Markup('<script src="{}" data-upload-url="{}" data-words="{}"></script>').format(
        url_for("static", filename="upload.js"), url_for("files.upload"),
        json.dumps(upload_words(), ensure_ascii=False))
