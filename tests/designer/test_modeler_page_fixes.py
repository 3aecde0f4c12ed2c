"""What a process owner sees on opening the editor (scripted JSON endpoints, the built bundle under the
app's CSP): valid Liaison attributes are not import problems, the diagram is fitted clear of the
palette, Deploy is enabled exactly when the user may deploy and the server reports no error, and the
Camunda 7 groups the engine does not understand are not in the properties panel."""

from __future__ import annotations

import json

import pytest

from .harness import select
from .test_modeler_editor import CONTAINER, DraftEndpoints, boot, browser  # noqa: F401 (fixtures)
from .test_modeler_panel import XML

pytestmark = pytest.mark.browser

WIDE = XML.replace(
    '<bpmn:userTask id="approve" name="Approve"/>',
    '<bpmn:userTask id="approve" name="Approve" liaison:dueDate="P2D" liaison:candidateGroups="hr"'
    ' liaison:assignee="wang" liaison:resultVariable="r" liaison:bogus="1"/>'
    '<bpmn:serviceTask id="notify" name="Notify" camunda:type="external" camunda:topic="mail"/>'
    '<bpmn:endEvent id="far_end"/>').replace(
    'id="defs"', 'xmlns:liaison="https://liaison.dev/schema/bpmn/1.0" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs"').replace(
    "</bpmndi:BPMNPlane>",
    '<bpmndi:BPMNShape id="notify_di" bpmnElement="notify"><dc:Bounds x="400" y="78" width="100" height="80"/>'
    '</bpmndi:BPMNShape><bpmndi:BPMNShape id="far_end_di" bpmnElement="far_end">'
    '<dc:Bounds x="2400" y="1400" width="36" height="36"/></bpmndi:BPMNShape></bpmndi:BPMNPlane>')
HIDDEN = ["CamundaPlatform__HistoryCleanup", "CamundaPlatform__Tasklist", "CamundaPlatform__CandidateStarter",
          "CamundaPlatform__JobExecution", "CamundaPlatform__ExecutionListener",
          "CamundaPlatform__ExtensionProperties", "CamundaPlatform__TaskListener",
          "CamundaPlatform__AsynchronousContinuations", "CamundaPlatform__Input", "CamundaPlatform__Output",
          "CamundaPlatform__ExternalTask"]
GROUPS = "() => [...document.querySelectorAll('[data-group-id]')].map(node => node.dataset.groupId.slice(6))"
WITH_PAGE_BUTTON = '<button type="button" id="designer-deploy" disabled>Deploy</button>' + CONTAINER


class Draft(DraftEndpoints):
    """The scripted endpoints with this draft's XML and can_deploy."""

    def __init__(self, xml=WIDE, problems=None, can_deploy=True):
        super().__init__(problems=problems)
        self.xml, self.can_deploy = xml, can_deploy

    def __call__(self, route, path):
        if path == "/designer/purchase/draft" and route.request.method == "GET":
            route.fulfill(status=200, headers={"Content-Type": "application/json"}, body=json.dumps({
                "key": "purchase", "revision": self.revision, "bpmn_file": "purchase.bpmn", "xml": self.xml,
                "forms": {}, "start_fields": [], "roles": [], "operations": [], "problems": self.problems,
                "can_deploy": self.can_deploy, "updated_by": "Li Na", "updated_at": "2026-12-01T10:00:00"}))
            return True
        return super().__call__(route, path)


@pytest.fixture
def boot_page(browser, monkeypatch):  # noqa: F811
    """Like `boot`, with the editor page's own (disabled) Deploy button before the container."""
    import tests.designer.test_modeler_editor as editor_tests
    monkeypatch.setattr(editor_tests, "CONTAINER", WITH_PAGE_BUTTON)
    return browser


def _import_items(page):
    return page.eval_on_selector_all('#designer-problems [data-source="import"]', "nodes => nodes.map(n => n.innerText)")


def test_untyped_liaison_attributes_are_not_problems_but_unknown_ones_are(boot):  # noqa: F811
    page = boot(Draft())
    items = _import_items(page)
    assert len(items) == 1 and "liaison:bogus" in items[0]
    for name in ("dueDate", "candidateGroups", "assignee", "resultVariable"):
        assert f"liaison:{name}" not in page.inner_text("#designer-problems")


def test_the_diagram_is_fitted_clear_of_the_palette(boot):  # noqa: F811
    page = boot(Draft())
    boxes = page.evaluate("""() => {
      const canvas = document.querySelector('.ld-canvas').getBoundingClientRect();
      const palette = document.querySelector('.djs-palette').getBoundingClientRect();
      const shapes = [...document.querySelectorAll('.djs-shape .djs-visual')].map(node => node.getBoundingClientRect());
      return { canvas: [canvas.left, canvas.top, canvas.right, canvas.bottom], paletteRight: palette.right,
               shapes: shapes.map(box => [box.left, box.top, box.right, box.bottom]) };
    }""")
    left, top, right, bottom = boxes["canvas"]
    assert len(boxes["shapes"]) >= 4  # the four shapes and the start event's label
    for shape_left, shape_top, shape_right, shape_bottom in boxes["shapes"]:
        assert shape_left > boxes["paletteRight"] and shape_right < right
        assert shape_top > top and shape_bottom < bottom


def test_deploy_is_enabled_with_warnings_and_disabled_by_an_error(boot, boot_page):  # noqa: F811
    warning = {"file": "purchase.bpmn", "line": 3, "element_id": "approve", "severity": "warning",
               "message": "department AUDIT has no head"}
    page = boot(Draft(problems=[warning]))
    page.wait_for_function("() => !document.getElementById('designer-deploy').disabled")
    assert page.locator("#designer-deploy").is_visible()
    error = {**warning, "severity": "error", "message": "approver rule `manager:x`: the level must be a number"}
    page = boot(Draft(problems=[warning, error]))
    page.wait_for_selector('.djs-element[data-element-id="approve"].ld-problem-error')
    assert page.locator("#designer-deploy").is_disabled()


def test_no_deploy_button_for_an_editor_without_the_right(boot):  # noqa: F811
    page = boot(Draft(can_deploy=False))
    page.wait_for_selector(".djs-palette")
    assert page.locator("#designer-deploy").is_hidden() and page.locator("#designer-deploy").is_disabled()


def test_camunda_groups_the_engine_ignores_are_hidden(boot):  # noqa: F811
    page = boot(Draft())
    select(page, "purchase")  # the process itself
    groups = page.evaluate(GROUPS)
    assert "general" in groups and not set(HIDDEN) & set(groups)
    select(page, "approve")
    groups = page.evaluate(GROUPS)
    assert {"CamundaPlatform__UserAssignment", "CamundaPlatform__Form", "liaison-approvers"} <= set(groups)
    assert not set(HIDDEN) & set(groups)
    select(page, "notify")
    groups = page.evaluate(GROUPS)
    assert "CamundaPlatform__Implementation" in groups and not set(HIDDEN) & set(groups)
