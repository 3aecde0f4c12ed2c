"""A diagram as Camunda Modeler 5 exports it for Camunda 7 (tests/fixtures/camunda: camunda:assignee,
candidateUsers/candidateGroups, formKey to form-js files beside it, dueDate, JUEL `${...}` conditions,
modeler:executionPlatform, bpmndi) validates, deploys as a lone .bpmn and runs: the assignees get the
tasks and the conditions route."""

from __future__ import annotations

import pytest

from engine import runtime
from engine.packages import deployment as packages
from engine.work import queries
from tests.conftest import FIXTURES, add_people

BPMN = FIXTURES / "camunda" / "purchase_request.bpmn"


def _deploy(sessions):
    package = packages.load_package(BPMN)  # the file alone: its forms are the .form files beside it
    with sessions() as session, session.begin():
        packages.deploy(session, package, "owner")
    add_people(sessions, "li")
    return package


def _task(sessions, result):
    (open_task,) = result.open_tasks
    with sessions() as session:
        return queries.get_task(session, open_task["id"])


def _path(sessions, instance_id):
    with sessions() as session:
        return queries.path_taken(session, instance_id)


def test_the_camunda_export_validates_with_notes_only():
    problems = packages.check_bpmn_file(BPMN)
    assert [p for p in problems if p.severity == "error"] == []
    assert any("JUEL `${approved && amount > 1000}`" in p.message for p in problems)


def test_it_deploys_alone_with_its_form_js_forms(sessions):
    package = _deploy(sessions)
    assert (package.key, package.meta["name"]["en"]) == ("purchase_request", "Purchase request")
    assert set(package.forms) == {"purchase_start", "approval", "order"}
    assert not [n for n in package.notes if n.severity == "error"]


def test_up_to_1000_the_manager_then_purchasing(sessions):
    _deploy(sessions)
    started = runtime.start_instance(sessions, "purchase_request",
                                     {"item": "Monitor", "amount": 800, "manager": "li"}, user="zhang")
    manager = _task(sessions, started)
    assert (manager.element_id, manager.assignee, manager.form) == ("manager_approval", "li", "approval")
    assert manager.due_at is not None  # camunda:dueDate="P3D"
    ordering = _task(sessions, runtime.complete_task(sessions, manager.id, "li", {"approved": True}))
    assert (ordering.element_id, ordering.assignee) == ("place_order", "purchaser")
    done = runtime.complete_task(sessions, ordering.id, "purchaser", {"order_number": "PO-1"})
    assert (done.status, done.end_event) == ("completed", "ordered_end")
    assert "finance_approval" not in _path(sessions, started.instance_id)


def test_over_1000_finance_decides_too_and_may_reject(sessions):
    _deploy(sessions)
    started = runtime.start_instance(sessions, "purchase_request",
                                     {"item": "Laptops", "amount": 5000, "manager": "li"}, user="zhang")
    manager = _task(sessions, started)
    finance = _task(sessions, runtime.complete_task(sessions, manager.id, "li", {"approved": True}))
    assert finance.element_id == "finance_approval"
    assert (finance.assignee, finance.candidate_users, finance.candidate_groups) == (
        None, ["cfo", "controller"], ["finance"])
    done = runtime.complete_task(sessions, finance.id, "cfo", {"approved": False, "comment": "next quarter"})
    assert (done.status, done.end_event) == ("completed", "Event_1rejfin")


@pytest.mark.parametrize("amount", [800, 5000])
def test_the_manager_s_rejection_ends_it_whatever_the_amount(sessions, amount):
    _deploy(sessions)
    started = runtime.start_instance(sessions, "purchase_request",
                                     {"item": "Chair", "amount": amount, "manager": "li"}, user="zhang")
    done = runtime.complete_task(sessions, _task(sessions, started).id, "li", {"approved": False})
    assert (done.status, done.end_event) == ("completed", "Event_0rejmgr")
