"""The external portal (issue 17): the pages suppliers, customers and visitors use, under /portal.

Outsiders never get an employee session. The portal has a cookie of its own (`liaison_portal`, HttpOnly,
SameSite=Lax, Secure over https) holding the token of an `engine.external.sessions` row; a hook of this
blueprint loads the `Principal` it stands for (None when absent, ended, expired or revoked) and every
view that shows or does something checks it. The employee login guard does not apply here
(`public_blueprint`); CSRF does, as everywhere.

What an outsider may see and do is decided in the engine (`engine.work.portal`, `engine.external.scope`);
these views only call it, record each access in the access log (`engine.external.audit`) and turn
refusals into pages that say what happened and whom to ask — never a login form.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from functools import wraps

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from werkzeug.exceptions import RequestEntityTooLarge

from engine.data.calendar import FormCalendar
from engine.errors import (
    FormInvalidError,
    InvalidTaskDataError,
    NotFoundError,
    NotPermittedError,
    ProcessRuntimeError,
    TaskConflictError,
)
from engine.external import audit, grants, passes, scope, sign_in
from engine.external import sessions as portal_sessions
from engine.external import throttle as code_throttle
from engine.external.errors import ExternalAccessError
from engine.external.identity import Principal
from engine.runtime import uploads
from engine.runtime.outcome import DECISION_KEY
from engine.work import pages as work_pages
from engine.work import portal
from forms.build import FormContext, validate_formdata
from forms.files import UploadRefused, accepts, safe_name
from forms.render import static_path
from forms.schema import FormSchema, load_schema
from web.errors import TOO_LARGE, failed_message, form_errors, too_large_message, translated

from . import files
from .auth import public_blueprint
from .i18n import current_language, when_span
from .i18n import when as i18n_when
from .work import decision_buttons, editable_form, readonly_form

bp = public_blueprint(Blueprint("portal", __name__, url_prefix="/portal"))

COOKIE = "liaison_portal"
COOKIE_PATH = "/portal"
MAX_CODE = 64
MAX_EMAIL = 254
REASON_STATUS = {"unknown": 404, "expired": 410, "revoked": 410, "not_yet": 403, "throttled": 429}
FORMS_FILES = {"liaison-forms.js"}


def _now() -> datetime:
    return datetime.now(UTC)  # tests move this clock


def _sessions():
    return current_app.extensions["liaison_sessions"]


def _client() -> str | None:
    return request.remote_addr


def _agent() -> str:
    return (request.user_agent.string or "")[:300]


@bp.app_template_global("portal_principal")
def principal() -> Principal | None:
    """The outsider this request stands for (loaded by `_load_principal`), or None."""
    return g.get("portal_principal")


# -- the portal's own session -------------------------------------------------------------------------

@bp.before_request
def _load_principal() -> None:
    g.portal_principal = None
    token = request.cookies.get(COOKIE)
    if token:
        with _sessions()() as db, db.begin():
            g.portal_principal = portal_sessions.load(db.connection(), token, _now(), current_language())


def _secure() -> bool:
    return request.is_secure or bool(current_app.config.get("SESSION_COOKIE_SECURE"))


def _signed_in_response(response, token: str):
    """Set the portal cookie (the page's language stays the browser's or the one chosen with the switch)."""
    response.set_cookie(COOKIE, token, max_age=int(portal_sessions.DEFAULT_LIFETIME.total_seconds()),
                        path=COOKIE_PATH, httponly=True, samesite="Lax", secure=_secure())
    return response


def _record(action: str, outcome: str, who: Principal | None = None, **ids) -> None:
    """One row of the access log, committed now."""
    with _sessions()() as db, db.begin():
        audit.record(db.connection(), action=action, outcome=outcome, principal=who, path=request.path[:500],
                     ip=_client(), user_agent=_agent(), now=_now(), **ids)


def signed_in(view):
    """The view needs a live portal session: otherwise a page saying so (403), never a login form."""
    @wraps(view)
    def guarded(*args, **kwargs):
        if principal() is None:
            _record("view", "no_session")
            return _refused_page(
                _("You are not signed in to the portal, or your access has ended."),
                _("Open the link from your e-mail again, enter your invitation code, or sign in with your "
                  "e-mail address. If the link has expired, ask the person who sent it for a new one."),
                403, offer_entry=True)
        return view(*args, **kwargs)
    return guarded


def _refused_page(heading: str, explanation: str, status: int, *, offer_entry: bool = False,
                  back: str | None = None):
    return render_template("portal/refused.html", heading=heading, explanation=explanation, code=status,
                           offer_entry=offer_entry, back=back), status


def _access_refused(exc: ExternalAccessError):
    """A link or invitation code that cannot be used: what happened and whom to ask."""
    ask = _("Ask the person who sent you the link or code for a new one.")
    pages = {
        "unknown": (_("This link or code is not valid."),
                    _("Check that you typed or copied it completely. Ask the person who sent you the link or "
                      "code for a new one.")),
        "expired": (_("This link or code has expired."), ask),
        "revoked": (_("This link or code was withdrawn."), ask),
        "not_yet": (_("This link or code is not valid yet."),
                    _("Try again later, or ask the person who sent it since when it is valid.")),
        "throttled": (_("Too many attempts."),
                      _("Please wait %(seconds)s seconds, then try again.", seconds=exc.wait_seconds or 60)),
    }
    heading, explanation = pages.get(exc.reason, pages["unknown"])
    response = _refused_page(heading, explanation, REASON_STATUS.get(exc.reason, 403), offer_entry=True)
    if exc.reason == "throttled":
        return response[0], response[1], {"Retry-After": str(exc.wait_seconds or 60)}
    return response


@bp.errorhandler(NotFoundError)
@bp.errorhandler(404)
def _not_found(_exc):
    return _refused_page(_("Not found"), _("There is nothing here for you: it does not exist, or it is not "
                                           "shared with you."), 404, back=url_for("portal.index"))


@bp.errorhandler(NotPermittedError)
@bp.errorhandler(403)
def _forbidden(_exc):
    return _refused_page(_("Not allowed"), _("Your access does not include this. Ask your contact at the "
                                             "company if you need it."), 403, back=url_for("portal.index"))


def _enter(found: Principal, target: str | None = None):
    """Where a principal that just entered goes: its case, its start form, or the list of cases."""
    if target is None:
        if found.instance_id is not None:
            target = url_for("portal.case", instance_id=found.instance_id)
        elif found.process_key is not None and found.allows("submit"):
            target = url_for("portal.start", key=found.process_key)
        else:
            target = url_for("portal.index")
    return target


# -- entering: a link, an invitation code, a contact's sign-in ----------------------------------------

@bp.get("/")
def index():
    """Signed in: the list of their cases. Otherwise: enter an invitation code, or sign in by e-mail."""
    who = principal()
    if who is None:
        return render_template("portal/entry.html")
    page = max(1, request.args.get("page", 1, type=int) or 1)
    lang = current_language()
    with _sessions()() as db:
        found = portal.cases(db, who, lang, page)
        startable = portal.startable(db, who, lang)
    _record("view", "ok", who, detail="cases")
    return render_template("portal/cases.html", page=found, startable=startable)


@bp.get("/s/<token>")
def link(token: str):
    """A link from an e-mail: start a portal session and open what it is for."""
    now = _now()
    try:
        with _sessions()() as db, db.begin():
            conn = db.connection()
            found = grants.redeem_link(conn, token[:200], now, client=_client(), user_agent=_agent(),
                                       lang=current_language())
            token_out = portal_sessions.start(conn, found, ip=_client(), user_agent=_agent(), now=now)
    except ExternalAccessError as exc:
        return _access_refused(exc)
    return _signed_in_response(redirect(_enter(found)), token_out)


@bp.post("/code")
def code():
    """An invitation code typed on the entry page."""
    typed = request.form.get("code", "").strip()[:MAX_CODE]
    if not typed:
        return render_template("portal/entry.html", code_error=_("Enter the code you received.")), 422
    now = _now()
    try:
        with _sessions()() as db, db.begin():
            conn = db.connection()
            found = grants.redeem_code(conn, typed, now, client=_client(), user_agent=_agent(),
                                       lang=current_language())
            token_out = portal_sessions.start(conn, found, ip=_client(), user_agent=_agent(), now=now)
    except ExternalAccessError as exc:
        return _access_refused(exc)
    return _signed_in_response(redirect(_enter(found)), token_out)


@bp.post("/sign-in")
def sign_in_request():
    """A contact asks for a sign-in code: the same answer whether or not the address is known."""
    email = request.form.get("email", "").strip()[:MAX_EMAIL]
    if "@" not in email:
        return render_template("portal/entry.html", email=email,
                               email_error=_("Enter the e-mail address your company gave us.")), 422
    with _sessions()() as db, db.begin():
        sign_in.request_code(db.connection(), email, client=_client(), now=_now(),
                             base_url=current_app.config.get("LIAISON_BASE_URL") or request.host_url)
    return render_template("portal/sign_in_code.html", email=email)


@bp.post("/sign-in/code")
def sign_in_code():
    """The 6-digit code from the e-mail: a contact's portal session."""
    email = request.form.get("email", "").strip()[:MAX_EMAIL]
    typed = request.form.get("code", "").strip()[:12]
    now = _now()
    try:
        with _sessions()() as db, db.begin():
            conn = db.connection()
            found = sign_in.verify_code(conn, email, typed, client=_client(), now=now, user_agent=_agent(),
                                        lang=current_language())
            token_out = portal_sessions.start(conn, found, ip=_client(), user_agent=_agent(), now=now)
    except ExternalAccessError as exc:
        if exc.reason == "throttled":
            error = _("Too many attempts. Please wait %(seconds)s seconds, then try again.",
                      seconds=exc.wait_seconds or 60)
            return render_template("portal/sign_in_code.html", email=email, code_error=error), 429, \
                {"Retry-After": str(exc.wait_seconds or 60)}
        return render_template("portal/sign_in_code.html", email=email, code_error=_(
            "The code is wrong or no longer valid. Check the latest e-mail, or ask for a new code.")), 422
    return _signed_in_response(redirect(url_for("portal.index")), token_out)


