"""Doing the work: a task's page (its form, the instance's timeline and diagram), claiming an offered
task, an instance's page, and the diagram XML the pages draw.

Scoping: a task or instance the person may not see is a 404, never a 403, so nobody learns which
ids exist. The rules themselves live in `engine.work` (`may_act_on_task`, `may_view_instance`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from engine import runtime
from engine.caching import read_scope
from engine.data.calendar import FormCalendar
from engine.errors import (
    FormInvalidError,
    InvalidTaskDataError,
    LiaisonError,
    Message,
    NotPermittedError,
    ProcessRuntimeError,
    TaskConflictError,
)
from engine.external import display as external_display
from engine.external.identity import external_group
from engine.people import org
from engine.runtime import operations, uploads
from engine.runtime.outcome import DECISION_KEY
from engine.work import analytics, queries
from engine.work import pages as work
from forms.build import FormContext, form_class, validate_formdata
from forms.fields import option_key
from forms.render import environment as forms_environment
from forms.render import static_path
from forms.schema import FormSchema, label_text, load_schema
from web.errors import TOO_LARGE, failed_message, form_errors, status_for, too_large_message, translated

from . import files, vendor
from .auth import READ_ALONG, current_account, read_along, safe_next
from .i18n import current_language
from .i18n import when as i18n_when

bp = Blueprint("work", __name__)

COMMENT_FIELD = "task-comment"  # a hyphen: no form field can have this name
ATTACHMENTS_FIELD = "task-attachments"  # the decision's attachments: a JSON list of upload references
MAX_COMMENT = 2000
VIEW_NODE = "__view__"          # an access rule of our own: every field read-only
FORMS_FILES = {"liaison-forms.js"}
CLOSED = "closed"               # the task page's conflict: the task was no longer open when posted


def sessions():
    return current_app.extensions["liaison_sessions"]


def read_sessions():
    """Sessions for reads only, in autocommit on PostgreSQL (no BEGIN / ROLLBACK round trips)."""
    return current_app.extensions["liaison_read_sessions"]


# -- forms -----------------------------------------------------------------------------------------

def _macros():
    return forms_environment().get_template("forms/macros.html").module


def editable_form(schema: FormSchema, context: FormContext, formdata=None, errors: dict | None = None):
    """The built form for `context.node` (None: a start form), with posted values and `errors` shown."""
    form = form_class(schema, context.node, context.lang)(formdata, context)
    _label_people(form, context)
    leftover = []
    for path, messages in (errors or {}).items():
        name, _dot, rest = path.partition(".")
        fld = form._fields.get(name) if name else None
        if fld is None:
            leftover.extend(messages)
        elif rest and hasattr(fld, "rows"):
            _cell_errors(fld, rest, messages)
        else:
            fld.errors = [*(fld.errors or ()), *messages]
    form.general_errors = leftover
    return form


def _label_people(form, context: FormContext) -> None:
    """The display names of the people and departments the form's user / department fields hold (a default,
    a returned or re-rendered form): the picker shows them by name (`FormContext.labels`)."""
    found: dict[str, set[str]] = {"user": set(), "department": set()}

    def add(fld) -> None:
        kind = getattr(fld, "spec", {}).get("type")
        if kind in found:
            for value in [*(fld.raw_data or []), *(fld.data if isinstance(fld.data, list) else [fld.data])]:
                if isinstance(value, str) and value.strip():
                    found[kind].update(part.strip() for part in value.split(",") if part.strip())
        elif hasattr(fld, "rows"):
            for row in fld.rows():
                for cell in row:  # a row form iterates over its cells
                    add(cell)

    for fld in form:
        add(fld)
    if not found["user"] and not found["department"]:
        return
    with sessions()() as session:
        labels = dict(context.labels or {})
        if found["user"]:
            labels["user"] = {**labels.get("user", {}), **org.display_names(session, found["user"], context.lang)}
        if found["department"]:
            labels["department"] = {**labels.get("department", {}),
                                    **org.department_names(session, found["department"], context.lang)}
    context.labels = labels


def _cell_errors(table, path: str, messages: list[str]) -> None:
    """Errors of a detail-table cell ("2.price"): in the summary and next to the cell itself."""
    table.row_errors = {**getattr(table, "row_errors", {}), path: list(messages)}
    index, _dot, column = path.partition(".")
    rows = table.rows()
    if index.isdigit() and int(index) < len(rows) and column in rows[int(index)]:
        rows[int(index)][column].errors = list(messages)


@bp.app_template_filter("with_actions")
def with_actions(form, actions: str) -> Markup:
    """The form's markup without its own submit button, `actions` (buttons, a comment box) inside it."""
    csrf = ("csrf_token", generate_csrf())
    html = str(_macros().render_form(form, form.context.lang, None, csrf, submit=False))
    head, end, tail = html.rpartition("</form>")
    return Markup(head) + Markup(actions) + Markup(end + tail)


@lru_cache(maxsize=128)
def _view_schema(schema_json: str, hidden: tuple[str, ...]) -> FormSchema:
    data = json.loads(schema_json)
    data["access"] = {**(data.get("access") or {}), VIEW_NODE: {"editable": [], "hidden": list(hidden)}}
    return load_schema(data)


