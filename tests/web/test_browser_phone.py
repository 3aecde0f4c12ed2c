"""Every employee page at phone width (390x844) in headless Chromium, in zh and en: nothing is wider
than the screen (document.documentElement.scrollWidth <= 390), so nothing needs sideways scrolling."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine import runtime
from engine.data import calendar, db
from engine.data.models import utcnow
from engine.packages import deployment as packages
from engine.people import accounts
from engine.work import queries
from tests.browser_support import chromium, serving
from web import create_app

from .conftest import PASSWORD

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
PHONE = {"width": 390, "height": 844}
PAGES = ["/", "/inbox/", "/requests/", "/start", "/start/leave_request", "TASK", "INSTANCE", "/notifications",
         "/me/notifications", "/me/out-of-office", "/me/tokens", "/password"]
# Elements that stick out to the right, to say what overflows when the assertion fails.
WIDE = """() => {
  const width = document.documentElement.clientWidth;
  return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > width + 0.5)
    .slice(0, 8).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
      (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : '') +
      ' right=' + Math.round(e.getBoundingClientRect().right));
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """leave_request deployed; zhang asked for leave, so wang has a task, a notification and an instance."""
    url = f"sqlite:///{tmp_path_factory.mktemp('phone') / 'liaison.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        for username, name, name_en in (("zhang", "张三", "Zhang San"), ("wang", "王五", "Wang Wu")):
            accounts.create_person_account(session, username, name, PASSWORD, name_en=name_en)
        accounts.create_admin(session, "root", PASSWORD, "Root", utcnow())
    packages.deploy_package(sessions, packages.load_package(ROOT / "processes" / "leave_request"), "admin")
    started = runtime.start_instance(sessions, "leave_request", {
        "leave_type": "annual", "days": 2, "manager": "wang",
        "reason": "回老家探亲，顺便参加一个很长很长的名字的家庭聚会" * 3}, user="zhang")
    with sessions() as session, session.begin():
        calendar.load_year(session, 2026, "root", utcnow())
    with sessions() as session:
        [task] = [t for t in queries.instance_view(session, started.instance_id)["tasks"] if t["status"] == "open"]
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "phone-test"})
    with serving(app) as base:
        yield base, {"TASK": f"/tasks/{task['id']}", "INSTANCE": f"/instances/{started.instance_id}"}
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def _signed_in(browser, base: str, username: str, lang: str):
    context = browser.new_context(viewport=PHONE, locale="zh-CN", device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"^(?!.*/login).*$"))
    page.goto(f"{base}/?lang={lang}")
    return context, page


@pytest.fixture(scope="module", params=["zh", "en"])
def phone(request, browser, site):
    """wang signed in on a 390 px wide screen, in one language."""
    base, paths = site
    context, page = _signed_in(browser, base, "wang", request.param)
    yield page, base, paths, request.param
    context.close()


@pytest.fixture(scope="module", params=["zh", "en"])
def admin_phone(request, browser, site):
    """A super admin on the same screen."""
    base, _paths = site
    context, page = _signed_in(browser, base, "root", request.param)
    yield page, base, request.param
    context.close()


@pytest.mark.parametrize("path", PAGES)
def test_no_page_is_wider_than_a_phone(phone, path):
    page, base, paths, lang = phone
    page.goto(base + paths.get(path, path))
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.lang").startswith(lang)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{path} in {lang} is {width} px wide: {page.evaluate(WIDE)}"


@pytest.mark.parametrize("path", ["/admin/", "/admin/processes", "/admin/org-import", "/admin/roles",
                                  "/admin/admins", "/admin/departments", "/admin/calendar/?year=2026", "/admin/tokens"])
def test_no_admin_page_is_wider_than_a_phone(admin_phone, path):
    page, base, lang = admin_phone
    page.goto(base + path)
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.lang").startswith(lang)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{path} in {lang} is {width} px wide: {page.evaluate(WIDE)}"


def test_the_measure_sees_an_overflow(phone):
    page, base, _paths, _lang = phone
    page.goto(base + "/")
    page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', "
                  "'<div style=\"width: 600px\">wide</div>')")
    assert page.evaluate("document.documentElement.scrollWidth") > PHONE["width"]
