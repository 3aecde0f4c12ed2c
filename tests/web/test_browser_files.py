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


def test_a_file_picked_in_the_start_form_is_uploaded_and_submitted(browser, site):
    base, sessions = site
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{base}/login")
    page.fill("#username", "zhang")
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"^(?!.*/login).*$"))

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
