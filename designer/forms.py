"""The form builder of a package: palette, field properties, per-node access, live preview, YAML source (issue 15).

Page: `/designer/KEY/forms[?form=NAME]` (browser code `designer/static/forms/*.js`, plain ES modules). JSON:
`GET|PUT /designer/KEY/forms/NAME.json` (the form's schema and YAML, field types, the nodes using it, its
problems with their lines), `POST /designer/KEY/forms/check-expression` (one expression, as the forms engine
compiles it), `POST /designer/KEY/forms/preview` (the real forms renderer's HTML and the sample values'
messages). The rules live in `engine.packages.form_drafts` and `engine.packages.form_preview`.
"""

from __future__ import annotations

import json

from flask import Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from designer import bp
from designer.editor import _json_refusals, _lang, _sessions, _translated
from engine.packages import designer_access, drafts, form_drafts
from engine.packages.form_preview import preview_form
from engine.packages.limits import MAX_YAML_BYTES
from forms.schema import COMPUTED_TYPES, DISPLAY_TYPES, VALUE_TYPES

MAX_FORM_BYTES = 1024 * 1024
TYPE_WORDS = {
    "text": _l("Single-line text"), "textarea": _l("Long text"), "number": _l("Number"), "money": _l("Amount of money"),
    "date": _l("Date"), "datetime": _l("Date and time"), "date_range": _l("Date range"),
    "select": _l("Drop-down list"), "radio": _l("Single choice"), "checkboxes": _l("Multiple choice"),
    "user": _l("Person"), "department": _l("Department"), "file": _l("Attachment"), "rating": _l("Rating"),
    "table": _l("Detail table"), "quiz": _l("Quiz question"), "related": _l("Related request"),
    "serial": _l("Serial number"), "formula": _l("Formula"), "notice": _l("Notice text"),
}


@bp.get("/<key>/forms")
def forms(key: str):
    """The form builder page for one of the draft's forms (`?form=NAME`, else the first)."""
    with _sessions() as session, session.begin():
        draft = drafts.open_draft(session, current_user.username, key)
        name = draft.name.get(_lang()) or draft.name.get("zh") or key
        names = form_drafts.form_names(draft.files)
        can_deploy = designer_access.may(session, current_user.username, key, "deploy")
    chosen = request.args.get("form") or (names[0] if names else "")
    return render_template("designer/forms.html", key=key, name=name, lang=_lang(), names=names, form=chosen,
                           can_deploy=can_deploy, labels=_labels(), types=_types())


@bp.post("/<key>/forms")
def new_form(key: str):
    """Add a form to the draft (`name`) and open it; the refusal is flashed on the page."""
    name = (request.form.get("name") or "").strip()
    try:
        with _sessions() as session, session.begin():
            drafts.open_draft(session, current_user.username, key)
            form_drafts.new_form(session, current_user.username, key, name)
    except drafts.DraftFileError as exc:
        flash(_translated(exc), "error")
        return redirect(url_for("designer.forms", key=key))
    return redirect(url_for("designer.forms", key=key, form=name))


@bp.post("/<key>/forms/import")
def import_formjs(key: str):
    """Add a form from a form-js file (Camunda Modeler's `.form`) and open it; what could not be mapped
    exactly is listed on the page."""
    name = (request.form.get("name") or "").strip()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a form-js file (.form or .json)."), "error")
        return redirect(url_for("designer.forms", key=key))
    try:
        with _sessions() as session, session.begin():
            designer_access.require(session, current_user.username, key, "edit")
            drafts.open_draft(session, current_user.username, key)
            notes = form_drafts.import_formjs_form(session, current_user.username, key, name,
                                                   upload.read(MAX_YAML_BYTES + 1))
    except drafts.DraftFileError as exc:
        flash(_translated(exc), "error")
        return redirect(url_for("designer.forms", key=key))
    for note in notes:
        flash(_("Not mapped exactly: %(note)s", note=note), "info")
    return redirect(url_for("designer.forms", key=key, form=name))


