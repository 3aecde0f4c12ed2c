"""engine.bpmn_check: unsupported elements and broken structure are reported with id and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.bpmn.check import check_bpmn
from engine.bpmn.xmlsafe import parse_xml_bytes, read_xml_file
from engine.errors import Problem

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bpmn"

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
    ' id="defs">\n'
)
LINEAR = """  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    {work}
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
"""


def _doc(body: str) -> str:
    """A BPMN document around `body` (process and root elements)."""
    return HEADER + body + "</bpmn:definitions>\n"


def _check(text: str, check_expression=None) -> list[Problem]:
    """Parse `text` safely and check it."""
    return check_bpmn(parse_xml_bytes(text.encode()), "test.bpmn", check_expression)


def _errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def _line_of(text: str, needle: str) -> int:
    """1-based line of the first line of `text` containing `needle`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _linear(work: str) -> str:
    """start -> `work` (an element with id "work") -> end."""
    return _doc(LINEAR.format(work=work))


def test_camunda_modeler_export_has_no_problem() -> None:
    tree = read_xml_file(str(FIXTURES / "camunda_leave_request.bpmn"))
    assert check_bpmn(tree, "camunda_leave_request.bpmn") == []


def test_all_supported_fixture_has_no_problem() -> None:
    assert check_bpmn(read_xml_file(str(FIXTURES / "all_supported.bpmn")), "all_supported.bpmn") == []


def test_drawing_only_extras_give_no_problem() -> None:
    tree = read_xml_file(str(FIXTURES / "drawing_only_extras.bpmn"))
    assert check_bpmn(tree, "drawing_only_extras.bpmn") == []


@pytest.mark.parametrize("name", ["camunda_leave_request.bpmn", "all_supported.bpmn"])
def test_files_that_pass_the_check_are_accepted_by_spiffworkflow(name: str) -> None:
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(read_xml_file(str(FIXTURES / name)), name)
    for process_id in parser.get_process_ids():
        assert parser.get_spec(process_id) is not None


def test_non_bpmn_root_gives_one_problem_naming_the_root() -> None:
    problems = check_bpmn(read_xml_file(str(FIXTURES / "xhtml_page.xml")), "page.xml")
    assert [(p.line, p.message) for p in problems] == [(2, "not a BPMN 2.0 file: root element is <html>")]


def test_definitions_in_another_namespace_is_not_bpmn() -> None:
    problems = _check('<definitions xmlns="http://example.com/other"><process id="p"/></definitions>')
    assert problems[0].message == (
        "not a BPMN 2.0 file: root element is <definitions> in namespace http://example.com/other"
    )


def test_complex_gateway_is_refused_with_its_id_and_line() -> None:
    path = FIXTURES / "complex_gateway.bpmn"
    problems = check_bpmn(read_xml_file(str(path)), str(path))
    assert len(problems) == 1
    problem = problems[0]
    assert problem.element_id == "merge_votes"
    assert problem.line == _line_of(path.read_text(), '<bpmn:complexGateway id="merge_votes"')
    assert problem.message == (
        "complexGateway is not supported by the engine: use an inclusive or exclusive gateway"
    )
    assert problem.severity == "error"


def test_business_rule_task_passes_the_structure_check() -> None:
    # its decision is checked with the package (tests/engine/bpmn/test_wider_bpmn.py)
    assert _errors(_check(_linear('<bpmn:businessRuleTask id="work" />'))) == []


def test_unknown_bpmn_element_is_refused_and_foreign_elements_are_ignored() -> None:
    text = _linear(
        '<bpmn:task id="work"><bpmn:extensionElements><camunda:whatever><bpmn:bogus/></camunda:whatever>'
        '</bpmn:extensionElements></bpmn:task>\n    <bpmn:choreographyTask id="ct" />\n    <bpmn:fancyTask id="ft" />'
    )
    problems = _errors(_check(text))
    assert [(p.element_id, p.message) for p in problems] == [
        ("ct", "choreographies are not supported by the engine"),
        ("ft", "fancyTask is not supported by the engine"),
    ]


def test_duplicate_ids_are_reported_with_the_first_use() -> None:
    text = _linear('<bpmn:task id="work" />\n    <bpmn:textAnnotation id="work" />')
    problems = _check(text)
    assert [(p.element_id, p.line, p.message) for p in problems] == [
        ("work", _line_of(text, "textAnnotation"),
         f'duplicate id `work` (first used at line {_line_of(text, "<bpmn:task")})')
    ]


