"""Assignment rules applied by the runtime when an approval node becomes ready."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engine import runtime
from engine.data.models import HistoryEntry, ProcessInstance, WorkTask
from engine.errors import ProcessRuntimeError
from engine.people import org
from tests.engine.conftest import flow, write_package
from tests.engine.runtime.test_assignment import chart  # noqa: F401 - the org chart fixture


def _process(tmp_path, deploy_package, attributes: str, meta=None):
    body = f"""
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="approve" name="Approve" {attributes}/>
    <bpmn:userTask id="hr_file" name="File" liaison:approvers="role:finance"/>
    <bpmn:endEvent id="done"/>
    {flow("start", "approve")}{flow("approve", "hr_file")}{flow("hr_file", "done")}
    """
    deploy_package(write_package(tmp_path, "req", {"req": body}, meta=meta))


def _tasks(sessions, instance_id):
    with sessions() as session:
        return list(session.scalars(select(WorkTask).where(WorkTask.instance_id == instance_id)
                                    .order_by(WorkTask.created_at, WorkTask.id)))


def _history(sessions, instance_id, action):
    with sessions() as session:
        return list(session.scalars(select(HistoryEntry).where(HistoryEntry.instance_id == instance_id,
                                                               HistoryEntry.action == action)))


def test_manager_rule_assigns_and_role_rule_offers_to_the_group(chart, deploy_package, tmp_path):  # noqa: F811
    _process(tmp_path, deploy_package, 'liaison:approvers="manager:2"')
    started = runtime.start_instance(chart, "req", {}, user="dev")
    [task] = _tasks(chart, started.instance_id)
    assert (task.element_id, task.assignee, task.candidate_users) == ("approve", "cto", [])
    runtime.complete_task(chart, task.id, "cto", {})
    second = _tasks(chart, started.instance_id)[-1]
    assert (second.element_id, second.assignee, second.candidate_groups) == ("hr_file", None, ["finance"])


def test_rule_that_yields_nobody_skips_the_node_when_told(chart, deploy_package, tmp_path):  # noqa: F811
    _process(tmp_path, deploy_package, 'liaison:approvers="manager:9" liaison:approversEmpty="skip"')
    started = runtime.start_instance(chart, "req", {}, user="dev")
    [task] = _tasks(chart, started.instance_id)
    assert task.element_id == "hr_file"  # approve was skipped
    [skipped] = _history(chart, started.instance_id, "skipped")
    assert skipped.element_id == "approve" and "manager:9" in skipped.comment


def test_rule_that_must_fail_saves_nothing_and_says_why(chart, deploy_package, tmp_path):  # noqa: F811
    _process(tmp_path, deploy_package, 'liaison:approvers="manager:9"')
    with pytest.raises(ProcessRuntimeError) as caught:
        runtime.start_instance(chart, "req", {}, user="dev")
    assert "approve" in str(caught.value) and "manager:9" in str(caught.value)
    with chart() as session:
        assert session.scalars(select(ProcessInstance)).all() == []


def test_self_approval_goes_to_the_manager(chart, deploy_package, tmp_path):  # noqa: F811
    _process(tmp_path, deploy_package, 'liaison:approvers="users:dev,acct" liaison:selfApproval="manager"')
    started = runtime.start_instance(chart, "req", {}, user="dev")
    [task] = _tasks(chart, started.instance_id)
    assert (task.assignee, task.candidate_users) == (None, ["lead", "acct"])


def test_resolved_approver_out_of_office_goes_to_the_deputy(chart, deploy_package, tmp_path):  # noqa: F811
    _process(tmp_path, deploy_package, 'liaison:approvers="manager"')
    with chart() as session, session.begin():
        org.set_out_of_office(session, "lead", "acct", datetime(2000, 1, 1, tzinfo=UTC), datetime(2999, 12, 31, tzinfo=UTC))
    started = runtime.start_instance(chart, "req", {}, user="dev")
    [task] = _tasks(chart, started.instance_id)
    assert (task.assignee, task.on_behalf_of) == ("acct", "lead")


def test_deploy_warns_about_names_the_org_chart_does_not_know(chart, tmp_path):  # noqa: F811
    from engine.packages import deployment as packages

    body = f"""
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="approve" liaison:approvers="role:no_such_role"/>
    <bpmn:userTask id="boss" liaison:approvers="manager:7"/>
    <bpmn:endEvent id="done"/>
    {flow("start", "approve")}{flow("approve", "boss")}{flow("boss", "done")}
    """
    package = packages.load_package(write_package(tmp_path, "warned", {"warned": body}))
    result = packages.deploy_package(chart, package, "admin")
    assert result.created
    assert any(w.startswith("warned.bpmn: approve: ") and "no_such_role" in w for w in result.warnings)
    assert any(w.startswith("warned.bpmn: boss: ") and "manager:7" in w for w in result.warnings)
