"""Issue 15's "Done when", second half, in headless Chromium: a simulate session of three steps on a draft
with a gateway is saved as a scenario test, which then passes under the scenario runner (`liaison test`)."""

from __future__ import annotations

import os

import pytest
import yaml

from engine.data import db
from engine.packages import drafts
from tests.browser_support import serving
from tests.designer.test_flow_browser import SHOTS
from tests.designer.test_simulate import run_draft_tests, seed
from tests.web.test_browser_approval import PASSWORD, browser  # noqa: F401 (fixture)
from tests.web.test_browser_approval import Person as Browser
from web import create_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def sim_site(tmp_path_factory):
    """owner (super admin), zhang, wang, qian (finance), li; the order_review draft."""
    folder = tmp_path_factory.mktemp("simulate")
    url = f"sqlite:///{folder / 'liaison.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    seed(sessions)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "browser-test"})
    with serving(app) as base:
        yield base, sessions
    engine.dispose()


def _step(page, element: str, person: str, action: str, values: dict, steps: int) -> None:
    task = page.locator(f".sim-task[data-element={element}]")
    task.locator(".sim-who").select_option(person)
    task.locator(".sim-action").select_option(action)
    for name, value in values.items():
        task.locator(f"input[data-field={name}]").fill(value)
    task.locator(".sim-step").click()
    page.wait_for_selector(f"#simulate[data-steps='{steps}'][data-state=ready]")


def test_three_simulated_steps_are_saved_as_a_test_that_passes(browser, sim_site, tmp_path):  # noqa: F811
    base, sessions = sim_site
    person = Browser(browser, base, "owner", "zh")
    page = person.page
    page.goto(f"{base}/designer/order_review/simulate")
    page.wait_for_selector("#sim-begin:not([hidden])")
    page.wait_for_selector("#sim-diagram[data-state=ready]")
    page.fill("#sim-initiator", "zhang")
    page.fill("#sim-start-fields input[data-field=item]", "laptop")
    page.fill("#sim-start-fields input[data-field=amount]", "5000")
    page.fill("#sim-start-fields input[data-field=manager]", "li")
    page.click("#sim-start")
    page.wait_for_selector("#simulate[data-steps='1'][data-state=ready]")
    assert page.get_attribute("#sim-diagram", "data-tokens") == "finance_check stock_check"
    assert page.locator("#sim-diagram svg .sim-token").count() == 2
    assert "钱会计" in page.locator(".sim-task[data-element=finance_check] .sim-who").inner_text()
    assert "等待处理的任务" in page.inner_text("body")

    _step(page, "stock_check", "wang", "complete", {"in_stock": "3"}, 2)
    _step(page, "finance_check", "qian", "complete", {"finance_ok": "true"}, 3)
    assert page.get_attribute("#sim-diagram", "data-tokens") == "manager_approve"
    assert '"in_stock": 3' in page.inner_text("#sim-data")
    _step(page, "manager_approve", "li", "approve", {}, 4)
    assert page.get_attribute("#simulate", "data-status") == "completed"
    assert "end_signed" in page.inner_text("#sim-outcome")
    if os.environ.get("LIAISON_SCREENSHOTS") == "1":
        page.screenshot(path=str(SHOTS / "simulate-zh-1280.png"), full_page=True)

    page.fill("#sim-test-name", "simulated_large_order")
    page.click("#sim-save")
    page.wait_for_selector("#sim-saved:has-text('tests/simulated_large_order.yaml')")
    with sessions() as session:
        saved = yaml.safe_load(drafts.get_draft(session, "order_review").files["tests/simulated_large_order.yaml"])
    assert [s["task"] for s in saved["steps"]] == ["stock_check", "finance_check", "manager_approve"]
    results = run_draft_tests(sessions, tmp_path)
    assert [(r.file, r.failures) for r in results] == [("simulated_large_order", [])]
    person.close()


def test_the_page_in_english(browser, sim_site):  # noqa: F811
    base, _sessions = sim_site
    person = Browser(browser, base, "owner", "en")
    page = person.page
    page.goto(f"{base}/designer/order_review/simulate")
    page.wait_for_selector("#sim-begin:not([hidden])")
    assert "Start the process" in page.inner_text("#sim-begin")
    page.fill("#sim-initiator", "zhang")
    page.click("#sim-sample")
    page.fill("#sim-start-fields input[data-field=manager]", "li")
    page.click("#sim-start")
    page.wait_for_selector("#simulate[data-steps='1'][data-state=ready]")
    assert page.locator(".sim-task").count() == 2 and "Waiting tasks" in page.inner_text("body")
    page.wait_for_selector("#sim-diagram[data-state=ready]")
    if os.environ.get("LIAISON_SCREENSHOTS") == "1":
        page.screenshot(path=str(SHOTS / "simulate-en-1280.png"), full_page=True)
    person.close()


CHOICES = """  - {name: fault, type: select, label: {zh: 故障, en: Fault}, options: [projector, aircon]}
  - {name: confirm, type: checkboxes, label: {zh: 确认, en: Confirm}, options: [{value: ok, label: {zh: 是, en: OK}}]}
  - {name: photo, type: file, label: {zh: 照片, en: Photo}}
"""


def test_sample_data_is_data_the_start_form_accepts(browser, sim_site):  # noqa: F811
    base, sessions = sim_site
    with sessions() as session, session.begin():
        before = dict(drafts.get_draft(session, "order_review").files)
        files = {**before, "forms/order_start.yaml": before["forms/order_start.yaml"].rstrip("\n") + "\n" + CHOICES}
        drafts.store_draft(session, "owner", "order_review", files, "import")
    person = Browser(browser, base, "owner", "zh")
    try:
        page = person.page
        page.goto(f"{base}/designer/order_review/simulate")
        page.wait_for_selector("#sim-begin:not([hidden])")
        assert page.get_attribute("#sim-start-fields input[data-field=fault]", "placeholder") == "projector / aircon"
        page.fill("#sim-initiator", "zhang")
        page.click("#sim-sample")
        page.click("#sim-start")
        page.wait_for_selector("#simulate[data-steps='1'][data-state=ready]")
        data = page.inner_text("#sim-data")
        assert '"fault": "projector"' in data and '"ok"' in data and page.locator("#sim-error").is_hidden()
        assert page.evaluate("(() => { const log = document.getElementById('sim-log');"
                             " return log.scrollWidth <= log.clientWidth; })()")  # the start's data wraps
    finally:
        person.close()
        with sessions() as session, session.begin():
            drafts.store_draft(session, "owner", "order_review", before, "import")
