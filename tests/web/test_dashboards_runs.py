"""The dashboards' new views (issue 19) over the real engine runs of tests/engine/work/analytics_runs.py: cycle
time trend, path frequencies (a table and on the diagram), escalations, tasks done per week, deputies in
effect, the department admin's scope and the two department filters, their exports, in English and Chinese."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from lxml import html
from openpyxl import load_workbook
from sqlalchemy import text, update

from engine.data import db
from engine.data.models import OutOfOffice
from engine.packages import deployment as packages
from engine.people.accounts import hash_password
from engine.work import analytics
from tests.browser_support import chromium, screenshot, serving, signed_in
from tests.engine.work.analytics_runs import run
from web import create_app

from .conftest import PASSWORD, sign_in


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One app on SQLite for the module over the real runs, refreshed. The pages read the real clock (the
    runs are in the past), so li's out-of-office window is widened to hold now too."""
    folder = tmp_path_factory.mktemp("runs")
    url = f"sqlite:///{folder / 'liaison.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)

    def deploy(path):
        with sessions.begin() as session:
            return packages.deploy(session, packages.load_package(path), "admin")

    with pytest.MonkeyPatch.context() as monkeypatch:
        ids = run(sessions, deploy, folder, monkeypatch, password_hash=hash_password(PASSWORD))
    with sessions.begin() as session:  # li's out-of-office window around the real now, for the page
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        session.execute(update(OutOfOffice).values(starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=7)))
    analytics.refresh(sessions)
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "runs"})
    yield app, engine, ids
    engine.dispose()


def _client(app, who):
    client = app.test_client()
    sign_in(client, who)
    return client


def _table(page: str, figure_id: str) -> list[list[str]]:
    root = html.fromstring(page).get_element_by_id(figure_id)
    return [[c.text_content().strip() for c in row] for row in root.xpath(".//table//tr")]


def test_the_new_views_show_the_runs_numbers(runs):
    app, engine, _ = runs
    page = _client(app, "wang").get("/dashboards/sign_off?lang=en").get_data(as_text=True)
    assert _table(page, "chart-trend") == [
        ["Item", "Cycle time median (h)", "Cycle time P90 (h)", "Finished (requests)"],
        ["2026-11-02", "5.0", "5.0", "1"],  # the reader's days (Asia/Shanghai): the run that ended 11-03 20:00 UTC
        ["2026-11-04", "6.0", "10.0", "2"]]   # ended on 11-04 at 04:00 there, with the one that ended later that day
    flows = {row[0]: row[1:] for row in _table(page, "chart-flows")[1:]}
    assert flows["Submitted → Review"] == ["6", "6"] and flows["Reviewed? → Countersign"] == ["3", "3"]
    assert flows["Reviewed? → Rejected at review"] == ["1", "1"]
    assert _table(page, "chart-escalations")[1:] == [["Review · R&D", "1", "1"]]
    with engine.connect() as conn:  # tasks done alone by who completed them, each 会签 signature by its signer
        done = dict(conn.execute(text(
            "SELECT who, count(*) FROM (SELECT completed_by AS who FROM work_task t WHERE status = 'completed' AND "
            "NOT EXISTS (SELECT 1 FROM approval_item a WHERE a.task_id = t.id) UNION ALL SELECT signer FROM "
            "approval_item WHERE status IN ('approved', 'rejected')) d GROUP BY who")).all())
    assert _table(page, "chart-weekly") == [["Item", "Li", "Wang", "Zhang"],
                                            ["2026 week 45", str(done["li"]), str(done["wang"]), str(done["zhang"])]]
    deputies = html.fromstring(page).xpath("//table[@id='deputies-table']/tbody/tr/td")
    assert [td.text_content().strip() for td in deputies][:2] == ["Li", "Hu"]
    assert [td.text_content().strip() for td in deputies][3] == "1"
    zh = _client(app, "wang").get("/dashboards/sign_off?lang=zh").get_data(as_text=True)
    assert _table(zh, "chart-weekly")[0] == ["项目", "李", "王", "张"]
    assert _table(zh, "chart-escalations")[1] == ["审核 · 研发部", "1", "1"]
    assert "每人每周已办任务数" in zh and "生效中的外出代理人" in zh and "发起人部门" in zh


