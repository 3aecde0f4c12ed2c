"""The people picker in headless Chromium: the out-of-office deputy chosen with the keyboard.

The app runs with werkzeug on a free port against a migrated SQLite file (as tests/web/test_browser_approval.py):
li types two letters into the deputy field, the suggestions appear as an ARIA listbox, arrow down and
Enter pick one, the form is submitted and the window is saved with that deputy.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from engine.data import db
from engine.data.models import Department
from engine.people import accounts, org
from tests.browser_support import chromium, serving
from web import create_app

from .conftest import PASSWORD

pytestmark = pytest.mark.browser





@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The app on a free port; li, and wang (sales) and wangfang (inactive) to be found."""
    url = f"sqlite:///{tmp_path_factory.mktemp('picker') / 'liaison.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        sales = Department(code="sales", name="销售部", name_en="Sales", path="/")
        session.add(sales)
        session.flush()
        sales.path = f"/{sales.id}/"
        for username, name, name_en in (("li", "李四", "Li Si"), ("wang", "王五", "Wang Wu"),
                                        ("wangfang", "王芳", "Wang Fang")):
            person = accounts.create_person_account(session, username, name, PASSWORD, name_en=name_en)
            person.department_id = sales.id
        accounts.create_person_account(session, "wanda", "万达", PASSWORD).active = False
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "browser-test"})
    with serving(app) as base:
        yield base, sessions
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def test_pick_the_deputy_with_the_keyboard(browser, site):
    base, sessions = site
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    try:
        page.goto(f"{base}/login?lang=en")
        page.fill("#username", "li")
        page.fill("#password", PASSWORD)
        page.click("main form button[type=submit]")
        page.wait_for_url(re.compile(r"^(?!.*/login).*$"))
        page.goto(f"{base}/me/out-of-office")

        first = date.today() + timedelta(days=1)
        page.fill("#starts_on", first.isoformat())
        page.fill("#ends_on", (first + timedelta(days=2)).isoformat())
        deputy = page.locator("#deputy")
        assert deputy.get_attribute("role") == "combobox"
        assert deputy.get_attribute("aria-expanded") == "false"
        deputy.click()
        page.keyboard.type("wa")  # two letters: wang and wangfang; wanda is inactive

        listbox = page.locator(f"#{deputy.get_attribute('aria-controls')}")
        listbox.locator("[role=option]").first.wait_for()
        assert deputy.get_attribute("aria-expanded") == "true"
        assert listbox.get_attribute("role") == "listbox"
        options = listbox.locator("[role=option]")
        assert options.evaluate_all("els => els.map(e => e.dataset.value)") == ["wang", "wangfang"]
        assert "Wang Wu" in options.first.inner_text() and "Sales" in options.first.inner_text()

        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        assert deputy.get_attribute("aria-activedescendant") == options.nth(1).get_attribute("id")
        assert options.nth(1).get_attribute("aria-selected") == "true"
        page.keyboard.press("ArrowUp")
        page.keyboard.press("Enter")  # picks wang, does not submit
        # shown by name, posted by username (a hidden input takes the field's name)
        assert deputy.input_value() == "Wang Wu" and deputy.get_attribute("name") is None
        assert page.input_value("input[type=hidden][name=deputy]") == "wang"
        assert deputy.get_attribute("aria-expanded") == "false" and listbox.is_hidden()
        assert page.url.endswith("/me/out-of-office")
        assert "wang · Sales" in page.locator(f"#{deputy.get_attribute('id')} ~ .picker-chosen").inner_text()

        deputy.press("Control+a")
        page.keyboard.type("wangf")  # typing again reopens; Escape closes, the typed text is what is posted
        listbox.locator("[role=option]").first.wait_for()
        page.keyboard.press("Escape")
        assert listbox.is_hidden() and deputy.input_value() == "wangf"
        assert page.input_value("input[type=hidden][name=deputy]") == "wangf"
        deputy.fill("wang")  # a username typed without picking (as without the script)

        page.click("main form button.primary")
        page.wait_for_url(f"{base}/me/out-of-office")
        assert "Saved" in page.inner_text(".flashes")
        with sessions() as session:
            windows = org.out_of_office_windows(session, "li")
        assert [deputy.username for _window, deputy in windows] == ["wang"]
        assert "wang" in page.locator("tr[data-window]").inner_text()
    finally:
        context.close()
    assert not problems, f"browser errors: {problems}"
