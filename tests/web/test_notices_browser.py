"""A policy notice and a needs survey end to end in headless Chromium, in Chinese: li writes it on the start page (R&D picked
with the department picker, confirmation asked, one single-choice question), the fan-out runs (the
background job, called here), zhang opens it on a phone (390 px), confirms "我已阅读并理解" and answers;
li sees the receipts and the results with their charts. hu sends an anonymous needs survey to the
whole company; wang answers a multiple-choice and an open question; hu sees the counts. With LIAISON_SCREENSHOTS=1 it also saves
docs/screenshots/notice-*.png (zh, 1280 and 390 px)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select, text

from engine.data import db
from engine.data.models import Department
from engine.data.notice_models import Notice
from engine.notices import sending
from engine.packages import deployment as packages
from engine.people import accounts
from tests.browser_support import chromium, screenshot, serving, signed_in
from web import create_app

from .conftest import PASSWORD

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """policy_notice deployed; li (head office) sends; zhang, wang in 研发部, zhao in 研发一组; hu in 人事部."""
    url = f"sqlite:///{tmp_path_factory.mktemp('notices-browser') / 'liaison.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        depts = {}
        for code, name, parent in (("hq", "总部", None), ("rd", "研发部", "hq"), ("rd1", "研发一组", "rd"),
                                   ("hr", "人事部", "hq")):
            dept = Department(code=code, name=name, parent_id=depts[parent].id if parent else None, path="")
            session.add(dept)
            session.flush()
            dept.path = (depts[parent].path if parent else "/") + f"{dept.id}/"
            depts[code] = dept
        for username, name, code in (("li", "李经理", "hq"), ("zhang", "张三", "rd"), ("wang", "王五", "rd"),
                                     ("zhao", "赵六", "rd1"), ("hu", "胡人事", "hr")):
            accounts.create_person_account(session, username, name, PASSWORD, department_id=depts[code].id,
                                           email=f"{username}@example.com")
    for package in ("policy_notice", "needs_survey"):
        packages.deploy_package(sessions, packages.load_package(ROOT / "processes" / package), "admin")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "browser-notices"})
    with serving(app) as base:
        yield base, sessions
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def _signed_in(browser, base: str, username: str, viewport: dict):
    context, page = signed_in(browser, base, username, PASSWORD, viewport)
    page.goto(f"{base}/?lang=zh")
    return context, page


_shot = screenshot


def _narrow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def _compose(browser, base: str) -> None:
    context, page = _signed_in(browser, base, "li", DESKTOP)
    try:
        page.goto(f"{base}/start/policy_notice")
        page.fill("#title", "关于调整考勤制度的通知")
        page.fill("#body", "自下月起执行**新考勤制度**：\n\n- 弹性上班 8:30-9:30\n- 每月 3 次补卡")
        picker = page.locator("#departments")
        picker.click()
        page.keyboard.type("研发部")
        page.locator(f"#{picker.get_attribute('aria-controls')} [role=option]").first.wait_for()
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")  # picks 研发部 (with its sub-departments), does not submit
        table = page.locator("[data-field=questions]")
        table.locator("[data-add-row]").click()
        row = table.locator("tbody tr").last
        row.locator("input[name$=question]").fill("新制度是否清楚？")
        row.locator("select[name$=kind]").select_option("single")
        row.locator("input[name$=options]").fill("清楚；不清楚")
        row.locator("select[name$=required]").select_option("yes")
        _shot(page, "notice-compose-zh-1280.png")
        page.click("#start-submit")
        page.wait_for_url(re.compile(r"/instances/\d+"))
    finally:
        context.close()


def test_a_notice_is_sent_read_confirmed_answered_and_its_receipts_charted(browser, site):
    base, sessions = site
    _compose(browser, base)
    with sessions() as session:
        notice = session.scalars(select(Notice)).one()
        assert notice.audience["departments"] == ["rd"] and notice.total == 3 and notice.ack_required
    assert sending.claim_due(sessions) == [notice.id]
    assert sending.run_job(sessions, notice.id) == "sent"  # the background job, here and now

    context, page = _signed_in(browser, base, "zhang", PHONE)
    try:
        page.click("text=通知公告")  # the Apps list on the home page
        page.click("#received a")
        page.locator("#acknowledge").wait_for()
        assert "新考勤制度" in page.inner_text("#notice-body") and _narrow(page)
        _shot(page, "notice-recipient-zh-390.png")
        page.click("#acknowledge")
        page.locator("#acknowledged").wait_for()
        page.click("#answer-submit")  # the required question is not answered: refused, said why
        page.locator(".lf-error-summary").wait_for()
        page.locator("label:has-text('清楚')").first.click()
        page.click("#answer-submit")
        page.locator("#answered").wait_for()
        assert "我已阅读并理解" in page.inner_text("#acknowledged") and _narrow(page)
    finally:
        context.close()

    context, page = _signed_in(browser, base, "li", DESKTOP)
    try:
        page.goto(f"{base}/notices/{notice.id}/receipts")
        totals = page.inner_text("#totals")
        with sessions() as session:
            total, read, acked = session.execute(text("SELECT count(*), count(read_at), count(acknowledged_at) "
                                                      "FROM notice_recipient")).one()
        assert (total, read, acked) == (3, 1, 1)
        assert "3" in totals and "1 (33.3%)" in totals
        assert page.locator("#read-by-department td[data-value]").first.get_attribute("data-value") == "33.3"
        page.locator("#read-by-department canvas").wait_for()  # Chart.js drew the table's numbers
        assert "王五" in page.inner_text("#unread") and "赵六" in page.inner_text("#unread")
        _shot(page, "notice-receipts-zh-1280.png")
        page.click("#remind")
        page.locator(".flashes").wait_for()
        page.goto(f"{base}/notices/{notice.id}/results")
        assert page.locator("#chart-q1 td[data-value]").first.get_attribute("data-value") == "1"
        page.locator("#chart-q1 canvas").wait_for()
        _shot(page, "notice-results-zh-1280.png")
        page.set_viewport_size(PHONE)
        page.goto(f"{base}/notices/{notice.id}/receipts")
        assert _narrow(page)
        _shot(page, "notice-receipts-zh-390.png")
        page.goto(f"{base}/notices/{notice.id}/results")
        page.locator("#chart-q1 canvas").wait_for()
        assert _narrow(page)
        page.goto(f"{base}/notices/")
        assert _narrow(page) and "关于调整考勤制度的通知" in page.inner_text("#sent")
    finally:
        context.close()


def test_a_needs_survey_goes_to_everyone_and_its_anonymous_answers_are_counted(browser, site):
    base, sessions = site
    context, page = _signed_in(browser, base, "hu", DESKTOP)
    try:
        page.goto(f"{base}/start/needs_survey")
        page.fill("#title", "办公环境需求调研")
        table = page.locator("[data-field=questions]")
        for question, kind, options in (("希望改善哪些设施？", "multiple", "咖啡机；会议室；停车位"),
                                         ("其他建议", "open", "")):
            table.locator("[data-add-row]").click()
            row = table.locator("tbody tr").last
            row.locator("input[name$=question]").fill(question)
            row.locator("select[name$=kind]").select_option(kind)
            if options:
                row.locator("input[name$=options]").fill(options)
            row.locator("select[name$=required]").select_option("no")
        page.click("#start-submit")  # whole company and anonymous are the defaults
        page.wait_for_url(re.compile(r"/instances/\d+"))
    finally:
        context.close()
    with sessions() as session:
        survey = session.scalars(select(Notice).where(Notice.kind == "survey")).one()
        assert survey.total == 5  # everyone: li, zhang, wang, zhao, hu
    due = sending.claim_due(sessions)  # also the first test's "remind the unread"
    assert survey.id in due
    for notice_id in due:
        sending.run_job(sessions, notice_id)
    with sessions() as session:
        assert session.get(Notice, survey.id).status == "sent"

    context, page = _signed_in(browser, base, "wang", PHONE)
    try:
        page.goto(f"{base}/notices/{survey.id}")
        page.locator("label:has-text('咖啡机')").first.click()
        page.locator("label:has-text('停车位')").first.click()
        page.locator("textarea").last.fill("增加绿植")
        page.click("#answer-submit")
        page.locator("#answered").wait_for()
        assert _narrow(page)
    finally:
        context.close()

    context, page = _signed_in(browser, base, "hu", DESKTOP)
    try:
        page.goto(f"{base}/notices/{survey.id}/results")
        chart = page.locator("#chart-q1")
        counts = dict(chart.locator("tbody tr").evaluate_all(  # label -> the first series (the count)
            "rows => rows.map(r => [r.querySelector('th').textContent, r.querySelector('td').dataset.value])"))
        with sessions() as session:
            rows = dict(session.execute(text(
                "SELECT choice, count(*) FROM survey_answer WHERE survey_id = :s AND question = 'q1' "
                "GROUP BY choice"), {"s": survey.survey_id}).all())
            named = session.execute(text("SELECT count(*) FROM survey_response WHERE survey_id = :s "
                                         "AND person_id IS NOT NULL"), {"s": survey.survey_id}).scalar()
        assert named == 0  # anonymous: no person stored with the answers
        assert sorted(rows.values()) == [1, 1], rows
        drawn = {label: float(value) for label, value in counts.items()}
        assert drawn == {"咖啡机": 1, "会议室": 0, "停车位": 1}, drawn  # the chart's numbers, as in SQL
        assert "增加绿植" in page.inner_text("main")
    finally:
        context.close()
