"""The package's scenario tests: edit, run against the draft in a throwaway database, results on the diagram (issue 15).

Page: `/designer/KEY/tests` (browser code: `designer/static/scenarios/*.js`, plain ES modules). JSON:
`GET /designer/KEY/tests.json` (the tests, the start form's fields, the user tasks, the diagram),
`PUT /designer/KEY/tests/NAME` (`{revision, spec}` from the form editor or `{revision, yaml}` from the
raw view; `old` renames), `DELETE /designer/KEY/tests/NAME?revision=N`,
`POST /designer/KEY/tests/run` (`{file}` for one, none for all). The rules: `engine.packages.draft_scenarios`.
"""

from __future__ import annotations

from flask import jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import pgettext
from flask_login import current_user

from designer import bp
from designer.editor import _json_refusals, _lang, _sessions
from engine.packages import draft_checks, draft_scenarios, drafts
from engine.packages.diff import localized


@bp.get("/<key>/tests")
def scenarios(key: str):
    """The tests page: the list, the form editor of one test, Run / Run all, the diagram with the path."""
    with _sessions() as session, session.begin():
        draft = drafts.open_draft(session, current_user.username, key)
        name = draft.name.get(_lang()) or draft.name.get("zh") or key
    return render_template("designer/scenarios.html", key=key, name=name, lang=_lang(), labels=_labels())


@bp.get("/<key>/tests.json")
@_json_refusals
def scenarios_json(key: str):
    """The draft's tests and what the editor offers (start fields, user tasks) and the diagram's XML."""
    with _sessions() as session, session.begin():
        draft = drafts.open_draft(session, current_user.username, key)
        context = draft_checks.editor_context(session, draft, _lang())
        body = {"key": key, "revision": draft.revision, "tests": draft_scenarios.list_scenarios(draft),
                "start_fields": context["start_fields"], "forms": context["forms"],
                "tasks": draft_scenarios.user_tasks(draft),
                "xml": localized(draft.files.get(context["bpmn_file"], ""), drafts.element_names(draft.files), _lang())}
    return jsonify(body)


@bp.put("/<key>/tests/<file>")
@_json_refusals
def save_scenario(key: str, file: str):
    """Save one test from the form (`spec`) or the raw YAML (`yaml`); 409 when someone else saved."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("revision"), int):
        raise drafts.DraftFileError(_("The request is not what the editor sends: revision and %(field)s are needed.",
                                      field="spec"))
    text = data.get("yaml") if isinstance(data.get("yaml"), str) else None
    if text is None:
        if not isinstance(data.get("spec"), dict):
            raise drafts.DraftFileError(_("The request is not what the editor sends: revision and %(field)s are "
                                          "needed.", field="spec"))
        text = draft_scenarios.scenario_yaml(data["spec"])
    old = data.get("old") if isinstance(data.get("old"), str) else None
    with _sessions() as session, session.begin():
        draft = draft_scenarios.save_scenario(session, current_user.username, key, data["revision"], file, text, old)
        body = {"revision": draft.revision, "tests": draft_scenarios.list_scenarios(draft)}
    return jsonify(body)


@bp.delete("/<key>/tests/<file>")
@_json_refusals
def delete_scenario(key: str, file: str):
    """Remove one test from the draft."""
    revision = request.args.get("revision", type=int) or 0
    with _sessions() as session, session.begin():
        draft = draft_scenarios.delete_scenario(session, current_user.username, key, revision, file)
        body = {"revision": draft.revision, "tests": draft_scenarios.list_scenarios(draft)}
    return jsonify(body)


@bp.post("/<key>/tests/run")
@_json_refusals
def run_scenarios(key: str):
    """Run one test (`file`) or all against the draft: per scenario and per step pass/fail, the token's path."""
    data = request.get_json(silent=True)
    only = data.get("file") if isinstance(data, dict) and isinstance(data.get("file"), str) else None
    with _sessions() as session, session.begin():
        results = draft_scenarios.run_draft_scenarios(session, current_user.username, key, only)
    return jsonify(results=[draft_scenarios.result_json(r) for r in results])


def _labels() -> dict:
    return {
        "new": _("New test"), "save": _("Save"), "saved": _("Saved"), "delete": _("Delete"),
        "unsaved": _("This test has changes that are not saved. Leave it anyway?"),
        "run": _("Run"), "run_all": _("Run all"), "running": _("Running…"),
        "passed": _("Passed"), "failed": _("Did not pass"), "show_path": _("Show the path on the diagram"), "name": _("Test name"), "file": _("File name"),
        "start": _("Start"), "start_user": _("Started by (username)"), "field": _("Field"), "value": _("Value"),
        "add_row": _("Add a row"), "remove": _("Remove"), "steps": _("Steps"), "add_step": _("Add a step"),
        "task": _("Task"), "user": _("Who (username)"), "groups": _("As member of (roles)"), "action": _("Action"),
        "expect_error": _("Expected error"), "expect": _("Expected outcome"), "status": _("Status"),
        "end_event": _("End event"), "path": _("Path (element ids, in order)"),
        "expect_data": _("Expected data"), "yaml": _("YAML"), "form": _("Form"),
        "step": _("Step %(n)s", n="{n}"), "outcome": _("Outcome"), "conflict": _("Reload: someone else saved."),
        "no_tests": _("This package has no tests yet."), "error": _("Error"),
        "approve": _("Approve"), "reject": _("Reject"), "none": _("(none)"),
        "status_completed": pgettext("instance state", "completed"), "status_running": pgettext("instance state", "running"),
        "status_cancelled": pgettext("instance state", "cancelled"),
    }