@bp.post("/sign-out")
def sign_out():
    """End the portal session (the cookie's row is revoked, so a copied cookie stops working too)."""
    token = request.cookies.get(COOKIE)
    if token:
        with _sessions()() as db, db.begin():
            portal_sessions.revoke(db.connection(), token, _now())
    if principal() is not None:
        _record("sign_out", "ok", principal())
    flash(_("You are signed out."), "success")
    response = redirect(url_for("portal.index"))
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="Lax", secure=_secure())
    return response


# -- a case ---------------------------------------------------------------------------------------------

@bp.app_template_global("portal_when")
def when(value) -> str:
    """A stored time as local, short text."""
    return i18n_when(value)


@bp.get("/cases")
def cases():
    return redirect(url_for("portal.index"))


@bp.get("/cases/<int:instance_id>")
@signed_in
def case(instance_id: int):
    """One case: title, business key, status, milestones, visible fields, the step waiting for them, a pass."""
    who = principal()
    lang = current_language()
    try:
        with _sessions()() as db:
            view = portal.case_view(db, who, instance_id, lang)
            details = Markup("").join(
                readonly_form(schema, data, lang, hide=[f["name"] for f in schema.fields if f["name"] not in shown],
                              download_endpoint="portal.download")
                for schema, shown, data in portal.visible_forms(db, who, instance_id))
            card = _pass_card(db.connection(), instance_id) if who.kind == "visitor" else None
    except NotFoundError:
        _record("view", "not_found", who, instance_id=instance_id)
        raise
    _record("view", "ok", who, instance_id=instance_id)
    return render_template("portal/case.html", view=view, card=card, details=details)


