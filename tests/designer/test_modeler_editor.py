"""The editor around the modeler, booted from the page contract's data-* attributes against scripted
JSON endpoints: autosave (one PUT after a pause, with the CSRF header), a conflict stops autosaving,
server problems are marked and listed, deploy asks a comment in a dialog and shows refusals."""

from __future__ import annotations

import json

import pytest

from tests.browser_support import chromium

from .harness import SAVE, open_group, select, serve_harness
from .test_modeler_panel import XML
from .xmltree import liaison_attributes

pytestmark = pytest.mark.browser

CONTAINER = ('<div id="liaison-designer" data-key="purchase" data-lang="{lang}" '
             'data-draft-url="/designer/purchase/draft" data-save-url="/designer/purchase/draft" '
             'data-deploy-url="/designer/purchase/deploy" data-people-url="/directory/people" '
             'data-departments-url="/directory/departments" data-versions-url="/designer/purchase/versions"></div>')
EDITOR = "async () => { const editor = await window.LiaisonDesigner.editor; window.modeler = editor.modeler; }"
RENAME = """name => window.modeler.get('modeling').updateProperties(
  window.modeler.get('elementRegistry').get('approve'), { name })"""


class DraftEndpoints:
    """The editor page's JSON endpoints, scripted: records what the bundle sends."""

    def __init__(self, problems=None):
        self.revision = 3
        self.problems = problems or []
        self.requests: list[dict] = []
        self.put_reply = None
        self.deploy_reply = (200, {"version": 4, "warnings": [], "url": "/designer/purchase/versions"})

    def __call__(self, route, path):
        request = route.request
        if path == "/designer/purchase/draft" and request.method == "GET":
            return self._json(route, 200, {
                "key": "purchase", "revision": self.revision, "bpmn_file": "purchase.bpmn", "xml": XML,
                "forms": {}, "start_fields": [], "roles": [], "operations": [], "problems": self.problems,
                "can_deploy": True, "updated_by": "Li Na", "updated_at": "2026-12-01T10:00:00"})
        if path in ("/directory/people", "/directory/departments"):
            self.requests.append({"method": "GET", "url": request.url})
            people = [{"value": "wang", "label": "Wang Fang", "detail": "Finance"}]
            departments = [{"value": "FIN", "label": "Finance", "detail": "Head office"}]
            return self._json(route, 200, people if path == "/directory/people" else departments)
        if path in ("/designer/purchase/draft", "/designer/purchase/deploy"):
            self.requests.append({"method": request.method, "body": json.loads(request.post_data),
                                  "csrf": request.headers.get("x-csrftoken")})
            if request.method == "POST":
                return self._json(route, *self.deploy_reply)
            if self.put_reply:
                return self._json(route, *self.put_reply)
            self.revision += 1
            return self._json(route, 200, {"revision": self.revision, "problems": self.problems,
                                           "updated_at": "2026-12-01T10:01:00"})
        return False

    @staticmethod
    def _json(route, status, body):
        route.fulfill(status=status, body=json.dumps(body), headers={"Content-Type": "application/json"})
        return True


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.fixture
def boot(browser):
    def start(endpoints, lang="en"):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        pages.append(page)
        errors.append(serve_harness(page, extra=endpoints, body=CONTAINER.format(lang=lang)))
        page.evaluate(EDITOR)
        return page

    pages, errors = [], []
    yield start
    for page in pages:
        page.close()
    # the browser logs every 4xx answer as a console error: those are the scripted refusals
    assert [error for page_errors in errors for error in page_errors
            if not error.startswith("Failed to load resource")] == []


def _status(page, text):
    page.wait_for_function("text => document.getElementById('designer-status').textContent.includes(text)",
                           arg=text)


def test_changes_are_saved_by_one_put_after_a_pause(boot):
    endpoints = DraftEndpoints()
    page = boot(endpoints)
    _status(page, "Saved")
    page.evaluate(RENAME, "Approve order")
    page.evaluate(RENAME, "Approve the order")
    page.wait_for_function("() => document.getElementById('designer-status').dataset.state === 'saved'")
    _status(page, "Saved")
    assert [(r["method"], r["body"]["revision"], r["csrf"]) for r in endpoints.requests] == [("PUT", 3, "test-token")]
    assert 'name="Approve the order"' in endpoints.requests[0]["body"]["xml"]
    page.evaluate(RENAME, "Approve it")
    page.wait_for_function("() => document.getElementById('designer-status').dataset.state === 'saved'")
    _status(page, "Saved")
    assert endpoints.requests[-1]["body"]["revision"] == 4


def test_a_conflict_stops_autosaving_until_reload(boot):
    endpoints = DraftEndpoints()
    endpoints.put_reply = (409, {"error": "Wang Fang changed this draft at 10:02.", "revision": 5})
    page = boot(endpoints)
    page.evaluate(RENAME, "Approve order")
    _status(page, "Wang Fang changed this draft at 10:02.")
    _status(page, "reload the page")
    page.evaluate(RENAME, "Approve again")
    page.wait_for_timeout(1500)  # longer than the autosave pause: no second PUT may come
    assert len(endpoints.requests) == 1


