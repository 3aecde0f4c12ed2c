"""Starting a process: the catalog of what the person may start, and each process's start form."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from engine import runtime
from engine.data.calendar import FormCalendar
from engine.errors import FormInvalidError, NotFoundError, ProcessRuntimeError
from engine.people import starting
from engine.work import drafts, preview, queries
from engine.work import pages as work
from forms.build import FormContext, preview_data, validate_formdata
from web.errors import TOO_LARGE, failed_message, form_errors, too_large_message, translated

from . import files
from .auth import current_account
from .i18n import current_language
from .work import editable_form, sessions

bp = Blueprint("catalog", __name__)

CATEGORY_LABELS = {
    "hr": lambda: _("Human resources"),
    "finance": lambda: _("Finance"),
    "admin": lambda: _("Administration"),
    "it": lambda: _("IT"),
    "sales": lambda: _("Sales"),
    "purchasing": lambda: _("Purchasing"),
    "general": lambda: _("General"),
    "service": lambda: _("Customer service"),  # the shipped packages' other categories
    "communication": lambda: _("Notices and surveys"),
    "collaboration": lambda: _("Collaboration"),
}


def _name(names: dict | None, lang: str, key: str) -> str:
    names = names or {}
    return names.get(lang) or names.get("zh") or names.get("en") or key


def _category(category: str | None) -> str:
    label = CATEGORY_LABELS.get((category or "").lower())
    return label() if label else (category or _("Other"))


def _grouped(processes: list[dict], query: str, lang: str) -> list[tuple[str, list[dict]]]:
    """Processes by category label, each sorted by name; `query` matches either name or the key."""
    needle = query.casefold()
    groups: dict[str, list[dict]] = {}
    for process in processes:
        names = process.get("name") or {}
        haystack = " ".join([process["key"], *names.values()]).casefold()
        if needle and needle not in haystack:
            continue
        entry = {**process, "title": _name(names, lang, process["key"])}
        groups.setdefault(_category(process.get("category")), []).append(entry)
    return [(label, sorted(items, key=lambda p: p["title"])) for label, items in sorted(groups.items())]


@bp.get("/start")
def index():
    """Every process the person may start, by category; `?q=` filters."""
    query = request.args.get("q", "").strip()[:100]
    with sessions()() as session:
        allowed = set(starting.startable(session, current_account().username))
        processes = [p for p in queries.list_processes(session) if p["key"] in allowed]
    return render_template("catalog/index.html", groups=_grouped(processes, query, current_language()),
                           query=query, total=len(processes))


def _start_page(key: str, schema, names: dict, formdata=None, errors=None, problem: str = "",
                status: int = 200):
    lang = current_language()
    context = _start_context(lang)
    form = editable_form(schema, context, formdata, errors) if schema is not None else None
    return render_template("catalog/start.html", key=key, name=_name(names, lang, key), form=form,
                           problem=problem, draft_id=_draft_id(),
                           chain=_chain(key, schema, formdata, context), mode_labels=MODE_LABELS), status


def _draft_id() -> int | None:
    """The draft being resumed (`?draft=<id>`), if any."""
    return request.args.get("draft", type=int)


def _draft_formdata(key: str, draft_id: int) -> MultiDict:
    """The owner's draft of process `key` as a post to prefill the form with; 404 otherwise."""
    with sessions()() as session:
        draft = drafts.get_draft(session, current_account().username, draft_id)  # NotFoundError: 404
    if draft.process_key != key:
        abort(404)
    return MultiDict([(name, value) for name, values in draft.data.items() for value in values])


def _save_draft(key: str, schema, names: dict):
    """Store the post as it is, unvalidated, and come back to it."""
    try:
        with sessions()() as session, session.begin():
            draft = drafts.save_draft(session, current_account().username, key,
                                      request.form.to_dict(flat=False), _draft_id())
    except drafts.DraftTooLargeError as exc:  # too large, or too many drafts: the engine says which
        return _start_page(key, schema, names, request.form, status=413,
                           problem=_("The draft was not saved: %(reason)s.", reason=translated(exc)))
    flash(_("Draft saved. Find it under Inbox, Drafts."), "success")
    return redirect(url_for("catalog.start", key=key, draft=draft.id))