def readonly_form(schema: FormSchema | None, values: dict, lang: str, hide=(),
                  download_endpoint: str = "files.download") -> Markup:
    """Every field of `schema` but `hide` shown read-only with `values` (option labels, money in words...);
    file names link to `download_endpoint`."""
    if schema is None:
        return Markup("")
    names = {f["name"] for f in schema.fields}
    view = _view_schema(schema.to_json(), tuple(sorted(names & set(hide))))
    users = _user_values(schema.fields, values)
    labels = {}
    if users:  # user fields show the person's display name; the stored value stays the username
        with read_sessions()() as session:
            labels["user"] = org.display_names(session, users, lang)
    form = form_class(view, VIEW_NODE, lang)(None, FormContext(lang=lang, node=VIEW_NODE, values=values,
                                                               labels=labels))
    macros = _macros()
    return Markup("").join(files.with_download_links(macros.render_field(fld, form, lang), fld, values,
                                                     download_endpoint)
                           for fld in form)


def _user_values(fields: list[dict], values: dict) -> set[str]:
    """The usernames the user fields (and user columns of detail tables) of a form hold in `values`."""
    found = set()
    for spec in fields:
        value = values.get(spec["name"]) if isinstance(values, dict) else None
        if spec["type"] == "user":
            found.update(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str) and v)
        elif spec.get("columns") and isinstance(value, list):
            for row in value:
                found |= _user_values(spec["columns"], row if isinstance(row, dict) else {})
    return found


def decision_buttons(schema: FormSchema | None, node: str, lang: str) -> list[dict]:
    """Approve / reject buttons that stand for the form's decision (a radio `approved` with the options
    true and false that this node may edit): `[{value, label, approve}]`, approve first; empty when the
    form has no such field, or when another field's condition or formula reads the decision (the
    radio is kept then, so the page can react to it)."""
    spec = schema.field(DECISION_KEY) if schema is not None else None
    if spec is None or spec.get("type") != "radio" or schema.access_for(node).get(DECISION_KEY) != "editable":
        return []
    options = spec.get("options") or []
    if sorted(option_key(o.get("value")) for o in options) != ["false", "true"]:
        return []
    others = json.dumps([f for f in schema.fields if f["name"] != DECISION_KEY], ensure_ascii=False)
    if re.search(rf"\b{DECISION_KEY}\b", others):
        return []
    buttons = [{"value": option_key(o["value"]), "approve": o["value"] is True,
                "label": label_text(o.get("label") or option_key(o["value"]), lang)} for o in options]
    return sorted(buttons, key=lambda b: not b["approve"])


@lru_cache(maxsize=128)
def _without_decision(schema_json: str, node: str) -> FormSchema:
    """The form as the node shows it, the decision radio left out (its buttons post it)."""
    data = json.loads(schema_json)
    access = load_schema(data).access_for(node)
    data["access"] = {**(data.get("access") or {}), node: {
        "editable": [name for name, mode in access.items() if mode == "editable" and name != DECISION_KEY],
        "hidden": [name for name, mode in access.items() if mode == "hidden"] + [DECISION_KEY]}}
    return load_schema(data)


def _restricted_fields(schema: FormSchema | None) -> set[str]:
    return work.restricted_fields(schema)  # the engine's rule, shared with the REST API


# -- the instance: timeline, diagram, details --------------------------------------------------------

ACTION_LABELS = {
    "started": lambda: _("Started the request"),
    "task_completed": lambda: _("Completed"),
    "completed": lambda: _("Finished"),
    "cancelled": lambda: _("Cancelled"),
    "failed": lambda: _("Failed"),
    "claimed": lambda: _("Claimed"),
    "unclaimed": lambda: _("Gave back"),
    "step": lambda: _("Passed"),
    "transferred": lambda: _("Transferred"),
    "urged": lambda: _("Urged"),
    "cc": lambda: _("Copied to others"),
    "cc_read": lambda: _("Read the copy"),
    "withdrawn": lambda: _("Withdrew the request"),
    "terminated": lambda: _("Terminated"),
    "signed": lambda: _("Signed"),
    "signer_added": lambda: _("Added a signer"),
    "signer_removed": lambda: _("Removed a signer"),
    "auto_approved": lambda: _("Approved automatically"),
    "delegated": lambda: _("Delegated"),
    "returned": lambda: _("Sent back"),
    "resubmitted": lambda: _("Resubmitted"),
    "taken_back": lambda: _("Took back"),
    "jumped": lambda: _("Moved by an administrator"),
    "migrated": lambda: _("Moved to another version"),
    "delegation_done": lambda: _("Handled and handed back"),
    "skipped": lambda: _("Skipped"),
    "assigned": lambda: _("Assigned"),
    "timer_fired": lambda: _("Time ran out"),
    "message_received": lambda: _("Message received"),
    "message_refused": lambda: _("Message sent, nobody waited: refused"),
    "signal_received": lambda: _("Signal received"),
    "signal_failed": lambda: _("Taking a signal failed"),
    "reminded": lambda: _("Reminded"),
    "overdue": lambda: _("Overdue"),
    "escalated": lambda: _("Escalated"),
    "entry_refused": lambda: _("Entry refused at reception"),
    "external_link_issued": lambda: _("Link sent to the outside party"),
    "external_link_problem": lambda: _("No link sent to the outside party"),
    "notice_refused": lambda: _("The notice was not sent"),
    "external_task_completed": lambda: _("Done by an outside worker"),
    "external_task_incident": lambda: _("Outside worker failed: incident"),
    "external_task_retried": lambda: _("Incident retried"),
}

