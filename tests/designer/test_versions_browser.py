"""The version diff page in headless Chromium: both diagrams draw, and the added, changed and removed
elements carry their markers (no script error, no CSP violation)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from engine.data import db
from engine.data.models import AdminGrant
from engine.packages import deployment as packages
from engine.people import accounts
from tests.browser_support import serving
from tests.web.test_browser_approval import PASSWORD, Person, browser  # noqa: F401 (fixture)
from web import create_app

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"  # with LIAISON_SCREENSHOTS=1


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """leave_request deployed twice: version 2 renames the approved end event and widens HR's group."""
    folder = tmp_path_factory.mktemp("pkg")
    url = f"sqlite:///{folder / 'liaison.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        owner = accounts.create_person_account(session, "owner", "负责人", PASSWORD, name_en="Owner")
        session.flush()
        session.add(AdminGrant(person_id=owner.id, department_id=None))
    packages.deploy_package(sessions, packages.load_package(ROOT / "processes" / "leave_request"), "owner")
    copy = folder / "leave_request"
    shutil.copytree(ROOT / "processes" / "leave_request", copy)
    bpmn = copy / "leave_request.bpmn"
    bpmn.write_text(bpmn.read_text().replace("approved_end", "approved_done")
                    .replace('liaison:candidateGroups="hr"', 'liaison:candidateGroups="hr,finance"'))
    packages.deploy_package(sessions, packages.load_package(copy), "owner", notes="HR and finance")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "browser-test"})
    with serving(app) as base:
        yield base
    engine.dispose()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_diff_page_marks_the_diagrams(browser, site, lang, tmp_path):  # noqa: F811
    person = Person(browser, site, "owner", lang)
    page = person.page
    page.goto(f"{site}/designer/leave_request/versions")
    page.click("form.version-pair button[type=submit]")
    page.wait_for_selector('[data-diff-diagram-url$="/2.bpmn"][data-state=ready]')
    assert page.locator('g[data-element-id="approved_done"].lf-added').count() == 1
    assert page.locator('g[data-element-id="hr_record"].lf-changed').count() == 1
    page.click("details.diff-old summary")
    page.wait_for_selector('[data-diff-diagram-url$="/1.bpmn"][data-state=ready]')
    assert page.locator('g[data-element-id="approved_end"].lf-removed').count() == 1
    page.screenshot(path=str(SHOTS / f"designer-diff-{lang}.png") if os.environ.get("LIAISON_SCREENSHOTS") == "1"
                    else str(tmp_path / f"diff-{lang}.png"), full_page=True)
    person.close()
