"""The chain editor (issue 16): a DingTalk-style approval chain over the draft's BPMN.

Page: `/designer/KEY/flow` (the browser code is `designer/static/flow/*.js`, plain ES modules). JSON:
`GET|PUT /designer/KEY/flow.json` (the chain, what the drawer offers, the problems per node),
`POST /designer/KEY/flow/preview` (who would handle each node for a sample initiator and values).
Deploying reuses `POST /designer/KEY/deploy` (`editor.deploy_json`). A draft whose BPMN does not fit
the chain shows the refusal naming the element, and the way to the BPMN modeler. The rules live in
`engine.packages.draft_chain` and `engine.packages.chain`.
"""

from __future__ import annotations

from flask import jsonify, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user

from designer import bp
from designer.editor import _json_refusals, _lang, _sessions, _translated, versions_url
from engine.bpmn.xmlsafe import MAX_XML_BYTES
from engine.packages import designer_access, draft_chain, draft_checks, drafts
from engine.packages.chain import ChainShapeError, operators_for


@bp.get("/<key>/flow")
def flow(key: str):
    """The chain editor page, or the reason the draft's BPMN does not fit a chain."""
    with _sessions() as session, session.begin():
        draft = drafts.open_draft(session, current_user.username, key)
        name = draft.name.get(_lang()) or draft.name.get("zh") or key
        can_deploy = designer_access.may(session, current_user.username, key, "deploy")
        refusal = None
        try:
            draft_chain.draft_chain(draft)
        except ChainShapeError as exc:
            refusal = {"element": exc.element_id, "message": _translated(exc)}
    return render_template("designer/flow.html", key=key, name=name, lang=_lang(), can_deploy=can_deploy,
                           refusal=refusal, versions_url=versions_url(key), labels=_labels())


@bp.get("/<key>/flow.json")
@_json_refusals
def flow_json(key: str):
    """The draft's chain and what the editor's drawer offers (forms, start fields, operators, roles)."""
    username, lang = current_user.username, _lang()
    with _sessions() as session, session.begin():
        draft = drafts.open_draft(session, username, key)
        chain = draft_chain.draft_chain(draft)
        forms = draft_chain.draft_forms(draft.files)
        context = draft_checks.editor_context(session, draft, lang)
        problems = draft_checks.check_draft(session, key)
        start_form = (chain.get("start") or {}).get("form") or ""
        start_fields = _fields(forms.get(start_form), lang)
        body = {"key": key, "revision": draft.revision, "chain": chain,
                "forms": {form: _fields(schema, lang) for form, schema in forms.items()},
                "form_titles": {form: _text((schema or {}).get("title"), lang) for form, schema in forms.items()},
                "start_fields": start_fields,
                "operators": {f["type"] + ("*" if f.get("multiple") else ""): list(operators_for(f))
                              for f in start_fields},
                "roles": context["roles"], "operations": context["operations"],
                "problems": _node_problems(chain, forms, problems),
                "can_deploy": designer_access.may(session, username, key, "deploy")}
    return jsonify(body)


@bp.put("/<key>/flow.json")
@_json_refusals
def save_flow(key: str):
    """Save the chain as the draft's next revision: 409 when someone else saved, 400 when it does not convert."""
    revision, chain = _chain_body()
    try:
        with _sessions() as session, session.begin():
            draft = draft_chain.save_chain(session, current_user.username, key, revision, chain)
            problems = draft_checks.check_draft(session, key)
            forms = draft_chain.draft_forms(draft.files)
            body = {"revision": draft.revision, "problems": _node_problems(chain, forms, problems),
                    "updated_at": draft.updated_at.isoformat()}
    except ChainShapeError as exc:
        return jsonify(error=_translated(exc)), 400
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # the writer's refusal of malformed data
        return jsonify(error=_("The chain cannot be saved: %(reason)s", reason=str(exc))), 400
    return jsonify(body)


