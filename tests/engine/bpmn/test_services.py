"""Service operation registry, and the restricted script engine running a real SpiffWorkflow process."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine.bpmn import services
from engine.bpmn.expressions import LiaisonScriptEngine, RestrictedEnvironment
from engine.bpmn.services import get_service, register_service, service, service_names, unregister_service
from engine.errors import ExpressionError


@pytest.fixture
def failing_service() -> Iterator[str]:
    def boom(**kwargs: object) -> None:
        raise ValueError("boom")

    register_service("test_boom", boom)
    yield "test_boom"
    unregister_service("test_boom")


# --- registry ----------------------------------------------------------------------------------------------

def test_builtin_operations_are_registered() -> None:
    assert {"echo", "sum_values"} <= set(service_names())
    assert service_names() == sorted(service_names())


def test_echo_returns_its_keyword_arguments() -> None:
    assert get_service("echo")(a=1, b=[2]) == {"a": 1, "b": [2]}


def test_sum_values_sums_numbers_and_refuses_anything_else() -> None:
    assert get_service("sum_values")(values=[1, 2.5, 3]) == 6.5
    with pytest.raises(ValueError, match="numbers"):
        get_service("sum_values")(values=[1, "2"])
    with pytest.raises(ValueError, match="list"):
        get_service("sum_values")(values=3)


def test_unknown_operation_error_lists_the_known_names() -> None:
    with pytest.raises(ExpressionError, match=r"unknown service operation `nope` \(known: .*echo.*sum_values"):
        get_service("nope")
    assert services.check_service("nope") is not None
    assert services.check_service("echo") is None


def test_decorator_registers_and_returns_the_function() -> None:
    @service("test_double")
    def double(value: int) -> int:
        return value * 2

    try:
        assert double(2) == 4
        assert get_service("test_double") is double
    finally:
        unregister_service("test_double")


def test_registering_a_different_function_under_a_taken_name_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_service("echo", lambda **kw: kw)
    with pytest.raises(ValueError, match="non-blank"):
        register_service(" ", lambda: None)


def test_environment_calls_the_operation_with_parameter_values_and_returns_json() -> None:
    result = RestrictedEnvironment().call_service(
        {}, operation_name="echo", operation_params={"n": {"value": 3, "type": "int"}})
    assert json.loads(result) == {"n": 3}


# --- SpiffWorkflow integration -----------------------------------------------------------------------------

PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="defs" targetNamespace="https://liaison.dev/test">
  <bpmn:process id="order" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="compute"/>
    <bpmn:scriptTask id="compute" scriptFormat="python">
      <bpmn:script>order = {'lines': [{'qty': q, 'price': 10} for q in quantities]}
order['total'] = 0
for line in order['lines']:
    order['total'] += line['qty'] * line['price']
def unused():
    return 1
</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="compute" targetRef="gateway"/>
    <bpmn:exclusiveGateway id="gateway" default="f_small"/>
    <bpmn:sequenceFlow id="f_big" sourceRef="gateway" targetRef="call">
      <bpmn:conditionExpression>{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_small" sourceRef="gateway" targetRef="end_small"/>
    <bpmn:serviceTask id="call">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="{operation}" resultVariable="echoed">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="total" type="int" value="order['total']"/>
            <spiffworkflow:parameter id="label" type="str" value="'big order'"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f3" sourceRef="call" targetRef="end_big"/>
    <bpmn:endEvent id="end_big"/>
    <bpmn:endEvent id="end_small"/>
  </bpmn:process>
</bpmn:definitions>
"""


BIG_AND_NOT_RUSH = "${order['total'] &gt; 100 &amp;&amp; !rush}"


def _workflow(data: dict, operation: str = "echo", condition: str = BIG_AND_NOT_RUSH) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    xml = PROCESS.replace("{operation}", operation).replace("{condition}", condition)
    parser.add_bpmn_str(xml.encode(), "order.bpmn")
    workflow = BpmnWorkflow(parser.get_spec("order"), parser.get_subprocess_specs("order"),
                            script_engine=LiaisonScriptEngine())
    workflow.get_tasks(spec_name="start")[0].data.update(data)
    return workflow


def _end_data(workflow: BpmnWorkflow, end: str) -> dict:
    tasks = [t for t in workflow.get_tasks(spec_name=end) if t.state == TaskState.COMPLETED]
    assert tasks, f"{end} was not reached"
    return tasks[0].data


def _reached(workflow: BpmnWorkflow, name: str) -> bool:
    return any(t.state == TaskState.COMPLETED for t in workflow.get_tasks(spec_name=name))


def test_process_runs_script_condition_and_service_through_the_restricted_engine() -> None:
    workflow = _workflow({"quantities": [4, 8], "rush": False})
    workflow.do_engine_steps()
    assert workflow.is_completed()
    data = _end_data(workflow, "end_big")
    assert data["order"]["total"] == 120
    assert data["echoed"] == {"total": 120, "label": "big order"}
    assert "unused" not in data and "__builtins__" not in data and "_getattr_" not in data
    assert not _reached(workflow, "end_small")


def test_default_flow_is_taken_when_the_juel_condition_is_false() -> None:
    workflow = _workflow({"quantities": [1], "rush": False})
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert _reached(workflow, "end_small") and not _reached(workflow, "end_big")


def test_failing_service_error_keeps_its_type_and_message(failing_service: str) -> None:
    workflow = _workflow({"quantities": [20], "rush": False}, operation=failing_service)
    with pytest.raises(WorkflowTaskException) as info:
        workflow.do_engine_steps()
    error = info.value
    assert "ValueError" in str(error) and "boom" in str(error)
    assert f"service `{failing_service}` failed: ValueError: boom" in str(error)
    assert isinstance(error.exception, ValueError) and str(error.exception) == "boom"
    assert error.__cause__ is error.exception
    assert error.error_type == "ValueError"


def test_unknown_service_operation_fails_with_the_known_names() -> None:
    workflow = _workflow({"quantities": [20], "rush": False}, operation="no_such_op")
    with pytest.raises(WorkflowTaskException, match="unknown service operation `no_such_op`"):
        workflow.do_engine_steps()


def test_script_error_in_a_process_names_the_error_and_line() -> None:
    workflow = _workflow({"quantities": "x", "rush": False})
    with pytest.raises(WorkflowTaskException) as info:
        workflow.do_engine_steps()
    assert "TypeError" in str(info.value) and "line 4" in str(info.value)
    assert info.value.line_number == 4


def test_refused_condition_fails_at_run_time_with_a_workflow_error() -> None:
    workflow = _workflow({"quantities": [20], "rush": False}, condition="().__class__")
    with pytest.raises(WorkflowTaskException, match="names starting with '_'"):
        workflow.do_engine_steps()


def test_validate_raises_syntax_error_for_non_python_and_expression_error_when_refused() -> None:
    engine = LiaisonScriptEngine()
    engine.validate("a > 1")
    engine.validate("${a gt 1}")
    with pytest.raises(SyntaxError):
        engine.validate("> 1")
    with pytest.raises(ExpressionError):
        engine.validate("__import__('os')")
