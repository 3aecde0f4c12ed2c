"""Task collaboration in headless Chromium on the demo org chart (issue 20, "Done when"): the product
director (jiangnan) creates a project with members from two departments (产品部 and 市场部), adds three
tasks with owners and due dates; a member (youxin, 市场部) drags her task across the board, comments with
an @mention (沈悦 gets an in-app notification), attaches a file and completes the task; the board, the list
and the calendar agree. Pages at 1280 px and 390 px (nothing wider than the phone), in Chinese and English.
With LIAISON_SCREENSHOTS=1 it saves docs/screenshots/projects-*.png."""

from __future__ import annotations

import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.data import db
from engine.data.models import Department, Notification, Person, utcnow
from engine.packages import deployment as packages
from engine.people import accounts, org_import
from tests.browser_support import chromium, screenshot, serving, signed_in
from web import create_app

from .conftest import PASSWORD

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
TASKS = (("市场调研报告", "youxin", 4), ("产品定价方案", "shenyue", 6), ("发布会筹备", "hanmei", 12))


@pytest.fixture(scope="module")
def site(tmp_path_factory, sqlite_template):
    folder = tmp_path_factory.mktemp("projects_browser")
    shutil.copy(sqlite_template, folder / "liaison.db")
    url = f"sqlite:///{folder / 'liaison.db'}"
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    packages.deploy_package(sessions, packages.load_package(ROOT / "processes" / "project_task"), "admin")
    with sessions() as session, session.begin():
        plan = org_import.plan_import(session, org_import.read_org_file(ROOT / "processes" / "_demo" / "org.csv"))
        org_import.apply_import(session, plan)
        for username in ("jiangnan", "youxin", "shenyue", "caolin"):
            person_id = session.scalar(select(Person.id).where(Person.username == username))
            accounts.set_password(session, person_id, PASSWORD, utcnow())
        codes = dict(session.execute(select(Department.name, Department.code)).all())
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "browser-projects",
                      "LIAISON_UPLOAD_DIR": str(folder / "uploads")})
    with serving(app) as base:
        yield base, sessions, codes
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.fixture(scope="module")
def project(site, browser, tmp_path_factory):
    """The whole walk; returns the project's URL."""
    base, sessions, codes = site
    context, page = signed_in(browser, base, "jiangnan", PASSWORD, DESKTOP, lang="zh")
    try:
        page.get_by_role("link", name="项目协作").first.click()
        page.locator("#new-project summary").click()
        page.fill("#project-name", "新品发布")
        page.fill("#project-departments", f"{codes['产品部']}, {codes['市场部']}")
        page.get_by_role("button", name="创建项目").click()
        page.wait_for_selector("#board")
        project_url = page.url.split("?")[0]
        for title, owner, days in TASKS:
            page.locator("#new-task summary").click()
            page.fill("#task-title", title)
            page.select_option("#task-owner", owner)
            page.fill("#task-due", (date.today() + timedelta(days=days)).isoformat())
            page.get_by_role("button", name="添加任务", exact=True).click()
            page.wait_for_selector(f"text={title}")
        assert page.locator(".cards-list[data-status=open] .task-card").count() == 3
    finally:
        context.close()
    context, page = signed_in(browser, base, "youxin", PASSWORD, DESKTOP, lang="zh")
    try:
        page.goto(project_url)
        card = page.locator(".task-card", has_text="市场调研报告")
        card.drag_to(page.locator(".cards-list[data-status=in_progress]"))
        page.wait_for_selector(".cards-list[data-status=in_progress] .task-card")
        assert "市场调研报告" in page.locator(".cards-list[data-status=in_progress]").inner_text()
        page.locator(".cards-list[data-status=in_progress] .task-card a").first.click()
        page.fill("#comment-body", "@沈悦 调研问卷已发出，请确认定价假设。")
        page.get_by_role("button", name="发布", exact=True).click()
        page.wait_for_selector("#comments >> text=调研问卷已发出")
        upload = tmp_path_factory.mktemp("files") / "调研问卷.txt"
        upload.write_text("问卷内容", encoding="utf-8")
        page.set_input_files("#task-files-attachments-upload", str(upload))
        for _ in range(100):  # the upload widget keeps the stored file's reference in the hidden input
            if "调研问卷" in page.input_value("input[name=attachments]"):
                break
            page.wait_for_timeout(100)
        page.get_by_role("button", name="附加", exact=True).click()
        page.wait_for_selector("#files >> text=调研问卷.txt")
        page.select_option("#task-move-" + re.search(r"/tasks/(\d+)", page.url).group(1), "done")
        page.locator(".move-form button").first.click()
        page.wait_for_selector("#task-status[data-status=done]")
        history = page.locator("#history").inner_text()
        assert "附加了 调研问卷.txt" in history and "已完成" in history
    finally:
        context.close()
    return project_url


def test_the_mentioned_person_is_notified_in_app(site, project):
    _base, sessions, _ = site
    with sessions() as session:
        told = session.scalars(select(Notification.recipient).where(Notification.event == "project_mention")).all()
    assert told == ["shenyue"]


def test_board_list_and_calendar_agree(site, browser, project):
    base, _, _ = site
    context, page = signed_in(browser, base, "shenyue", PASSWORD, DESKTOP, lang="zh")
    try:
        page.goto(project)
        board = {s: page.locator(f".cards-list[data-status={s}]").inner_text() for s in ("open", "in_progress", "done")}
        assert "市场调研报告" in board["done"] and "产品定价方案" in board["open"] and "发布会筹备" in board["open"]
        page.goto(project + "?view=list&status=done")
        assert page.locator("#task-list tbody tr").count() == 1
        assert "市场调研报告" in page.locator("#task-list").inner_text()
        page.goto(project + "?view=list")
        assert page.locator("#task-list tbody tr").count() == 3
        due = date.today() + timedelta(days=4)
        page.goto(project + f"?view=calendar&year={due.year}&month={due.month}")
        assert "市场调研报告" in page.locator(f"#calendar td[data-day='{due.day}']").inner_text()
        page.goto(project + "?view=summary")
        assert page.locator("#counts li[data-status=done] strong").inner_text() == "1"
    finally:
        context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pages_fit_and_are_screenshot(site, browser, project, viewport, lang):
    base, _, _ = site
    context, page = signed_in(browser, base, "jiangnan", PASSWORD, viewport, lang=lang)
    try:
        width = viewport["width"]
        page.goto(project)
        assert page.locator("h1").inner_text().startswith("新品发布")
        assert ("看板" if lang == "zh" else "Board") in page.locator(".tabs").inner_text()
        assert _fits(page)
        screenshot(page, f"projects-board-{lang}-{width}.png")
        for view in ("list", "calendar"):
            page.goto(project + f"?view={view}")
            assert _fits(page), view
        if width > 500 and lang == "zh":
            screenshot(page, f"projects-calendar-{lang}-{width}.png")
        page.goto(project + "?view=summary")
        page.wait_for_selector("#burndown .chart-canvas:not([hidden])")
        assert _fits(page)
        if width > 500:
            screenshot(page, f"projects-summary-{lang}-{width}.png")
        page.goto(project)
        page.locator(".task-card a", has_text="市场调研报告").first.click()
        page.wait_for_selector("#history")
        assert _fits(page)
        screenshot(page, f"projects-task-{lang}-{width}.png")
    finally:
        context.close()