@bp.post("/<key>/flow/preview")
@_json_refusals
def preview_flow(key: str):
    """Who would handle each node for a sample initiator and start-form values (the saved draft, or `chain`)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        data = {}
    chain = data.get("chain") if isinstance(data.get("chain"), dict) else None
    values = data.get("data") if isinstance(data.get("data"), dict) else {}
    initiator = str(data.get("initiator") or "") or None
    try:
        with _sessions() as session, session.begin():
            result = draft_chain.preview_chain(session, current_user.username, key, chain, initiator, values,
                                               _lang())
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # a chain the writer cannot convert
        return jsonify(error=_("The chain cannot be saved: %(reason)s", reason=str(exc))), 400
    steps = [{"node_id": step.element_id, "name": step.name, "people": [p["label"] for p in step.people],
              "groups": [g["label"] for g in step.groups], "mode": step.mode, "skipped": step.skipped,
              "problem": step.problem, "conditional": _undecided(step.conditional)}
             for step in result.steps]
    return jsonify(steps=steps, undecided=[_undecided(u) for u in result.undecided if _undecided(u)])


def _undecided(gateway: dict | None) -> str | None:
    """The gateway a step waits behind, by name; not an approver's own decision (`X_decided`), which every
    later step of a chain waits behind."""
    if not gateway or str(gateway.get("id") or "").endswith("_decided"):
        return None
    return gateway.get("name")


def _chain_body() -> tuple[int, dict]:
    request.max_content_length = MAX_XML_BYTES + 64 * 1024
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("revision"), int) or not isinstance(
            data.get("chain"), dict):
        raise drafts.DraftFileError(_("The request is not what the editor sends: revision and %(field)s are needed.",
                                      field="chain"))
    return data["revision"], data["chain"]


def _node_problems(chain: dict, forms: dict, problems: list) -> list[dict]:
    return [{"node_id": node_id, "message": _translated(message), "severity": severity}
            for node_id, message, severity in draft_chain.chain_problems_by_node(chain, forms, problems)]


def _text(value, lang: str) -> str:
    if isinstance(value, dict):
        return str(value.get(lang) or value.get("zh") or value.get("en") or "")
    return "" if value is None else str(value)


def _fields(schema: dict | None, lang: str) -> list[dict]:
    """A form's fields for the editor: name, type, label in `lang`, options as {value, label}."""
    fields = []
    for field in (schema or {}).get("fields") or []:
        if not isinstance(field, dict) or not field.get("name"):
            continue
        options = [{"value": o.get("value"), "label": _text(o.get("label"), lang) or str(o.get("value"))}
                   if isinstance(o, dict) else {"value": o, "label": str(o)} for o in field.get("options") or []]
        fields.append({"name": str(field["name"]), "type": str(field.get("type") or "text"),
                       "label": _text(field.get("label"), lang) or str(field["name"]), "options": options,
                       "multiple": bool(field.get("multiple"))})
    return fields


KIND_WORDS = {"approver": "Approver", "handler": "Handler", "cc": "CC", "condition": "Condition branches",
              "parallel": "Parallel branches", "inclusive": "Inclusive branches", "delay": "Delay", "trigger": "Trigger",
              "branch": "Branch", "other_cases": "Other cases"}


def _kind_names() -> dict[str, dict[str, str]]:
    """A new node's name in both languages (its kind), whatever the page's language."""
    names: dict[str, dict[str, str]] = {kind: {} for kind in KIND_WORDS}
    for lang in ("zh", "en"):
        with force_locale(lang):
            for kind, word in KIND_WORDS.items():
                names[kind][lang] = _(word)
    return names


