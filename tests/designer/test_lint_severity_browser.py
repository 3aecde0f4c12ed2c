"""The modeler's bpmnlint badges say what the server says: a disconnected end event (nothing leads to it)
is a warning on the server ("has no incoming sequence flow; it can never be reached") and does not stop a
deploy, so the canvas badge and the problem list call it a warning, not an error."""

from __future__ import annotations

import pytest

from tests.browser_support import chromium

from .harness import serve_harness
from .test_modeler_editor import CONTAINER, EDITOR, DraftEndpoints
from .test_modeler_panel import XML

pytestmark = pytest.mark.browser

LONE_END = XML.replace(
    '<bpmn:userTask id="approve" name="Approve"/>',
    '<bpmn:userTask id="approve" name="Approve"/><bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="approve"/>'
    '<bpmn:endEvent id="done" name="Done"/><bpmn:endEvent id="lonely" name="Lonely"/>'
    '<bpmn:sequenceFlow id="f2" sourceRef="approve" targetRef="done"/>').replace(
    "</bpmndi:BPMNPlane>",
    '<bpmndi:BPMNShape id="done_di" bpmnElement="done"><dc:Bounds x="360" y="100" width="36" height="36"/>'
    '</bpmndi:BPMNShape><bpmndi:BPMNShape id="lonely_di" bpmnElement="lonely"><dc:Bounds x="360" y="250" '
    'width="36" height="36"/></bpmndi:BPMNShape>'
    '<bpmndi:BPMNEdge id="f1_di" bpmnElement="f1"><di:waypoint x="136" y="118"/><di:waypoint x="200" y="118"/>'
    '</bpmndi:BPMNEdge><bpmndi:BPMNEdge id="f2_di" bpmnElement="f2"><di:waypoint x="300" y="118"/>'
    '<di:waypoint x="360" y="118"/></bpmndi:BPMNEdge></bpmndi:BPMNPlane>')


class LoneEndDraft(DraftEndpoints):
    def __call__(self, route, path):
        if path == "/designer/purchase/draft" and route.request.method == "GET":
            return self._json(route, 200, {
                "key": "purchase", "revision": 3, "bpmn_file": "purchase.bpmn", "xml": LONE_END, "forms": {},
                "start_fields": [], "roles": [], "operations": [], "problems": self.problems, "can_deploy": True,
                "updated_by": "Li Na", "updated_at": "2026-12-01T10:00:00"})
        return super().__call__(route, path)


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def test_a_disconnected_end_event_is_a_warning_badge_as_on_the_server(browser):
    # what the server answers for this end event (tests/designer/test_check_messages_zh.py pins it)
    server = {"file": "purchase.bpmn", "line": 5, "element_id": "lonely", "severity": "warning",
              "message": "endEvent has no incoming sequence flow; it can never be reached"}
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        errors = serve_harness(page, extra=LoneEndDraft(problems=[server]), body=CONTAINER.format(lang="en"))
        page.evaluate(EDITOR)
        page.wait_for_selector('#designer-problems [data-source="lint"] button[data-element-id="lonely"]')
        lint = page.locator('#designer-problems li[data-source="lint"]:has(button[data-element-id="lonely"])')
        classes = [lint.nth(i).get_attribute("class") for i in range(lint.count())]
        assert classes and all("ld-problem-item-warning" in c for c in classes), classes
        page.wait_for_selector('.djs-overlays[data-container-id="lonely"] .bjsl-overlay')
        badge = page.locator('.djs-overlays[data-container-id="lonely"] .bjsl-overlay')
        assert badge.locator(".bjsl-icon-warning").count() == 1 and badge.locator(".bjsl-icon-error").count() == 0
        server_badge = page.locator('.djs-overlays[data-container-id="lonely"] .ld-badge')
        assert "ld-badge-warning" in server_badge.get_attribute("class")
        assert [e for e in errors if not e.startswith("Failed to load resource")] == []
    finally:
        page.close()


DISCOURAGED = LONE_END.replace(
    '<bpmn:endEvent id="lonely" name="Lonely"/>',
    '<bpmn:endEvent id="lonely" name="Lonely"/><bpmn:inclusiveGateway id="pick" name="Pick"/>'
    '<bpmn:intermediateCatchEvent id="wait" name="Wait"><bpmn:messageEventDefinition messageRef="nothing"/>'
    '</bpmn:intermediateCatchEvent>').replace(
    "</bpmndi:BPMNPlane>",
    '<bpmndi:BPMNShape id="pick_di" bpmnElement="pick"><dc:Bounds x="450" y="250" width="50" height="50"/>'
    '</bpmndi:BPMNShape><bpmndi:BPMNShape id="wait_di" bpmnElement="wait"><dc:Bounds x="550" y="250" '
    'width="36" height="36"/></bpmndi:BPMNShape></bpmndi:BPMNPlane>')


class DiscouragedDraft(LoneEndDraft):
    def __call__(self, route, path):
        if path == "/designer/purchase/draft" and route.request.method == "GET":
            return self._json(route, 200, {
                "key": "purchase", "revision": 3, "bpmn_file": "purchase.bpmn", "xml": DISCOURAGED, "forms": {},
                "start_fields": [], "roles": [], "operations": [], "problems": self.problems, "can_deploy": True,
                "updated_by": "Li Na", "updated_at": "2026-12-01T10:00:00"})
        return super().__call__(route, path)


def test_the_problem_list_is_chinese_on_a_chinese_page_lint_import_and_lines_too(browser):
    server = {"file": "purchase.bpmn", "line": 7, "element_id": "lonely", "severity": "warning",
              "message": "endEvent 没有流入的连线，永远不会被执行到"}
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        serve_harness(page, extra=DiscouragedDraft(problems=[server]), body=CONTAINER.format(lang="zh"))
        page.evaluate(EDITOR)
        page.wait_for_selector('#designer-problems [data-source="lint"] button[data-element-id="pick"]')
        listed = page.locator("#designer-problems").inner_text()
        assert "(lonely, 第 7 行)" in listed, listed  # was "line 7"
        assert "不建议使用元素类型 <bpmn:InclusiveGateway>" in listed, listed  # bpmnlint builds it with the type
        assert "无法解析的引用 <nothing>" in listed, listed  # bpmn-js' import warning
        assert "discouraged" not in listed and "unresolved" not in listed and "line 7" not in listed, listed
    finally:
        page.close()
