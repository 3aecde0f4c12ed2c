"""Instances end to end through the engine API, with state reloaded from the database each step."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import runtime
from engine.bpmn.serialization import SPEC_CACHE
from engine.data import db
from engine.data.models import ProcessInstance
from engine.errors import NotPermittedError, ProcessRuntimeError, TaskConflictError
from engine.runtime import LIVE_WORKFLOWS
from engine.work import queries
from tests.conftest import FIXTURES, add_people
from tests.engine.conftest import flow, write_package

ORDER_REVIEW = FIXTURES / "packages" / "order_review"


def _restart(database_url):
    """What a new process sees: no cached specs, a new connection pool."""
    SPEC_CACHE.clear()
    LIVE_WORKFLOWS.clear()
    return db.make_session_factory(db.make_engine(database_url))


def _stored(sessions, instance_id):
    with sessions() as session:
        row = session.get(ProcessInstance, instance_id)
        return row.state, row.revision, row.status


def test_large_order_runs_parallel_checks_then_call_activity_across_restarts(database_url, deploy_package):
    deploy_package(ORDER_REVIEW)
    sessions = _restart(database_url)
    add_people(sessions, "li")
    started = runtime.start_instance(sessions, "order_review", {"item": "laptop", "amount": 5000,
                                                                "manager": "li"}, user="zhang")
    assert started.status == "running"
    assert sorted(t["element_id"] for t in started.open_tasks) == ["finance_check", "stock_check"]

    sessions = _restart(database_url)
    with sessions() as session:
        finance = queries.list_tasks(session, "qian", groups=("finance",))
        stock = queries.list_tasks(session, "wang")
    assert [t.element_id for t in finance] == ["finance_check"]
    assert [t.element_id for t in stock] == ["stock_check"]
    runtime.complete_task(sessions, finance[0].id, "qian", {"finance_ok": True}, groups=("finance",))

    sessions = _restart(database_url)
    after_join = runtime.complete_task(sessions, stock[0].id, "wang", {"in_stock": 3})
    assert [t["element_id"] for t in after_join.open_tasks] == ["manager_approve"]
    assert after_join.open_tasks[0]["assignee"] == "li"

    sessions = _restart(database_url)
    with sessions() as session:
        manager_task = queries.list_tasks(session, "li")[0]
    assert manager_task.due_at is not None
    done = runtime.complete_task(sessions, manager_task.id, "li", {"approved": True}, comment="fine")
    assert done.status == "completed"
    assert done.end_event == "end_signed"

    with _restart(database_url)() as session:
        view = queries.instance_view(session, started.instance_id)
        path = queries.path_taken(session, started.instance_id)
    assert view["data"]["finance_ok"] is True and view["data"]["in_stock"] == 3
    assert view["data"]["approved"] is True and view["data"]["item"] == "laptop"
    for earlier, later in [("start", "split"), ("split", "join"), ("join", "amount_gateway"),
                           ("amount_gateway", "signoff"), ("manager_approve", "end_signed")]:
        assert path.index(earlier) < path.index(later)
    assert {"finance_check", "stock_check", "manager_approve"} <= set(path)
    assert "auto_approve" not in path
    actions = [(h["action"], h["actor"]) for h in view["history"]]
    assert actions[0] == ("started", "zhang")
    assert ("task_completed", "li") in actions and actions[-1][0] == "completed"
    assert [h["comment"] for h in view["history"] if h["action"] == "task_completed"][-1] == "fine"
    assert all(t["status"] == "completed" for t in view["tasks"])


def test_small_order_takes_the_default_flow_to_the_script_task(sessions, deploy_package):
    deploy_package(ORDER_REVIEW)
    started = runtime.start_instance(sessions, "order_review", {"item": "pen", "amount": 20}, user="zhang")
    for task in started.open_tasks:
        result = runtime.complete_task(sessions, task["id"], task["assignee"] or "qian", {},
                                       groups=("finance",))
    assert result.status == "completed" and result.end_event == "end_auto"
    with sessions() as session:
        view = queries.instance_view(session, started.instance_id)
    assert view["data"]["approved"] is True
    assert view["data"]["approval_note"] == "under limit: 20"


def test_second_completion_of_same_task_conflicts_and_changes_nothing(sessions, deploy_package):
    deploy_package(ORDER_REVIEW)
    started = runtime.start_instance(sessions, "order_review", {"item": "pen", "amount": 20})
    stock = next(t for t in started.open_tasks if t["element_id"] == "stock_check")
    runtime.complete_task(sessions, stock["id"], "wang", {"in_stock": 1})
    before = _stored(sessions, started.instance_id)
    with pytest.raises(TaskConflictError, match="already completed"):
        runtime.complete_task(sessions, stock["id"], "wang", {"in_stock": 99})
    assert _stored(sessions, started.instance_id) == before


def test_user_who_is_not_assigned_cannot_complete(sessions, deploy_package):
    deploy_package(ORDER_REVIEW)
    started = runtime.start_instance(sessions, "order_review", {"item": "pen", "amount": 20})
    stock = next(t for t in started.open_tasks if t["element_id"] == "stock_check")
    finance = next(t for t in started.open_tasks if t["element_id"] == "finance_check")
    with pytest.raises(NotPermittedError):
        runtime.complete_task(sessions, stock["id"], "mallory", {})
    with pytest.raises(NotPermittedError):
        runtime.complete_task(sessions, finance["id"], "mallory", {}, groups=("sales",))


def test_cancel_withdraws_open_tasks_and_records_who(sessions, deploy_package):
    deploy_package(ORDER_REVIEW)
    started = runtime.start_instance(sessions, "order_review", {"item": "pen", "amount": 20}, user="zhang")
    result = runtime.cancel_instance(sessions, started.instance_id, "zhang", reason="ordered twice")
    assert result.status == "cancelled"
    with sessions() as session:
        view = queries.instance_view(session, started.instance_id)
        assert queries.list_tasks(session, "wang") == []
    assert {t["status"] for t in view["tasks"]} == {"cancelled"}
    assert view["history"][-1]["action"] == "cancelled" and view["history"][-1]["comment"] == "ordered twice"
    with pytest.raises(TaskConflictError):
        stock = next(t for t in started.open_tasks if t["element_id"] == "stock_check")
        runtime.complete_task(sessions, stock["id"], "wang", {})


def test_script_error_leaves_stored_instance_exactly_as_before(sessions, deploy_package, tmp_path):
    body = "\n".join([
        '<bpmn:startEvent id="start"/>', flow("start", "fill"),
        '<bpmn:userTask id="fill" name="Fill"/>', flow("fill", "compute"),
        '<bpmn:scriptTask id="compute"><bpmn:script>ratio = total / count</bpmn:script></bpmn:scriptTask>',
        flow("compute", "end"), '<bpmn:endEvent id="end"/>'])
    deploy_package(write_package(tmp_path, "ratio", {"ratio": body}))
    started = runtime.start_instance(sessions, "ratio", {"total": 10})
    task_id = started.open_tasks[0]["id"]
    before = _stored(sessions, started.instance_id)
    with pytest.raises(ProcessRuntimeError) as caught:
        runtime.complete_task(sessions, task_id, "anyone", {"count": 0})
    assert "compute" in str(caught.value) and "ZeroDivisionError" in str(caught.value)
    assert _stored(sessions, started.instance_id) == before
    with sessions() as session:
        assert [t.id for t in queries.list_tasks(session, "anyone")] == []  # unassigned: not in an inbox
        view = queries.instance_view(session, started.instance_id)
    assert view["history"][-1]["action"] == "failed"
    assert "ZeroDivisionError" in view["history"][-1]["comment"]
    done = runtime.complete_task(sessions, task_id, "anyone", {"count": 4})
    assert done.status == "completed"


def test_loop_of_300_passes_finishes_on_the_right_end_event(sessions, deploy_package, tmp_path):
    body = "\n".join([
        '<bpmn:startEvent id="start"/>', flow("start", "step"),
        '<bpmn:scriptTask id="step"><bpmn:script>counter = counter + 1</bpmn:script></bpmn:scriptTask>',
        flow("step", "again"),
        '<bpmn:exclusiveGateway id="again" default="f_done"/>',
        flow("again", "step", "counter &lt; 300".replace("&lt;", "<"), flow_id="f_loop"),
        flow("again", "done", flow_id="f_done"),
        '<bpmn:endEvent id="done"/>'])
    deploy_package(write_package(tmp_path, "looper", {"looper": body}))
    result = runtime.start_instance(sessions, "looper", {"counter": 0})
    assert result.status == "completed"
    assert result.end_event == "done"
    with sessions() as session:
        view = queries.instance_view(session, result.instance_id)
        steps = queries.path_taken(session, result.instance_id)
    assert view["data"]["counter"] == 300
    assert steps.count("step") == 300


def test_user_task_loop_keeps_state_small_over_many_rounds(sessions, deploy_package, tmp_path):
    body = "\n".join([
        '<bpmn:startEvent id="start"/>', flow("start", "review"),
        '<bpmn:userTask id="review" liaison:assignee="ann"/>', flow("review", "more"),
        '<bpmn:exclusiveGateway id="more" default="f_end"/>',
        flow("more", "review", "rounds < 40", flow_id="f_again"),
        flow("more", "end", flow_id="f_end"), '<bpmn:endEvent id="end"/>'])
    deploy_package(write_package(tmp_path, "rounds", {"rounds": body}))
    result = runtime.start_instance(sessions, "rounds", {"rounds": 0})
    sizes = []
    for n in range(1, 41):
        result = runtime.complete_task(sessions, result.open_tasks[0]["id"], "ann", {"rounds": n})
        sizes.append(len(_stored(sessions, result.instance_id)[0]))
    assert result.status == "completed"
    assert max(sizes[5:]) < sizes[5] * 1.3  # state does not grow with the number of rounds


def test_instances_are_listed_by_initiator(sessions, deploy_package):
    deploy_package(ORDER_REVIEW)
    for _ in range(3):
        runtime.start_instance(sessions, "order_review", {"item": "pen", "amount": 20}, user="zhang")
    with sessions() as session:
        rows = session.scalars(select(ProcessInstance).where(ProcessInstance.initiator == "zhang")).all()
    assert len(rows) == 3 and {r.status for r in rows} == {"running"}


def test_history_keeps_submitted_data_even_if_a_script_changes_it_in_place(sessions, deploy_package, tmp_path):
    body = "\n".join([
        '<bpmn:startEvent id="start"/>', flow("start", "fill"),
        '<bpmn:userTask id="fill"/>', flow("fill", "adjust"),
        "<bpmn:scriptTask id=\"adjust\"><bpmn:script>order['qty'] = order['qty'] * 10</bpmn:script></bpmn:scriptTask>",
        flow("adjust", "end"), '<bpmn:endEvent id="end"/>'])
    deploy_package(write_package(tmp_path, "orders", {"orders": body}))
    started = runtime.start_instance(sessions, "orders", {})
    runtime.complete_task(sessions, started.open_tasks[0]["id"], "u", {"order": {"qty": 2}})
    with sessions() as session:
        view = queries.instance_view(session, started.instance_id)
    assert view["data"]["order"] == {"qty": 20}
    submitted = [h["data"] for h in view["history"] if h["action"] == "task_completed"]
    assert submitted == [{"order": {"qty": 2}}]


def test_due_date_without_zone_is_read_in_the_company_zone(sessions, deploy_package, tmp_path):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    body = "\n".join([
        '<bpmn:startEvent id="start"/>', flow("start", "sign"),
        '<bpmn:userTask id="sign" liaison:assignee="ann" liaison:dueDate="${deadline}"/>',
        flow("sign", "end"), '<bpmn:endEvent id="end"/>'])
    deploy_package(write_package(tmp_path, "deadline", {"deadline": body}))
    started = runtime.start_instance(sessions, "deadline", {"deadline": "2026-12-01T18:00:00"})
    with sessions() as session:
        due = queries.get_task(session, started.open_tasks[0]["id"]).due_at
    expected = datetime(2026, 12, 1, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # the default company zone
    assert due == expected and due.utcoffset() is not None


def test_a_claimed_task_is_completed_by_its_claimer_only(sessions, deploy_package):
    deploy_package(ORDER_REVIEW)
    started = runtime.start_instance(sessions, "order_review", {"item": "pen", "amount": 20})
    finance = next(t for t in started.open_tasks if t["element_id"] == "finance_check")
    runtime.claim_task(sessions, finance["id"], "qian", ("finance",))
    with pytest.raises(NotPermittedError, match="assigned to qian, not zhou"):
        runtime.complete_task(sessions, finance["id"], "zhou", {"finance_ok": True}, groups=("finance",))
    with pytest.raises(TaskConflictError, match="already claimed by qian"):
        runtime.claim_task(sessions, finance["id"], "zhou", ("finance",))
    runtime.complete_task(sessions, finance["id"], "qian", {"finance_ok": True}, groups=("finance",))
