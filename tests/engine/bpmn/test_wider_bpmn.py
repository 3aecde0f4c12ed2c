"""BPMN as mainstream modelers write it: implicit splits, starts and ends, link events, Camunda
multi-instance, DMN decision tables, a Camunda 7 project with form-js forms, unquoted timers, and
`liaison validate` answering every file with `PATH:LINE: ID: message` lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine import runtime
from engine.bpmn.serialization import SPEC_CACHE
from engine.errors import FormInvalidError, InvalidPackageError, ProcessRuntimeError
from engine.packages import deployment as packages
from engine.runtime import LIVE_WORKFLOWS
from engine.work import queries
from tests.conftest import FIXTURES

WIDER = FIXTURES / "bpmn" / "wider"
LINE = re.compile(r"^\S.*:\d+: \S+: .+$")


def _deploy(sessions, path: Path):
    package = packages.load_package(path)
    with sessions() as session, session.begin():
        packages.deploy(session, package, "admin")
    return package


def _forget_live_state() -> None:
    """Every next step restores the spec and the instance from the database."""
    SPEC_CACHE.clear()
    LIVE_WORKFLOWS.clear()


def _view(sessions, instance_id: int) -> dict:
    with sessions() as session:
        return queries.instance_view(session, instance_id)


def _path(sessions, instance_id: int) -> list[str]:
    with sessions() as session:
        return queries.path_taken(session, instance_id)


def _complete_all(sessions, result, data_for):
    while result.status == "running" and result.open_tasks:
        task = result.open_tasks[0]
        _forget_live_state()
        result = runtime.complete_task(sessions, task["id"], task["assignee"] or "anyone", data_for(task))
    return result


def test_implicit_split_start_and_end_run_and_keep_the_data(sessions):
    package = _deploy(sessions, WIDER / "implicit.bpmn")  # a lone .bpmn is a package of one process
    assert (package.key, package.meta["name"]["en"]) == ("implicit", "Implicit split and end")
    assert sum(p.severity == "info" for p in package.notes) >= 3  # each insertion is said
    started = runtime.start_instance(sessions, "implicit", {"amount": 5}, user="zed")
    assert sorted(t["element_id"] for t in started.open_tasks) == ["finance", "legal"]  # split after `prepare`
    done = _complete_all(sessions, started, lambda t: {f"{t['element_id']}_ok": True, "filed": True})
    assert done.status == "completed"
    data = _view(sessions, started.instance_id)["data"]
    assert {"legal_ok", "finance_ok", "copied", "stamped", "filed"} <= set(data)  # an implicit end keeps data
    path = _path(sessions, started.instance_id)
    assert "copy" in path and "stamp" in path and not any("__" in element for element in path)  # nothing synthetic


def test_link_events_run_as_sequence_flows(sessions):
    _deploy(sessions, WIDER / "links_ok.bpmn")
    started = runtime.start_instance(sessions, "links", {}, user="zed")
    done = _complete_all(sessions, started, lambda t: {})
    assert done.status == "completed"
    path = _path(sessions, started.instance_id)
    assert path.index("go_to_page_2") < path.index("page_2")


def test_unmatched_link_is_refused_naming_it():
    with pytest.raises(Exception) as caught:
        packages.load_package(WIDER / "links.bpmn")
    assert "link" in str(caught.value) and ":" in str(caught.value)


def test_camunda_collection_multi_instance_with_completion_condition(sessions):
    _deploy(sessions, WIDER / "mi_camunda.bpmn")
    started = runtime.start_instance(sessions, "mi_camunda", {
        "approvers": ["ann", "bob", "cy"], "approver": "outer value",
        "order": {"reviewers": ["dan", "eve", "fay", "gus"]}, "copies": 3}, user="zed")
    assert sorted(t["assignee"] for t in started.open_tasks) == ["ann", "bob", "cy"]
    result = started
    for task in started.open_tasks[:2]:  # nrOfCompletedInstances >= 2 ends the vote
        _forget_live_state()
        result = runtime.complete_task(sessions, task["id"], task["assignee"], {"vote_" + task["assignee"]: "yes"})
    reviewers = []
    while result.status == "running":
        task = result.open_tasks[0]
        reviewers.append(task["assignee"])
        result = runtime.complete_task(sessions, task["id"], task["assignee"], {"seen_by_" + task["assignee"]: True})
    assert reviewers == ["dan", "eve"]  # sequential, stops at half
    data = _view(sessions, started.instance_id)["data"]
    assert data["approver"] == "outer value" and "reviewer" not in data and "loopCounter" not in data


def test_a_dmn_table_chooses_the_approver_by_amount(sessions):
    _deploy(sessions, WIDER / "dmn_approver")
    cases = [({"amount": 500, "category": "it", "vip": False}, "team_lead"),
             ({"amount": 2500, "category": "travel", "vip": False}, "manager"),
             ({"amount": 2500, "category": "it", "vip": True}, "department_head"),
             ({"amount": 25000, "category": "it", "vip": False}, "cfo")]
    for data, approver in cases:
        _forget_live_state()
        started = runtime.start_instance(sessions, "expense", data, user="zed")
        assert [t["assignee"] for t in started.open_tasks] == [approver], data
        assert _view(sessions, started.instance_id)["data"]["notify_list"]
    with pytest.raises(ProcessRuntimeError) as caught:
        runtime.start_instance(sessions, "expense", {"category": "it", "vip": False}, user="zed")
    assert "choose_approver" in str(caught.value) and "amount" in str(caught.value)


def test_dmn_cells_outside_the_feel_subset_are_refused_at_deploy_with_their_line(tmp_path):
    import shutil

    folder = tmp_path / "expense"
    shutil.copytree(WIDER / "dmn_approver", folder)
    table = folder / "approver.dmn"
    table.write_text(table.read_text().replace("&lt; 1000", 'date("2024-01-01")', 1))
    with pytest.raises(InvalidPackageError) as caught:
        packages.load_package(folder)
    assert re.search(r"approver\.dmn:\d+: e11: input entry `date", str(caught.value)), str(caught.value)


def test_a_unique_table_with_two_matching_rules_fails_the_step_naming_them(sessions):
    _deploy(sessions, WIDER / "dmn_approver_bad")  # rules 1 and 3 overlap from 1000 to 5000
    with pytest.raises(ProcessRuntimeError) as caught:
        runtime.start_instance(sessions, "expense_bad", {"amount": 2500, "category": "it", "vip": False}, user="zed")
    assert "UNIQUE" in str(caught.value)


def test_a_camunda_7_project_with_form_js_forms_deploys_and_keeps_its_keys(sessions):
    package = _deploy(sessions, WIDER / "camunda7_project" / "invoice.bpmn")
    assert {"invoice-start", "task-form"} <= set(package.forms)
    with pytest.raises(FormInvalidError) as caught:
        runtime.start_instance(sessions, package.key, {"creditor": "ACME"}, user="zed")
    assert "invoiceNumber" in caught.value.errors
    fields = {f["name"] for f in package.forms["invoice-start"]["fields"]}
    assert "invoiceNumber" in fields  # the BPMN's ${...} names still find their values


def test_every_fixture_answers_validate_with_well_shaped_lines():
    runner = CliRunner()
    files = sorted([*FIXTURES.rglob("*.bpmn"), *FIXTURES.rglob("*.xml")])
    assert len(files) > 25
    for file in files:
        result = runner.invoke(main, ["validate", str(file)])
        assert result.exit_code in (0, 1, 2), (file, result.output)
        assert "Traceback" not in result.output, file
        for line in result.output.strip().splitlines():
            assert line == f"{file}: valid" or LINE.match(line), (file, line)
