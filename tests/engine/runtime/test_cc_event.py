"""CC (抄送) from the diagram: an intermediate throw event with `liaison:cc` copies the instance to the
people its rules resolve to, when reached (`ccWhen="reach"`, the default) or when the instance ends
(`finish`); once per person and instance, with the `cc` history entry and notification of the `cc`
operation. The org chart is test_chain's: emp works in SALES under boss (its head), fin1 and fin2 hold
role finance, hr1 role hr.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import runtime
from engine.data.models import CcRecord, HistoryEntry, Notification
from engine.errors import InvalidPackageError
from engine.runtime import operations
from engine.runtime.cc_events import CC_BY, cc_problems
from engine.work.pages import may_view_instance
from tests.engine.conftest import flow, write_package
from tests.engine.packages.test_chain import EXAMPLE, _deploy, _open, _package, org  # noqa: F401 - org fixture

REACH = f"""
<bpmn:startEvent id="start"/>
<bpmn:intermediateThrowEvent id="cc_first" liaison:cc="role:finance;department_head"/>
<bpmn:userTask id="approve" name="Approve" liaison:assignee="ceo"/>
<bpmn:intermediateThrowEvent id="cc_again" liaison:cc="users:fin1,hr1" liaison:ccWhen="reach"/>
<bpmn:endEvent id="done"/>
{flow("start", "cc_first")}{flow("cc_first", "approve")}{flow("approve", "cc_again")}{flow("cc_again", "done")}
"""

FINISH = f"""
<bpmn:startEvent id="start"/>
<bpmn:intermediateThrowEvent id="cc_hr" liaison:cc="role:hr" liaison:ccWhen="finish"/>
<bpmn:userTask id="approve" name="Approve" liaison:assignee="ceo"/>
<bpmn:endEvent id="done"/>
{flow("start", "cc_hr")}{flow("cc_hr", "approve")}{flow("approve", "done")}
"""


def _copies(sessions, instance_id: int) -> dict[str, str]:
    with sessions() as session:
        return {r.username: r.cc_by for r in session.scalars(select(CcRecord).where(CcRecord.instance_id == instance_id))}


def _cc_history(sessions, instance_id: int) -> list[tuple]:
    with sessions() as session:
        return [(h.actor, h.element_id, h.data) for h in session.scalars(
            select(HistoryEntry).where(HistoryEntry.instance_id == instance_id, HistoryEntry.action == "cc")
            .order_by(HistoryEntry.id))]


def _notified(sessions) -> list[str]:
    with sessions() as session:
        return [n.recipient for n in session.scalars(select(Notification).where(Notification.event == "cc")
                                                     .order_by(Notification.id))]


def test_a_reached_cc_event_copies_the_resolved_people_once(org, deploy_package, tmp_path):  # noqa: F811
    deploy_package(write_package(tmp_path, "buy", {"buy": REACH}))
    started = runtime.start_instance(org, "buy", {}, user="emp")
    iid = started.instance_id
    assert _copies(org, iid) == {"fin1": CC_BY, "fin2": CC_BY, "boss": CC_BY}
    [(actor, element, data)] = _cc_history(org, iid)
    assert (actor, element, sorted(data["to"]), data["skipped"]) == (None, "cc_first", ["boss", "fin1", "fin2"], [])
    assert sorted(_notified(org)) == ["boss", "fin1", "fin2"]
    with org() as session:
        page = operations.cc_for(session, "boss")  # the list the inbox's "CC'd to me" shows
        assert (page.total, page.items[0].instance_id, page.items[0].cc_by, page.items[0].read_at) == (
            1, iid, CC_BY, None)
        assert may_view_instance(session, iid, "fin2")
        assert not may_view_instance(session, iid, "hr1")

    runtime.complete_task(org, _open(org, iid)["approve"].id, "ceo", {})
    assert set(_copies(org, iid)) == {"fin1", "fin2", "boss", "hr1"}  # fin1 once, though named again
    assert _cc_history(org, iid)[-1] == (None, "cc_again", {"to": ["hr1"], "skipped": ["fin1"]})
    assert sorted(_notified(org)) == ["boss", "fin1", "fin2", "hr1"]
    with org() as session:
        assert may_view_instance(session, iid, "hr1")


def test_someone_copied_by_hand_before_is_not_copied_again(org, deploy_package, tmp_path):  # noqa: F811
    deploy_package(write_package(tmp_path, "buy", {"buy": REACH}))
    started = runtime.start_instance(org, "buy", {}, user="emp")
    operations.cc(org, started.instance_id, ["hr1"], actor="emp")
    runtime.complete_task(org, _open(org, started.instance_id)["approve"].id, "ceo", {})
    assert _copies(org, started.instance_id)["hr1"] == "emp"
    # cc_again names fin1 and hr1, both copied already: nobody new, so no entry of its own
    assert [h[:2] for h in _cc_history(org, started.instance_id)] == [(None, "cc_first"), ("emp", None)]
    assert _notified(org).count("hr1") == 1


def test_finish_copies_only_when_the_instance_ends(org, deploy_package, tmp_path):  # noqa: F811
    deploy_package(write_package(tmp_path, "buy", {"buy": FINISH}))
    started = runtime.start_instance(org, "buy", {}, user="emp")
    iid = started.instance_id
    assert _copies(org, iid) == {} and _cc_history(org, iid) == [] and _notified(org) == []
    runtime.complete_task(org, _open(org, iid)["approve"].id, "ceo", {})
    assert _copies(org, iid) == {"hr1": CC_BY}
    assert _cc_history(org, iid) == [(None, "cc_hr", {"to": ["hr1"], "skipped": []})]
    assert _notified(org) == ["hr1"]


@pytest.mark.parametrize(("attributes", "message"), [
    ('liaison:cc="rol:hr"', "liaison:cc `rol:hr`: "),
    ('liaison:cc="role:hr;manager:x"', "liaison:cc `manager:x`: "),
    ('liaison:cc="role:hr" liaison:ccWhen="later"', "liaison:ccWhen `later` must be one of reach, finish"),
    ('liaison:cc=" ; "', "liaison:cc names no rule"),
])
def test_bad_cc_attributes_are_refused_at_deploy(sessions, deploy_package, tmp_path, attributes, message):
    body = f"""
    <bpmn:startEvent id="start"/>
    <bpmn:intermediateThrowEvent id="copy" {attributes}/>
    <bpmn:endEvent id="done"/>
    {flow("start", "copy")}{flow("copy", "done")}
    """
    with pytest.raises(InvalidPackageError) as refused:
        deploy_package(write_package(tmp_path, "bad", {"bad": body}))
    assert any(message in p.message and p.element_id == "copy" for p in refused.value.problems), refused.value


def test_an_unknown_role_is_a_deploy_warning_like_an_approver_rule(org, deploy_package, tmp_path):  # noqa: F811
    body = f"""
    <bpmn:startEvent id="start"/>
    <bpmn:intermediateThrowEvent id="copy" liaison:cc="role:ghost;users:nobody"/>
    <bpmn:endEvent id="done"/>
    {flow("start", "copy")}{flow("copy", "done")}
    """
    result = deploy_package(write_package(tmp_path, "warned", {"warned": body}))
    assert "warned.bpmn: copy: liaison:cc `role:ghost`: no role `ghost`" in result.warnings
    assert "warned.bpmn: copy: liaison:cc `users:nobody`: no person with username `nobody`" in result.warnings
    started = runtime.start_instance(org, "warned", {}, user="emp")  # a rule yielding nobody copies to nobody
    assert started.status == "completed" and _copies(org, started.instance_id) == {}


def test_cc_problems_of_an_element_without_cc_attributes_are_none():
    assert cc_problems({"approvers": "manager"}) == []
    assert cc_problems({"ccWhen": "finish"}) == [("warning", "liaison:ccWhen has no effect without liaison:cc")]


def test_a_chain_with_a_cc_node_runs_and_copies(org, tmp_path):  # noqa: F811
    _deploy(org, _package(tmp_path, EXAMPLE, "expense"))  # head -> admins (small amount) -> CC to role:hr -> end
    started = runtime.start_instance(org, "expense", {"title": "Pens", "amount": 30}, user="emp")
    iid = started.instance_id
    runtime.complete_task(org, _open(org, iid)["head"].id, "boss", {"approved": True})
    assert _copies(org, iid) == {}
    runtime.complete_task(org, _open(org, iid)["admins"].id, "adm2", {"approved": True})
    assert _copies(org, iid) == {"hr1": CC_BY}
    assert _cc_history(org, iid) == [(None, "cc_hr", {"to": ["hr1"], "skipped": []})]
    assert _notified(org) == ["hr1"]
    with org() as session:
        assert [item.instance_id for item in operations.cc_for(session, "hr1").items] == [iid]