def _pass_card(conn, instance_id: int) -> dict | None:
    found = passes.pass_of_instance(conn, instance_id, _now())
    return _pass_dict(found, passes.pass_code(found.task_id)) if found is not None else None


def _pass_dict(found, code: str) -> dict:
    lang = current_language()
    shown = grants.format_code(code)
    return {"view": found, "code": shown, "qr": Markup(passes.qr_svg(code)),
            "host": (found.host_name_en if lang == "en" else found.host_name) or found.host or "",
            "span": when_span(found.valid_from, found.valid_until)}


PASS_STATES = {
    "upcoming": lambda: _("Not yet valid"),
    "valid": lambda: _("Valid"),
    "expired": lambda: _("Expired"),
    "revoked": lambda: _("Withdrawn"),
    "checked_in": lambda: _("Checked in"),
    "checked_out": lambda: _("Checked out"),
}


@bp.app_template_global()
def pass_state_label(state: str) -> str:
    label = PASS_STATES.get(state)
    return label() if label else state


# -- the external task ---------------------------------------------------------------------------------

def _task_context(task_form, lang: str) -> FormContext:
    return FormContext(lang=lang, node=task_form.node, values=task_form.values,
                       calendar=FormCalendar.of_sessions(_sessions(), date.today()))


def _closed_page(instance_id: int | None):
    back = url_for("portal.case", instance_id=instance_id) if instance_id else url_for("portal.index")
    return _refused_page(_("This step is closed"), _("It was done already, or it no longer waits for you. "
                                                     "Nothing of what you sent was saved."), 409, back=back)


