"""The "External party" group of the properties panel (issue 17) in headless Chromium: a process owner
marks a user task as the supplier's step and a milestone, and the draft the editor saves says so (and the
process's package.yaml `portal` form); a lane passes its party on to its tasks, whose approver groups
give way to a notice; the labels speak Chinese."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser_support import chromium

from .harness import OPEN, SAVE, open_group, select, serve_harness
from .test_modeler_editor import CONTAINER, EDITOR, DraftEndpoints
from .xmltree import liaison_attributes

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"  # with LIAISON_SCREENSHOTS=1

LANE_XML = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:liaison="https://liaison.dev/schema/bpmn/1.0" id="defs" targetNamespace="http://liaison.dev/test">
  <bpmn:collaboration id="collab"><bpmn:participant id="pool" processRef="order"/></bpmn:collaboration>
  <bpmn:process id="order" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="supplier_lane" name="Supplier" liaison:external="supplier">
        <bpmn:flowNodeRef>confirm</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:userTask id="confirm" name="Confirm the delivery date" liaison:approvers="role:finance"
      liaison:milestone="true"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram"><bpmndi:BPMNPlane id="plane" bpmnElement="collab">
    <bpmndi:BPMNShape id="pool_di" bpmnElement="pool" isHorizontal="true"><dc:Bounds x="50" y="50" width="600" height="200"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="lane_di" bpmnElement="supplier_lane" isHorizontal="true"><dc:Bounds x="80" y="50" width="570" height="200"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="confirm_di" bpmnElement="confirm"><dc:Bounds x="200" y="110" width="100" height="80"/></bpmndi:BPMNShape>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>"""


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.fixture
def new_page(browser):
    pages, errors = [], []

    def start(**serve):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        pages.append(page)
        errors.append(serve_harness(page, **serve))
        return page

    yield start
    for page in pages:
        page.close()
    assert [error for page_errors in errors for error in page_errors] == []


def _saved_put(page, endpoints, text):
    """The XML of the last PUT once the editor has saved one containing `text`."""
    for _ in range(100):
        puts = [r for r in endpoints.requests if r["method"] == "PUT"]
        if puts and text in puts[-1]["body"]["xml"] and page.evaluate(
                "() => document.getElementById('designer-status').dataset.state") == "saved":
            return puts[-1]["body"]["xml"]
        page.wait_for_timeout(100)
    raise AssertionError(f"no saved draft with {text!r}: {[r['body'].get('xml', '')[-400:] for r in endpoints.requests]}")


def test_a_supplier_step_and_milestone_are_saved_in_the_draft(new_page):
    endpoints = DraftEndpoints()
    page = new_page(extra=endpoints, body=CONTAINER.format(lang="en"))
    page.evaluate(EDITOR)
    select(page, "approve")
    for group in ("liaison-approvers", "CamundaPlatform__UserAssignment"):
        assert page.locator(f'[data-group-id="group-{group}"]').count() == 1, group
    open_group(page, "liaison-external")
    page.select_option("#bio-properties-panel-liaison-external", "supplier")
    # an external task has no approvers: their groups give way to a notice
    page.wait_for_selector('[data-testid="liaison-external-notice"]')
    for group in ("liaison-approvers", "liaison-approval", "liaison-direct", "CamundaPlatform__UserAssignment"):
        assert page.locator(f'[data-group-id="group-{group}"]').count() == 0, group
    assert "through a portal link" in page.inner_text('[data-group-id="group-liaison-external"]')
    page.check("#bio-properties-panel-liaison-milestone")
    saved = _saved_put(page, endpoints, 'liaison:milestone="true"')
    attributes = liaison_attributes(saved, "approve")
    assert (attributes.get("external"), attributes.get("milestone")) == ("supplier", "true")
    assert "pass" not in attributes  # unticked: no attribute at all

    # The panel re-renders when an autosave answer arrives; a click that lands during that render can be
    # lost (Playwright then reports "did not change its state"), so the untick is tried until it holds.
    milestone = page.locator("#bio-properties-panel-liaison-milestone")
    for _ in range(5):
        milestone.click()
        page.wait_for_timeout(200)
        if not milestone.is_checked():
            break
    assert not milestone.is_checked()
    page.select_option("#bio-properties-panel-liaison-external", "")
    assert liaison_attributes(page.evaluate(SAVE), "approve") == {}
    assert page.locator('[data-group-id="group-liaison-approvers"]').count() == 1  # an employee's task again

    select(page, "start")  # any flow node may be a milestone; only user tasks and lanes name a party
    open_group(page, "liaison-external")
    assert page.locator("#bio-properties-panel-liaison-milestone").count() == 1
    assert page.locator("#bio-properties-panel-liaison-external").count() == 0

    select(page, "purchase")  # the process: package.yaml `portal`, saved with the draft
    open_group(page, "liaison-portal")
    page.select_option("#bio-properties-panel-liaison-portal-party", "supplier")
    page.fill("#bio-properties-panel-liaison-portal-visible-fields", "po_number, delivery_date")
    page.check("#bio-properties-panel-liaison-portal-start")
    page.check("#bio-properties-panel-liaison-portal-invite")
    for _ in range(100):
        body = endpoints.requests[-1]["body"]
        if (body.get("portal") or {}).get("invite") and page.evaluate(
                "() => document.getElementById('designer-status').dataset.state") == "saved":
            break
        page.wait_for_timeout(100)
    assert endpoints.requests[-1]["body"]["portal"] == {
        "party": "supplier", "visible_fields": "po_number, delivery_date", "start": True, "invite": "employees"}


def test_a_lane_names_the_party_of_its_tasks_in_chinese(new_page):
    page = new_page()
    page.evaluate(OPEN, [LANE_XML, "zh", {}])
    select(page, "supplier_lane")
    group = page.locator('[data-group-id="group-liaison-external"]')
    assert group.inner_text().startswith("外部参与方")
    open_group(page, "liaison-external")
    assert page.input_value("#bio-properties-panel-liaison-external") == "supplier"
    options = page.locator("#bio-properties-panel-liaison-external option").all_inner_texts()
    assert options == ["无", "供应商", "客户", "访客"]
    assert "此泳道中的每个用户任务都由外部参与方通过门户链接办理" in group.inner_text()

    select(page, "confirm")  # its own attribute unset: the lane's party applies
    open_group(page, "liaison-external")
    assert page.input_value("#bio-properties-panel-liaison-external") == ""
    assert "同所在泳道：供应商" in page.locator("#bio-properties-panel-liaison-external option").first.inner_text()
    notice = page.locator('[data-testid="liaison-external-notice"]')
    assert "所在泳道“Supplier”使其成为供应商办理的步骤" in notice.inner_text()
    assert page.locator('[data-group-id="group-liaison-approvers"]').count() == 0
    assert "作为里程碑展示给外部参与方" in group.inner_text() and "签发访客通行证" in group.inner_text()
    if os.environ.get("LIAISON_SCREENSHOTS") == "1":
        page.screenshot(path=str(SHOTS / "designer-external-party.png"))
    page.click('[data-testid="liaison-external-clear"]')  # "移除": the ignored approver rule goes
    assert "approvers" not in liaison_attributes(page.evaluate(SAVE), "confirm")
    assert page.locator('[data-testid="liaison-external-clear"]').count() == 0
    assert page.is_checked("#bio-properties-panel-liaison-milestone")  # read back from the XML
    page.check("#bio-properties-panel-liaison-pass")
    assert liaison_attributes(page.evaluate(SAVE), "confirm") == {"milestone": "true", "pass": "true"}