def _labels() -> dict:
    """The page's texts for the browser code (a JSON block in the page: no inline script)."""
    return {"kind_names": _kind_names(),
        "start": _("Initiator"), "end": _("End"), "add": _("Add"), "delete": _("Delete"),
        "approver": _("Approver"), "handler": _("Handler"), "cc": _("CC"), "condition": _("Condition branches"),
        "parallel": _("Parallel branches"), "inclusive": _("Inclusive branches"), "delay": _("Delay"),
        "trigger": _("Trigger"), "add_branch": _("Add branch"), "other_cases": _("Other cases"),
        "branch": _("Branch"), "everyone": _("Everyone"), "no_rule": _("Not set"),
        "saving": _("Saving…"), "saved": _("All changes saved"), "loading": _("Loading…"),
        "conflict": _("Someone else saved this draft: reload to see their changes."),
        "save_failed": _("Not saved"), "problems": _("Problems"), "no_problems": _("No problems"),
        "name_zh": _("Name (Chinese)"), "name_en": _("Name (English)"),
        "rule": _("Who handles it"), "rule_users": _("Specific people"), "rule_role": _("Role"),
        "rule_department": _("Department members"), "rule_department_head": _("Department head"),
        "rule_manager": _("Nth manager"), "rule_initiator": _("The initiator"),
        "rule_manager_1": _("Direct manager"), "rule_manager_n": _("Level %(n)s manager"),
        "rule_field": _("Person picked in a field"), "rule_expression": _("Expression"),
        "search_people": _("Search people"), "search_departments": _("Search departments"),
        "level": _("Level"), "mode": _("Approval mode"), "mode_sequential": _("One after another (依次)"),
        "mode_all": _("All must approve (会签)"), "mode_any": _("Any one approves (或签)"),
        "mode_vote": _("Vote (票签)"), "weights": _("Vote weights"), "threshold": _("Pass threshold"),
        "empty": _("When nobody is found"), "self": _("When the approver is the initiator"),
        "empty_fail": _("Fail"), "empty_skip": _("Skip the node"), "empty_admin": _("Process admins"),
        "self_allow": _("Allow"), "self_skip": _("Leave the initiator out"),
        "self_manager": _("The initiator's manager instead"),
        "timeout_approve": _("Approve automatically"), "timeout_reject": _("Reject automatically"),
        "due": _("Due after"), "remind": _("Remind after"), "escalate": _("Escalate after"),
        "timeout": _("Time out after"), "timeout_action": _("On timeout"), "form": _("Form"),
        "fields": _("Field permissions"), "editable": _("Editable"), "readonly": _("Read-only"),
        "hidden": _("Hidden"), "default": _("Default"), "field": _("Field"), "operator": _("Operator"),
        "value": _("Value"), "and": _("all of (and)"), "or": _("any of (or)"), "add_condition": _("Add condition"),
        "add_condition_and": _("And another condition"), "add_group": _("Add an \"or\" group"),
        "or_group": _("or"),
        "cc_to": _("Copy to"), "when": _("Send when"), "when_reach": _("When the request gets here"),
        "when_finish": _("When the request is finished"), "duration": _("Wait for (ISO 8601, e.g. P1D)"),
        "date_field": _("Or until the date in field"), "operation": _("Operation"), "message": _("Or send message"),
        "preview": _("Preview approvers"), "sample_initiator": _("Sample initiator"), "run_preview": _("Preview"),
        "nobody": _("nobody"), "skipped": _("skipped"), "undecided": _("Not decided yet"),
        "deploy": _("Deploy"), "deployed": _("Deployed version %(n)s", n="{n}"), "close": _("Close"),
        "starters": _("Who may start"), "start_form": _("Start form"), "roles": _("Roles"),
        "departments": _("Departments"), "people": _("People"), "none": _("(none)"),
        "allowed_operations": _("Allowed operations"), "allow_return": _("Allow return"),
        "allow_transfer": _("Allow transfer"), "allow_delegate": _("Allow delegate"),
        "allow_add_signer": _("Allow add signer"), "allow_remove_signer": _("Allow remove signer"),
        "return_to": _("Return to"), "return_to_default": _("Anywhere (default)"),
        "return_to_previous": _("The previous step"), "return_to_initiator": _("The initiator"),
        "return_to_initiator_previous": _("The initiator or the previous step"),
        "return_to_any": _("Any step already passed"),
    }