STATUS_LABELS = {
    "running": lambda: _("In progress"),
    "completed": lambda: _("Finished"),
    "cancelled": lambda: _("Cancelled"),
    "failed": lambda: _("Failed"),
    "open": lambda: _("Open"),
    "waiting": lambda: _("Waiting"),
    "approved": lambda: _("Approved"),
    "rejected": lambda: _("Rejected"),
    "withdrawn": lambda: _("Withdrawn"),
    "terminated": lambda: _("Terminated"),
    "finished": lambda: _("Finished"),
    "error": lambda: _("Failed"),
}


@bp.app_template_global()
def status_label(status: str | None) -> str:
    """An instance's status or outcome (`engine.runtime.outcome`), a task's status, or a decision, in the
    page's language."""
    label = STATUS_LABELS.get(status or "")
    return label() if label else (status or "")


def when(value: str | datetime | None) -> str:
    """A stored time as local, short text."""
    return i18n_when(value)


def _people(session, usernames, lang: str) -> dict[str, str]:
    """Display names by username, in the page's language when the person has one in it; outsiders'
    identities (`ext:contact:ID`, `ext:grant:ID`) by the names `engine.external.display` gives them."""
    return external_display.actor_names(session, usernames or (), lang)


@dataclass
class TimelineRow:
    at: str
    who: str
    action: str
    what: str
    comment: str
    automatic: bool
    on_behalf_of: str = ""  # the deputy `who` acted for this person, who was away
    attachments: tuple = ()  # {id, name, size} of the files attached to the entry (engine.uploads)
    decision: str = ""  # approved / rejected: the decision this completion or signature made
    target: str = ""  # whom a transfer, delegation, added or removed signer or copy went to, by name


# the history actions that move a task or a copy to people: where in the entry's data they are named
TARGET_KEYS = {"transferred": "to", "delegated": "to", "cc": "to", "signer_added": "signer",
               "signer_removed": "signer"}


def history_targets(entry: dict) -> list[str]:
    """The usernames a transfer, delegation, copy or signer change went to (empty for other entries)."""
    key = TARGET_KEYS.get(entry.get("action"))
    value = (entry.get("data") or {}).get(key) if key and isinstance(entry.get("data"), dict) else None
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _failed_comment() -> str:
    """A failed step's row: the stored comment is the technical text (English, quoting the script) for
    the process owner, who reads it with the CLI (the history of `show`); people reading the timeline are told this."""
    return _("Nothing was saved. The process owner can read the technical details in the history of this "
             "request on the command line.")


def _comment(entry: dict) -> str:
    """A history entry's comment; an engine message kept as `data.msgid` / `params` in the page's language."""
    data = entry.get("data") or {}
    if entry.get("action") in ("external_link_problem", "notice_refused") and isinstance(data, dict) \
            and data.get("msgid"):
        params = dict(data.get("params") or {})
        if params.get("kind") in PARTY_KIND_WORDS:  # a party kind is a word of the message: in the page's language
            params["kind"] = PARTY_KIND_WORDS[params["kind"]]()
        return translated(Message(data["msgid"], **params))
    if entry.get("action") == "skipped" and isinstance(data, dict) and data.get("skip_reason") in SKIP_REASONS:
        return SKIP_REASONS[data["skip_reason"]]()  # the engine's note names rules and usernames
    return entry.get("comment") or ""


SKIP_REASONS = {
    "requester": lambda: _("The approver would have been the requester: the step was skipped."),
    "nobody": lambda: _("Nobody was found to approve: the step was skipped."),
}


PARTY_KIND_WORDS = {"supplier": lambda: _("supplier"), "customer": lambda: _("customer")}


def timeline(view: dict, people: dict[str, str]) -> list[TimelineRow]:
    """The history as people read it; a `step` through an automatic element is a compact row."""
    names = {t["element_id"]: t["name"] for t in view["tasks"] if t.get("name")}
    names.update({h["element_id"]: h["comment"] for h in view["history"]
                  if h["action"] == "step" and h.get("element_id") and h.get("comment")})
    names.update(view.get("element_names") or {})  # the package's names in the page's language
    rows = []
    for entry in view["history"]:
        action = entry["action"]
        step = action == "step"
        if step and entry.get("element_type") == "UserTask":
            continue  # its task_completed row says it already
        label = ACTION_LABELS.get(action)
        element = entry.get("element_id")
        rows.append(TimelineRow(
            at=when(entry["at"]), who="" if step else people.get(entry.get("actor"), entry.get("actor") or ""),
            action=label() if label else action, what=names.get(element) or element or "",
            comment="" if step else _failed_comment() if action == "failed" else _comment(entry),
            automatic=step,
            on_behalf_of=people.get(entry.get("on_behalf_of"), entry.get("on_behalf_of") or ""),
            attachments=tuple(uploads.attachments_of(entry.get("data"))), decision=entry.get("decision") or "",
            target=", ".join(people.get(u, u) for u in history_targets(entry))))
    return rows


