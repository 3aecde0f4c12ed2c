"""The people picker in headless Chromium: the out-of-office deputy chosen with the keyboard, and the
multi-value pickers (project members, CC) as chips.

The app runs with werkzeug on a free port against a migrated SQLite file (as tests/web/test_browser_approval.py):
li types two letters into the deputy field, the suggestions appear as an ARIA listbox, arrow down and
Enter pick one, the form is submitted and the window is saved with that deputy. In the CC and project
forms people and departments are picked by keyboard as chips showing their names, removed with their
button or Backspace, and the server gets the usernames and codes; an edit form shows its values as chips.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine import runtime
from engine.data import db
from engine.data.models import CcRecord, Department, WorkTask
from engine.packages import deployment as packages
from engine.people import accounts, org
from engine.projects import projects
from tests.browser_support import chromium, serving, signed_in
from web import create_app

from .conftest import PASSWORD

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The app on a free port; li, and wang and wangfang (sales) to be found, wanda (inactive) not; three
    more people and a second department for the chip boxes; leave_request deployed for the CC form."""
    url = f"sqlite:///{tmp_path_factory.mktemp('picker') / 'liaison.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        for code, name, name_en in (("sales", "销售部", "Sales"), ("rd", "研发中心", "Research and Development")):
            department = Department(code=code, name=name, name_en=name_en, path="/")
            session.add(department)
            session.flush()
            department.path = f"/{department.id}/"
            if code == "sales":
                sales = department
        for username, name, name_en in (("li", "李四", "Li Si"), ("wang", "王五", "Wang Wu"),
                                        ("wangfang", "王芳", "Wang Fang"), ("zhao", "赵六", "Zhao Liu"),
                                        ("ouyang", "欧阳明月", "Ouyang Mingyue"), ("sun", "孙七", "Sun Qi")):
            person = accounts.create_person_account(session, username, name, PASSWORD, name_en=name_en)
            person.department_id = sales.id
        accounts.create_person_account(session, "wanda", "万达", PASSWORD).active = False
    packages.deploy_package(sessions, packages.load_package(ROOT / "processes" / "leave_request"), "admin")
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
        # in pinyin order of the names: 王芳 wang fang before 王五 wang wu
        assert options.evaluate_all("els => els.map(e => e.dataset.value)") == ["wangfang", "wang"]
        assert "Wang Wu" in options.nth(1).inner_text() and "Sales" in options.nth(1).inner_text()
        assert "wang" not in options.nth(1).inner_text()  # people by display name, never by username

        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        assert deputy.get_attribute("aria-activedescendant") == options.nth(1).get_attribute("id")
        assert options.nth(1).get_attribute("aria-selected") == "true"
        page.keyboard.press("ArrowUp")
        assert options.nth(0).get_attribute("aria-selected") == "true"
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")  # picks wang, does not submit
        # shown by name, posted by username (a hidden input takes the field's name)
        assert deputy.input_value() == "Wang Wu" and deputy.get_attribute("name") is None
        assert page.input_value("input[type=hidden][name=deputy]") == "wang"
        assert deputy.get_attribute("aria-expanded") == "false" and listbox.is_hidden()
        assert page.url.endswith("/me/out-of-office")
        assert page.locator(f"#{deputy.get_attribute('id')} ~ .picker-chosen").inner_text() == "Wang Wu · Sales"

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
        shown = page.locator("tr[data-window]").inner_text()
        assert "Wang Wu" in shown and "wang" not in shown
    finally:
        context.close()
    assert not problems, f"browser errors: {problems}"


