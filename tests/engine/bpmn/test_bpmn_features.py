"""BPMN constructs run through Liaison (persisted after every step, trees compacted)."""

from __future__ import annotations

import pytest

from engine import runtime
from engine.bpmn.services import register_service, unregister_service
from engine.errors import ProcessRuntimeError
from engine.work import queries
from tests.engine.conftest import flow, write_package


def _run(sessions, deploy_package, tmp_path, body, data=None, definitions=""):
    deploy_package(write_package(tmp_path, "proc", {"proc": body}, definitions=definitions))
    return runtime.start_instance(sessions, "proc", data or {}, user="starter")


def _complete_all(sessions, result, user="u", data=None):
    for task in list(result.open_tasks):
        result = runtime.complete_task(sessions, task["id"], task["assignee"] or user, data or {})
    return result


def _path(sessions, instance_id):
    with sessions() as session:
        return queries.path_taken(session, instance_id)


def _data(sessions, instance_id):
    with sessions() as session:
        return queries.instance_view(session, instance_id)["data"]


def test_inclusive_gateway_runs_every_matching_branch_and_joins(sessions, deploy_package, tmp_path):
    body = "\n".join([
        '<bpmn:startEvent id="start"/>', flow("start", "fork"),
        '<bpmn:inclusiveGateway id="fork" default="f_none"/>',
        flow("fork", "hardware", "needs_hardware", "f_hw"), flow("fork", "software", "needs_software", "f_sw"),
        flow("fork", "nothing", flow_id="f_none"),
        '<bpmn:userTask id="hardware"/>', '<bpmn:userTask id="software"/>',
        '<bpmn:scriptTask id="nothing"><bpmn:script>empty = True</bpmn:script></bpmn:scriptTask>',
        flow("hardware", "merge"), flow("software", "merge"), flow("nothing", "merge"),
        '<bpmn:inclusiveGateway id="merge"/>', flow("merge", "end"), '<bpmn:endEvent id="end"/>'])
    started = _run(sessions, deploy_package, tmp_path, body, {"needs_hardware": True, "needs_software": True})
    assert sorted(t["element_id"] for t in started.open_tasks) == ["hardware", "software"]
    first = runtime.complete_task(sessions, started.open_tasks[0]["id"], "u", {"a": 1})
    assert first.status == "running" and len(first.open_tasks) == 1  # the join waits for the other branch
    done = runtime.complete_task(sessions, first.open_tasks[0]["id"], "u", {"b": 2})
    assert done.status == "completed"
    data = _data(sessions, started.instance_id)
    assert data["a"] == 1 and data["b"] == 2  # both branches' data merged at the join
    assert "nothing" not in _path(sessions, started.instance_id)


def test_embedded_subprocess_with_user_task(sessions, deploy_package, tmp_path):
    body = "\n".join([
        '<bpmn:startEvent id="start"/>', flow("start", "sub"),
        '<bpmn:subProcess id="sub">', '<bpmn:startEvent id="sub_start"/>', flow("sub_start", "inner"),
        '<bpmn:userTask id="inner" liaison:assignee="ann"/>', flow("inner", "sub_end"),
        '<bpmn:endEvent id="sub_end"/>', "</bpmn:subProcess>",
        flow("sub", "after"),
        '<bpmn:scriptTask id="after"><bpmn:script>total = inner_value * 2</bpmn:script></bpmn:scriptTask>',
        flow("after", "end"), '<bpmn:endEvent id="end"/>'])
    started = _run(sessions, deploy_package, tmp_path, body)
    assert [(t["element_id"], t["assignee"]) for t in started.open_tasks] == [("inner", "ann")]
    done = runtime.complete_task(sessions, started.open_tasks[0]["id"], "ann", {"inner_value": 21})
    assert (done.status, done.end_event) == ("completed", "end")
    assert _data(sessions, started.instance_id)["total"] == 42


def test_parallel_multi_instance_gives_each_approver_a_task(sessions, deploy_package, tmp_path):
    body = "\n".join([
        '<bpmn:startEvent id="start"/>', flow("start", "sign"),
        '<bpmn:userTask id="sign" liaison:assignee="${signer}">',
        '<bpmn:multiInstanceLoopCharacteristics>',
        "<bpmn:loopDataInputRef>signers</bpmn:loopDataInputRef>",
        '<bpmn:loopDataOutputRef>signatures</bpmn:loopDataOutputRef>',
        '<bpmn:inputDataItem id="signer"/>', '<bpmn:outputDataItem id="signature"/>',
        "</bpmn:multiInstanceLoopCharacteristics>", "</bpmn:userTask>",
        flow("sign", "end"), '<bpmn:endEvent id="end"/>'])
    started = _run(sessions, deploy_package, tmp_path, body, {"signers": ["ann", "bob", "cai"]})
    assert sorted(t["assignee"] for t in started.open_tasks) == ["ann", "bob", "cai"]
    result = started
    for task in started.open_tasks:
        result = runtime.complete_task(sessions, task["id"], task["assignee"], {"signature": task["assignee"].upper()})
    assert result.status == "completed"
    assert sorted(_data(sessions, started.instance_id)["signatures"]) == ["ANN", "BOB", "CAI"]