def open_tasks(view: dict, people: dict[str, str], roles: dict[str, str] | None = None) -> list[dict]:
    """The tasks waiting now, with who holds them (or the groups they are offered to, or the people who
    may act on them, such as a countersign's signers, by their names)."""
    roles = roles or {}
    waiting = []
    for task in view["tasks"]:
        if task["status"] != "open":
            continue
        groups = task.get("candidate_groups") or []
        outside = [EXTERNAL_WAITING[g]() for g in groups if g in EXTERNAL_WAITING]
        holder = people.get(task["assignee"], task["assignee"]) if task["assignee"] else ", ".join(outside)
        waiting.append({"id": task["id"], "name": task.get("name") or task["element_id"], "holder": holder,
                        "groups": ", ".join(roles.get(g, g) for g in groups if g not in EXTERNAL_WAITING),
                        "candidates": ", ".join(people.get(u, u) for u in task.get("candidate_users") or [])})
    return waiting


# an external task is offered to the group ext:KIND, which no employee holds: say who outside does it
EXTERNAL_WAITING = {
    external_group("supplier"): lambda: _("the supplier, in the portal"),
    external_group("customer"): lambda: _("the customer, in the portal"),
    external_group("visitor"): lambda: _("the visitor, in the portal"),
}


def instance_parts(session, instance_id: int, lang: str, hide=(), also=()) -> dict:
    """What the task and instance pages show about an instance (the caller checked the scoping); `also`:
    more usernames the page names (a node's signers), in the same look-up as the others."""
    account = current_account()
    view = queries.instance_view(session, instance_id, lang)
    diagram = work.diagram(session, instance_id)
    schema, names = work.instance_start_form(session, instance_id)  # the form of the instance's own version
    people = _people(session, [view["initiator"], *(h.get("actor") for h in view["history"]),
                               *(h.get("on_behalf_of") for h in view["history"]),
                               *(u for h in view["history"] for u in history_targets(h)),
                               *(t["assignee"] for t in view["tasks"]),
                               *(u for t in view["tasks"] if t["status"] == "open" for u in t.get("candidate_users") or []),
                               *(t.get("on_behalf_of") for t in view["tasks"]), *also], lang)
    if account.username != view["initiator"] and not account.is_super_admin:
        hide = {*hide, *_restricted_fields(schema)}
    return {
        "instance": view,
        "people": people,
        "process_name": names.get(lang) or names.get("zh") or names.get("en") or view["process"],
        "initiator": people.get(view["initiator"], view["initiator"] or ""),
        "timeline": timeline(view, people),
        "waiting": open_tasks(view, people, org.role_names(
            session, [g for t in view["tasks"] if t["status"] == "open" for g in t.get("candidate_groups") or []],
            lang)),
        "details": readonly_form(schema, view["data"] or {}, lang, hide),
        "done": sorted({*diagram["done"], *([diagram["end_event"]] if diagram["end_event"] else [])}),
        "current": diagram["current"],
        "diagram_available": vendor.available(),
        "instance_page": INSTANCE_PAGES[view["process"]](instance_id) if view["process"] in INSTANCE_PAGES else None,
    }


def _may_view(session, instance_id: int) -> bool:
    account = current_account()
    return work.may_view_instance(session, instance_id, account.username, account.groups,
                                  account.is_super_admin)


# -- the task page ---------------------------------------------------------------------------------

def _visible_task(session, task_id: str, with_state: bool = False, read=None) -> tuple[work.TaskForm, bool]:
    """The task and whether the person may complete it now; 404 when they may not even see it. One query
    for a person who may act on it (`work.task_form_fast`; `with_state`: with the engine state, for a
    completion), a second for one who may only see it."""
    account = current_account()
    task_form = work.task_form_fast(session, task_id, current_language(), with_state, read)  # NotFoundError: 404
    task = task_form.task
    may_act = task.status == "open" and work.may_act_on_task(task, account.username, account.groups)
    if not may_act and not _may_view(session, task.instance_id):
        abort(404)
    return task_form, may_act


def _task_context(task_form: work.TaskForm, lang: str) -> FormContext:
    return FormContext(lang=lang, node=task_form.node, values=task_form.values,
                       calendar=FormCalendar.of_sessions(sessions(), date.today()))


def _task_page(task_id: str, formdata=None, errors=None, comment: str = "", comment_error: str = "",
               conflict: str | None = None, status: int = 200, attachments_error: str = "",
               own_pages: bool = False):
    """The task page. It only reads: every rule it asks runs in autocommit, and in one read scope
    (`caching.read_scope`), so the task, its instance's facts, its history and the viewer's grants are
    read once however many rules ask. `own_pages`: an open step with a page of its own (`TASK_PAGES`)
    redirects there (after the same 404 for anyone who may not see the task)."""
    with read_scope():
        return _task_page_read(task_id, formdata, errors, comment, comment_error, conflict, status,
                               attachments_error, own_pages)


