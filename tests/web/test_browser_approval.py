"""A leave request walked through the real pages in headless Chromium, once in Chinese and once in English.

The app runs with werkzeug on a free port against a migrated SQLite file: zhang starts the request
through the start form, wang approves it from the inbox, zhao (role hr) records it, and zhang sees it
finished with the path drawn on the diagram. The Chinese run saves the screenshots in docs/screenshots.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from engine.data import db
from engine.data.models import PersonRole, Role
from engine.packages import deployment as packages
from engine.people import accounts
from engine.work import queries
from tests.browser_support import chromium, serving, unavailable
from web import create_app, vendor

from .conftest import PASSWORD

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}
WORDS = {
    "zh": {"switch": "中文", "started": "已发起", "submitted": "您已同意申请 #", "finished": "已同意"},
    "en": {"switch": "English", "started": "was started", "submitted": "You approved request #", "finished": "Approved"},
}




@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The app on a free port, with leave_request deployed and zhang, wang, zhao (hr) able to sign in."""
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'liaison.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        created = {username: accounts.create_person_account(session, username, name, PASSWORD, name_en=name_en)
                   for username, name, name_en in (("zhang", "张三", "Zhang San"), ("wang", "王五", "Wang Wu"),
                                                   ("zhao", "赵六", "Zhao Liu"))}
        hr = Role(key="hr", name="人事")
        session.add(hr)
        session.flush()
        session.add(PersonRole(person_id=created["zhao"].id, role_id=hr.id))
    packages.deploy_package(sessions, packages.load_package(ROOT / "processes" / "leave_request"), "admin")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "browser-test"})
    with serving(app) as base:
        yield base, sessions
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    if not vendor.available():
        unavailable("the bpmn-js viewer in node_modules (npm ci)")
    yield from chromium()


class Person:
    """One signed-in browser context; records script errors and CSP violations."""

    def __init__(self, browser, base: str, username: str, lang: str):
        self.context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.problems: list[str] = []
        self.page.on("pageerror", lambda exc: self.problems.append(str(exc)))
        self.page.on("console", lambda msg: self.problems.append(msg.text) if msg.type == "error" else None)
        self.base = base
        page = self.page
        page.goto(f"{base}/login")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("main form button[type=submit]")
        page.wait_for_url(re.compile(r"^(?!.*/login).*$"))
        page.click(f"form.lang-switch button[value={lang}]")  # the language switch in the top bar
        page.wait_for_load_state()
        assert page.locator(f"form.lang-switch button[value={lang}]").get_attribute("aria-pressed") == "true"

    def close(self):
        self.context.close()
        assert not self.problems, f"browser errors: {self.problems}"


def _wait_for_diagram(page) -> None:
    page.wait_for_selector(".diagram[data-state=ready]")
    assert page.locator(".diagram svg .lf-done").count() > 0
    stroke = page.eval_on_selector(".diagram svg .lf-done .djs-visual > :first-child",
                                   "el => getComputedStyle(el).stroke")
    assert stroke == "rgb(6, 118, 71)"  # the green of finished steps


def _open_task_from_inbox(person: Person, sessions, instance_id: int) -> None:
    with sessions() as session:
        task = next(t for t in queries.instance_view(session, instance_id)["tasks"] if t["status"] == "open")
    page = person.page
    page.click("nav.mainnav a[href='/inbox/']")
    page.click(f"a[href='/tasks/{task['id']}']")
    page.wait_for_url(f"**/tasks/{task['id']}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_three_people_walk_a_leave_request_to_its_end(browser, site, lang, tmp_path):
    base, sessions = site
    words = WORDS[lang]
    shots = lang == "zh"
    # docs/screenshots is refreshed on demand (LIAISON_SCREENSHOTS=1), so a test run leaves the tree clean
    shot_dir = SCREENSHOTS if os.environ.get("LIAISON_SCREENSHOTS") == "1" else tmp_path
    if shots:
        shot_dir.mkdir(parents=True, exist_ok=True)

    initiator = Person(browser, base, "zhang", lang)
    page = initiator.page
    page.click("nav.mainnav a[href='/start']")
    page.click("a[href='/start/leave_request']")
    page.select_option("#leave_type", "annual")
    page.fill("#days", "2")
    page.fill("#manager", "wang")
    page.fill("#reason", "回老家探亲" if lang == "zh" else "Visiting family")
    if shots:
        page.evaluate("document.activeElement.blur()")
        page.screenshot(path=str(shot_dir / "start-form.png"))
    page.click("#start-submit")
    page.wait_for_url(re.compile(r"/instances/\d+$"))
    assert words["started"] in page.inner_text(".flashes")
    instance_id = int(page.url.rsplit("/", 1)[1])

    manager = Person(browser, base, "wang", lang)
    _open_task_from_inbox(manager, sessions, instance_id)
    page = manager.page
    _wait_for_diagram(page)
    assert page.locator(".diagram svg .lf-current").count() == 1
    page.fill("#manager_comment", "同意，注意交接" if lang == "zh" else "Fine, hand over your work")
    page.fill("#task-comment", "好好休息" if lang == "zh" else "Enjoy")
    if shots:
        page.evaluate("document.activeElement.blur()")
        page.screenshot(path=str(shot_dir / "task-page.png"))
    page.click("#approve-task")
    page.wait_for_url("**/inbox/")
    assert words["submitted"] in page.inner_text(".flashes")

    hr = Person(browser, base, "zhao", lang)
    _open_task_from_inbox(hr, sessions, instance_id)
    hr.page.check("#recorded-opt-0")
    hr.page.click("#submit-task")
    hr.page.wait_for_url("**/inbox/")

    page = initiator.page
    page.goto(f"{base}/instances/{instance_id}")
    assert page.inner_text("#instance-status") == words["finished"]
    _wait_for_diagram(page)
    assert page.locator(".diagram svg .lf-current").count() == 0
    timeline = page.inner_text(".timeline")
    assert ("好好休息" if lang == "zh" else "Enjoy") in timeline
    assert ("赵六" if lang == "zh" else "Zhao Liu") in timeline
    if shots:
        page.screenshot(path=str(shot_dir / "instance-timeline.png"), full_page=True)
    for person in (initiator, manager, hr):
        person.close()
