"""Issue 11 item 2: people, departments and approvals named in a form are checked against the directory,
and an approver field obeys the node's self-approval policy, on every path (start, task, delegate, transfer)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine import runtime
from engine.data.models import Department
from engine.errors import FormInvalidError, NotPermittedError
from engine.runtime import operations
from tests.conftest import add_people
from tests.engine.conftest import write_package

PROCESSES = Path(__file__).resolve().parents[3] / "processes"


def _leave(days=2, manager="li"):
    return {"leave_type": "annual", "days": days, "manager": manager}


@pytest.fixture
def leave(sessions, deploy_package):
    deploy_package(PROCESSES / "leave_request")
    add_people(sessions, "zhang", "li", "hu")


@pytest.mark.parametrize("value", ["nobody_here", "<script>alert(1)</script>", "li "])
def test_a_start_form_user_field_must_name_a_person_of_the_directory(sessions, leave, value):
    if value == "li ":
        assert runtime.start_instance(sessions, "leave_request", _leave(manager=value), user="zhang").open_tasks
        return
    with pytest.raises(FormInvalidError) as caught:
        runtime.start_instance(sessions, "leave_request", _leave(manager=value), user="zhang")
    assert caught.value.errors == {"manager": [f"`{value[:60]}` is not a known user."]}


def test_an_inactive_person_is_not_a_person_to_pick(sessions, leave):
    add_people(sessions, "gone")
    with sessions() as session, session.begin():
        from engine.data.models import Person
        session.query(Person).filter_by(username="gone").update({"active": False})
    with pytest.raises(FormInvalidError) as caught:
        runtime.start_instance(sessions, "leave_request", _leave(manager="gone"), user="zhang", lang="zh")
    assert caught.value.errors == {"manager": ["用户“gone”不存在。"]}


@pytest.mark.parametrize("lang, text", [("en", "You cannot pick yourself as your approver."),
                                        ("zh", "不能选择自己作为审批人。")])
def test_the_requester_cannot_pick_themselves_as_approver(sessions, leave, lang, text):
    with pytest.raises(FormInvalidError) as caught:
        runtime.start_instance(sessions, "leave_request", _leave(manager="zhang"), user="zhang", lang=lang)
    assert caught.value.errors == {"manager": [text]}


def test_without_a_self_approval_policy_picking_oneself_stays_allowed(sessions, deploy_package, tmp_path):
    deploy_package(_package(tmp_path, first_policy="allow"))
    add_people(sessions, "zhang", "li")
    started = runtime.start_instance(sessions, "picks", {"approver": "zhang"}, user="zhang")
    assert started.open_tasks[0]["assignee"] == "zhang"


def _package(tmp_path, first_policy="skip"):
    body = ('<bpmn:startEvent id="start" liaison:form="request"/>'
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="first"/>'
            f'<bpmn:userTask id="first" liaison:form="pick_next" liaison:approvers="picked:approver" '
            f'liaison:selfApproval="{first_policy}"/>'
            '<bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="second"/>'
            '<bpmn:userTask id="second" liaison:approvers="expr:next_approver" liaison:selfApproval="manager"/>'
            '<bpmn:sequenceFlow id="f3" sourceRef="second" targetRef="end"/>'
            '<bpmn:endEvent id="end"/>')
    folder = write_package(tmp_path, "picks", {"picks": body})
    (folder / "forms" / "request.yaml").write_text(yaml.safe_dump({"fields": [
        {"name": "approver", "type": "user"}, {"name": "cost_center", "type": "department"},
        {"name": "earlier", "type": "related", "process": "picks"}]}))
    (folder / "forms" / "pick_next.yaml").write_text(yaml.safe_dump({"fields": [
        {"name": "next_approver", "type": "user"}, {"name": "approved", "type": "radio", "options": [True, False]}]}))
    return folder


@pytest.fixture
def picks(sessions, deploy_package, tmp_path):
    deploy_package(_package(tmp_path))
    add_people(sessions, "zhang", "li", "wang")
    with sessions() as session, session.begin():
        session.add(Department(code="RND", name="研发", path="/"))


def test_department_and_related_fields_are_checked_too(sessions, picks):
    with pytest.raises(FormInvalidError) as caught:
        runtime.start_instance(sessions, "picks", {"approver": "li", "cost_center": "NOPE", "earlier": "999"},
                               user="zhang")
    assert caught.value.errors == {"cost_center": ["`NOPE` is not a known department."],
                                   "earlier": ["`999` is not an approval you may see."]}
    first = runtime.start_instance(sessions, "picks", {"approver": "li", "cost_center": "RND"}, user="zhang")
    runtime.start_instance(sessions, "picks", {"approver": "li", "earlier": str(first.instance_id)}, user="zhang")


def test_a_task_form_user_field_is_checked_and_obeys_the_policy(sessions, picks):
    task = runtime.start_instance(sessions, "picks", {"approver": "li"}, user="zhang").open_tasks[0]
    with pytest.raises(FormInvalidError) as caught:
        runtime.complete_task(sessions, task["id"], "li", {"next_approver": "nobody_here", "approved": True})
    assert caught.value.errors == {"next_approver": ["`nobody_here` is not a known user."]}
    with pytest.raises(FormInvalidError) as caught:
        runtime.complete_task(sessions, task["id"], "li", {"next_approver": "zhang", "approved": True})
    assert caught.value.errors == {"next_approver": ["You cannot pick yourself as your approver."]}
    done = runtime.complete_task(sessions, task["id"], "li", {"next_approver": "wang", "approved": True})
    assert done.open_tasks[0]["assignee"] == "wang"


def test_a_delegates_answer_is_checked_against_the_directory(sessions, picks):
    task = runtime.start_instance(sessions, "picks", {"approver": "li"}, user="zhang").open_tasks[0]
    runtime.delegate_task(sessions, task["id"], "li", "wang")
    with pytest.raises(FormInvalidError) as caught:
        runtime.complete_task(sessions, task["id"], "wang", {"next_approver": "zhang", "approved": True})
    assert caught.value.errors == {"next_approver": ["You cannot pick yourself as your approver."]}


def test_a_transfer_to_the_initiator_obeys_the_self_approval_policy(sessions, leave):
    task = runtime.start_instance(sessions, "leave_request", _leave(), user="zhang").open_tasks[0]
    with pytest.raises(NotPermittedError, match="they started this request"):
        operations.transfer(sessions, task["id"], "zhang", actor="li")
    assert operations.transfer(sessions, task["id"], "hu", actor="li").to_user == "hu"


def test_a_transfer_to_the_initiator_stays_allowed_where_self_approval_is(sessions, deploy_package, tmp_path):
    deploy_package(_package(tmp_path, first_policy="allow"))
    add_people(sessions, "zhang", "li")
    task = runtime.start_instance(sessions, "picks", {"approver": "li"}, user="zhang").open_tasks[0]
    assert operations.transfer(sessions, task["id"], "zhang", actor="li").to_user == "zhang"


def _assignee_package(tmp_path, policy):
    body = ('<bpmn:startEvent id="start" liaison:form="request"/>'
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="script"/>'
            '<bpmn:scriptTask id="script"><bpmn:script>reviewer = approver if approver != "li" else "zhang"'
            '</bpmn:script></bpmn:scriptTask>'
            '<bpmn:sequenceFlow id="f2" sourceRef="script" targetRef="first"/>'
            f'<bpmn:userTask id="first" liaison:assignee="${{approver}}" liaison:selfApproval="{policy}"/>'
            '<bpmn:sequenceFlow id="f3" sourceRef="first" targetRef="second"/>'
            f'<bpmn:userTask id="second" liaison:candidateUsers="${{reviewer}}" liaison:selfApproval="{policy}"/>'
            '<bpmn:sequenceFlow id="f4" sourceRef="second" targetRef="end"/>'
            '<bpmn:endEvent id="end"/>')
    folder = write_package(tmp_path, "plain", {"plain": body})
    (folder / "forms" / "request.yaml").write_text(yaml.safe_dump({"fields": [{"name": "approver", "type": "user"}]}))
    return folder


def test_a_plain_assignee_from_a_field_obeys_the_self_approval_policy(sessions, deploy_package, tmp_path):
    """Issue 11 item 2: `liaison:assignee="${approver}"` with `selfApproval` refuses the initiator in the field
    like `picked:approver` does, and a later node whose candidates come to the initiator is resolved under
    the same policy (here: their manager in their place)."""
    deploy_package(_assignee_package(tmp_path, "manager"))
    add_people(sessions, "zhang", "li", "wang")
    with sessions() as session, session.begin():
        from engine.data.models import Person
        people = {p.username: p for p in session.query(Person)}
        people["zhang"].manager_id = people["wang"].id
    with pytest.raises(FormInvalidError) as caught:
        runtime.start_instance(sessions, "plain", {"approver": "zhang"}, user="zhang")
    assert caught.value.errors == {"approver": ["You cannot pick yourself as your approver."]}
    task = runtime.start_instance(sessions, "plain", {"approver": "li"}, user="zhang").open_tasks[0]
    assert task["assignee"] == "li"
    done = runtime.complete_task(sessions, task["id"], "li", {})
    assert done.open_tasks[0]["assignee"] == "wang"  # the script named zhang, the initiator: their manager


def test_a_plain_assignee_may_be_the_initiator_without_a_policy(sessions, deploy_package, tmp_path):
    deploy_package(_assignee_package(tmp_path, "allow"))
    add_people(sessions, "zhang", "li")
    task = runtime.start_instance(sessions, "plain", {"approver": "zhang"}, user="zhang").open_tasks[0]
    assert task["assignee"] == "zhang"


def test_a_related_field_names_only_an_approval_the_submitter_may_see(sessions, picks):
    """Issue 11 item 2 (related fields): the pages' visibility rule (`runtime.visibility`) decides, not
    mere existence: the initiator and an approver of the earlier request may link it, anyone else not."""
    first = runtime.start_instance(sessions, "picks", {"approver": "li"}, user="zhang").instance_id
    with pytest.raises(FormInvalidError) as caught:
        runtime.start_instance(sessions, "picks", {"approver": "li", "earlier": str(first)}, user="wang")
    assert caught.value.errors == {"earlier": [f"`{first}` is not an approval you may see."]}
    runtime.start_instance(sessions, "picks", {"approver": "wang", "earlier": str(first)}, user="li")
    runtime.start_instance(sessions, "picks", {"approver": "li", "earlier": str(first)}, user="zhang")


def test_a_related_field_on_a_task_form_is_checked_for_the_person_completing_it(sessions, deploy_package, tmp_path):
    folder = _package(tmp_path)
    (folder / "forms" / "pick_next.yaml").write_text(yaml.safe_dump({"fields": [
        {"name": "next_approver", "type": "user"}, {"name": "also", "type": "related", "process": "picks"},
        {"name": "approved", "type": "radio", "options": [True, False]}]}))
    deploy_package(folder)
    add_people(sessions, "zhang", "li", "wang", "hu")
    hidden = runtime.start_instance(sessions, "picks", {"approver": "hu"}, user="wang").instance_id
    task = runtime.start_instance(sessions, "picks", {"approver": "li"}, user="zhang").open_tasks[0]
    with pytest.raises(FormInvalidError) as caught:
        runtime.complete_task(sessions, task["id"], "li", {"next_approver": "hu", "also": str(hidden),
                                                           "approved": True})
    assert list(caught.value.errors) == ["also"]
