"""The Liaison properties groups in headless Chromium: what a process owner picks in the panel is
what the saved BPMN says."""

from __future__ import annotations

import pytest

from tests.browser_support import chromium

from .harness import OPEN, SAVE, open_group, saved_when, select, serve_harness
from .xmltree import liaison_attributes

pytestmark = pytest.mark.browser

XML = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="defs" targetNamespace="http://liaison.dev/test">
  <bpmn:process id="purchase" isExecutable="true">
    <bpmn:startEvent id="start" name="Requested"/>
    <bpmn:userTask id="approve" name="Approve"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram"><bpmndi:BPMNPlane id="plane" bpmnElement="purchase">
    <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="100" y="100" width="36" height="36"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="approve_di" bpmnElement="approve"><dc:Bounds x="200" y="78" width="100" height="80"/></bpmndi:BPMNShape>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>"""
DRAFT = {
    "forms": {"purchase_start": [], "approve_form": []},
    "start_fields": [{"name": "amount", "type": "money", "label": "Amount"},
                     {"name": "approver", "type": "user", "label": "Approver"}],
    "roles": [{"key": "finance", "label": "Finance"}],
    "operations": ["send_order"],
}


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = serve_harness(page)
    yield page
    page.close()
    assert errors == []


def _choose(page, entry_id, value):
    page.select_option(f"#bio-properties-panel-{entry_id}", value)


def test_department_head_and_countersign_are_written_as_chosen(page):
    page.evaluate(OPEN, [XML, "en", DRAFT])
    select(page, "approve")
    open_group(page, "liaison-approvers")
    _choose(page, "liaison-approvers-kind", "department_head")
    open_group(page, "liaison-approval")
    _choose(page, "liaison-mode", "all")
    attributes = liaison_attributes(page.evaluate(SAVE), "approve")
    assert attributes["approvers"] == "department_head"
    assert attributes["mode"] == "all"


def test_an_existing_rule_reads_back_into_the_builder(page):
    page.evaluate(OPEN, [XML.replace('name="Approve"', 'name="Approve" liaison:approvers="department:SALES+"')
                         .replace('<bpmn:definitions ', '<bpmn:definitions xmlns:liaison="https://liaison.dev/schema/bpmn/1.0" '),
                         "en", DRAFT])
    select(page, "approve")
    open_group(page, "liaison-approvers")
    assert page.input_value("#bio-properties-panel-liaison-approvers-kind") == "department"
    assert page.input_value("#bio-properties-panel-liaison-approvers-department") == "SALES"
    assert page.is_checked("#bio-properties-panel-liaison-approvers-department-sub")
    page.uncheck("#bio-properties-panel-liaison-approvers-department-sub")
    assert liaison_attributes(page.evaluate(SAVE), "approve")["approvers"] == "department:SALES"


def test_picked_rule_offers_the_start_form_fields_and_the_form_select_the_drafts_forms(page):
    page.evaluate(OPEN, [XML, "en", DRAFT])
    select(page, "approve")
    open_group(page, "liaison-approvers")
    _choose(page, "liaison-approvers-kind", "picked")
    open_group(page, "liaison-form")
    _choose(page, "liaison-form", "approve_form")
    attributes = liaison_attributes(page.evaluate(SAVE), "approve")
    assert attributes["approvers"] == "picked:approver"  # the user field comes first
    assert attributes["form"] == "approve_form"


def test_panel_speaks_chinese(page):
    page.evaluate(OPEN, [XML, "zh", DRAFT])
    select(page, "approve")
    assert page.locator('[data-group-id="group-liaison-approvers"]').inner_text().startswith("审批人")
    open_group(page, "liaison-approval")
    assert "会签" in page.locator("#bio-properties-panel-liaison-mode").inner_text()


def test_service_task_operation_and_parameters_are_written(page):
    xml = XML.replace('<bpmn:userTask id="approve" name="Approve"/>',
                      '<bpmn:serviceTask id="order" name="Send the order"/>').replace('"approve"', '"order"')
    page.evaluate(OPEN, [xml, "en", DRAFT])
    select(page, "order")
    open_group(page, "liaison-operation")
    _choose(page, "liaison-operation", "send_order")
    page.click('[data-group-id="group-liaison-parameters"] .bio-properties-panel-add-entry')
    page.fill("#bio-properties-panel-order-liaison-parameter-0-name", "supplier")
    page.fill("#bio-properties-panel-order-liaison-parameter-0-value", "supplier_id")
    saved = saved_when(page, "supplier_id")
    assert liaison_attributes(saved, "order")["operation"] == "send_order"
    assert '<liaison:parameter name="supplier" value="supplier_id"' in saved
    # the external-task topic (camunda:topic) is the Camunda provider's, in the same panel
    assert page.locator('[data-group-id="group-CamundaPlatform__Implementation"]').count() == 1


def test_message_event_gets_a_correlation_key(page):
    xml = XML.replace('<bpmn:startEvent id="start" name="Requested"/>',
                      '<bpmn:startEvent id="start" name="Requested"><bpmn:messageEventDefinition id="m"/>'
                      '</bpmn:startEvent>')
    page.evaluate(OPEN, [xml, "en", DRAFT])
    select(page, "start")
    open_group(page, "liaison-message")
    page.fill("#bio-properties-panel-liaison-correlation-key", "order_id")
    assert 'liaison:correlationKey="order_id"' in saved_when(page, "order_id")


def test_palette_and_context_pad_speak_chinese(page):
    page.evaluate(OPEN, [XML, "zh", DRAFT])
    assert page.get_attribute(".djs-palette .entry.bpmn-icon-start-event-none", "title") == "创建开始事件"
    select(page, "approve")
    assert page.get_attribute('.djs-context-pad .entry[data-action="delete"]', "title") == "删除"


def test_condition_field_picker_inserts_the_field_name(page):
    xml = XML.replace('<bpmn:userTask id="approve" name="Approve"/>',
                      '<bpmn:userTask id="approve" name="Approve"/>'
                      '<bpmn:sequenceFlow id="flow" sourceRef="start" targetRef="approve"/>').replace(
        "</bpmndi:BPMNPlane>",
        '<bpmndi:BPMNEdge id="flow_di" bpmnElement="flow"><di:waypoint x="136" y="118"/>'
        '<di:waypoint x="200" y="118"/></bpmndi:BPMNEdge></bpmndi:BPMNPlane>')
    page.evaluate(OPEN, [xml, "en", DRAFT])
    select(page, "flow")
    open_group(page, "liaison-condition")
    _choose(page, "liaison-condition-field", "amount")
    assert ">amount</bpmn:conditionExpression>" in page.evaluate(SAVE)


def test_a_camunda_modeler_file_shows_its_assignees_and_conditions(page):
    """A Camunda Modeler 5 export (Camunda 7 attributes, JUEL conditions) opens with them in the panel."""
    from pathlib import Path

    xml = (Path(__file__).resolve().parents[1] / "fixtures" / "camunda" / "purchase_request.bpmn").read_text("utf-8")
    page.evaluate(OPEN, [xml, "en", DRAFT])
    select(page, "manager_approval")
    panel = page.locator(".bio-properties-panel")
    values = panel.evaluate("p => [...p.querySelectorAll('input, textarea')].map(i => i.value)")
    if "${manager}" not in values:  # the Camunda user-assignment group starts closed
        page.locator(".bio-properties-panel-group-header", has_text="User assignment").first.click()
        values = panel.evaluate("p => [...p.querySelectorAll('input, textarea')].map(i => i.value)")
    assert "${manager}" in values
    select(page, "flow_over_1000")
    page.locator(".bio-properties-panel-group-header", has_text="Condition").first.click()
    values = panel.evaluate("p => [...p.querySelectorAll('input, textarea')].map(i => i.value)")
    assert "${approved && amount > 1000}" in values, values


def test_allowed_operations_of_a_node_are_written(page):
    page.evaluate(OPEN, [XML, "en", DRAFT])
    select(page, "approve")
    open_group(page, "liaison-approval")
    page.fill("#bio-properties-panel-liaison-allow", "return,transfer")
    page.fill("#bio-properties-panel-liaison-return-to", "initiator")
    assert 'liaison:returnTo="initiator"' in saved_when(page, 'liaison:returnTo="initiator"')
    assert liaison_attributes(page.evaluate(SAVE), "approve")["allow"] == "return,transfer"
