"""Issue 15's "Done when" for scenario tests, in headless Chromium: a process owner writes a scenario for
a process with a gateway in the form editor, runs it (pass), the process is broken through the draft's
JSON API (the gateway's condition), the rerun fails naming the step, and the token's path is drawn."""

from __future__ import annotations

import os

import pytest
import yaml

from engine.packages import drafts
from tests.designer.test_flow_browser import SHOTS, site  # noqa: F401 (fixture)
from tests.designer.test_scenarios import CONDITION, leave_files
from tests.web.test_browser_approval import Person as Browser
from tests.web.test_browser_approval import browser  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

BREAK = """async ([condition, broken]) => {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const draft = await (await fetch('/designer/leave_request/draft')).json();
  const response = await fetch('/designer/leave_request/draft', {method: 'PUT',
    headers: {'Content-Type': 'application/json', 'X-CSRFToken': token},
    body: JSON.stringify({revision: draft.revision, xml: draft.xml.replace(condition, broken)})});
  return response.status;
}"""


def _fill(page, selector: str, value: str) -> None:
    page.fill(selector, value)
    page.press(selector, "Tab")


def _write_scenario(page) -> None:
    page.click("#scenarios-new")
    _fill(page, "#scenarios-editor [data-role=file]", "approve")
    _fill(page, "#scenarios-editor [data-role=test-name]", "manager approves, HR records")
    _fill(page, "#scenarios-editor [data-role=start-user]", "zhang")
    for value in ("annual", "2", "li"):  # leave_type, days, manager: the start form's fields in order
        page.click("[data-testid=start-data-add]")
        _fill(page, "[data-testid=start-data] tbody tr:last-child [data-role=value]", value)
    for task, user, groups in (("manager_approval", "li", ""), ("hr_record", "hu", "hr")):
        page.click("[data-testid=add-step]")
        step = page.locator("#scenarios-editor fieldset[data-testid^=step-]").last
        step.locator("[data-role=task]").select_option(task)
        step.locator("[data-role=user]").fill(user)
        step.locator("[data-role=user]").press("Tab")
        if groups:
            step.locator("[data-role=groups]").fill(groups)
            step.locator("[data-role=groups]").press("Tab")
            step.locator("[data-testid$=-data-add]").click()  # the first field of the task's forms: recorded
            step = page.locator("#scenarios-editor fieldset[data-testid^=step-]").last
            assert step.locator("tbody [data-role=name]").input_value() == "recorded"
            step.locator("tbody [data-role=value]").fill("true")
            step.locator("tbody [data-role=value]").press("Tab")
        else:
            step.locator("[data-role=action]").select_option("approve")
    page.locator("[data-testid=expect] [data-role=status]").select_option("completed")
    _fill(page, "[data-testid=expect] [data-role=end-event]", "approved_end")
    _fill(page, "[data-testid=expect] [data-role=path]", "manager_approval, decision, hr_record, approved_end")


def _open_tests_page(browser, base: str, sessions):  # noqa: F811
    """The leave request's draft without its tests, its tests page open for the owner (zh): (person, page)."""
    files = {path: text for path, text in leave_files().items() if not path.startswith("tests/")}
    with sessions() as session, session.begin():
        drafts.store_draft(session, "owner", "leave_request", files, "import")
    person = Browser(browser, base, "owner", "zh")
    page = person.page
    page.goto(f"{base}/designer/leave_request/tests")
    page.wait_for_selector("#scenarios-editor[data-ready=true]")
    return person, page


def test_write_run_break_and_rerun_a_scenario(browser, site):  # noqa: F811
    base, sessions = site
    person, page = _open_tests_page(browser, base, sessions)
    assert page.locator("#scenarios-diagram[data-state=ready]").count() == 1
    _write_scenario(page)
    page.click("[data-testid=run]")
    page.wait_for_selector(".scenario-result.passed[data-file=approve]")
    page.click("[data-testid=toggle-yaml]")  # the raw YAML view, edited, read back into the form
    source = page.locator("#scenarios-editor [data-role=yaml]")
    assert "task: hr_record" in source.input_value()
    source.fill(source.input_value().replace("name: manager approves, HR records", "name: approve and record"))
    page.click("[data-testid=toggle-yaml]")
    page.wait_for_selector("#scenarios-editor [data-role=test-name]")
    assert page.locator("#scenarios-editor [data-role=test-name]").input_value() == "approve and record"
    assert page.locator(".scenario-step.passed").count() == 2
    with sessions() as session:
        saved = drafts.get_draft(session, "leave_request").files["tests/approve.yaml"]
    spec = yaml.safe_load(saved)
    assert spec["start"] == {"user": "zhang", "data": {"leave_type": "annual", "days": 2, "manager": "li"}}
    assert spec["steps"] == [{"task": "manager_approval", "user": "li", "data": {"approved": True}},
                             {"task": "hr_record", "user": "hu", "groups": ["hr"], "data": {"recorded": True}}]
    assert spec["expect"]["end_event"] == "approved_end"

    assert page.evaluate(BREAK, [CONDITION, "approved == False</bpmn:conditionExpression>"]) == 200
    page.click("[data-testid=run]")
    page.wait_for_selector(".scenario-result.failed[data-file=approve]")
    failing = page.locator(".scenario-step.failed")
    assert failing.count() == 1 and failing.get_attribute("data-step") == "2"
    assert "step 2 (hr_record)" in failing.inner_text()
    page.wait_for_selector("#scenarios-diagram[data-state=marked]")
    assert page.locator("#scenarios-diagram svg .lf-path").count() >= 3  # the path drawn
    assert page.locator("#scenarios-diagram svg .lf-path-failed").count() == 1  # the step that failed
    if os.environ.get("LIAISON_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "test-run-zh-1280.png"), full_page=True)
        page.click("form.lang-switch button[value=en]")
        page.wait_for_selector("#scenarios-editor[data-ready=true]")
        page.click("#scenarios-run-all")
        page.wait_for_selector("#scenarios-diagram[data-state=marked]")
        page.screenshot(path=str(SHOTS / "test-run-en-1280.png"), full_page=True)
    person.close()


def test_leaving_a_test_with_unsaved_changes_asks_first(browser, site):  # noqa: F811
    base, sessions = site
    person, page = _open_tests_page(browser, base, sessions)
    asked = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    page.click("#scenarios-new")
    assert asked == []  # nothing typed yet: nothing to lose
    _fill(page, "#scenarios-editor [data-role=file]", "draft_test")
    page.click("nav a[href$='/leave_request/flow']")
    page.wait_for_timeout(300)
    assert asked == ["beforeunload"] and page.url.endswith("/leave_request/tests")
    page.click("#scenarios-new")  # a new test over the typed one: asked too, and kept when declined
    assert asked == ["beforeunload", "confirm"]
    assert page.locator("#scenarios-editor [data-role=file]").input_value() == "draft_test"
    person.close()