def _task_page_read(task_id, formdata, errors, comment, comment_error, conflict, status, attachments_error,
                    own_pages):
    lang = current_language()
    account = current_account()
    reads = read_sessions()
    with reads() as session:
        task_form, may_act = _visible_task(session, task_id)
        task = task_form.task
        page = TASK_PAGES.get(task.process_key) if own_pages and task.status == "open" else None
        url = page(task) if page is not None else None
        if url:
            return redirect(url)
        hide = {f["name"] for f in task_form.schema.fields} if task_form.schema else set()
        signers = work.node_signers(session, task_id)
        parts = instance_parts(session, task.instance_id, lang, hide, also=[s["signer"] for s in signers])
        may_transfer = task.status == "open" and operations.may_transfer(session, task_id, account.username)
        is_admin = org.is_super_admin(session, account.username)
        removable = (work.signers_added_by(session, task_id, account.username) if signers else set())
        instance_operations = operations.available(session, task.instance_id, account.username)
    take_back_task = runtime.take_back_candidate(reads, task.instance_id, account.username) \
        if parts["instance"]["status"] == "running" else None
    may_jump = task.status == "open" and runtime.may_jump(reads, task_id, account.username)
    node = runtime.node_rules(reads, task_id)  # what the node allows (liaison:allow): the engine's rule
    moves = _move_options(task_id) if task.status == "open" and (may_act or may_jump) else None
    schema = task_form.schema
    # the decision's buttons; a missing or wrong decision comes back as the radio, with its error beside it
    buttons = decision_buttons(schema, task_form.node, lang) if may_act and DECISION_KEY not in (errors or {}) else []
    shown = _without_decision(schema.to_json(), task_form.node) if buttons else schema
    form = editable_form(shown, _task_context(task_form, lang), formdata, errors) \
        if may_act and schema is not None else None
    may_claim = may_act and task.assignee is None and not signers and hasattr(runtime, "claim_task")
    answers = readonly_form(schema, task_form.values, lang) if task.status == "completed" else Markup("")
    # the step's name as the inbox lists it (the package's name for the node), before its form's title, which
    # several steps may share ("Decision")
    title = (parts["instance"].get("element_names") or {}).get(task.element_id) or _form_title(schema, lang) \
        or task.name or task.element_id
    if conflict == CLOSED:
        conflict = _closed_message(task, parts)
    return render_template(
        "work/task.html", task=task, title=title, form=form, may_act=may_act, may_claim=may_claim,
        answers=answers, comment=comment, comment_error=comment_error, comment_field=COMMENT_FIELD,
        max_comment=MAX_COMMENT, conflict=conflict, mine=task.assignee == account.username,
        attachments_field=ATTACHMENTS_FIELD, attachments_error=attachments_error,
        attachments=(formdata.get(ATTACHMENTS_FIELD, "[]") if formdata is not None else "[]"),
        due=when(task.due_at), may_transfer=may_transfer, signers=signers,
        may_delegate=task.status == "open" and runtime.may_delegate(reads, task_id, account.username),
        moves=moves, may_return=may_act and bool(moves), instance_operations=instance_operations,
        decision_buttons=buttons,
        take_back_task=take_back_task,
        may_jump=may_jump and bool(moves),
        signer_places=_signer_places(task, signers, account.username) if node.allows("addSigner") else [],
        removable={s["signer"] for s in signers if s["status"] in ("open", "waiting")
                   and (is_admin or s["signer"] in removable)}
        if task.status == "open" and node.allows("removeSigner") else set(), **parts), status


def _signer_places(task, signers: list[dict], username: str) -> list[str]:
    """Where the viewer may add a signer: before/after on a sequential node whose turn is theirs,
    alongside on the other modes, nothing otherwise."""
    if task.status != "open" or not any(s["signer"] == username and s["status"] == "open" for s in signers):
        return []
    return ["before", "after"] if runtime.node_mode(read_sessions(), task.id) == "sequential" else ["alongside"]


def _closed_message(task, parts: dict) -> str:
    row = next((t for t in parts["instance"]["tasks"] if t["id"] == task.id), {})
    by = row.get("completed_by")
    if task.status == "completed" and by:
        return _("%(name)s already completed this task. Nothing of your submission was saved.",
                 name=parts["people"].get(by, by))
    return _("This task is closed. Nothing of your submission was saved.")


def _form_title(schema: FormSchema | None, lang: str) -> str:
    title = schema.title if schema is not None else None
    if isinstance(title, dict):
        return title.get(lang) or next(iter(title.values()), "")
    return title or ""


def _after_submit() -> str:
    if "inbox.index" in current_app.view_functions:
        return url_for("inbox.index")
    return url_for("home.index")


# Steps done on a page of their own: process key -> a function of the task giving that page's URL (or None).
TASK_PAGES: dict = {}
# A process's own page about one instance (a ranking, a calendar): process key -> function of the instance
# id giving (label, URL); the task and instance pages link to it.
INSTANCE_PAGES: dict = {}