def _task_instance(task_id: str) -> int | None:
    """The instance of a task the principal may at least view (for the closed page's way back)."""
    with _sessions()() as db:
        try:
            item = work_pages.task_form(db, task_id, current_language()).task
        except NotFoundError:
            return None
        return item.instance_id if scope.may_view_case(db, principal(), item.instance_id) else None


def _load_task(task_id: str):
    """The principal's open external task, or a refusal response (404 not theirs, 409 closed)."""
    who = principal()
    try:
        with _sessions()() as db:
            return portal.external_task(db, who, task_id, current_language()), None
    except NotFoundError:
        _record("fill", "not_found", who, detail=task_id[:100])
        raise
    except NotPermittedError:
        instance_id = _task_instance(task_id)
        _record("fill", "closed", who, instance_id=instance_id, detail=task_id[:100])
        return None, _closed_page(instance_id)


def _task_page(task_form, formdata=None, errors=None, problem: str = "", status: int = 200):
    lang = current_language()
    schema = task_form.schema
    buttons = decision_buttons(schema, task_form.node, lang) if DECISION_KEY not in (errors or {}) else []
    shown = _without(schema, [DECISION_KEY]) if buttons and schema is not None else schema
    form = editable_form(shown, _task_context(task_form, lang), formdata, errors) if shown is not None else None
    title = _title(schema, lang) or task_form.task.name or task_form.task.element_id
    return render_template("portal/task.html", task=task_form.task, title=title, form=form, problem=problem,
                           decision_buttons=buttons, due=when(task_form.task.due_at)), status


def _title(schema: FormSchema | None, lang: str) -> str:
    title = schema.title if schema is not None else None
    if isinstance(title, dict):
        return title.get(lang) or next(iter(title.values()), "")
    return title or ""


def _without(schema: FormSchema, names: list[str]) -> FormSchema:
    """The schema without some fields (the decision radio its buttons post; the host a code names)."""
    data = json.loads(schema.to_json())
    data["fields"] = [f for f in data.get("fields", []) if f.get("name") not in names]
    return load_schema(data)


@bp.get("/tasks/<task_id>")
@signed_in
def task(task_id: str):
    """The external task's form (the node's field permissions apply, as for employees)."""
    task_form, refused = _load_task(task_id)
    if refused:
        return refused
    _record("view", "ok", principal(), instance_id=task_form.task.instance_id, detail=f"task {task_id}"[:100])
    return _task_page(task_form)


