"""Administration of external access (super admins only): suppliers and customers with their
contacts, the links and codes they hold, revoking at once, the import from CSV/XLSX, the access log,
invitation codes for a start form and the visitor blacklist.

Every rule lives in `engine.external`; these views parse, call one function, and show its outcome.
The import is the org chart's two steps: the upload is planned as a dry run and shown with each row's
error; its file is kept under the instance folder (named by a random token held in this admin's
session) until "apply" plans it again and writes it in one transaction.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from engine.data.models import ProcessInstance, WorkTask
from engine.errors import LiaisonError, UnreadableFileError
from engine.external import audit, display, grants, parties, party_import, passes, scope
from engine.external.identity import PARTY_KINDS, contact_identity, grant_identity
from engine.people.org import display_names
from engine.people.org_files import MAX_FILE_BYTES
from engine.results import element_label
from engine.runtime.versions import versions_element_names
from engine.work import invitations, queries
from web.errors import translated

from .auth import current_account, require_super_admin
from .i18n import current_language, when, when_span

bp = Blueprint("external_admin", __name__, url_prefix="/admin/external")
LOG_PAGE = 50
PARTIES_PAGE = 100
IMPORT_KEPT_SECONDS = 24 * 3600
OUTCOMES = ("ok", "refused")


def _labels() -> dict:
    """Words for the access log's actions and outcomes, and the import's changes, in the page's language."""
    return {
        "ACTIONS": {"enter_link": _("Opened a link"), "enter_code": _("Entered a code"), "sign_in": _("Signed in"),
                    "sign_in_request": _("Asked for a sign-in code"), "view": _("Viewed"), "fill": _("Filled a form"),
                    "upload": _("Uploaded a file"), "download": _("Downloaded a file"),
                    "submit": _("Submitted a request"), "pass": _("Opened a visitor pass"),
                    "sign_out": _("Signed out")},
        "OUTCOME_NAMES": {"unknown": _("unknown code"), "expired": _("expired"), "not_yet": _("not yet valid"),
                          "revoked": _("withdrawn"), "throttled": _("too many attempts"), "denied": _("refused"),
                          "not_found": _("not theirs or not found"), "no_session": _("not signed in"),
                          "closed": _("step already closed"), "invalid": _("form not valid")},
        "CHANGES": {"create": _("new"), "update": _("updated"), "same": _("unchanged")},
    }


@bp.context_processor
def _words() -> dict:
    return _labels()


def _sessions():
    return current_app.extensions["liaison_sessions"]


def _now() -> datetime:
    return datetime.now(UTC)


@bp.before_request
@require_super_admin
def _super_admins_only():
    """Every page here: super admins only (403 for everyone else signed in)."""
    return None


@bp.app_template_filter("ext_when")
def ext_when(value) -> str:
    """A stored moment in the reader's time zone and language, or a dash."""
    return when(value) if value else "—"


@bp.app_template_filter("ext_span")
def ext_span(start, end) -> str:
    """A slot: `2026-12-03 17:00 – 19:00` (the date once when both ends fall on the same local day)."""
    return when_span(start, end)


def _change(action, done_message: str, back: str):
    """Run an engine change in one transaction; flash its outcome (or the engine's refusal) and go back."""
    try:
        with _sessions()() as db, db.begin():
            outcome = action(db.connection())
    except (parties.PartyError, ValueError) as exc:
        flash(translated(exc) if isinstance(exc, parties.PartyError) else _("Give a name and a reason."), "error")
    else:
        flash(done_message(outcome) if callable(done_message) else done_message, "ok")
    return redirect(back, 303)


def _field(name: str) -> str:
    return request.form.get(name, "")


def _optional(name: str) -> str | None:
    """A form field that may be left as it is: None when the form does not have it."""
    return request.form.get(name)


# -- parties and contacts --------------------------------------------------------------------------

@bp.get("/")
def parties_page():
    """Suppliers and customers with their active contacts, searchable; a form to add one."""
    kind = request.args.get("kind", "")
    query = request.args.get("q", "").strip()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    with _sessions()() as db:
        rows = parties.list_parties(db.connection(), kind=kind if kind in PARTY_KINDS else None, search=query)
    more, rows = len(rows) > page * PARTIES_PAGE, rows[(page - 1) * PARTIES_PAGE:page * PARTIES_PAGE]
    return render_template("admin/external/parties.html", rows=rows, q=query, kind=kind, kinds=PARTY_KINDS,
                           page=page, more=more, lang=current_language())