@bp.get("/tasks/<task_id>")
def task(task_id: str):
    """A task: its form when the person may complete it (read-only otherwise), timeline and diagram; a step
    with a page of its own (`TASK_PAGES`) leads there while it is open."""
    return _task_page(task_id, own_pages=True)


@bp.post("/tasks/<task_id>")
def complete(task_id: str):
    """Complete the task with the posted form and comment; then back to the inbox."""
    account = current_account()
    lang = current_language()
    read = read_along()  # the task's row, read with the session check (`_task_read_along`)
    with read_sessions()() as session:  # no read at all when `read` is this task's, else one (no BEGIN)
        task_form, may_act = _visible_task(session, task_id, with_state=True, read=read)
    task = task_form.task
    comment = request.form.get(COMMENT_FIELD, "").strip()
    if task.status != "open":
        return _task_page(task_id, conflict=CLOSED, status=409)
    if not may_act:
        abort(403)
    errors, data, new_files = {}, {}, []
    attachments, attachments_error = files.posted_attachments(request.form.get(ATTACHMENTS_FIELD),
                                                              account.username)
    if task_form.schema is not None:
        formdata, errors, new_files = files.resolve_file_fields(task_form.schema, request.form, account.username,
                                                                task_form.node, task_form.values)
        context = _task_context(task_form, lang)
        context.files = files.file_store()
        result = validate_formdata(task_form.schema, formdata, context)
        errors, data = {**result.errors, **errors}, result.data
    comment_error = _("The comment is too long (at most %(count)d characters).", count=MAX_COMMENT) \
        if len(comment) > MAX_COMMENT else ""
    if errors or comment_error or attachments_error:
        return _task_page(task_id, request.form, errors, comment, comment_error, status=422,
                          attachments_error=attachments_error)
    try:
        runtime.complete_task(sessions(), task_id, account.username, data, groups=account.groups,
                              comment=comment or None, lang=lang, attachments=attachments,
                              handle=task_form.handle)  # the step's read is the one done above
    except TOO_LARGE as exc:  # the form's data, or what the process made of it, is over its limit
        return _task_page(task_id, request.form, None, comment, conflict=too_large_message(exc), status=413)
    except FormInvalidError as exc:
        errors = form_errors(exc)
        return _task_page(task_id, request.form, errors, comment, status=422,
                          conflict=None if task_form.schema else " ".join(errors.get("", [])) or None)
    except TaskConflictError as exc:
        return _task_page(task_id, conflict=_("Someone else changed this task first. Nothing of your "
                                              "submission was saved.") + " " + translated(exc), status=409)
    except NotPermittedError as exc:  # e.g. not this signer's turn yet on a sequential approval node
        return _task_page(task_id, request.form, None, comment, conflict=translated(exc), status=403)
    except InvalidTaskDataError as exc:  # e.g. an approval node's form without an approve / reject choice
        return _task_page(task_id, request.form, None, comment, conflict=translated(exc), status=422)
    except ProcessRuntimeError as exc:
        return _task_page(task_id, request.form, None, comment, conflict=failed_message(exc), status=500)
    files.attach(new_files, account.username, task.instance_id)
    flash(_completed_message(data.get(DECISION_KEY), task.instance_id), "success")
    return redirect(_after_submit())


def _completed_message(decision, instance_id: int) -> str:
    """What the person sees back in the inbox: their decision and on which request, else "Submitted."."""
    if decision is True:
        return _("You approved request #%(number)s.", number=instance_id)
    if decision is False:
        return _("You rejected request #%(number)s.", number=instance_id)
    return _("Submitted.")


def _task_read_along(view_args: dict) -> tuple:
    """The completion's task read (`store.task_with_data_read`), done along with the session check."""
    return work.task_with_data_read(str(view_args.get("task_id", "")))


READ_ALONG["work.complete"] = _task_read_along


@bp.post("/tasks/<task_id>/claim")
def claim(task_id: str):
    """Take a task offered to the person or their group, so that it is theirs alone."""
    account = current_account()
    claim_task = getattr(runtime, "claim_task", None)
    with sessions()() as session:
        _visible_task(session, task_id)
    if claim_task is None:
        abort(404)
    try:
        claim_task(sessions(), task_id, account.username, account.groups)
    except TaskConflictError as exc:
        flash(_("Someone else took this task first.") + " " + translated(exc), "error")
    else:
        flash(_("The task is yours now."), "success")
    return redirect(url_for("work.task", task_id=task_id))


# -- the instance page and its diagram ---------------------------------------------------------------

@bp.get("/instances/<int:instance_id>")
def instance(instance_id: int):
    """An instance: state, who holds what now, its data read-only, the timeline and the diagram."""
    lang = current_language()
    username = current_account().username
    with read_sessions()() as session:
        if not _may_view(session, instance_id):
            abort(404)
    operations.mark_cc_read(sessions(), instance_id, username)  # a copy to this person is read now
    with read_scope():  # as the task page: every rule's read once, in autocommit
        return _instance_page(instance_id, lang, username)