@bp.post("/tasks/<task_id>")
@signed_in
def complete(task_id: str):
    """Complete the external task; then back to the case page."""
    who = principal()
    lang = current_language()
    task_form, refused = _load_task(task_id)
    if refused:
        return refused
    instance_id = task_form.task.instance_id
    errors, data, new_files = {}, {}, []
    if task_form.schema is not None:
        formdata, errors, new_files = files.resolve_file_fields(task_form.schema, request.form, who.identity,
                                                                task_form.node, task_form.values)
        context = _task_context(task_form, lang)
        context.files = files.file_store()
        result = validate_formdata(task_form.schema, formdata, context)
        errors, data = {**result.errors, **errors}, result.data
    if errors:
        _record("fill", "invalid", who, instance_id=instance_id)
        return _task_page(task_form, request.form, errors, status=422)
    try:
        portal.complete(_sessions(), who, task_id, data, lang=lang)
    except TOO_LARGE as exc:
        return _task_page(task_form, request.form, problem=too_large_message(exc), status=413)
    except FormInvalidError as exc:
        return _task_page(task_form, request.form, form_errors(exc), status=422)
    except (TaskConflictError, NotPermittedError):
        _record("fill", "closed", who, instance_id=instance_id)
        return _closed_page(instance_id)
    except InvalidTaskDataError as exc:
        return _task_page(task_form, request.form, problem=translated(exc), status=422)
    except ProcessRuntimeError as exc:
        return _task_page(task_form, request.form, problem=failed_message(exc), status=500)
    files.attach(new_files, who.identity, instance_id)
    _record("fill", "ok", who, instance_id=instance_id, detail=f"task {task_id}"[:100])
    flash(_("Thank you: your answer was sent."), "success")
    return redirect(url_for("portal.case", instance_id=instance_id))


# -- new requests ----------------------------------------------------------------------------------------

@bp.get("/new")
@signed_in
def new():
    """The processes the principal may submit a new request of."""
    with _sessions()() as db:
        found = portal.startable(db, principal(), current_language())
    return render_template("portal/new.html", startable=found)


def _start_schema(key: str) -> tuple[FormSchema | None, dict, str]:
    """The start form as the outsider sees it (without the fields the portal fills: their party, the host a
    code names), the process names
    and the process's name in the page's language; 404 when the principal may not start it."""
    lang = current_language()
    with _sessions()() as db:
        allowed = {p["key"]: p["name"] for p in portal.startable(db, principal(), lang)}
    if key not in allowed:
        _record("submit", "not_found", principal(), detail=key[:100])
        abort(404)
    schema, names = work_pages.start_form(_sessions(), key)
    with _sessions()() as db:
        filled = [f for f in portal.filled_fields(db, principal(), key) if schema is not None and schema.field(f)]
    if filled:
        schema = _without(schema, filled)
    return schema, names, allowed[key]


def _start_page(key: str, schema, name: str, formdata=None, errors=None, problem: str = "", status: int = 200,
                blocked: bool = False):
    lang = current_language()
    context = FormContext(lang=lang, calendar=FormCalendar.of_sessions(_sessions(), date.today()))
    form = editable_form(schema, context, formdata, errors) if schema is not None else None
    with _sessions()() as db:
        host = portal.visit_host(db, principal(), key, lang)
    return render_template("portal/start.html", key=key, name=name, form=form, problem=problem, host=host,
                           blocked=blocked), status