def test_sequence_flow_to_a_missing_element_is_reported() -> None:
    text = _linear('<bpmn:task id="work" />\n    <bpmn:sequenceFlow id="lost" sourceRef="work" targetRef="nowhere" />')
    problems = _errors(_check(text))
    assert any(
        p.element_id == "lost" and p.message == "targetRef `nowhere` names an element that does not exist"
        and p.line == _line_of(text, 'id="lost"')
        for p in problems
    )


def test_sequence_flow_into_a_subprocess_is_reported() -> None:
    body = """  <bpmn:process id="p">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="cross" sourceRef="start" targetRef="inner" />
    <bpmn:subProcess id="sub">
      <bpmn:startEvent id="sub_start" />
      <bpmn:sequenceFlow id="s1" sourceRef="sub_start" targetRef="inner" />
      <bpmn:task id="inner" />
      <bpmn:sequenceFlow id="s2" sourceRef="inner" targetRef="sub_end" />
      <bpmn:endEvent id="sub_end" />
    </bpmn:subProcess>
  </bpmn:process>
"""
    messages = {(p.element_id, p.message) for p in _errors(_check(_doc(body)))}
    assert ("cross", "targetRef `inner` is not a flow node of the same process or subprocess") in messages


def test_exclusive_gateway_flow_without_condition_is_reported_by_flow_id() -> None:
    body = """  <bpmn:process id="p">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="gw" />
    <bpmn:exclusiveGateway id="gw" />
    <bpmn:sequenceFlow id="yes" sourceRef="gw" targetRef="end">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">approved</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="ungated" sourceRef="gw" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
"""
    text = _doc(body)
    problems = _check(text)
    assert [(p.element_id, p.line, p.message) for p in problems] == [
        ("ungated", _line_of(text, 'id="ungated"'),
         "sequence flow `ungated` leaves exclusiveGateway `gw` without a condition and is not the gateway's "
         "default flow")
    ]
    assert _check(text.replace('<bpmn:exclusiveGateway id="gw" />', '<bpmn:exclusiveGateway id="gw" default="ungated" />')) == []


def test_gateway_default_that_is_not_an_outgoing_flow_is_reported() -> None:
    text = _linear('<bpmn:exclusiveGateway id="work" default="f1" />')
    assert [p.message for p in _check(text)] == ["default flow `f1` is not an outgoing sequence flow of this gateway"]


def test_task_without_outgoing_flow_is_an_error_and_unreachable_task_a_warning() -> None:
    text = _linear('<bpmn:task id="work" />\n    <bpmn:userTask id="orphan" />')
    problems = _check(text)
    assert [(p.element_id, p.severity, p.message) for p in problems] == [
        ("orphan", "warning", "userTask has no incoming sequence flow; it can never be reached"),
        ("orphan", "error", "userTask has no outgoing sequence flow; the process would stop here"),
    ]


def test_task_with_two_outgoing_flows_is_an_error() -> None:
    text = _linear('<bpmn:task id="work" />\n    <bpmn:sequenceFlow id="f3" sourceRef="work" targetRef="end" />')
    assert [p.message for p in _check(text)] == [
        "task has 2 outgoing sequence flows; only gateways may split the flow: add a parallel or exclusive gateway"
    ]


def test_process_without_start_event_is_an_error() -> None:
    text = _doc('  <bpmn:process id="p">\n    <bpmn:endEvent id="end" />\n  </bpmn:process>\n')
    problems = _errors(_check(text))
    assert [(p.element_id, p.line, p.message) for p in problems] == [("p", 3, "process has no start event")]


def test_file_without_process_is_an_error() -> None:
    assert [p.message for p in _check(_doc(""))] == ["the file contains no process"]


def test_non_executable_process_is_not_refused() -> None:
    assert _check(_linear('<bpmn:task id="work" />').replace('isExecutable="true"', 'isExecutable="false"')) == []


def test_subprocess_needs_exactly_one_start_and_an_end() -> None:
    text = _linear('<bpmn:subProcess id="work"><bpmn:task id="inner" /></bpmn:subProcess>')
    messages = [p.message for p in _errors(_check(text))]
    assert "subProcess must contain exactly one start event (found 0)" in messages
    assert "subProcess must contain at least one end event" in messages


@pytest.mark.parametrize(("event", "message"), [
    ('<bpmn:startEvent id="s"><bpmn:errorEventDefinition /></bpmn:startEvent>',
     "error start events are not supported by the engine"),
    ('<bpmn:intermediateThrowEvent id="s"><bpmn:compensateEventDefinition /></bpmn:intermediateThrowEvent>',
     "compensation events are not supported by the engine"),
])
def test_event_triggers_the_engine_would_drop_are_refused(event: str, message: str) -> None:
    text = _linear('<bpmn:task id="work" />\n    ' + event)
    problems = [p for p in _errors(_check(text)) if "has no " not in p.message]
    assert [(p.element_id, p.message) for p in problems] == [("s", message)]


