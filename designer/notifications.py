"""The notification templates of a package, per event and channel, zh and en, with preview (issue 15).

Page: `/designer/KEY/notifications` (browser code: `designer/static/notifications/*.js`). JSON:
`GET|PUT /designer/KEY/notifications.json` (every event's texts, channels and variables; save one event
with the draft's revision: 409 when someone else saved), `POST /designer/KEY/notifications/check` (the
template's problems with their line, and the preview of each channel rendered with sample data). The rules
live in `engine.packages.notification_drafts`.
"""

from __future__ import annotations

from flask import jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from designer import bp
from designer.editor import _json_refusals, _lang, _sessions, _translated, versions_url
from engine.packages import drafts
from engine.packages import notification_drafts as nd

EVENT_LABELS = {
    "task_assigned": _l("Task assigned"), "task_due_soon": _l("Reminder (due soon)"),
    "task_overdue": _l("Overdue and escalation"), "urged": _l("Urged"), "cc": _l("CC"),
    "returned": _l("Returned"), "approved": _l("Approved"), "rejected": _l("Rejected"),
    "instance_finished": _l("Finished"), "external_link": _l("External link"),
}
MAX_BODY = 256 * 1024


@bp.get("/<key>/notifications")
def notifications(key: str):
    """The notification templates page of the package's draft."""
    with _sessions() as session, session.begin():
        draft = drafts.open_draft(session, current_user.username, key)
        name = draft.name.get(_lang()) or draft.name.get("zh") or key
    return render_template("designer/notifications.html", key=key, name=name, lang=_lang(),
                           versions_url=versions_url(key), labels=_labels())


@bp.get("/<key>/notifications.json")
@_json_refusals
def notifications_json(key: str):
    """Every event: its texts (the package's or the built-in default), channels, webhooks and variables."""
    with _sessions() as session, session.begin():
        draft = drafts.open_draft(session, current_user.username, key)
        body = _state(draft)
    return jsonify(body)


@bp.put("/<key>/notifications.json")
@_json_refusals
def save_notifications(key: str):
    """Save one event (`definition`, or null for the default) as the draft's next revision."""
    request.max_content_length = MAX_BODY
    data = request.get_json(silent=True)
    if (not isinstance(data, dict) or not isinstance(data.get("revision"), int)
            or not isinstance(data.get("event"), str)
            or not isinstance(data.get("definition"), dict | type(None))):
        raise drafts.DraftFileError(_("The request is not what the editor sends: revision and %(field)s are needed.",
                                      field="event"))
    with _sessions() as session, session.begin():
        draft = drafts.open_draft(session, current_user.username, key)  # and its permission
        problems = nd.check_texts(draft.files, data["definition"]) if data["definition"] else {}
        errors = _problems(problems)
        if any(p["severity"] == "error" for found in errors.values() for p in found):
            return jsonify(error=_("The template has errors; fix them before saving."), problems=errors), 422
        draft = nd.save_event(session, current_user.username, key, data["revision"], data["event"],
                              data["definition"])
        body = {**_state(draft), "updated_at": draft.updated_at.isoformat()}
    return jsonify(body)


@bp.post("/<key>/notifications/check")
@_json_refusals
def check_notification(key: str):
    """The event's texts checked (problems by `lang.part`, with lines) and previewed per channel in `lang`."""
    request.max_content_length = MAX_BODY
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or data.get("event") not in nd.EVENTS or not isinstance(data.get("texts"), dict):
        raise drafts.DraftFileError(_("The request is not what the editor sends: revision and %(field)s are needed.",
                                      field="texts"))
    lang = data.get("lang") if data.get("lang") in nd.LANGUAGES else _lang()
    with _sessions() as session, session.begin():
        draft = drafts.open_draft(session, current_user.username, key)
        files = draft.files
    problems = _problems(nd.check_texts(files, data["texts"]))
    shown = nd.preview(files, key, data["event"], data["texts"], lang)
    shown.pop("errors", None)
    return jsonify(problems=problems, preview=shown, lang=lang)


def _problems(found: dict) -> dict:
    return {where: [{**p, "message": _translated(p["message"])} for p in problems]
            for where, problems in found.items()}


def _state(draft) -> dict:
    files = draft.files
    events = []
    for entry in nd.template_list(files):
        entry["label"] = str(EVENT_LABELS[entry["event"]])
        entry["variables"] = nd.variables(files, entry["event"])
        events.append(entry)
    fields = nd.data_fields(files)
    return {"key": draft.key, "revision": draft.revision, "events": events,
            "fields": {name: f["label"][_lang()] for name, f in fields.items()}}


def _labels() -> dict:
    """The page's texts for the browser code (a JSON block in the page: no inline script)."""
    return {
        "saving": _("Saving…"), "saved": _("All changes saved"), "loading": _("Loading…"),
        "conflict": _("Someone else saved this draft: reload to see their changes."),
        "save_failed": _("Not saved"), "save": _("Save"), "unsaved": _("Unsaved changes"),
        "custom": _("Package template"), "default": _("Built-in default"),
        "reset": _("Use the built-in default"), "line": _("Line %(n)s", n="{n}"),
        "no_problems": _("No problems"), "title": _("Title"), "text": _("Text"),
        "html": _("E-mail HTML (optional)"), "subject": _("Subject"),
        "variables": _("Variables"), "insert_hint": _("Click a variable to insert it where the cursor is."),
        "channels": _("Send on"), "webhooks": _("Webhook endpoint names (comma separated)"),
        "channel_inapp": _("In-app"), "channel_email": _("E-mail"), "channel_webhook": _("Webhook"),
        "channel_dingtalk": _("DingTalk robot"), "channel_feishu": _("Feishu robot"),
        "channel_wecom": _("WeCom robot"),
        "robot_note": _("Robots are webhook endpoints with the format dingtalk, feishu or wecom; they send the "
                        "title and text."),
        "escalation_note": _("Escalation is sent as the overdue notification."),
        "preview": _("Preview"), "sample_note": _("Rendered with sample data from the package's first test, "
                                                  "else from its forms."),
        "errors_default": _("With errors the engine sends the built-in default instead."),
    }