@bp.route("/new/<key>", methods=["GET", "POST"])
@signed_in
def start(key: str):
    """The start form of a process the principal may start; a valid post starts it and shows the case."""
    who = principal()
    schema, _names, name = _start_schema(key)
    with _sessions()() as db:
        blocked = portal.start_problem(db, who, key)
    if blocked is not None:  # say so before they fill anything in, with what to do; no form to send
        if request.method == "POST":
            _record("submit", "denied", who, detail=key[:100])
        return _start_page(key, None, name, problem=translated(blocked), status=200 if request.method == "GET" else 403,
                           blocked=True)
    if request.method == "GET":
        return _start_page(key, schema, name)
    lang = current_language()
    data, new_files = {}, []
    if schema is not None:
        formdata, refused, new_files = files.resolve_file_fields(schema, request.form, who.identity)
        result = validate_formdata(schema, formdata, FormContext(
            lang=lang, files=files.file_store(), calendar=FormCalendar.of_sessions(_sessions(), date.today())))
        if not result.ok or refused:
            _record("submit", "invalid", who, detail=key[:100])
            return _start_page(key, schema, name, request.form, {**result.errors, **refused}, status=422)
        data = result.data
    try:
        instance_id = portal.start_request(_sessions(), who, key, data, lang)
    except TOO_LARGE as exc:
        return _start_page(key, schema, name, request.form, problem=too_large_message(exc), status=413)
    except FormInvalidError as exc:
        return _start_page(key, schema, name, request.form, form_errors(exc), status=422)
    except NotPermittedError as exc:  # e.g. a code that names no host: what to do, above the form kept as sent
        _record("submit", "denied", who, detail=key[:100])
        return _start_page(key, schema, name, request.form, problem=translated(exc), status=403)
    except ProcessRuntimeError as exc:
        return _start_page(key, schema, name, request.form, problem=failed_message(exc), status=500)
    files.attach(new_files, who.identity, instance_id)
    _record("submit", "ok", who, instance_id=instance_id, detail=key[:100])
    flash(_("Your request “%(name)s” was sent.", name=name), "success")
    return redirect(url_for("portal.case", instance_id=instance_id))


# -- files ------------------------------------------------------------------------------------------------

@bp.url_value_preprocessor
def _limit_upload(endpoint: str | None, _values) -> None:
    """Before the CSRF check reads the body: an upload larger than the limit is refused (413)."""
    if endpoint != "portal.upload":
        return
    max_size, _accept = files._limits()  # noqa: SLF001 - the same limits as employees' uploads
    if request.content_length is not None and request.content_length > max_size + files.MULTIPART_OVERHEAD:
        raise RequestEntityTooLarge()
    request.max_content_length = max_size + files.MULTIPART_OVERHEAD


def _json_refused(status: int, code_: str, message: str):
    return jsonify({"error": message, "code": code_}), status


@bp.errorhandler(RequestEntityTooLarge)
def _upload_too_large(_exc):
    return files._too_large(files._limits()[0])  # noqa: SLF001


@bp.errorhandler(CSRFError)
def _csrf_refused(_exc):
    if request.endpoint == "portal.upload":
        return _json_refused(400, "csrf", _("The page has expired. Reload it and try again."))
    return _refused_page(_("The page has expired"), _("Go back, reload the page and try again."), 400,
                         back=url_for("portal.index"))


@bp.post("/files")
def upload():
    """Store one file as the principal's upload (for a form it fills); the same answers as `/files`."""
    who = principal()
    if who is None or not (who.allows("upload") or who.allows("submit")):
        _record("upload", "no_session" if who is None else "not_permitted", who)
        return _json_refused(403, "not_permitted", _("Your access does not include uploading files."))
    max_size, field_accept = files._limits()  # noqa: SLF001
    chosen = request.files.get("file")
    if chosen is None or not chosen.filename:
        return _json_refused(400, "missing", _("Choose a file to upload."))
    name = safe_name(chosen.filename)
    allowed = current_app.config["LIAISON_UPLOAD_ACCEPT"]
    if (allowed and not accepts(allowed, name, None)) or (field_accept and not accepts(field_accept, name, None)):
        return _json_refused(415, "type", _("“%(name)s” is not a file type that can be uploaded here (%(types)s).",
                                            name=name, types=", ".join(field_accept or allowed)))
    stream = chosen.stream
    size = stream.seek(0, os.SEEK_END)
    stream.seek(0)
    if size == 0:
        return _json_refused(400, "empty", _("“%(name)s” is empty.", name=name))
    if size > max_size:
        return files._too_large(max_size, name)  # noqa: SLF001
    try:
        ref = files.file_store().put(stream, name, None, max_size=max_size)
    except UploadRefused:
        return files._too_large(max_size, name)  # noqa: SLF001
    with _sessions()() as db, db.begin():
        uploads.record(db, ref.to_dict(), who.identity)
        audit.record(db.connection(), action="upload", outcome="ok", principal=who, path=request.path,
                     ip=_client(), user_agent=_agent(), detail=ref.name[:200], now=_now())
    return jsonify({"id": ref.id, "name": ref.name, "size": ref.size, "sha256": ref.sha256,
                    "content_type": ref.content_type}), 201