def test_server_problems_are_marked_listed_and_lead_to_the_element(boot):
    problem = {"file": "purchase.bpmn", "line": 7, "element_id": "approve", "severity": "error",
               "message": "approver rule `manager:x`: the level must be a number"}
    page = boot(DraftEndpoints(problems=[problem]))
    shape = page.locator('.djs-element[data-element-id="approve"]')
    assert "ld-problem-error" in shape.get_attribute("class")
    assert page.locator(".ld-badge-error").get_attribute("title") == problem["message"]
    item = page.locator('#designer-problems [data-source="server"] button')
    assert problem["message"] in item.inner_text()
    assert page.locator('#designer-problems [data-source="lint"]').count() > 0  # bpmnlint's, same list
    item.click()
    assert page.evaluate("() => window.modeler.get('selection').get().map(element => element.id)") == ["approve"]


def test_deploy_asks_a_comment_and_shows_the_refusal(boot):
    endpoints = DraftEndpoints()
    endpoints.deploy_reply = (422, {"error": "The draft has 1 error.", "problems": [
        {"file": "purchase.bpmn", "line": 5, "element_id": "start", "severity": "error",
         "message": "the start event has no form"}]})
    page = boot(endpoints)
    page.click("#designer-deploy")
    page.fill("#designer-deploy-dialog textarea", "First version")
    page.click('#designer-deploy-dialog button[value="deploy"]')
    _status(page, "The draft has 1 error.")
    assert endpoints.requests == [{"method": "POST", "body": {"revision": 3, "comment": "First version"},
                                   "csrf": "test-token"}]
    assert "the start event has no form" in page.inner_text("#designer-problems")


def test_cancelled_deploy_sends_nothing_and_status_speaks_chinese(boot):
    endpoints = DraftEndpoints()
    page = boot(endpoints, lang="zh")
    _status(page, "已保存")
    page.click("#designer-deploy")
    page.click('#designer-deploy-dialog button[value="cancel"]')
    page.wait_for_timeout(300)
    assert endpoints.requests == []
    assert page.inner_text("#designer-deploy") == "发布"


def test_people_search_adds_the_picked_person_to_the_rule(boot):
    endpoints = DraftEndpoints()
    page = boot(endpoints)
    select(page, "approve")
    open_group(page, "liaison-approvers")
    page.select_option("#bio-properties-panel-liaison-approvers-kind", "users")
    page.fill("#ld-liaison-approvers-people-search", "wan")
    page.click('.ld-search-result[data-value="wang"]')
    assert page.input_value("#bio-properties-panel-liaison-approvers-rule") == "users:wang"
    assert "/directory/people?q=wan" in endpoints.requests[0]["url"]
    assert "Wang Fang" not in page.evaluate(SAVE)  # the rule names the username; the label is for people


def test_department_search_sets_the_department_code(boot):
    page = boot(DraftEndpoints())
    select(page, "approve")
    open_group(page, "liaison-approvers")
    page.select_option("#bio-properties-panel-liaison-approvers-kind", "department")
    page.fill("#ld-liaison-approvers-department-search", "fin")
    page.click('.ld-search-result[data-value="FIN"]')
    page.check("#bio-properties-panel-liaison-approvers-department-sub")
    assert liaison_attributes(page.evaluate(SAVE), "approve")["approvers"] == "department:FIN+"


def test_a_deploy_reports_the_version_and_links_the_version_list(boot):
    endpoints = DraftEndpoints()
    endpoints.deploy_reply = (200, {"version": 4, "warnings": ["department AUDIT has no head"],
                                    "url": "/designer/purchase/versions"})
    page = boot(endpoints, lang="zh")
    page.click("#designer-deploy")
    page.click('#designer-deploy-dialog button[value="deploy"]')
    _status(page, "已发布版本 4")
    assert page.get_attribute("#designer-status a", "href") == "/designer/purchase/versions"
    assert "department AUDIT has no head" in page.inner_text("#designer-problems")
    assert endpoints.requests[-1]["body"] == {"revision": 3, "comment": ""}


def test_a_save_without_answer_keeps_the_change_and_says_so(boot):
    endpoints = DraftEndpoints()
    page = boot(endpoints)
    page.route("**/designer/purchase/draft", lambda route: route.abort()
               if route.request.method == "PUT" else route.fallback())
    page.evaluate(RENAME, "Approve order")
    _status(page, "Could not save")
    assert page.evaluate("() => document.getElementById('designer-status').dataset.state") == "dirty"


def test_canvas_and_panel_sit_side_by_side_at_tablet_width(boot):
    page = boot(DraftEndpoints(), lang="zh")
    page.set_viewport_size({"width": 1024, "height": 768})
    canvas, panel = page.locator(".ld-canvas").bounding_box(), page.locator(".ld-panel").bounding_box()
    assert canvas["width"] >= 600 and panel["width"] >= 250
    assert canvas["x"] + canvas["width"] <= panel["x"] + 1 and panel["x"] + panel["width"] <= 1024
    assert canvas["height"] >= 400
