"""The dashboards (issue 19) over the known history of tests/engine/work/analytics_history.py: who may see
them, every table against SQL on the source tables, the exports, a bad filter, and the heat map in Chromium."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import html
from openpyxl import load_workbook
from sqlalchemy import text, update

from engine import runtime
from engine.data import db
from engine.data.models import HistoryEntry, ProcessInstance, WorkTask
from engine.packages import deployment as packages
from engine.people.accounts import hash_password
from engine.work import analytics
from tests.browser_support import chromium, serving
from tests.engine.work.analytics_history import T0, build
from web import create_app

from .conftest import PASSWORD, sign_in

PROCESSES = Path(__file__).resolve().parents[2] / "processes"


@pytest.fixture(scope="module")
def dash(tmp_path_factory):
    """One app on SQLite for the module, with the history refreshed into the summary."""
    url = f"sqlite:///{tmp_path_factory.mktemp('dash') / 'liaison.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    build(sessions, password_hash=hash_password(PASSWORD))
    packages.deploy_package(sessions, packages.load_package(PROCESSES / "leave_request"), "admin")
    waiting = runtime.start_instance(sessions, "leave_request", {"leave_type": "annual", "days": 2, "manager": "wang",
                                                                 "reason": "家里有事"}, user="zhang").instance_id
    _finished_leave_requests(sessions, waiting)
    analytics.refresh(sessions)
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "dash"})
    yield app, engine
    engine.dispose()


def _finished_leave_requests(sessions, waiting: int) -> None:
    """Two finished leave requests whose manager approval began 2 h and 4 h before their end (median 3 h);
    the waiting one's approval was due yesterday."""
    with sessions.begin() as s:
        version_id = s.get(ProcessInstance, waiting).version_id
        for iid, hours in ((900, 2), (901, 4)):
            s.add(ProcessInstance(id=iid, version_id=version_id, process_key="leave_request", status="completed",
                                  initiator="li", state="{}", created_at=T0, ended_at=T0 + timedelta(hours=1 + hours),
                                  end_event="approved_end"))
            s.flush()
            s.add(HistoryEntry(instance_id=iid, at=T0, actor="li", action="started"))
            s.add(WorkTask(id=f"t{iid}", instance_id=iid, element_id="manager_approval", status="completed",
                           assignee="wang", completed_by="wang", created_at=T0 + timedelta(hours=1),
                           completed_at=T0 + timedelta(hours=1 + hours)))
        s.execute(update(WorkTask).where(WorkTask.instance_id == waiting).values(due_at=datetime.now(UTC) - timedelta(days=1)))


def _client(app, who):
    client = app.test_client()
    sign_in(client, who)
    return client


def _table(page: str, figure_id: str) -> list[list[str]]:
    root = html.fromstring(page).get_element_by_id(figure_id)
    return [[c.text_content().strip() for c in row] for row in root.xpath(".//table//tr")]


def test_scope_super_admin_all_process_admin_theirs_others_403(dash):
    app, _ = dash
    admin, wang, hu = _client(app, "admin"), _client(app, "wang"), _client(app, "hu")
    listed = html.fromstring(admin.get("/dashboards/").get_data(as_text=True)).xpath("//table[@id='dashboard-list']//a/@href")
    assert listed == ["/dashboards/leave_request", "/dashboards/other", "/dashboards/sign_off"]
    zh = html.fromstring(admin.get("/dashboards/?lang=zh").get_data(as_text=True))
    assert zh.xpath("//table[@id='dashboard-list']//th[@scope='col']/text()")[-1] == "当前超期"
    assert len(zh.xpath("//tr[@data-key='sign_off']/td")) == 5  # running, started, finished, median, overdue
    assert html.fromstring(wang.get("/dashboards/").get_data(as_text=True)).xpath(
        "//table[@id='dashboard-list']//a/@href") == ["/dashboards/sign_off"]
    assert wang.get("/dashboards/other").status_code == 403
    assert wang.get("/dashboards/other/volume.csv").status_code == 403
    assert hu.get("/dashboards/").status_code == 403
    assert hu.get("/dashboards/sign_off").status_code == 403
    assert 'id="dashboards-link"' in wang.get("/").get_data(as_text=True)
    assert 'id="dashboards-link"' not in hu.get("/").get_data(as_text=True)