@bp.post("/")
def party_create():
    created: list[int] = []

    def create(conn):
        created.append(parties.create_party(conn, kind=_field("kind"), key=_field("key"), name=_field("name"),
                                            name_en=_field("name_en") or None, now=_now()))
    response = _change(create, _("Party added."), url_for("external_admin.parties_page"))
    return redirect(url_for("external_admin.party_page", party_id=created[0]), 303) if created else response


@bp.get("/parties/<int:party_id>")
def party_page(party_id: int):
    """One party: its contacts, its links and codes, its recent accesses."""
    lang = current_language()
    with _sessions()() as db:
        conn = db.connection()
        party = parties.get_party(conn, party_id)  # NotFoundError: 404
        contacts = parties.contacts_of(conn, party_id)
        held = grants.grants_of(conn, party_id=party_id)
        recent = audit.accesses(conn, party_id=party_id, limit=20)
        names = _who(conn, recent, lang)
        steps = _step_names(conn, held, lang)
    return render_template("admin/external/party.html", party=party, contacts=contacts, grants=held,
                           accesses=recent, names=names, steps=steps, lang=lang)


def _step_names(conn, held, lang: str) -> dict[int, str]:
    """{grant id: the name of the step it was issued for, in the page's language}: a link's stored label is
    the step's BPMN name as drawn (often English). Two queries, none without links to a step."""
    task_ids = {g.task_id for g in held if g.task_id}
    if not task_ids:
        return {}
    rows = {r.id: r for r in conn.execute(
        select(WorkTask.id, WorkTask.element_id, ProcessInstance.version_id)
        .join(ProcessInstance, ProcessInstance.id == WorkTask.instance_id).where(WorkTask.id.in_(task_ids)))}
    names = versions_element_names(conn, (r.version_id for r in rows.values()))
    return {g.id: element_label(names.get(rows[g.task_id].version_id), rows[g.task_id].element_id, lang, g.label)
            for g in held if g.task_id in rows}


def _back(party_id: int) -> str:
    return url_for("external_admin.party_page", party_id=party_id)


@bp.post("/parties/<int:party_id>/edit")
def party_edit(party_id: int):
    return _change(lambda conn: parties.update_party(conn, party_id, kind=_optional("kind"), name=_optional("name"),
                                                     name_en=_optional("name_en"), now=_now()),
                   _("Saved"), _back(party_id))


def _revoked_message(revoked: parties.Revoked) -> str:
    return _("Access revoked: %(grants)s links or codes withdrawn, %(sessions)s sessions ended.",
             grants=revoked.grants, sessions=revoked.sessions)


@bp.post("/parties/<int:party_id>/revoke")
def party_revoke(party_id: int):
    """Revoke the party at once: its contacts' sessions and every grant it holds end now."""
    by = current_account().username
    return _change(lambda conn: parties.revoke_party(conn, party_id, by, _now()), _revoked_message, _back(party_id))


@bp.post("/parties/<int:party_id>/reactivate")
def party_reactivate(party_id: int):
    return _change(lambda conn: parties.reactivate_party(conn, party_id, _now()), _("Reactivated."),
                   _back(party_id))


@bp.post("/parties/<int:party_id>/contacts")
def contact_add(party_id: int):
    return _change(lambda conn: parties.add_contact(conn, party_id, name=_field("name"), email=_field("email"),
                                                    phone=_field("phone"), locale=_field("locale"), now=_now()),
                   _("Contact added."), _back(party_id))


def _contact_party(contact_id: int) -> int:
    with _sessions()() as db:
        return parties.get_contact(db.connection(), contact_id).party_id  # NotFoundError: 404


@bp.post("/contacts/<int:contact_id>/edit")
def contact_edit(contact_id: int):
    party_id = _contact_party(contact_id)
    return _change(lambda conn: parties.update_contact(conn, contact_id, name=_optional("name"),
                                                       email=_optional("email"), phone=_optional("phone"),
                                                       locale=_optional("locale")),
                   _("Saved"), _back(party_id))