def _hint(page, input_id: str) -> str:
    """The line a single-value picker shows under its input (who the value names)."""
    hint = page.locator(f"#{input_id} ~ .picker-chosen")
    hint.filter(has_text=re.compile(r"\S")).wait_for()
    return hint.inner_text()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_chosen_person_is_named_with_their_department_never_their_username(browser, site, lang, tmp_path):
    """The start form's manager (a single-value picker): picked, then shown again after the server refused
    the form; the transfer dialog of the task it made: the line under the input names the person."""
    base, sessions = site
    wang, zhao = {"zh": ("王五 · 销售部", "赵六 · 销售部"), "en": ("Wang Wu · Sales", "Zhao Liu · Sales")}[lang]
    context, page = signed_in(browser, base, "li", PASSWORD, PHONE, lang=lang)
    problems = _errors(page)
    try:
        page.goto(f"{base}/start/leave_request")
        page.select_option("#leave_type", "annual")
        page.locator("#manager").click()
        page.keyboard.type("wa")
        options = page.locator(f"#{page.locator('#manager').get_attribute('aria-controls')} [role=option]")
        options.first.wait_for()
        assert options.evaluate_all("els => els.map(e => e.dataset.value)") == ["wangfang", "wang"]  # pinyin order
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        assert _hint(page, "manager") == wang and page.input_value("#manager") == wang.split(" · ")[0]
        page.screenshot(path=str(tmp_path / f"single_manager_{lang}_390.png"), full_page=True)

        page.fill("#days", "0")  # below the form's minimum: the server sends the form back
        page.evaluate("document.querySelector('#manager').form.noValidate = true")
        page.locator("main form button[type=submit]").first.click()
        page.wait_for_selector(".field-error, .errors, [aria-invalid=true]")
        assert _hint(page, "manager") == wang and page.input_value("#manager") == wang.split(" · ")[0]
        assert page.input_value("input[type=hidden][name=manager]") == "wang"

    finally:
        context.close()
    assert all("status of 422" in p for p in problems), f"browser errors: {problems}"  # the refused form
    instance_id = _instance(sessions)  # li asks wang; wang transfers the task
    with sessions() as session:
        task_id = session.scalars(select(WorkTask.id).where(WorkTask.instance_id == instance_id)).one()
    context, page = signed_in(browser, base, "wang", PASSWORD, DESKTOP, lang=lang)
    try:
        page.goto(f"{base}/tasks/{task_id}")
        page.locator("#more-actions > summary").click()
        page.locator("details.more-item", has=page.locator("#transfer-form")).locator("summary").click()
        page.locator("#transfer-to").click()
        page.keyboard.type("zh")
        page.locator(f"#{page.locator('#transfer-to').get_attribute('aria-controls')} [role=option]").first.wait_for()
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        assert _hint(page, "transfer-to") == zhao and "zhao" not in page.locator("#transfer-form").inner_text()
        page.locator("#transfer-form").screenshot(path=str(tmp_path / f"single_transfer_{lang}_1280.png"))
    finally:
        context.close()


def _errors(page) -> list[str]:
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    return problems


def _pick(page, box, typed: str, value: str) -> None:
    """Type into a chip box's text input and pick the suggestion `value` with the arrow keys and Enter."""
    box.locator("input").click()
    page.keyboard.type(typed)
    options = page.locator(f"#{box.locator('input').get_attribute('aria-controls')} [role=option]")
    options.first.wait_for()
    values = options.evaluate_all("els => els.map(e => e.dataset.value)")
    for _ in range(values.index(value) + 1):
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")


def _chips(box) -> list[str]:
    return box.locator(".picker-chip-label").all_inner_texts()


def _instance(sessions) -> int:
    return runtime.start_instance(sessions, "leave_request", {"leave_type": "annual", "days": 2, "manager": "wang"},
                                  user="li").instance_id