def test_sequential_multi_instance_offers_one_task_at_a_time(sessions, deploy_package, tmp_path):
    body = "\n".join([
        '<bpmn:startEvent id="start"/>', flow("start", "review"),
        '<bpmn:userTask id="review" liaison:assignee="ann">',
        '<bpmn:multiInstanceLoopCharacteristics isSequential="true">',
        "<bpmn:loopCardinality>3</bpmn:loopCardinality>", "</bpmn:multiInstanceLoopCharacteristics>",
        "</bpmn:userTask>", flow("review", "end"), '<bpmn:endEvent id="end"/>'])
    result = _run(sessions, deploy_package, tmp_path, body)
    rounds = 0
    while result.status == "running":
        assert len(result.open_tasks) == 1
        result = runtime.complete_task(sessions, result.open_tasks[0]["id"], "ann", {})
        rounds += 1
    assert rounds == 3 and result.end_event == "end"


ERRORS = ('<bpmn:error id="err_over_budget" name="Over budget" errorCode="OVER_BUDGET"/>'
          '<bpmn:escalation id="esc_notify" name="Notify" escalationCode="NOTIFY"/>')


def _budget_process(boundary: str) -> str:
    return "\n".join([
        '<bpmn:startEvent id="start"/>', flow("start", "check"),
        '<bpmn:subProcess id="check">', '<bpmn:startEvent id="c_start"/>', flow("c_start", "c_gw"),
        '<bpmn:exclusiveGateway id="c_gw" default="f_ok"/>',
        flow("c_gw", "c_error", "amount > 100", "f_over"), flow("c_gw", "c_end", flow_id="f_ok"),
        '<bpmn:endEvent id="c_error"><bpmn:errorEventDefinition errorRef="err_over_budget"/></bpmn:endEvent>',
        '<bpmn:endEvent id="c_end"/>', "</bpmn:subProcess>",
        boundary, flow("check", "done"), '<bpmn:endEvent id="done"/>',
        '<bpmn:userTask id="handle" liaison:assignee="cfo"/>', flow("handle", "handled"),
        '<bpmn:endEvent id="handled"/>'])


@pytest.mark.parametrize("amount, end, handler", [(500, None, "handle"), (50, "done", None)])
def test_error_end_event_is_caught_by_boundary_event(sessions, deploy_package, tmp_path, amount, end, handler):
    boundary = ('<bpmn:boundaryEvent id="over_budget" attachedToRef="check">'
                '<bpmn:errorEventDefinition errorRef="err_over_budget"/></bpmn:boundaryEvent>'
                + flow("over_budget", "handle"))
    result = _run(sessions, deploy_package, tmp_path, _budget_process(boundary), {"amount": amount},
                  definitions=ERRORS)
    if handler:
        assert [t["element_id"] for t in result.open_tasks] == [handler]
        result = runtime.complete_task(sessions, result.open_tasks[0]["id"], "cfo", {})
        end = "handled"
    assert (result.status, result.end_event) == ("completed", end)


def test_escalation_is_caught_without_interrupting(sessions, deploy_package, tmp_path):
    body = "\n".join([
        '<bpmn:startEvent id="start"/>', flow("start", "work"),
        '<bpmn:subProcess id="work">', '<bpmn:startEvent id="w_start"/>', flow("w_start", "w_raise"),
        '<bpmn:intermediateThrowEvent id="w_raise"><bpmn:escalationEventDefinition escalationRef="esc_notify"/>'
        "</bpmn:intermediateThrowEvent>", flow("w_raise", "w_task"),
        '<bpmn:userTask id="w_task" liaison:assignee="ann"/>', flow("w_task", "w_end"),
        '<bpmn:endEvent id="w_end"/>', "</bpmn:subProcess>",
        '<bpmn:boundaryEvent id="notified" attachedToRef="work" cancelActivity="false">'
        '<bpmn:escalationEventDefinition escalationRef="esc_notify"/></bpmn:boundaryEvent>',
        flow("notified", "tell_boss"), '<bpmn:userTask id="tell_boss" liaison:assignee="boss"/>',
        flow("tell_boss", "told"), '<bpmn:endEvent id="told"/>',
        flow("work", "done"), '<bpmn:endEvent id="done"/>'])
    started = _run(sessions, deploy_package, tmp_path, body, definitions=ERRORS)
    assert sorted(t["element_id"] for t in started.open_tasks) == ["tell_boss", "w_task"]
    result = _complete_all(sessions, started)
    assert result.status == "completed"


