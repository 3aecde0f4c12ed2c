"""Scenario tests in the designer (issue 15): a draft's tests/*.yaml read, written and run against the
draft with the `liaison test` runner, per-step results and the token's path; the page's JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import InvalidPackageError
from engine.packages import draft_scenarios, drafts
from tests.designer.test_editor import signed_in
from tests.designer.test_flow import _META_TOKEN

LEAVE = Path(__file__).resolve().parents[2] / "processes" / "leave_request"
CONDITION = "approved == True</bpmn:conditionExpression>"


def leave_files() -> dict[str, str]:
    """The leave_request package's files (a manager decision, a gateway, then HR's record)."""
    return {p.relative_to(LEAVE).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(LEAVE.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def store_leave(sessions, username: str = "root") -> None:
    with sessions() as session, session.begin():
        drafts.store_draft(session, username, "leave_request", leave_files(), "import")


def break_condition(sessions) -> None:
    """The gateway sends approved requests to the rejected end: HR's step never comes."""
    with sessions() as session, session.begin():
        draft = drafts.get_draft(session, "leave_request")
        files = dict(draft.files)
        files["leave_request.bpmn"] = files["leave_request.bpmn"].replace(CONDITION, "approved == False"
                                                                          "</bpmn:conditionExpression>")
        drafts.save_draft(session, "root", "leave_request", draft.revision, files)


def run(sessions, only=None):
    with sessions() as session, session.begin():
        return draft_scenarios.run_draft_scenarios(session, "root", "leave_request", only)


def test_the_drafts_scenarios_pass_with_steps_and_path(sessions, people):
    store_leave(sessions)
    results = run(sessions)
    assert [(r.file, r.passed) for r in results] == [("approved", True), ("rejected", True)]
    approved = results[0]
    assert [(s.number, s.task, s.user, s.passed) for s in approved.steps] == [
        (1, "manager_approval", "li", True), (2, "hr_record", "hu", True)]
    assert approved.path[0] == "submitted" and approved.path[-1] == "approved_end"
    assert "decision" in approved.path and "rejected_end" not in approved.path
    assert [r.file for r in run(sessions, "rejected")] == ["rejected"]


def test_breaking_the_gateway_fails_the_step_named(sessions, people):
    store_leave(sessions)
    break_condition(sessions)
    approved = run(sessions, "approved")[0]
    assert not approved.passed
    assert [s.passed for s in approved.steps] == [True, False]
    failing = approved.steps[1]
    assert failing.task == "hr_record" and "step 2 (hr_record): no open task" in failing.failures[0]
    assert approved.path[-1] == "rejected_end"
    as_json = draft_scenarios.result_json(approved)
    assert as_json["passed"] is False and as_json["steps"][1]["passed"] is False and as_json["path"]


def test_save_rename_and_delete_a_test_keep_the_revision(sessions, people):
    store_leave(sessions)
    spec = {"name": "one step", "start": {"user": "zhang", "data": {"leave_type": "annual", "days": 1,
                                                                      "manager": "li"}},
            "steps": [{"task": "manager_approval", "user": "li", "data": {"approved": False}}],
            "expect": {"status": "completed", "end_event": "rejected_end"}}
    with sessions() as session, session.begin():
        revision = drafts.get_draft(session, "leave_request").revision
        draft = draft_scenarios.save_scenario(session, "root", "leave_request", revision, "quick",
                                              draft_scenarios.scenario_yaml(spec))
        assert draft.files["tests/quick.yaml"].startswith("name: one step\nstart:")
        with pytest.raises(drafts.DraftConflictError):
            draft_scenarios.save_scenario(session, "root", "leave_request", revision, "quick", "name: x")
        with pytest.raises(drafts.DraftFileError):
            draft_scenarios.save_scenario(session, "root", "leave_request", draft.revision, "../x", "name: x")
        with pytest.raises(drafts.DraftFileError):
            draft_scenarios.save_scenario(session, "root", "leave_request", draft.revision, "x", "- a list")
    assert run(sessions, "quick")[0].passed
    with sessions() as session, session.begin():
        draft = drafts.get_draft(session, "leave_request")
        draft = draft_scenarios.save_scenario(session, "root", "leave_request", draft.revision, "quick2",
                                              draft.files["tests/quick.yaml"], old_file="quick")
        assert "tests/quick.yaml" not in draft.files and "tests/quick2.yaml" in draft.files
        draft = draft_scenarios.delete_scenario(session, "root", "leave_request", draft.revision, "quick2")
        assert [t["file"] for t in draft_scenarios.list_scenarios(draft)] == ["approved", "rejected"]
        assert [t["id"] for t in draft_scenarios.user_tasks(draft)] == ["manager_approval", "hr_record"]


def test_the_page_and_its_json(app, sessions, people):
    store_leave(sessions)
    root = signed_in(app, "root")
    page = root.get("/designer/leave_request/tests", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'id="scenarios-editor"' in page and "Run all" in page and 'id="scenarios-labels"' in page
    token = _META_TOKEN.search(page).group(1)
    body = root.get("/designer/leave_request/tests.json").get_json()
    assert [t["file"] for t in body["tests"]] == ["approved", "rejected"]
    assert {f["name"] for f in body["start_fields"]} >= {"days", "manager"}
    assert "<bpmn" in body["xml"] and body["tasks"][0]["id"] == "manager_approval"
    headers = {"X-CSRFToken": token}
    spec = {"name": "from the form", "start": {"user": "zhang", "data": {"leave_type": "sick", "days": 1,
                                                                           "manager": "li"}},
            "steps": [{"task": "manager_approval", "user": "li", "data": {"approved": False}}],
            "expect": {"end_event": "rejected_end"}}
    saved = root.put("/designer/leave_request/tests/form", json={"revision": body["revision"], "spec": spec},
                     headers=headers)
    assert saved.status_code == 200 and "form" in [t["file"] for t in saved.get_json()["tests"]]
    stale = root.put("/designer/leave_request/tests/form", json={"revision": body["revision"], "yaml": "name: x"},
                     headers=headers)
    assert stale.status_code == 409 and stale.get_json()["revision"] == saved.get_json()["revision"]
    results = root.post("/designer/leave_request/tests/run", json={"file": "form"}, headers=headers).get_json()
    assert [(r["file"], r["passed"]) for r in results["results"]] == [("form", True)]
    assert results["results"][0]["path"][-1] == "rejected_end"
    everything = root.post("/designer/leave_request/tests/run", json={}, headers=headers).get_json()["results"]
    assert len(everything) == 3 and all(r["passed"] for r in everything)
    gone = root.delete(f"/designer/leave_request/tests/form?revision={saved.get_json()['revision']}",
                       headers=headers)
    assert gone.status_code == 200 and len(gone.get_json()["tests"]) == 2


def test_a_draft_that_does_not_load_is_refused_with_its_problems(sessions, people):
    store_leave(sessions)
    with sessions() as session, session.begin():
        draft = drafts.get_draft(session, "leave_request")
        files = {**draft.files, "forms/hr_record.yaml": "fields: [{name: recorded, type: nosuchtype}]"}
        drafts.save_draft(session, "root", "leave_request", draft.revision, files)
    with pytest.raises(InvalidPackageError) as refused:
        run(sessions)
    assert any("hr_record" in str(p.path) for p in refused.value.problems)
