"""The process list, drafts, the modeler page and the JSON the browser bundle talks to.

Pages: `/designer/` (list, new, import), `/designer/KEY/edit` (the modeler), `/designer/KEY/audit`,
`/designer/KEY/export`. JSON (docs: the editor/bundle contract): `GET|PUT /designer/KEY/draft`,
`POST /designer/KEY/deploy`. The rules are in `engine.packages.drafts`, `draft_checks`, `draft_import`
and `designer_access`; refusals of the JSON routes are answered as JSON here (`_json_refusals`).
"""

from __future__ import annotations

import functools
from pathlib import Path

from flask import (
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from designer import bp
from engine.bpmn.xmlsafe import MAX_XML_BYTES
from engine.data.models import Role
from engine.errors import (
    FormInvalidError,
    InvalidPackageError,
    LiaisonError,
    NotFoundError,
    NotPermittedError,
    TaskConflictError,
    UnreadableFileError,
)
from engine.packages import designer_access, draft_checks, draft_import, drafts
from engine.packages.archive import export_version
from engine.packages.diff import package_names
from engine.packages.limits import MAX_ZIP_BYTES
from engine.packages.templates import CHAIN_PREFIX, TEMPLATES, chain_template_labels
from engine.people.org import display_names

BUNDLE = Path(bp.static_folder or "", "build", "designer.js")
_REFUSED_AS = ((drafts.DraftConflictError, 409), (drafts.DraftTooLargeError, 413), (UnreadableFileError, 400),
               (drafts.DraftFileError, 400), (InvalidPackageError, 422), (NotPermittedError, 403),
               (NotFoundError, 404), (TaskConflictError, 409), (LiaisonError, 422))


def _sessions():
    return current_app.extensions["liaison_sessions"]()


def _lang() -> str:
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh"


def _translated(value) -> str:
    """An engine message in the page's language (the app's `translated` filter; `web` is above us)."""
    return current_app.jinja_env.filters["translated"](value)


@bp.app_context_processor
def _designer_link():
    def may_design() -> bool:
        def compute() -> bool:
            with _sessions() as session:
                return designer_access.may_design(session, current_user.username)

        # kept with the signed-in person per directory version (grants and deployments bump it: 0038)
        kept_fact = getattr(current_user, "kept_fact", None)
        return kept_fact("may_design", compute) if kept_fact is not None else compute()
    return {"may_design": may_design}


# -- pages ---------------------------------------------------------------------------------------

@bp.get("/")
def index():
    """The packages the user may edit, with New and Import."""
    with _sessions() as session:
        if not designer_access.may_design(session, current_user.username):
            abort(403)
        rows = drafts.designable(session, current_user.username)
        people = {u for r in rows for u in (r.deployed_by, r.draft_updated_by) if u}
        names = display_names(session, people, _lang())
        categories = _creatable_categories(session)
    return render_template("designer/index.html", rows=rows, names=names, lang=_lang(), templates={**TEMPLATES, **chain_template_labels()},
                           categories=categories, versions_url=versions_url)


@bp.post("/new")
def new():
    """Create a draft from a template and open it in the modeler."""
    form = request.form
    names = {"zh": form.get("name_zh", "").strip(), "en": form.get("name_en", "").strip()}
    key = form.get("key", "").strip()
    try:
        with _sessions() as session, session.begin():
            drafts.create_draft(session, current_user.username, key, names, form.get("category"),
                                form.get("template") or "blank")
    except (drafts.DraftFileError, TaskConflictError, NotFoundError) as exc:
        flash(_translated(exc), "error")
        return redirect(url_for("designer.index"))
    chain = (form.get("template") or "").startswith(CHAIN_PREFIX)  # a chain template opens in the chain editor
    return redirect(url_for("designer.flow" if chain else "designer.edit", key=key))


@bp.post("/import")
def import_package():
    """Import an uploaded package zip or lone .bpmn as a draft and open it."""
    request.max_content_length = MAX_ZIP_BYTES + 64 * 1024
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a .zip or .bpmn file to import."), "error")
        return redirect(url_for("designer.index"))
    try:
        with _sessions() as session, session.begin():
            draft = draft_import.import_draft(session, current_user.username, upload.filename, upload.read(),
                                              request.form.get("category") or None)
            key = draft.key
    except (drafts.DraftFileError, UnreadableFileError, InvalidPackageError, drafts.DraftTooLargeError) as exc:
        flash(_("The file was not imported: %(reason)s", reason=_refusal_text(exc)), "error")
        return redirect(url_for("designer.index"))
    return redirect(url_for("designer.edit", key=key))


@bp.get("/<key>/edit")
def edit(key: str):
    """The modeler page (the bundle fills the container; see the contract in the module docstring)."""
    with _sessions() as session, session.begin():
        draft = drafts.open_draft(session, current_user.username, key)
        name = draft.name.get(_lang()) or draft.name.get("zh") or key
        can_deploy = designer_access.may(session, current_user.username, key, "deploy")
        deployed = drafts.latest_number(session, key)
    return render_template("designer/edit.html", key=key, name=name, lang=_lang(), can_deploy=can_deploy,
                           bundle_built=BUNDLE.is_file(), versions_url=versions_url(key), deployed=deployed)


@bp.get("/<key>/audit")
def audit(key: str):
    """Who changed this package in the designer, and when."""
    with _sessions() as session:
        designer_access.require(session, current_user.username, key, "edit")
        rows = drafts.audit(session, key)
        names = display_names(session, {r.username for r in rows if r.username}, _lang())
        title = _draft_names(session, key) or package_names(session, key)
    templates = {name: words.get(_lang()) or words["zh"] for name, words in {**TEMPLATES, **chain_template_labels()}.items()}
    return render_template("designer/audit.html", key=key, rows=rows, names=names, templates=templates,
                           name=title.get(_lang()) or title.get("zh") or key)


def _draft_names(session, key: str) -> dict:
    try:
        return dict(drafts.get_draft(session, key).name or {})
    except NotFoundError:  # deployed, no draft open
        return {}


@bp.get("/<key>/export")
def export(key: str):
    """The draft as a package zip, or deployed version `?version=N`."""
    version = request.args.get("version", type=int)
    if version is not None and not 0 < version < 2**31:
        abort(404)
    with _sessions() as session:
        designer_access.require(session, current_user.username, key, "edit")
        data = export_version(session, key, version) if version else drafts.export_draft(session, key)
    name = f"{key}-v{version}.zip" if version else f"{key}-draft.zip"
    return Response(data, mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# -- JSON for the bundle ---------------------------------------------------------------------------

def _json_refusals(view):
    """Engine refusals of a JSON route as `{"error": ...}` with their status (never an HTML page)."""
    @functools.wraps(view)
    def guarded(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except RequestEntityTooLarge:
            return jsonify(error=_("The diagram is too large to be saved.")), 413
        except LiaisonError as exc:
            status = next(code for kind, code in _REFUSED_AS if isinstance(exc, kind))
            body = {"error": _refusal_text(exc)}
            if isinstance(exc, drafts.DraftConflictError):
                body["revision"] = exc.revision
            if isinstance(exc, InvalidPackageError):
                body["error"] = _("The process has errors; fix them before deploying.")
                body["problems"] = [_problem(p) for p in exc.problems]
            return jsonify(body), status
    return guarded


@bp.get("/<key>/draft")
@_json_refusals
def draft_json(key: str):
    """The draft for the modeler: XML, revision, problems, forms, roles, operations, names, portal."""
    username = current_user.username
    with _sessions() as session, session.begin():
        draft = drafts.open_draft(session, username, key)
        problems = draft_checks.check_draft(session, key)
        context = draft_checks.editor_context(session, draft, _lang())
        body = {"key": key, "revision": draft.revision, "xml": draft.files.get(context["bpmn_file"], ""),
                **context, "names": drafts.element_names(draft.files), "portal": drafts.portal_settings(draft.files),
                "problems": [_problem(p) for p in problems],
                "can_deploy": designer_access.may(session, username, key, "deploy"),
                "updated_by": _name(session, draft.updated_by),
                "updated_at": draft.updated_at.isoformat() if draft.updated_at else None}
    return jsonify(body)


@bp.put("/<key>/draft")
@_json_refusals
def save_json(key: str):
    """Save the diagram (and, when sent, the elements' zh/en `names` and package.yaml `portal`) as the draft's next revision; 409 when
    someone else saved in between."""
    revision, xml = _body("xml")
    names = request.get_json(silent=True).get("names")
    portal = request.get_json(silent=True).get("portal")  # package.yaml `portal`, when the editor sends it
    with _sessions() as session, session.begin():
        draft = drafts.save_draft(session, current_user.username, key, revision, xml, names,
                                  portal if isinstance(portal, dict) else None)
        problems = draft_checks.check_draft(session, key)
        body = {"revision": draft.revision, "problems": [_problem(p) for p in problems],
                "updated_at": draft.updated_at.isoformat()}
    return jsonify(body)


@bp.post("/<key>/deploy")
@_json_refusals
def deploy_json(key: str):
    """Deploy the draft as the next version with a comment; 422 with the problems when it has errors."""
    revision, comment = _body("comment")
    with _sessions() as session, session.begin():
        result = draft_checks.deploy_draft(session, current_user.username, key, revision, comment)
    return jsonify(version=result.version, created=result.created, warnings=[str(w) for w in result.warnings],
                   url=versions_url(key))


def _body(field: str) -> tuple[int, str]:
    request.max_content_length = MAX_XML_BYTES + 64 * 1024
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("revision"), int) or not isinstance(
            data.get(field, ""), str):
        raise drafts.DraftFileError(_("The request is not what the editor sends: revision and %(field)s are needed.",
                                      field=field))
    return data["revision"], data.get(field) or ""


def _problem(problem) -> dict:
    return {"file": problem.path, "line": problem.line, "element_id": problem.element_id,
            "message": _translated(problem.message), "severity": problem.severity}


def _refusal_text(exc: LiaisonError) -> str:
    if isinstance(exc, UnreadableFileError):
        return exc.reason
    if isinstance(exc, InvalidPackageError):
        return "; ".join(str(p) for p in exc.problems[:5])
    if isinstance(exc, FormInvalidError):  # the engine's own text is English; the fields' messages are in the page's
        listed = "; ".join(f"{path}: {' '.join(_translated(m) for m in messages)}" if path
                           else " ".join(_translated(m) for m in messages) for path, messages in exc.errors.items())
        return _("The form was not accepted: %(errors)s", errors=listed)
    return _translated(exc)


def _name(session, username: str | None) -> str | None:
    if not username:
        return None
    return display_names(session, {username}, _lang()).get(username, username)


def versions_url(key: str) -> str:
    """The version list of a package (the `versions` module's page)."""
    return f"{url_for('designer.index')}{key}/versions"


def _creatable_categories(session) -> list[str] | None:
    """The categories offered for a new package: a super admin's None means "type any"."""
    rights = designer_access.access_of(session, current_user.username)
    if rights.super_admin:
        return None
    return sorted(rights.categories["edit"])


# -- grants (super admins) ---------------------------------------------------------------------------

@bp.get("/grants")
def grants():
    """Process owners per category (super admins): the grants, a form to add one, the recent changes."""
    with _sessions() as session:
        if not current_user.is_super_admin:
            abort(403)
        rows = designer_access.grants(session)
        people = designer_access.grant_holders(session, rows)
        names = display_names(session, set(people.values()), _lang())
        changes = [row for row in drafts.audit(session, None, limit=50) if row.key is None]
        mentioned = {r.username for r in changes} | {r.detail.get("holder") for r in changes if not r.detail.get("role")}
        names.update(display_names(session, mentioned - {None}, _lang()))
        roles = session.execute(select(Role.key, Role.name, Role.name_en).order_by(Role.key)).all()
    return render_template("designer/grants.html", rows=rows, people=people, names=names, changes=changes,
                           roles=[(key, (name_en if _lang() == "en" and name_en else name)) for key, name, name_en in roles])


@bp.post("/grants")
def grant():
    """Add or change a grant to a person or a role (super admins; the engine refuses anybody else)."""
    if not current_user.is_super_admin:
        abort(403)
    form = request.form
    person, role = form.get("person", "").strip(), form.get("role", "").strip()
    if bool(person) == bool(role):
        flash(_("Choose a person or a role."), "error")
        return redirect(url_for("designer.grants"))
    try:
        with _sessions() as session, session.begin():
            designer_access.grant(session, current_user.username, form.get("category", ""), person or role,
                                  edit="edit" in form, deploy="deploy" in form, migrate="migrate" in form,
                                  role=bool(role))
    except NotFoundError as exc:
        flash(_translated(exc), "error")
    return redirect(url_for("designer.grants"))


@bp.post("/grants/revoke")
def revoke():
    """Remove a grant (super admins)."""
    if not current_user.is_super_admin:
        abort(403)
    form = request.form
    with _sessions() as session, session.begin():
        designer_access.revoke(session, current_user.username, form.get("category", ""), form.get("holder", ""),
                               role=form.get("holder_kind") == "role")
    return redirect(url_for("designer.grants"))