def _instance_page(instance_id: int, lang: str, username: str):
    with read_sessions()() as session:
        parts = instance_parts(session, instance_id, lang)
        allowed = operations.available(session, instance_id, username)
        prediction = analytics.expected_finish(session, instance_id)  # None: not waiting, or no history yet
    view = parts["instance"]
    take_back_task = runtime.take_back_candidate(read_sessions(), instance_id, username) \
        if view["status"] == "running" else None
    return render_template("work/instance.html", status=status_label(view["outcome"]),
                           started=when(view["created_at"]), ended=when(view["ended_at"]), operations=allowed,
                           max_comment=MAX_COMMENT, take_back_task=take_back_task, prediction=prediction,
                           expected_finish=when(prediction["finish"]) if prediction else "", **parts)


@bp.get("/instances/<int:instance_id>/diagram.xml")
def diagram_xml(instance_id: int):
    """The BPMN XML of the instance's version, for the diagram viewer."""
    with sessions()() as session:
        if not _may_view(session, instance_id):
            abort(404)
        xml = work.diagram(session, instance_id, current_language())["xml"]
    return xml, 200, {"Content-Type": "application/xml; charset=utf-8"}


@bp.get("/forms-static/<name>")
def forms_static(name: str):
    """The forms package's browser script (conditions, formulas, table rows); nothing else of it."""
    if name not in FORMS_FILES:
        abort(404)
    return send_from_directory(static_path(), name, max_age=3600)


# -- approval operations (engine.operations; rules in docs/approvals.md) --------------------------------

def _run_operation(run, success: str | None) -> bool:
    """Run an operation the person may start; its refusal (a rate limit, a target) is flashed. Whether it
    was done."""
    try:
        run()
    except operations.UrgedTooSoonError as exc:
        flash(_("You urged this request less than 10 minutes ago. You can urge it again from %(time)s.",
                time=when(exc.allowed_at)), "error")
    except LiaisonError as exc:
        flash(_("Not done: %(reason)s", reason=translated(exc)), "error")
    else:
        if success:
            flash(success, "success")
        return True
    return False


def _task_operation(task_id: str, run, success: str, after: str | None = None):
    """Run an operation on a task; a refusal re-renders the task page with the reason and a 4xx
    status (`web.status_for`), success flashes `success` and goes to `after` (default: the task)."""
    try:
        run()
    except LiaisonError as exc:
        return _task_page(task_id, conflict=_("Not done: %(reason)s", reason=translated(exc)),
                          status=status_for(exc))
    flash(success, "success")
    return redirect(after or url_for("work.task", task_id=task_id))


def _instance_operation(instance_id: int, operation: str, run, success: str | None):
    """404 when the person may not see the instance, 403 when the rule table does not give them
    `operation`; else run it (`run(username, attachment ids)`) and go back to the instance page (or to the
    form's `next`, a path on this site: the task page a holder copied the request from)."""
    username = current_account().username
    with sessions()() as session:
        if not _may_view(session, instance_id):
            abort(404)
        if operation not in operations.available(session, instance_id, username):
            abort(403)
    attached = _posted_attachments(username)
    if attached is not None:
        _run_operation(lambda: run(username, attached), success)
    return redirect(safe_next(request.form.get("next"), url_for("work.instance", instance_id=instance_id)))


def _display_names(usernames) -> dict[str, str]:
    """People by their display names in the page's language (usernames stay the stored values)."""
    with sessions()() as session:
        return _people(session, usernames, current_language())


def _display_name(username: str) -> str:
    return _display_names([username]).get(username, username) if username else username


def _posted(name: str) -> str:
    return request.form.get(name, "").strip()


def _posted_attachments(username: str) -> list[str] | None:
    """The operation form's attachments (upload ids); None, with the reason flashed, when some are not
    the person's own unattached uploads."""
    ids, error = files.posted_attachments(request.form.get("attachments"), username)
    if error:
        flash(_("Not done: %(reason)s", reason=error), "error")
        return None
    return ids


@bp.post("/tasks/<task_id>/transfer")
def transfer(task_id: str):
    """Give the task to another person (its assignee or a super admin); done, back to the inbox: the task
    is no longer the person's, and may no longer be theirs to see."""
    username = current_account().username
    with sessions()() as session:
        _visible_task(session, task_id)
        if not operations.may_transfer(session, task_id, username):
            abort(403)
    to = _posted("to")
    attached = _posted_attachments(username)
    if attached is not None and _run_operation(
            lambda: operations.transfer(sessions(), task_id, to, actor=username, comment=_posted("comment"),
                                        attachments=attached),
            _("The task was transferred to %(name)s.", name=_display_name(to))):
        return redirect(_after_submit())
    return redirect(url_for("work.task", task_id=task_id))