def test_terminate_end_event_cancels_the_other_branch(sessions, deploy_package, tmp_path):
    body = "\n".join([
        '<bpmn:startEvent id="start"/>', flow("start", "split"),
        '<bpmn:parallelGateway id="split"/>', flow("split", "slow"), flow("split", "fast"),
        '<bpmn:userTask id="slow" liaison:assignee="ann"/>', flow("slow", "slow_end"),
        '<bpmn:endEvent id="slow_end"/>',
        '<bpmn:userTask id="fast" liaison:assignee="bob"/>', flow("fast", "stop"),
        '<bpmn:endEvent id="stop"><bpmn:terminateEventDefinition/></bpmn:endEvent>'])
    started = _run(sessions, deploy_package, tmp_path, body)
    fast = next(t for t in started.open_tasks if t["element_id"] == "fast")
    result = runtime.complete_task(sessions, fast["id"], "bob", {})
    assert (result.status, result.end_event) == ("completed", "stop")
    with sessions() as session:
        view = queries.instance_view(session, started.instance_id)
        assert queries.list_tasks(session, "ann") == []
    assert {t["element_id"]: t["status"] for t in view["tasks"]} == {"slow": "cancelled", "fast": "completed"}


def test_service_task_calls_a_registered_operation(sessions, deploy_package, tmp_path):
    register_service("price_with_tax", lambda amount, rate: round(amount * (1 + rate), 2), replace=True)
    try:
        body = "\n".join([
            '<bpmn:startEvent id="start"/>', flow("start", "price"),
            '<bpmn:serviceTask id="price" liaison:operation="price_with_tax" liaison:resultVariable="gross">'
            '<bpmn:extensionElements><liaison:parameter name="amount" value="net"/>'
            '<liaison:parameter name="rate" value="0.13"/></bpmn:extensionElements></bpmn:serviceTask>',
            flow("price", "end"), '<bpmn:endEvent id="end"/>'])
        result = _run(sessions, deploy_package, tmp_path, body, {"net": 100})
        assert result.status == "completed"
        assert _data(sessions, result.instance_id)["gross"] == 113.0
    finally:
        unregister_service("price_with_tax")


def test_failing_service_task_shows_its_own_error_and_can_be_retried(sessions, deploy_package, tmp_path):
    calls = {"n": 0}

    def flaky_erp(order):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError(f"ERP refused order {order}")
        return {"erp_id": f"ERP-{order}"}

    register_service("flaky_erp", flaky_erp, replace=True)
    try:
        body = "\n".join([
            '<bpmn:startEvent id="start"/>', flow("start", "enter"),
            '<bpmn:userTask id="enter" liaison:assignee="ann"/>', flow("enter", "push"),
            '<bpmn:serviceTask id="push" liaison:operation="flaky_erp">'
            '<bpmn:extensionElements><liaison:parameter name="order" value="order_no"/>'
            "</bpmn:extensionElements></bpmn:serviceTask>",
            flow("push", "end"), '<bpmn:endEvent id="end"/>'])
        started = _run(sessions, deploy_package, tmp_path, body)
        task_id = started.open_tasks[0]["id"]
        with pytest.raises(ProcessRuntimeError) as caught:
            runtime.complete_task(sessions, task_id, "ann", {"order_no": 7})
        message = str(caught.value)
        assert "push" in message and "ConnectionError" in message and "ERP refused order 7" in message
        with sessions() as session:
            view = queries.instance_view(session, started.instance_id)
        assert view["status"] == "running" and view["tasks"][0]["status"] == "open"
        assert view["history"][-1]["action"] == "failed"
        retried = runtime.complete_task(sessions, task_id, "ann", {"order_no": 7})
        assert retried.status == "completed"
        assert _data(sessions, started.instance_id)["push_result"] == {"erp_id": "ERP-7"}
    finally:
        unregister_service("flaky_erp")


def test_unsafe_expression_that_bypassed_deploy_is_refused_at_run_time(sessions, deploy_package, tmp_path):
    from engine.packages import deployment as packages

    body = "\n".join([
        '<bpmn:startEvent id="start"/>', flow("start", "gw"), '<bpmn:exclusiveGateway id="gw" default="f_b"/>',
        flow("gw", "a", "safe_flag", "f_a"), flow("gw", "b", flow_id="f_b"),
        '<bpmn:endEvent id="a"/>', '<bpmn:endEvent id="b"/>'])
    folder = write_package(tmp_path, "proc", {"proc": body})
    package = packages.load_package(folder)
    # Tamper with the stored spec after validation, as a corrupted or hand-edited database would.
    package.spec_json = package.spec_json.replace("safe_flag", "().__class__.__bases__[0].__subclasses__()")
    with sessions() as session, session.begin():
        packages.deploy(session, package, "admin")
    with pytest.raises(ProcessRuntimeError) as caught:
        runtime.start_instance(sessions, "proc", {"safe_flag": True})
    assert "_" in str(caught.value) and "__subclasses__" in str(caught.value)
    with sessions() as session:
        assert queries.list_tasks(session, "anyone") == []