@bp.post("/contacts/<int:contact_id>/revoke")
def contact_revoke(contact_id: int):
    """Deactivate a contact: their sessions and the grants issued to them end now."""
    party_id, by = _contact_party(contact_id), current_account().username
    return _change(lambda conn: parties.revoke_contact(conn, contact_id, by, _now()), _revoked_message,
                   _back(party_id))


@bp.post("/contacts/<int:contact_id>/reactivate")
def contact_reactivate(contact_id: int):
    party_id = _contact_party(contact_id)
    return _change(lambda conn: parties.reactivate_contact(conn, contact_id), _("Reactivated."), _back(party_id))


@bp.post("/grants/<int:grant_id>/revoke")
def grant_revoke(grant_id: int):
    """Withdraw one link, code or pass and end its sessions; back to the page it was listed on."""
    with _sessions()() as db:
        if not grants.grant_exists(db.connection(), grant_id):
            abort(404)
    by = current_account().username
    back = request.form.get("back", "")
    back = back if back.startswith("/admin/external/") else url_for("external_admin.parties_page")
    return _change(lambda conn: grants.revoke_grant(conn, grant_id, by, _now()),
                   lambda done: _("Withdrawn.") if done else _("It was already withdrawn."), back)


# -- import ----------------------------------------------------------------------------------------

def _import_folder() -> Path:
    return Path(current_app.config["LIAISON_UPLOAD_DIR"]).parent / "party-imports"


@bp.route("/import", methods=["GET", "POST"])
def import_page():
    """Upload a CSV/XLSX of parties and contacts: a dry run is shown; nothing is written until applied."""
    if request.method == "GET":
        return render_template("admin/external/import.html", plan=None)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a CSV or XLSX file."), "error")
        return render_template("admin/external/import.html", plan=None), 400
    data = upload.read(MAX_FILE_BYTES + 1)
    name = Path(upload.filename).name
    try:
        table = party_import.read_party_bytes(data, name)
    except UnreadableFileError as exc:
        flash(f"{exc.path}: {translated(exc.reason)}", "error")
        return render_template("admin/external/import.html", plan=None), 400
    with _sessions()() as db:
        plan = party_import.plan_party_import(db.connection(), table)
    if not plan.ok:
        return render_template("admin/external/import.html", plan=plan, name=name), 422
    token = secrets.token_hex(16)
    folder = _import_folder()
    folder.mkdir(parents=True, exist_ok=True)
    _forget_old_previews(folder)
    (folder / token).write_bytes(data)
    session["party_import"] = {"token": token, "name": name}
    return render_template("admin/external/import.html", plan=plan, name=name, token=token)


def _forget_old_previews(folder: Path) -> None:
    """Delete previewed files nobody applied within a day."""
    limit = time.time() - IMPORT_KEPT_SECONDS
    for old in folder.iterdir():
        if old.is_file() and old.stat().st_mtime < limit:
            old.unlink(missing_ok=True)


@bp.post("/import/apply")
def import_apply():
    """Plan the previewed file again and write it in one transaction (refused: the errors are shown)."""
    kept = session.get("party_import") or {}
    token = request.form.get("token", "")
    if not token or token != kept.get("token"):
        abort(400)
    path = _import_folder() / token
    if not path.is_file():
        abort(400)
    table = party_import.read_party_bytes(path.read_bytes(), kept.get("name", "import.csv"))
    with _sessions()() as db, db.begin():
        plan = party_import.plan_party_import(db.connection(), table)
        counts = party_import.apply_party_import(db.connection(), plan, _now()) if plan.ok else None
    if counts is None:
        return render_template("admin/external/import.html", plan=plan, name=kept.get("name")), 422
    path.unlink(missing_ok=True)
    session.pop("party_import", None)
    flash(_("Imported: %(parties)s new parties, %(contacts)s new contacts, %(updated)s updated.",
            parties=counts["parties_create"], contacts=counts["contacts_create"],
            updated=counts["parties_update"] + counts["contacts_update"]), "ok")
    return redirect(url_for("external_admin.parties_page"), 303)