def test_copy_to_two_people_picked_as_chips(browser, site, tmp_path):
    base, sessions = site
    instance_id = _instance(sessions)
    context, page = signed_in(browser, base, "li", PASSWORD, PHONE, lang="en")
    problems = _errors(page)
    try:
        page.goto(f"{base}/instances/{instance_id}")
        page.locator("#operations > summary").click()
        page.locator("#cc-form").locator("xpath=ancestor::details[1]/summary").click()
        to = page.locator("#cc-to")
        box = page.locator("#cc-form .picker-box")
        assert to.get_attribute("role") == "combobox" and to.get_attribute("name") is None
        assert to.get_attribute("required") is not None  # nothing chosen yet

        _pick(page, box, "wa", "wang")
        to.click()
        page.keyboard.type("wa")
        options = page.locator(f"#{to.get_attribute('aria-controls')} [role=option]")
        options.first.wait_for()
        assert options.evaluate_all("els => els.map(e => e.dataset.value)") == ["wangfang"]  # not wang again
        page.keyboard.press("ArrowDown")
        page.screenshot(path=str(tmp_path / "chips_cc_picking_en_390.png"))
        page.keyboard.press("Enter")
        assert _chips(box) == ["Wang Wu", "Wang Fang"]  # display names, never usernames
        assert to.input_value() == "" and to.get_attribute("required") is None
        assert page.input_value("#cc-form input[type=hidden][name=to]") == "wang, wangfang"
        assert box.locator("button[aria-label='Remove Wang Wu']").count() == 1
        tree = box.aria_snapshot()  # a list of named chips, no username in it, then the combobox
        assert '- listitem:\n    - text: Wang Wu\n    - button "Remove Wang Wu"' in tree and "wang" not in tree
        assert '- combobox "Copy to' in tree

        page.keyboard.press("Shift+Tab")  # keyboard only: back to Wang Fang's button, then Wang Wu's
        page.keyboard.press("Shift+Tab")
        assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Remove Wang Wu"
        box.screenshot(path=str(tmp_path / "chips_cc_remove_focus_en_390.png"))
        page.keyboard.press("Enter")
        assert _chips(box) == ["Wang Fang"]
        assert page.evaluate("document.activeElement.id") == "cc-to"  # the focus goes back to the input
        assert "Wang Wu removed" in page.inner_text(".picker-status")

        page.keyboard.press("Backspace")  # the empty input: the last chip goes
        assert _chips(box) == [] and to.get_attribute("required") is not None
        _pick(page, box, "zh", "zhao")
        _pick(page, box, "wangf", "wangfang")
        assert _chips(box) == ["Zhao Liu", "Wang Fang"]
        page.fill("#cc-comment", "FYI")
        page.locator("#cc-form button[type=submit]").click()
        page.wait_for_selector(".flashes")
        assert "Copied to" in page.inner_text(".flashes")
        with sessions() as session:
            copied = session.scalars(select(CcRecord.username).where(CcRecord.instance_id == instance_id)
                                     .order_by(CcRecord.username)).all()
        assert copied == ["wangfang", "zhao"]
    finally:
        context.close()
    assert not problems, f"browser errors: {problems}"


