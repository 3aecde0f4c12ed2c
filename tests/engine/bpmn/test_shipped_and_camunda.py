"""Shipped packages and a Camunda Modeler diagram deploy and run end to end."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from engine import runtime
from engine.packages import deployment as packages
from engine.work import queries
from tests.conftest import FIXTURES, add_people

PROCESSES = Path(__file__).resolve().parents[3] / "processes"


@pytest.mark.parametrize("folder", sorted(p for p in PROCESSES.iterdir() if (p / "package.yaml").is_file()),
                         ids=lambda p: p.name)
def test_every_shipped_package_is_valid(folder):
    package = packages.load_package(folder)
    assert package.key == folder.name


@pytest.mark.parametrize("approved, end", [(True, "approved_end"), (False, "rejected_end")])
def test_shipped_leave_request_runs_both_ways(sessions, deploy_package, approved, end):
    deploy_package(PROCESSES / "leave_request")
    add_people(sessions, "li")
    started = runtime.start_instance(sessions, "leave_request", {"leave_type": "annual", "days": 2,
                                                                 "manager": "li"}, user="zhang")
    manager_task = started.open_tasks[0]
    assert (manager_task["element_id"], manager_task["assignee"]) == ("manager_approval", "li")
    result = runtime.complete_task(sessions, manager_task["id"], "li", {"approved": approved})
    if approved:
        hr_task = result.open_tasks[0]
        with sessions() as session:
            assert [t.id for t in queries.list_tasks(session, "hu", groups=("hr",))] == [hr_task["id"]]
        result = runtime.complete_task(sessions, hr_task["id"], "hu", {"recorded": True}, groups=("hr",))
    assert (result.status, result.end_event) == ("completed", end)


def _camunda_package(tmp_path) -> Path:
    folder = tmp_path / "camunda_leave"
    (folder / "forms").mkdir(parents=True)
    shutil.copy(FIXTURES / "bpmn" / "camunda_leave_request.bpmn", folder / "leave_request.bpmn")
    (folder / "package.yaml").write_text(yaml.safe_dump({"id": "camunda_leave", "process": "leave_request"}))
    forms = {"leave_start": "fields: [{name: manager, type: user}, {name: days, type: number}]\n",
             "manager_approval": "fields: [{name: approved, type: radio, options: [true, false]}]\n",
             "hr_record": "fields: []\n"}
    for form, text in forms.items():
        (folder / "forms" / f"{form}.yaml").write_text(text)
    return folder


def test_camunda_modeler_diagram_keeps_assignment_and_juel_conditions(sessions, deploy_package, tmp_path):
    deploy_package(_camunda_package(tmp_path))
    add_people(sessions, "li")
    started = runtime.start_instance(sessions, "camunda_leave", {"manager": "li", "days": 3}, user="zhang")
    with sessions() as session:
        task = queries.get_task(session, started.open_tasks[0]["id"])
    assert task.assignee == "li" and task.candidate_groups == ["managers", "hr"]
    assert task.form == "manager_approval" and task.due_at is not None
    result = runtime.complete_task(sessions, task.id, "li", {"approved": True})
    with sessions() as session:
        hr = queries.get_task(session, result.open_tasks[0]["id"])
    assert hr.element_id == "hr_record" and hr.candidate_users == ["alice", "bob"]
    done = runtime.complete_task(sessions, hr.id, "bob", {})
    assert (done.status, done.end_event) == ("completed", "approved_end")


def test_camunda_juel_negation_takes_the_reject_path(sessions, deploy_package, tmp_path):
    deploy_package(_camunda_package(tmp_path))
    add_people(sessions, "li")
    started = runtime.start_instance(sessions, "camunda_leave", {"manager": "li"}, user="zhang")
    done = runtime.complete_task(sessions, started.open_tasks[0]["id"], "li", {"approved": False})
    assert (done.status, done.end_event) == ("completed", "rejected_end")


def test_bpmn_js_default_non_executable_process_still_runs(sessions, deploy_package, tmp_path):
    folder = tmp_path / "leave_request"
    shutil.copytree(PROCESSES / "leave_request", folder)
    bpmn = folder / "leave_request.bpmn"
    bpmn.write_text(bpmn.read_text().replace('isExecutable="true"', 'isExecutable="false"'))
    deploy_package(folder)
    add_people(sessions, "li")
    started = runtime.start_instance(sessions, "leave_request",
                                     {"leave_type": "annual", "days": 1, "manager": "li"})
    assert started.open_tasks[0]["element_id"] == "manager_approval"