def _forget_draft() -> None:
    draft_id = _draft_id()
    if draft_id is None:
        return
    try:
        with sessions()() as session, session.begin():
            drafts.delete_draft(session, current_account().username, draft_id)
    except NotFoundError:
        pass  # deleted meanwhile, or never this person's: nothing to forget


@bp.route("/start/<key>", methods=["GET", "POST"])
def start(key: str):
    """The start form of process `key` (`?draft=` resumes a draft); a valid post starts an instance and
    shows it, a post with action=draft saves the form unvalidated as a draft."""
    account = current_account()
    with current_app.extensions["liaison_read_sessions"]() as session:  # reads only: autocommit on PostgreSQL
        info = work.start_info(session, key)  # NotFoundError: 404
        if not starting.may_start(session, account.username, key, user=account, starters=info.starters):
            abort(403)
    schema, names = info.schema, info.names
    if request.method == "GET":
        draft_id = _draft_id()
        formdata = _draft_formdata(key, draft_id) if draft_id is not None and schema is not None else None
        return _start_page(key, schema, names, formdata)
    if request.form.get("action") == "draft" and schema is not None:
        return _save_draft(key, schema, names)
    lang = current_language()
    username = current_account().username
    data, new_files = {}, []
    if schema is not None:
        formdata, refused, new_files = files.resolve_file_fields(schema, request.form, username)
        result = validate_formdata(schema, formdata, FormContext(
            lang=lang, files=files.file_store(), calendar=FormCalendar.of_sessions(sessions(), date.today())))
        if not result.ok or refused:
            return _start_page(key, schema, names, request.form, {**result.errors, **refused}, status=422)
        data = result.data
    try:
        step = runtime.start_instance(sessions(), key, data=data, user=username, lang=lang,
                                      version=(info.version_id, info.checksum),  # the form validated above
                                      directory_version=account.directory_version)
    except TOO_LARGE as exc:  # the form's data, or what the process made of it, is over its limit
        return _start_page(key, schema, names, request.form, problem=too_large_message(exc), status=413)
    except FormInvalidError as exc:
        errors = form_errors(exc)
        return _start_page(key, schema, names, request.form, errors, problem="" if schema else " ".join(errors.get("", [])),
                           status=422)
    except ProcessRuntimeError as exc:
        return _start_page(key, schema, names, request.form, problem=failed_message(exc), status=500)
    files.attach(new_files, username, step.instance_id)
    _forget_draft()
    flash(_("Your request “%(name)s” was started.", name=_name(names, lang, key)), "success")
    return redirect(url_for("work.instance", instance_id=step.instance_id))


# -- who will approve (issue 11, item 12) ------------------------------------------------------------------

MODE_LABELS = {"sequential": lambda: _("one after another"), "all": lambda: _("all must approve"),
               "any": lambda: _("any one approves"), "vote": lambda: _("by vote")}


def _start_context(lang: str) -> FormContext:
    """The start form's context: `default_from: initiator.manager` reads the person's org chart entry."""
    with sessions()() as session:
        return FormContext(lang=lang, initiator=preview.initiator_defaults(session, current_account().username),
                           calendar=FormCalendar.of_sessions(sessions(), date.today()))


def _chain(key: str, schema, formdata, context: FormContext) -> preview.Chain | None:
    """The approval chain for the form as posted (or as first shown); None when it cannot be worked out."""
    data = preview_data(schema, formdata, context) if schema is not None else {}
    try:
        with sessions()() as session:
            return preview.approval_chain(session, key, current_account().username, data, context.lang)
    except NotFoundError:
        return None


@bp.post("/start/<key>/chain")
def chain(key: str):
    """The approval chain for the start form's current values (the page's chain.js posts the form,
    CSRF token included, as the person types): JSON `{html, chain}`. Nothing is saved."""
    schema, _names = work.start_form(sessions(), key)  # NotFoundError: 404
    with sessions()() as session:
        if not starting.may_start(session, current_account().username, key):
            abort(403)
    context = _start_context(current_language())
    found = _chain(key, schema, request.form, context)
    response = jsonify({"html": render_template("catalog/_chain_list.html", chain=found, mode_labels=MODE_LABELS),
                        "chain": found.to_dict() if found is not None else None})
    response.headers["Cache-Control"] = "no-store"
    return response
