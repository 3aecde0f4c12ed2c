"""A file picked in a start form's file field, in headless Chromium: the widget uploads it on choose, lists it
with its size and a remove button, and the submitted request holds it (the page links it for download).

Same setup as test_browser_approval: werkzeug on a free port against a migrated SQLite file. Without
Chromium the test skips locally and fails in CI (CI=true).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.data import db
from engine.packages import deployment as packages
from engine.people import accounts
from engine.work import queries
from tests.browser_support import chromium, serving
from web import create_app

from .conftest import PASSWORD
from .test_files import with_file_field

pytestmark = pytest.mark.browser





@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The app on a free port with leave_request (plus a file field `proof`) deployed; zhang and wang."""
    folder = tmp_path_factory.mktemp("browser-files")
    url = f"sqlite:///{folder / 'liaison.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        for username, name in (("zhang", "张三"), ("wang", "王五")):
            accounts.create_person_account(session, username, name, PASSWORD)
    packages.deploy_package(sessions, packages.load_package(with_file_field(folder / "packages")), "admin")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "browser-test",
                      "LIAISON_UPLOAD_DIR": str(folder / "uploads")})
    with serving(app) as base:
        yield base, sessions
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def _signed_in(browser, base: str, console: bool = False, **options):
    """A new context signed in as zhang, and the page errors it collects (`console`: console errors too)."""
    context = browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    if console:
        page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{base}/login")
    page.fill("#username", "zhang")
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"^(?!.*/login).*$"))
    return context, page, problems


def test_a_file_picked_in_the_start_form_is_uploaded_and_submitted(browser, site):
    base, sessions = site
    context, page, problems = _signed_in(browser, base, locale="zh-CN", console=True)

    page.goto(f"{base}/start/leave_request")
    page.select_option("#leave_type", "sick")
    page.fill("#days", "1")
    page.fill("#manager", "wang")
    page.set_input_files("#proof-upload", files=[
        {"name": "病假条.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 note from the doctor"},
        {"name": "wrong.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 not this one"},
    ])
    page.wait_for_selector(".upload-list li.upload-done:nth-child(2)")
    listed = page.inner_text(".upload-list")
    assert "病假条.pdf" in listed and "wrong.pdf" in listed and "29B" in listed
    page.click("button[aria-label='删除 wrong.pdf']")  # the remove button of the second file
    assert page.locator(".upload-list li.upload-done").count() == 1
    page.set_input_files("#proof-upload", files=[{"name": "virus.exe", "mimeType": "application/octet-stream",
                                                  "buffer": b"MZ"}])
    page.wait_for_selector(".upload-list li.upload-error")  # refused by the field's own types, said in the list

    page.click("#start-submit")
    page.wait_for_url(re.compile(r"/instances/\d+$"))
    instance_id = int(page.url.rsplit("/", 1)[1])
    with sessions() as session:
        proof = queries.instance_view(session, instance_id)["data"]["proof"]
    assert [ref["name"] for ref in proof] == ["病假条.pdf"]
    link = page.locator(f"a[href='/files/{proof[0]['id']}']")
    assert link.inner_text() == "病假条.pdf"
    with page.expect_download() as download:
        link.click()
    assert Path(download.value.path()).read_bytes() == b"%PDF-1.4 note from the doctor"
    assert download.value.suggested_filename == "病假条.pdf"
    context.close()
    problems = [p for p in problems if "status of 415" not in p]  # the refused upload, on purpose
    assert not problems, f"browser errors: {problems}"


@pytest.mark.parametrize(("locale", "choose", "more", "remove"), [
    ("zh-CN", "上传文件", "继续上传", "删除"), ("en-US", "Upload a file", "Upload more", "Remove")])
def test_after_an_upload_the_widget_lists_the_file_and_no_longer_says_none_is_chosen(
        browser, site, locale, choose, more, remove):
    """The native chooser's "No file chosen" stays after an upload (its choice is cleared once uploaded): it is
    hidden behind a button that says what it does, and the uploaded file is listed with its size."""
    base, _ = site
    context, page, problems = _signed_in(browser, base, locale=locale, viewport={"width": 390, "height": 844})
    page.goto(f"{base}/start/leave_request")

    button = page.locator("#proof-upload + button.upload-choose")
    assert page.locator("#proof-upload").evaluate("el => el.getBoundingClientRect().width") <= 1  # out of sight
    assert button.is_visible() and button.inner_text() == choose
    assert button.get_attribute("aria-labelledby").split()[1] == button.get_attribute("id")
    with page.expect_file_chooser() as chooser:  # the keyboard reaches the button, Enter opens the chooser
        button.focus()
        page.keyboard.press("Enter")
    chooser.value.set_files(files=[{"name": "请假条.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 x"}])
    page.wait_for_selector(".upload-list li.upload-done")
    item = page.locator(".upload-list li.upload-done")
    assert item.locator(".file-name").inner_text() == "请假条.pdf" and item.locator(".file-size").inner_text() == "10B"
    assert item.locator("button.upload-remove").inner_text() == remove
    assert button.is_visible() and button.inner_text() == more
    widget = page.locator("[data-field=proof]").inner_text()
    assert "No file chosen" not in widget and "未选择" not in widget and "请假条.pdf" in widget
    assert page.evaluate("document.body.scrollWidth") <= 390

    # the field takes three files: full, the button is gone; removing one brings it back, with the keyboard
    page.set_input_files("#proof-upload", files=[
        {"name": f"{n}.txt", "mimeType": "text/plain", "buffer": b"x"} for n in ("b", "c")])
    page.wait_for_selector(".upload-list li.upload-done:nth-child(3)")
    assert button.is_hidden()
    item.first.locator("button.upload-remove").click()
    assert page.locator(".upload-list li.upload-done").count() == 2
    assert button.is_visible() and button.inner_text() == more
    assert page.evaluate("document.activeElement.id") == button.get_attribute("id")
    context.close()
    assert not problems, problems