def test_every_table_matches_sql_in_english_and_chinese(dash):
    app, engine = dash
    client = _client(app, "wang")
    page = client.get("/dashboards/sign_off?lang=en").get_data(as_text=True)
    volume = _table(page, "chart-volume")
    assert volume[0] == ["Item", "Started (requests)", "Finished (requests)", "Running (requests)",
                         "Withdrawn (requests)", "Rejected (requests)"]
    with engine.connect() as conn:
        per_day = dict(conn.execute(text("SELECT substr(created_at, 1, 10), count(*) FROM process_instance "
                                         "WHERE process_key = 'sign_off' GROUP BY 1")).all())
        open_per_person = dict(conn.execute(text(
            "SELECT t.assignee, count(*) FROM work_task t JOIN process_instance i ON i.id = t.instance_id "
            "WHERE t.status = 'open' AND i.process_key = 'sign_off' GROUP BY t.assignee")).all())
    assert {row[0]: int(row[1]) for row in volume[1:]} == per_day
    assert volume[3] == ["2026-11-04", "3", "1", "2", "1", "0"]
    assert _table(page, "chart-cycle")[1:] == [["Cycle time median (h)", "8.0"], ["Cycle time P90 (h)", "10.4"],
                                               ["Approval rate (%)", "50.0"]]
    assert _table(page, "chart-nodes")[1][:3] == ["Countersign", "6.0", "7.6"]
    workload = {row[0]: row[1] for row in _table(page, "chart-workload")[1:]}
    assert workload == {"Li": str(open_per_person["li"]), "Wang": str(open_per_person["wang"])}
    assert _table(page, "chart-departments")[1:] == [["R&D", "2"]]
    assert _table(page, "chart-sla")[1:] == [["Countersign · R&D", "0", "1"], ["Review · R&D", "1", "0"]]
    overdue = html.fromstring(page).xpath("//table[@id='overdue-table']/tbody/tr/td")
    assert [td.text_content().strip() for td in overdue][:3] == ["#3", "Countersign", "Wang"]
    exported = client.get("/dashboards/sign_off/overdue.csv?lang=en").get_data(as_text=True)
    due = re.search(r",(\d{4}-\d\d-\d\d \d\d:\d\d),", exported).group(1)
    assert overdue[3].text_content().strip() == due  # the reader's time, as the export writes it (was UTC)
    zh = client.get("/dashboards/sign_off?lang=zh").get_data(as_text=True)
    assert _table(zh, "chart-volume")[0][:2] == ["项目", "发起数"]
    assert _table(zh, "chart-workload")[1][0] in ("李", "王")


def test_exports_hold_the_tables_numbers(dash):
    app, _ = dash
    client = _client(app, "admin")
    response = client.get("/dashboards/sign_off/volume.csv?lang=en&period=month")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows == [["Period", "Started (requests)", "Finished (requests)", "Running (requests)", "Withdrawn (requests)",
                     "Rejected (requests)"], ["2026-11", "5", "3", "2", "1", "1"]]
    book = load_workbook(io.BytesIO(client.get("/dashboards/sign_off/nodes.xlsx?lang=en").data))
    values = list(book.active.values)
    assert values[0][:3] == ("Step", "Median wait (h)", "P90 wait (h)")
    assert values[1][:5] == ("Countersign", 6.0, 7.6, 2, 1)
    assert book.sheetnames == ["Waiting time per step"]  # the table's title, never its key ("nodes")
    long_title = load_workbook(io.BytesIO(client.get("/dashboards/sign_off/trend.xlsx?lang=en").data))
    assert long_title.sheetnames == ["Cycle time trend (by period of"]  # Excel's 31 characters
    from urllib.parse import unquote

    named = client.get("/dashboards/sign_off/volume.xlsx?lang=zh&period=week").headers["Content-Disposition"]
    ascii_name, utf8_name = re.fullmatch(r'attachment; filename="([^"]+)"; filename\*=UTF-8\'\'(\S+)', named).groups()
    assert ascii_name == "sign_off-volume.xlsx" and unquote(utf8_name).endswith("-各时段申请数.xlsx")  # as the page says
    assert not unquote(utf8_name).startswith("sign_off")  # the process by its name
    weekly = client.get("/dashboards/sign_off/volume.xlsx?lang=zh&period=week").data
    sheet = load_workbook(io.BytesIO(weekly)).active
    assert sheet.title == "各时段申请数" and re.fullmatch(r"2026 年第 \d+ 周", sheet["A2"].value)  # as the page says it
    overdue = client.get("/dashboards/sign_off/overdue.csv?lang=zh").get_data(as_text=True)
    assert "3,会签,王," in overdue  # people and steps by name, never the username
    assert "T" not in overdue.splitlines()[1] and re.search(r",\d{4}-\d\d-\d\d \d\d:\d\d,", overdue)  # a plain local time
    cycle = client.get("/dashboards/sign_off/cycle.csv?lang=zh").get_data(as_text=True)
    assert "办结时长中位数（小时）" in cycle and "cycle_median_h" not in cycle  # measures as the page names them