@bp.get("/<key>/forms/<form>.form")
def export_formjs(key: str, form: str):
    """The form as a form-js file for Camunda Modeler (labels in the page's language); the fields
    form-js cannot hold (people, departments, ratings, quizzes...) are left out, their count in the
    `X-Liaison-Left-Out` header (the link on the page says which kinds)."""
    with _sessions() as session:
        designer_access.require(session, current_user.username, key, "edit")
        document, left_out = form_drafts.export_formjs_form(drafts.current_draft(session, key), form, _lang())
    response = Response(json.dumps(document, ensure_ascii=False, indent=2), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="{form}.form"'
    response.headers["X-Liaison-Left-Out"] = str(len(left_out))
    return response


@bp.get("/<key>/forms/<form>.json")
@_json_refusals
def form_json(key: str, form: str):
    """One form of the draft: schema, YAML text, its problems (with lines), field types, nodes using it."""
    with _sessions() as session, session.begin():
        draft = drafts.open_draft(session, current_user.username, key)
        found = form_drafts.read_form(draft, form)
        body = {"key": key, "name": form, "revision": draft.revision, "path": found.path,
                "forms": form_drafts.form_names(draft.files), "yaml": found.text, "schema": found.schema,
                "problems": _problems(form_drafts.form_problems(found.text)), "types": _types(),
                "nodes": form_drafts.form_nodes(draft.files, key, form)}
    return jsonify(body)


@bp.put("/<key>/forms/<form>.json")
@_json_refusals
def save_form_json(key: str, form: str):
    """Save the form (`schema` or `yaml` text) as the draft's next revision; 409 when someone else saved."""
    request.max_content_length = MAX_FORM_BYTES + 64 * 1024
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("revision"), int) or not (
            isinstance(data.get("schema"), dict) or isinstance(data.get("yaml"), str)):
        return jsonify(error=_("The request is not what the editor sends: revision and %(field)s are needed.",
                               field="schema")), 400
    text = data.get("yaml") if isinstance(data.get("yaml"), str) else None
    schema = None if text is not None else data["schema"]
    if schema is not None and isinstance(data.get("access"), dict):
        schema = form_drafts.with_access(schema, data["access"])
    with _sessions() as session, session.begin():
        draft = form_drafts.save_form(session, current_user.username, key, data["revision"], form,
                                      schema=schema, text=text)
        found = form_drafts.read_form(draft, form)
        body = {"revision": draft.revision, "yaml": found.text, "schema": found.schema,
                "problems": _problems(form_drafts.form_problems(found.text)),
                "updated_at": draft.updated_at.isoformat() if draft.updated_at else None}
    return jsonify(body)


@bp.post("/<key>/forms/check-expression")
@_json_refusals
def check_expression(key: str):
    """`{"expression", "fields"}` -> `{"ok": true}` or `{"ok": false, "error"}` (the forms engine's compiler)."""
    data = request.get_json(silent=True)
    data = data if isinstance(data, dict) else {}
    with _sessions() as session, session.begin():
        designer_access.require(session, current_user.username, key, "edit")
    fields = [str(f) for f in data.get("fields") or [] if isinstance(f, str)]
    error = form_drafts.check_expression(str(data.get("expression") or ""), fields)
    return jsonify(ok=error is None, error=error)


@bp.post("/<key>/forms/preview")
@_json_refusals
def preview(key: str):
    """`{"schema", "values", "lang", "node"}` -> the form's HTML as the task page renders it, and messages."""
    request.max_content_length = MAX_FORM_BYTES + 64 * 1024
    data = request.get_json(silent=True)
    data = data if isinstance(data, dict) else {}
    with _sessions() as session, session.begin():
        designer_access.require(session, current_user.username, key, "edit")
    schema = data.get("schema") if isinstance(data.get("schema"), dict) else {}
    values = data.get("values") if isinstance(data.get("values"), dict) else {}
    node = data.get("node") if isinstance(data.get("node"), str) and data.get("node") else None
    result = preview_form(schema, values, str(data.get("lang") or _lang()), node)
    return jsonify(html=result.html, errors=result.errors, problems=result.problems)


def _problems(problems) -> list[dict]:
    return [{"line": p.line, "message": p.message} for p in problems]


def _types() -> list[dict]:
    """The field types of the palette, in the forms engine's order, with their names in the page's language."""
    return [{"type": kind, "label": str(TYPE_WORDS.get(kind, kind))}
            for kind in (*VALUE_TYPES, *COMPUTED_TYPES, *DISPLAY_TYPES)]


def _labels() -> dict:
    """The page's texts for the browser code (a JSON block in the page: no inline script)."""
    return {
        "saving": _("Saving…"), "saved": _("All changes saved"), "loading": _("Loading…"),
        "conflict": _("Someone else saved this draft: reload to see their changes."),
        "save_failed": _("Not saved"), "problems": _("Problems"), "no_problems": _("No problems"),
        "name": _("Field name"), "type": _("Type"), "label_zh": _("Label (Chinese)"), "label_en": _("Label (English)"),
        "help_zh": _("Help (Chinese)"), "help_en": _("Help (English)"), "required": _("Required"),
        "required_if": _("Required when"), "visible_if": _("Visible when"), "min": _("Minimum"),
        "max": _("Maximum"), "pattern": _("Pattern"), "options": _("Options (value|中文|English, one a line)"),
        "default_from": _("Default from"), "expression": _("Formula"), "columns": _("Columns"),
        "answer": _("Answer key"), "points": _("Points"), "duplicate": _("Duplicate"), "delete": _("Delete"),
        "up": _("Move up"), "down": _("Move down"), "line": _("line %(n)s", n="{n}"),
        "name_taken": _("Another field already has this name."),
        "name_invalid": _("A name is letters, digits and _, not starting with a digit."),
        "expression_ok": _("The expression is valid."), "editable": _("Editable"), "readonly": _("Read-only"),
        "hidden": _("Hidden"), "start": _("Start form"), "field": _("Field"), "apply_yaml": _("Apply YAML"),
        "sums": _("Column sums"), "no_tasks": _("No user task of the process uses this form yet."),
    }
