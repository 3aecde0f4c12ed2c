"""Training in headless Chromium, in Chinese, on the demo org chart and demo courses: zhang takes the
information security quiz at 1280 px and passes (the graded review, the certificate link); wang opens
the quiz on a phone (390 px, nothing wider than the screen); HR (hu) sees the score table with its
charts at both widths. With LIAISON_SCREENSHOTS=1 it saves docs/screenshots/training-*.png."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.data import db
from engine.data.models import Person, utcnow
from engine.packages import deployment as packages
from engine.people import accounts, org_import
from engine.training import demo
from tests.browser_support import chromium, screenshot, serving, signed_in
from web import create_app

from .conftest import PASSWORD

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def site(tmp_path_factory, sqlite_template):
    folder = tmp_path_factory.mktemp("training_browser")
    shutil.copy(sqlite_template, folder / "liaison.db")
    url = f"sqlite:///{folder / 'liaison.db'}"
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    packages.deploy_package(sessions, packages.load_package(ROOT / "processes" / "training_assessment"), "admin")
    with sessions() as session, session.begin():
        plan = org_import.plan_import(session, org_import.read_org_file(ROOT / "processes" / "_demo" / "org.csv"))
        org_import.apply_import(session, plan)
        for username in ("zhang", "wang", "hu"):
            person_id = session.scalar(select(Person.id).where(Person.username == username))
            accounts.set_password(session, person_id, PASSWORD, utcnow())
    demo.load_demo(sessions)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "browser-training",
                      "LIAISON_UPLOAD_DIR": str(folder / "uploads")})
    with serving(app) as base:
        yield base
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def _signed_in(browser, base: str, username: str, viewport: dict):
    return signed_in(browser, base, username, PASSWORD, viewport, lang="zh")


_shot = screenshot


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_a_person_takes_the_quiz_in_chinese_and_passes(site, browser):
    context, page = _signed_in(browser, site, "zhang", DESKTOP)
    try:
        page.get_by_role("link", name="培训考核").first.click()
        page.get_by_role("link", name="信息安全培训").click()
        assert page.locator(".training-question").count() == 5
        assert "正确答案" not in page.content()
        _shot(page, "training-quiz-zh-1280.png")
        page.check("input[name=password][value='12']")
        page.check("input[name=phishing][value=sender]")
        page.check("input[name=phishing][value=link]")
        page.check("input[name=sharing][value=false]")
        page.fill("input[name=report]", "IT")
        page.check("input[name=lock][value=win_l]")
        page.get_by_role("button", name="提交答案").click()
        page.wait_for_selector(".training-result")
        result = page.locator(".training-result").inner_text()
        assert "第 1 次考核：100.0 分" in result and "已通过" in result and "正确答案" in result
        assert page.get_by_role("link", name="下载证书（PDF）").count() == 1
        _shot(page, "training-result-zh-1280.png")
    finally:
        context.close()


def test_the_quiz_fits_a_phone(site, browser):
    context, page = _signed_in(browser, site, "wang", PHONE)
    try:
        page.goto(f"{site}/training/")
        page.get_by_role("link", name="信息安全培训").click()
        assert page.locator(".training-question").count() == 5 and _fits(page)
        _shot(page, "training-quiz-zh-390.png")
    finally:
        context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_hr_sees_the_score_table_with_charts(site, browser, viewport):
    context, page = _signed_in(browser, site, "hu", viewport)
    try:
        page.goto(f"{site}/training/admin/scores?course=1")
        assert page.locator("h1").inner_text() == "考核成绩统计表"
        page.wait_for_selector("#training-distribution .chart-canvas:not([hidden])")
        assert page.locator(".training-scores tbody tr").count() == 60
        assert "张三" in page.locator(".training-scores").inner_text()
        assert _fits(page)
        page.set_viewport_size({"width": viewport["width"], "height": 2400 if viewport is PHONE else 900})
        _shot(page, f"training-scores-zh-{viewport['width']}.png", full_page=viewport is DESKTOP)
    finally:
        context.close()
