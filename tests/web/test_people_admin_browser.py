"""The people pages in headless Chromium at phone width (390 px) and desktop width, zh and en: nothing
wider than the screen, the manager and department fields are pickers, the issued link is selectable."""

from __future__ import annotations

import re

import pytest

from engine.data import db
from engine.data.models import Department
from engine.people import accounts
from tests.browser_support import chromium, serving
from web import create_app

from .conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('people') / 'liaison.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        sales = Department(code="sales", name="销售部", name_en="Sales", path="/")
        session.add(sales)
        session.flush()
        sales.path = f"/{sales.id}/"
        accounts.create_admin(session, "root", PASSWORD, "管理员")
        wang = accounts.create_person_account(session, "wang", "王五", None, name_en="Wang Wu",
                                              email="wang.wu.with.a.long.address@example.com",
                                              department_id=sales.id)
        wang_id = wang.id
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "browser-test"})
    with serving(app) as base:
        yield base, wang_id
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_people_pages_fit_the_screen(browser, site, width, lang):
    base, wang = site
    context = browser.new_context(viewport={"width": width, "height": 844}, locale="zh-CN" if lang == "zh" else "en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    try:
        page.goto(f"{base}/login?lang={lang}")
        page.fill("#username", "root")
        page.fill("#password", PASSWORD)
        page.click("main form button[type=submit]")
        page.wait_for_url(re.compile(r"^(?!.*/login).*$"))

        def fits(path):
            page.goto(f"{base}{path}")
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} is {overflow}px wider than the {width}px screen"

        fits("/admin/people/")
        assert ("王五" if lang == "zh" else "Wang Wu") in page.inner_text("main")
        fits(f"/admin/people/{wang}")
        page.locator("#manager").click()
        assert page.locator("#manager").get_attribute("role") == "combobox"
        assert page.locator("#department").get_attribute("role") == "combobox" or page.locator(
            "#department").get_attribute("data-picker") == "departments"
        page.click("form[action$='/link'] button")
        page.wait_for_selector("#link")
        link = page.input_value("#link")
        assert "/account/password/" in link
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        fits("/account/password/" + link.rsplit("/", 1)[1])
        assert page.locator("#new_password").is_visible()
        assert problems == []
    finally:
        context.close()