def test_cancel_boundary_event_on_a_plain_task_is_refused() -> None:
    text = _linear(
        '<bpmn:task id="work" />\n    <bpmn:boundaryEvent id="b" attachedToRef="work">'
        '<bpmn:cancelEventDefinition /></bpmn:boundaryEvent>'
    )
    problems = _check(text)
    assert [(p.element_id, p.severity, p.message) for p in problems] == [
        ("b", "warning", "boundary event has no outgoing sequence flow; this path ends here"),
        ("b", "error", "cancel boundary events may only be attached to a transaction"),
    ]


def test_message_ref_to_a_missing_message_is_reported() -> None:
    text = _linear(
        '<bpmn:intermediateCatchEvent id="work"><bpmn:messageEventDefinition messageRef="ghost" />'
        '</bpmn:intermediateCatchEvent>'
    )
    assert [p.message for p in _check(text)] == ["messageRef `ghost` names no message of this file"]


def test_groovy_script_is_refused_and_camunda_collection_multi_instance_is_read() -> None:
    text = _linear(
        '<bpmn:scriptTask id="work" scriptFormat="groovy"><bpmn:script>x = 1</bpmn:script>'
        '<bpmn:multiInstanceLoopCharacteristics camunda:collection="${items}" /></bpmn:scriptTask>'
    )
    assert [p.message for p in _errors(_check(text))] == ["scriptFormat `groovy` is not supported: scripts are Python"]


def test_human_performer_is_reported_as_ignored() -> None:
    text = _linear('<bpmn:userTask id="work"><bpmn:humanPerformer id="hp" /></bpmn:userTask>')
    assert [(p.severity, p.message) for p in _check(text)] == [("warning", "humanPerformer is ignored by the engine")]


EXPRESSIONS = """  <bpmn:process id="p">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="gw" />
    <bpmn:exclusiveGateway id="gw" default="f2" />
    <bpmn:sequenceFlow id="f1" sourceRef="gw" targetRef="calc">
      <bpmn:conditionExpression>amount &gt; 100</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f2" sourceRef="gw" targetRef="calc" />
    <bpmn:scriptTask id="calc">
      <bpmn:script>total = amount * 2
import os</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="calc" targetRef="review" />
    <bpmn:userTask id="review">
      <bpmn:multiInstanceLoopCharacteristics>
        <bpmn:loopCardinality>len(reviewers)</bpmn:loopCardinality>
        <bpmn:completionCondition>done &gt;= 2</bpmn:completionCondition>
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f4" sourceRef="review" targetRef="wait" />
    <bpmn:intermediateCatchEvent id="wait">
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f5" sourceRef="wait" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
"""


def test_check_expression_is_called_with_each_kind() -> None:
    calls: list[tuple[str, str]] = []
    problems = _check(_doc(EXPRESSIONS), lambda text, kind: calls.append((kind, text)) or None)
    assert problems == []
    assert calls == [
        ("condition", "amount > 100"),
        ("script", "total = amount * 2\nimport os"),
        ("cardinality", "len(reviewers)"),
        ("completion", "done >= 2"),
        ("timer", '"PT1H"'),
    ]


def test_check_expression_messages_are_reported_with_the_element_id_and_line() -> None:
    text = _doc(EXPRESSIONS)

    def refuse(text: str, kind: str) -> str | None:
        return {"script": "import is not allowed", "condition": "name `amount`\nis unknown"}.get(kind)

    problems = _check(text, refuse)
    assert [(p.element_id, p.line, p.message) for p in problems] == [
        ("f1", _line_of(text, "<bpmn:conditionExpression>"), "expression `amount > 100`: name `amount` is unknown"),
        ("calc", _line_of(text, "<bpmn:script>"), "expression `total = amount * 2 import os`: import is not allowed"),
    ]


def test_check_expression_is_not_called_for_blank_text_and_blank_script_is_an_error() -> None:
    calls: list[str] = []
    text = _linear('<bpmn:scriptTask id="work"><bpmn:script>   </bpmn:script></bpmn:scriptTask>')
    problems = _check(text, lambda t, k: calls.append(k) or None)
    assert calls == []
    assert [p.message for p in problems] == ["script task must contain exactly one non-empty script"]


def test_problems_are_ordered_by_line() -> None:
    text = _linear('<bpmn:complexGateway id="work" />\n    <bpmn:userTask id="orphan" />\n    <bpmn:task id="work" />')
    lines = [p.line or 0 for p in _check(text)]
    assert len(lines) >= 3 and lines == sorted(lines)