@bp.get("/files/<file_id>")
@signed_in
def download(file_id: str):
    """A file: the principal's own unattached upload, or one of an instance in their scope; 404 otherwise."""
    who = principal()
    try:
        with _sessions()() as db:
            found = portal.downloadable(db, who, file_id)
    except NotFoundError:
        _record("download", "not_found", who, detail=file_id[:100])
        abort(404)
    try:
        handle = files.file_store().open({"id": found.id})
    except (KeyError, OSError):
        abort(404)
    _record("download", "ok", who, instance_id=found.instance_id, detail=found.name[:200])
    kind = found.content_type if found.content_type not in files.ACTIVE_TYPES else "application/octet-stream"
    response = send_file(handle, mimetype=kind or "application/octet-stream", as_attachment=True,
                         download_name=found.name, max_age=0)
    response.headers["Cache-Control"] = "no-store, private"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.get("/forms-static/<name>")
def forms_static(name: str):
    """The forms package's browser script (conditions, formulas), for portal forms."""
    if name not in FORMS_FILES:
        abort(404)
    return send_from_directory(static_path(), name, max_age=3600)


@bp.app_template_global()
def portal_upload_script() -> Markup:
    """upload.js wired to the portal's upload endpoint."""
    return Markup('<script src="{}" data-upload-url="{}" data-words="{}"></script>').format(
        url_for("static", filename="upload.js"), url_for("portal.upload"),
        json.dumps(files.upload_words(), ensure_ascii=False))


# -- the visitor's pass -----------------------------------------------------------------------------------

@bp.get("/pass")
def pass_page():
    """The visitor's pass (the pass e-mail links here with `?code=`): who, host, slot, state, code and QR."""
    typed = request.args.get("code", "").strip()[:MAX_CODE]
    if not typed:
        return render_template("portal/pass_entry.html")
    now = _now()
    normalized = passes.normalize_code(typed)
    subject = code_throttle.code_subject(f"pass:{normalized}")
    with _sessions()() as db, db.begin():
        conn = db.connection()
        try:
            code_throttle.check(conn, subject, _client(), now)
        except ExternalAccessError as exc:
            audit.record(conn, action="pass", outcome="throttled", path=request.path, ip=_client(),
                         user_agent=_agent(), now=now)
            return _access_refused(exc)
        found = passes.look_up(conn, normalized, now)
        if found is None:
            code_throttle.failure(conn, subject, _client(), now)
            audit.record(conn, action="pass", outcome="unknown", path=request.path, ip=_client(),
                         user_agent=_agent(), now=now)
        else:
            code_throttle.success(conn, subject, _client())
            audit.record(conn, action="pass", outcome="ok", grant_id=found.grant_id, instance_id=found.instance_id,
                         path=request.path, ip=_client(), user_agent=_agent(), now=now)
    if found is None:
        return _refused_page(_("This pass code is not valid."),
                             _("Check the code in your e-mail, or ask the person you are visiting."), 404)
    status = 410 if found.state in ("expired", "revoked") else 200
    return render_template("portal/pass.html", card=_pass_dict(found, normalized)), status