# -- the access log --------------------------------------------------------------------------------

def _who(conn, rows, lang: str) -> dict[int, str]:
    """{access id: who} — the contact or the grant's holder by display name."""
    identities = {r.id: contact_identity(r.contact_id) if r.contact_id else grant_identity(r.grant_id)
                  for r in rows if r.contact_id or r.grant_id}
    names = display.display_names(conn, identities.values(), lang)
    return {access_id: names.get(identity, "") for access_id, identity in identities.items()}


@bp.get("/access-log")
def access_log():
    """Every external access and refusal, newest first; by party and outcome; paged with `before`."""
    lang = current_language()
    party_id = request.args.get("party", type=int)
    outcome = request.args.get("outcome", "")
    outcome = outcome if outcome in OUTCOMES else ""
    before = request.args.get("before", type=int)
    with _sessions()() as db:
        conn = db.connection()
        rows = audit.accesses(conn, party_id=party_id, outcome=outcome or None, before_id=before,
                              limit=LOG_PAGE + 1)
        more, rows = len(rows) > LOG_PAGE, rows[:LOG_PAGE]
        names = _who(conn, rows, lang)
        all_parties = parties.list_parties(conn)
    party_names = {p.id: p.display(lang) for p in all_parties}
    return render_template("admin/external/access_log.html", rows=rows, more=more, names=names,
                           parties=all_parties, party_names=party_names, party_id=party_id, outcome=outcome,
                           lang=lang)


# -- invitation codes for a start form -------------------------------------------------------------

def _portal_processes(db) -> list[dict]:
    """Deployed processes whose package has a `portal` section (those an outsider can take part in)."""
    conn = db.connection()
    return [p for p in queries.list_processes(db) if scope.portal_settings(scope.latest_package(conn, p["key"]))]


@bp.route("/codes", methods=["GET", "POST"])
def codes_page():
    """Issue an invitation code for a start form (shown once); the chosen process's codes, to withdraw.
    Who may and for how long is `invitations.issue_invitation`'s rule, as on the employees' page."""
    issued = None
    key = request.values.get("process", "")
    with _sessions()() as db:
        processes = _portal_processes(db)
        companies = [p for p in parties.list_parties(db.connection(), active=True) if p.kind in ("customer", "supplier")]
    if request.method == "POST":
        try:
            with _sessions()() as db, db.begin():
                issued = invitations.issue_invitation(db, current_account().username, key,
                                                      days=request.form.get("days", type=int),
                                                      label=request.form.get("label"), now=_now(),
                                                      party=request.form.get("party") or None,
                                                      host=request.form.get("host", "").strip()[:100] or None)
        except LiaisonError as exc:
            flash(translated(exc), "error")
    with _sessions()() as db:
        held = [g for g in grants.grants_of(db.connection(), process_key=key) if g.kind == "code"] if key else []
        issuers = display_names(db, {g.created_by for g in held if g.created_by}, current_language())
    return render_template("admin/external/codes.html", processes=processes, key=key, issued=issued, grants=held,
                           issuers=issuers, max_days=invitations.MAX_CODE_DAYS, lang=current_language(),
                           companies=companies, party=request.form.get("party", ""))


# -- the visitor blacklist -------------------------------------------------------------------------

@bp.get("/blacklist")
def blacklist_page():
    with _sessions()() as db:
        entries = passes.blacklist(db.connection())
    return render_template("admin/external/blacklist.html", entries=entries)


@bp.post("/blacklist")
def blacklist_add():
    by = current_account().username
    return _change(lambda conn: passes.add_to_blacklist(conn, name=_field("name"), reason=_field("reason"),
                                                        phone=_field("phone"), company=_field("company"),
                                                        added_by=by, now=_now()),
                   _("Added to the blacklist."), url_for("external_admin.blacklist_page"))


@bp.post("/blacklist/<int:entry_id>/remove")
def blacklist_remove(entry_id: int):
    with _sessions()() as db, db.begin():
        if not passes.remove_from_blacklist(db.connection(), entry_id):
            abort(404)
    flash(_("Removed from the blacklist."), "ok")
    return redirect(url_for("external_admin.blacklist_page"), 303)