def test_project_members_as_chips_and_an_edit_form_shows_them_by_name(browser, site):
    base, sessions = site
    context, page = signed_in(browser, base, "li", PASSWORD, DESKTOP, lang="zh")
    problems = _errors(page)
    try:
        page.goto(f"{base}/projects/")
        page.locator("#new-project summary").click()
        page.fill("#project-name", "年会")
        people = page.locator("#project-people").locator("xpath=..")
        departments = page.locator("#project-departments").locator("xpath=..")
        _pick(page, people, "wa", "wang")
        _pick(page, people, "ou", "ouyang")
        assert _chips(people) == ["王五", "欧阳明月"]
        page.keyboard.press("Backspace")
        assert _chips(people) == ["王五"]
        page.keyboard.type("nobody")  # typed, not picked, then left: a chip of the text as typed
        _pick(page, departments, "研发", "rd")
        assert _chips(people) == ["王五", "nobody"]
        assert people.locator(".picker-chip-raw .picker-chip-label").inner_text() == "nobody"
        assert _chips(departments) == ["研发中心"]
        page.get_by_role("button", name="创建项目").click()

        # the server refuses the unknown person; the form comes back with the values as named chips
        page.wait_for_selector("#new-project[open]")
        people = page.locator("#project-people").locator("xpath=..")
        departments = page.locator("#project-departments").locator("xpath=..")
        people.locator(".picker-chip:not(.picker-chip-raw)").first.wait_for()
        assert _chips(people) == ["王五", "nobody"] and _chips(departments) == ["研发中心"]
        people.locator("button[aria-label='移除 nobody']").click()
        assert _chips(people) == ["王五"]
        page.get_by_role("button", name="创建项目").click()
        page.wait_for_selector("#board")
        project_id = int(re.search(r"/projects/(\d+)", page.url).group(1))
        with sessions() as session:
            members = projects.members_of(session, project_id)
        assert members["person"] == ["wang"] and members["department"] == ["rd"]

        # the settings form: the saved people (named by the directory) and departments (data-labels) as chips
        page.goto(f"{base}/projects/{project_id}?view=summary")
        page.locator("#settings summary").click()
        people = page.locator("#settings .picker-box").first
        people.locator(".picker-chip:not(.picker-chip-raw)").first.wait_for()
        assert _chips(people) == ["王五"] and _chips(page.locator("#settings .picker-box").nth(1)) == ["研发中心"]
        _pick(page, people, "zh", "zhao")
        page.locator("#settings button.primary").first.click()
        page.wait_for_url(re.compile(r"view=summary"))
        with sessions() as session:
            assert projects.members_of(session, project_id)["person"] == ["wang", "zhao"]
    finally:
        context.close()
    refused = [p for p in problems if "status of 422" in p]  # the page that reports the unknown person
    assert len(refused) == 1 and problems == refused, f"browser errors: {problems}"


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_chip_boxes_wrap_and_fit_the_page(browser, site, viewport, lang, tmp_path):
    """Values pasted with commas become chips named by the directory; on a phone they wrap inside the box."""
    base, sessions = site
    instance_id = _instance(sessions)
    context, page = signed_in(browser, base, "li", PASSWORD, viewport, lang=lang)
    names = {"zh": ["王五", "王芳", "欧阳明月", "赵六", "孙七", "nobody"],
             "en": ["Wang Wu", "Wang Fang", "Ouyang Mingyue", "Zhao Liu", "Sun Qi", "nobody"]}[lang]
    try:
        page.goto(f"{base}/projects/")
        page.locator("#new-project summary").click()
        page.fill("#project-people", "wang, wangfang，ouyang, zhao, sun, nobody, ")
        page.fill("#project-departments", "sales, rd, ")
        box = page.locator("#project-people").locator("xpath=..")
        box.locator(".picker-chip:not(.picker-chip-raw)").nth(4).wait_for()
        page.locator("#project-departments").locator("xpath=..").locator(".picker-chip:not(.picker-chip-raw)").nth(1).wait_for()
        assert _chips(box) == names
        assert page.input_value("input[type=hidden][name=people]") == "wang, wangfang, ouyang, zhao, sun, nobody"
        inside = page.evaluate("""() => { const box = document.querySelector('#project-people').parentElement.getBoundingClientRect();
            return [...document.querySelectorAll('.picker-chip')].every(c => c.getBoundingClientRect().right <= box.right + 0.5); }""")
        assert inside and _fits(page)
        page.locator("#project-people").focus()
        page.screenshot(path=str(tmp_path / f"chips_project_{lang}_{viewport['width']}.png"), full_page=True)

        page.goto(f"{base}/instances/{instance_id}")
        page.locator("#operations > summary").click()
        page.locator("#cc-form").locator("xpath=ancestor::details[1]/summary").click()
        page.locator("#cc-form").screenshot(path=str(tmp_path / f"chips_cc_empty_{lang}_{viewport['width']}.png"))
        page.fill("#cc-to", "wang, wangfang, ouyang, zhao, sun, nobody, ")
        page.locator("#cc-form .picker-chip:not(.picker-chip-raw)").nth(4).wait_for()
        assert _chips(page.locator("#cc-form .picker-box")) == names and _fits(page)
        page.locator("#cc-form").scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / f"chips_cc_{lang}_{viewport['width']}.png"), full_page=True)
    finally:
        context.close()