def test_department_filters_and_the_department_admins_scope(runs):
    app, _, ids = runs
    wang = _client(app, "wang")
    hr_started = wang.get("/dashboards/sign_off?lang=en&period=month&initiator_department=2").get_data(as_text=True)
    assert _table(hr_started, "chart-volume")[1] == ["2026-11", "2", "2", "0", "0", "2"]
    hr_tasks = wang.get("/dashboards/sign_off?lang=en&department=2").get_data(as_text=True)
    assert _table(hr_tasks, "chart-nodes")[1:] == [] and _table(hr_tasks, "chart-escalations")[1:] == []
    assert wang.get("/dashboards/sign_off?initiator_department=hr").status_code == 400
    hradmin = _client(app, "hradmin")
    listed = html.fromstring(hradmin.get("/dashboards/").get_data(as_text=True)).xpath(
        "//table[@id='dashboard-list']//a/@href")
    assert listed == ["/dashboards/sign_off"]
    page = hradmin.get("/dashboards/sign_off?lang=en&period=month").get_data(as_text=True)
    assert _table(page, "chart-volume")[1] == ["2026-11", "2", "2", "0", "0", "2"]
    overdue = html.fromstring(page).xpath("//table[@id='overdue-table']/tbody/tr/td")
    assert [td.text_content().strip() for td in overdue] == ["No task is overdue."]  # those are R&D's requests
    everything = _client(app, "admin").get("/dashboards/sign_off?lang=en").get_data(as_text=True)
    assert f"#{ids[3]}" in everything
    assert _client(app, "li").get("/dashboards/sign_off").status_code == 403
    assert _client(app, "li").get("/dashboards/sign_off/flows.csv").status_code == 403


def test_the_new_views_export_to_csv_and_xlsx(runs):
    app, _, _ = runs
    client = _client(app, "hradmin")
    flows = list(csv.reader(io.StringIO(client.get("/dashboards/sign_off/flows.csv?lang=en")
                                        .get_data(as_text=True).lstrip("\ufeff"))))
    assert flows[0] == ["Flow", "Requests that took it", "Times taken"]
    assert ["Submitted → Review", "2", "2"] in flows and ["Signed? → Rejected at countersign", "1", "1"] in flows
    admin = _client(app, "admin")
    book = load_workbook(io.BytesIO(admin.get("/dashboards/sign_off/escalations.xlsx?lang=zh").data))
    assert list(book.active.values)[1:] == [("审核", "研发部", 1, 1)]
    weekly = admin.get("/dashboards/sign_off/done_weekly.csv?lang=zh").get_data(as_text=True)
    assert "2026 年第 45 周,李,4" in weekly and "2026 年第 45 周,王,2" in weekly  # weeks as the page says them
    deputies = admin.get("/dashboards/sign_off/deputies.csv?lang=en").get_data(as_text=True)
    assert "Li,Hu," in deputies
    trend = admin.get("/dashboards/sign_off/trend.xlsx?lang=en")
    assert list(load_workbook(io.BytesIO(trend.data)).active.values)[1] == ("2026-11-02", 5.0, 5.0, 1)


@pytest.mark.browser
def test_the_diagram_shows_the_paths_taken_and_the_heat(runs):
    app, _, _ = runs
    browser_gen = chromium()
    browser = next(browser_gen)
    try:
        with serving(app) as base:
            for lang, name in (("en", "dashboard-paths-en-1280.png"), ("zh", "dashboard-paths-zh-1280.png")):
                context, page = signed_in(browser, base, "wang", PASSWORD, {"width": 1280, "height": 900}, lang)
                errors = []
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                page.goto(f"{base}/dashboards/sign_off?lang={lang}")
                page.wait_for_selector("#heat-map[data-state=ready]")
                taken = page.locator("#heat-map [data-element-id=f_yes]")
                assert taken.get_attribute("data-flow-count") == "3"
                assert "lf-flow-" in taken.get_attribute("class")
                assert "lf-flow-4" in page.locator("#heat-map [data-element-id=f_start]").get_attribute("class")
                assert page.locator("#heat-map .lf-flow-count").count() == 7
                assert "lf-heat-4" in page.locator("#heat-map [data-element-id=countersign]").get_attribute("class")
                if lang == "en":
                    assert "3 requests took this flow" in taken.locator("title").first.text_content()
                page.locator("#section-nodes").scroll_into_view_if_needed()
                screenshot(page, name)
                assert not errors, errors
                context.close()
            context, page = signed_in(browser, base, "wang", PASSWORD, {"width": 390, "height": 844}, "en")
            page.goto(f"{base}/dashboards/sign_off?lang=en")
            page.wait_for_selector("#heat-map[data-state=ready]")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            context.close()
    finally:
        browser_gen.close()