@bp.post("/tasks/<task_id>/delegate")
def delegate(task_id: str):
    """Have someone else handle the task; it comes back to its assignee afterwards (委派)."""
    username = current_account().username
    with sessions()() as session:
        task_form, _may_act = _visible_task(session, task_id)
        if task_form.task.assignee != username:
            abort(403)
    to = _posted("to")
    attached = _posted_attachments(username)
    if attached is not None:
        _run_operation(lambda: runtime.delegate_task(sessions(), task_id, username, to, comment=_posted("comment"),
                                                     attachments=attached),
                       _("%(name)s handles the task now; it comes back to you afterwards.", name=_display_name(to)))
    return redirect(url_for("work.task", task_id=task_id))


def _move_options(task_id: str) -> dict | None:
    try:
        options = runtime.move_options(read_sessions(), task_id, lang=current_language())
    except LiaisonError:
        return None
    return options if options["previous"] or options["initiator"] or options["passed"] or options["all"] else None


@bp.post("/tasks/<task_id>/return")
def return_task(task_id: str):
    """Send the task back (退回) to the previous node, a node already passed, or the initiator."""
    account = current_account()
    with sessions()() as session:
        _task_form, may_act = _visible_task(session, task_id)
    if not may_act:
        abort(403)
    return _task_operation(task_id, lambda: runtime.move_task(
        sessions(), task_id, account.username, "return", _posted("to"), comment=_posted("comment"),
        groups=account.groups), _("The request was sent back."), _after_submit())


@bp.post("/tasks/<task_id>/jump")
def jump(task_id: str):
    """A super admin or one of the process's admins moves the request to another node (跳转)."""
    account = current_account()
    with sessions()() as session:
        _visible_task(session, task_id)
    if not runtime.may_jump(sessions(), task_id, account.username):
        abort(403)
    return _task_operation(task_id, lambda: runtime.move_task(
        sessions(), task_id, account.username, "jump", _posted("to"), comment=_posted("comment")),
        _("The request was moved."))


@bp.post("/tasks/<task_id>/signers/add")
def add_signer(task_id: str):
    """Add a signer to an approval node (加签): before or after me, or alongside."""
    account = current_account()
    with sessions()() as session:
        _visible_task(session, task_id)
    signer = _posted("signer")
    _run_operation(lambda: runtime.add_signer(sessions(), task_id, account.username, signer, _posted("place"),
                                              comment=_posted("comment")),
                   _("%(name)s was added as a signer.", name=_display_name(signer)))
    return redirect(url_for("work.task", task_id=task_id))


@bp.post("/tasks/<task_id>/signers/remove")
def remove_signer(task_id: str):
    """Take an undecided signer off an approval node (减签): whoever added them, or a super admin."""
    account = current_account()
    with sessions()() as session:
        _visible_task(session, task_id)
    signer = _posted("signer")
    _run_operation(lambda: runtime.remove_signer(sessions(), task_id, account.username, signer,
                                                 comment=_posted("comment")),
                   _("%(name)s no longer signs this step.", name=_display_name(signer)))
    return redirect(url_for("work.task", task_id=task_id))


@bp.post("/tasks/<task_id>/take-back")
def take_back(task_id: str):
    """Whoever completed the node before pulls the request back while nobody acted on it (拿回)."""
    account = current_account()
    with sessions()() as session:
        task_form, _may_act = _visible_task(session, task_id)
    _run_operation(lambda: runtime.move_task(sessions(), task_id, account.username, "take_back"),
                   _("You took the request back."))
    return redirect(url_for("work.instance", instance_id=task_form.task.instance_id))


@bp.post("/instances/<int:instance_id>/urge")
def urge(instance_id: int):
    """Remind the people the request waits for (its initiator or a super admin)."""
    return _instance_operation(instance_id, "urge", lambda user, attached: operations.urge(
        sessions(), instance_id, actor=user, comment=_posted("comment"), attachments=attached),
        _("A reminder was sent."))


@bp.post("/instances/<int:instance_id>/cc")
def cc(instance_id: int):
    """Copy the request to people (usernames separated by commas or spaces)."""
    names = [n for n in _posted("to").replace("，", ",").replace(",", " ").split() if n]

    def run(user: str, attached: list[str]) -> None:
        copied = operations.cc(sessions(), instance_id, names, actor=user, comment=_posted("comment"),
                               attachments=attached)
        shown = _display_names([*copied.added, *copied.skipped])
        if copied.added:
            flash(_("Copied to %(names)s.", names=", ".join(shown[n] for n in copied.added)), "success")
        if copied.skipped:
            flash(_("Already copied before, skipped: %(names)s", names=", ".join(shown[n] for n in copied.skipped)),
                  "error")

    return _instance_operation(instance_id, "cc", run, None)


@bp.post("/instances/<int:instance_id>/withdraw")
def withdraw(instance_id: int):
    """The initiator withdraws their running request."""
    return _instance_operation(instance_id, "withdraw", lambda user, attached: operations.withdraw(
        sessions(), instance_id, actor=user, comment=_posted("comment"), attachments=attached),
        _("The request was withdrawn."))


@bp.post("/instances/<int:instance_id>/terminate")
def terminate(instance_id: int):
    """A super admin ends a running instance, with a reason."""
    return _instance_operation(instance_id, "terminate", lambda user, attached: operations.terminate(
        sessions(), instance_id, actor=user, reason=_posted("reason"), attachments=attached),
        _("The instance was terminated."))