def test_a_bad_filter_is_a_bilingual_error_and_the_page_still_shows(dash):
    app, _ = dash
    client = _client(app, "admin")
    response = client.get("/dashboards/sign_off?lang=en&since=yesterday&version=9")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "From is not a date (YYYY-MM-DD): yesterday." in page
    assert "There is no version 9 of this process." in page
    assert 'id="chart-volume"' in page
    zh = client.get("/dashboards/sign_off?lang=zh&since=yesterday").get_data(as_text=True)
    assert "不是日期" in zh
    assert client.get("/dashboards/sign_off/volume.csv?since=yesterday").status_code == 400
    page = client.get("/dashboards/sign_off?lang=en&period=month&key=x&table=y").get_data(as_text=True)
    assert "/dashboards/sign_off/volume.csv?period=month&amp;lang=en" in page  # only the filters carry over
    backwards = client.get("/dashboards/sign_off?lang=zh&since=2026-11-10&until=2026-11-01")
    assert backwards.status_code == 400  # was an empty dashboard without a word
    assert "开始日期（2026-11-10）晚于结束日期（2026-11-01），不会有任何结果。" in backwards.get_data(as_text=True)
    assert client.get("/dashboards/sign_off/volume.csv?since=2026-11-10&until=2026-11-01").status_code == 400


@pytest.mark.browser
def test_the_heat_map_colours_the_slowest_step_at_phone_width(dash):
    app, _ = dash
    browser_gen = chromium()
    browser = next(browser_gen)
    try:
        with serving(app) as base:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.goto(f"{base}/login")
            page.fill("#username", "wang")
            page.fill("#password", PASSWORD)
            page.click("main form button[type=submit]")
            page.wait_for_url(lambda url: "/login" not in url)
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{base}/dashboards/sign_off?lang=en")
            page.wait_for_selector("#heat-map[data-state=ready]")
            slowest = page.locator("#heat-map [data-element-id=countersign]")
            assert "lf-heat-4" in slowest.get_attribute("class")
            assert "median 6.0 h" in slowest.locator("title").first.text_content()
            assert "lf-heat-4" not in page.locator("#heat-map [data-element-id=review]").get_attribute("class")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            assert not errors, errors
    finally:
        browser_gen.close()


def test_the_instance_page_shows_the_expected_finish_and_flags_it_late(dash):
    app, _ = dash
    client = _client(app, "zhang")  # the initiator of the waiting leave request, its approval due yesterday
    with app.extensions["liaison_sessions"]() as session:
        waiting = session.scalar(text("SELECT id FROM process_instance WHERE process_key = 'leave_request' "
                                      "AND status = 'running'"))
        assert analytics.expected_finish(session, waiting)["median_remaining"] == 3 * 3600  # (2 h + 4 h) / 2
    page = html.fromstring(client.get(f"/instances/{waiting}?lang=en").get_data(as_text=True))
    assert page.get_element_by_id("expected-finish") is not None
    assert page.get_element_by_id("expected-late").text_content().strip() == "likely past its due date"
    assert "预计完成" in client.get(f"/instances/{waiting}?lang=zh").get_data(as_text=True)
