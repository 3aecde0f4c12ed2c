"""The notice pages through the test client: a recipient reads, confirms and answers; the sender sees the
receipts, the results and the export; nobody else sees any of it; refusals say why and lose nothing."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, text

from engine import runtime
from engine.data import db
from engine.data.models import Department, utcnow
from engine.data.notice_models import NoticeRecipient, SurveyRespondent
from engine.notices import sending, surveys
from engine.packages import deployment as packages
from engine.people import accounts
from engine.runtime import uploads
from forms.files import FileStore
from web import create_app

from .conftest import PASSWORD, csrf_token, sign_in

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = [{"question": "新制度是否清楚", "kind": "single", "options": "清楚; 不清楚", "required": True},
             {"question": "建议", "kind": "open"}]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """li sends a notice (confirmation asked, a questionnaire) to R&D (zhang, wang); hu is in HR; root is
    a super admin."""
    folder = tmp_path_factory.mktemp("notices")
    url, files = f"sqlite:///{folder / 'liaison.db'}", folder / "files"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        company = Department(code="company", name="公司", name_en="Company", path="/")
        session.add(company)
        session.flush()
        company.path = f"/{company.id}/"
        rd = Department(code="rd", name="研发部", name_en="R&D", parent_id=company.id, path="")
        session.add(rd)
        session.flush()
        rd.path = f"{company.path}{rd.id}/"
        for username, name, dept in (("li", "李经理", company), ("zhang", "张三", rd), ("wang", "王五", rd),
                                     ("hu", "胡人事", company)):
            accounts.create_person_account(session, username, name, PASSWORD, utcnow(), department_id=dept.id)
        accounts.create_admin(session, "root", PASSWORD, "管理员", utcnow())
        survey_id = surveys.define_survey(session, "制度问卷", QUESTIONS, created_by="li")
        ref = FileStore(files).put(io.BytesIO(b"%PDF-1.4 rules"), "考勤制度.pdf", "application/pdf").to_dict()
        uploads.record(session, ref, "li")
        notice_id = sending.create_notice(session, "li", "新考勤制度", {"departments": ["rd"]},
                                          body="自下月起执行**新制度**。", ack_required=True, survey_id=survey_id,
                                          attachments=[ref])
    sending.run_job(sessions, notice_id)
    packages.deploy_package(sessions, packages.load_package(ROOT / "processes" / "policy_notice"), "admin")
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "notices", "LIAISON_UPLOAD_DIR": str(files)})
    yield app, sessions, notice_id
    engine.dispose()


def _client(site, username):
    client = site[0].test_client()
    assert sign_in(client, username).status_code == 302
    return client


def _post(client, path, data=None):
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, "/notices/")})


def test_a_recipient_reads_confirms_and_answers_once(site):
    _app, sessions, notice_id = site
    zhang = _client(site, "zhang")
    page = zhang.get(f"/notices/{notice_id}").get_data(as_text=True)
    assert "新考勤制度" in page and "<strong>新制度</strong>" in page and "我已阅读并理解" in page
    with sessions() as session:
        assert session.scalar(select(NoticeRecipient.read_at).where(NoticeRecipient.username == "zhang"))
    assert _post(zhang, f"/notices/{notice_id}/acknowledge").status_code == 302
    refused = _post(zhang, f"/notices/{notice_id}", {"q2": "写得很清楚"})
    assert refused.status_code == 422 and "写得很清楚" in refused.get_data(as_text=True)  # kept for a retry
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(SurveyRespondent)) == 0
    assert _post(zhang, f"/notices/{notice_id}", {"q1": "0", "q2": "写得很清楚"}).status_code == 302
    again = _post(zhang, f"/notices/{notice_id}", {"q1": "1"})
    assert again.status_code == 409 and "您已经填写过这份问卷" in again.get_data(as_text=True)
    shown = zhang.get(f"/notices/{notice_id}").get_data(as_text=True)
    assert 'id="answered"' in shown and 'id="acknowledged"' in shown


def test_nobody_else_sees_the_notice_or_its_attachment_and_recipients_see_no_receipts(site):
    notice_id = site[2]
    hu, zhang = _client(site, "hu"), _client(site, "zhang")
    assert hu.get(f"/notices/{notice_id}").status_code == 404
    link = re.search(r'href="(/notices/\d+/files/[^"]+)"', zhang.get(f"/notices/{notice_id}").get_data(as_text=True))
    download = zhang.get(link.group(1))
    assert download.status_code == 200 and download.data == b"%PDF-1.4 rules"
    assert hu.get(link.group(1)).status_code == 404
    assert zhang.get(f"/notices/{notice_id}/files/not-an-attachment").status_code == 404
    assert zhang.get(f"/notices/{notice_id}/receipts").status_code == 403
    assert zhang.get(f"/notices/{notice_id}/results").status_code == 404
    assert zhang.get(f"/notices/{notice_id}/results.xlsx").status_code == 404
    assert _post(zhang, f"/notices/{notice_id}/remind").status_code == 403
    assert zhang.get("/notices/all").status_code == 403
    root = _client(site, "root")
    assert root.get(f"/notices/{notice_id}/receipts").status_code == 200
    assert "新考勤制度" in root.get("/notices/all").get_data(as_text=True)
    assert "/notices/all" in root.get("/admin/").get_data(as_text=True)


def test_the_sender_sees_receipts_results_and_the_export_matching_sql(site):
    _app, sessions, notice_id = site
    li = _client(site, "li")
    receipts_page = li.get(f"/notices/{notice_id}/receipts").get_data(as_text=True)
    with sessions() as session:
        total, read = session.execute(text("SELECT count(*), count(read_at) FROM notice_recipient "
                                           "WHERE notice_id = :n"), {"n": notice_id}).one()
    assert f'<dt>接收人数</dt><dd>{total}</dd>' in receipts_page
    assert f"<dt>已读</dt><dd>{read} ({round(100 * read / total, 1)}%)</dd>" in receipts_page
    assert 'id="read-by-department"' in receipts_page and "王五" in receipts_page  # wang has not read it
    results = li.get(f"/notices/{notice_id}/results").get_data(as_text=True)
    with sessions() as session:
        chosen = session.execute(text("SELECT count(*) FROM survey_answer WHERE question = 'q1' AND choice = '清楚'"
                                      )).scalar()
    assert f'<td data-value="{chosen}">{chosen}</td>' in results and 'id="chart-q1"' in results
    export = li.get(f"/notices/{notice_id}/results.xlsx")
    assert export.status_code == 200
    book = load_workbook(io.BytesIO(export.data))
    assert book.active.title == "汇总"


def test_remind_the_unread_is_throttled_with_a_message(site):
    notice_id = site[2]
    li = _client(site, "li")
    assert _post(li, f"/notices/{notice_id}/remind").status_code == 302
    site[1]  # the job runs in the background; the throttle counts from the request
    again = _post(li, f"/notices/{notice_id}/remind")
    body = again.get_data(as_text=True)
    assert again.status_code == 409 and ("正在发送" in body or "一小时内" in body)


def _chart(page: str, chart_id: str) -> dict[str, list[str]]:
    """The chart table's rows: label -> the values of its series (data-value attributes)."""
    figure = page.split(f'id="{chart_id}"', 1)[1].split("</figure>", 1)[0]
    rows = re.findall(r'<tr><th scope="row">(.*?)</th>(.*?)</tr>', figure, re.S)
    return {label: re.findall(r'data-value="([^"]*)"', cells) for label, cells in rows}


def test_every_chart_number_is_the_sql_count(site):
    _app, sessions, notice_id = site
    li = _client(site, "li")
    receipts_chart = _chart(li.get(f"/notices/{notice_id}/receipts").get_data(as_text=True), "read-by-department")
    with sessions() as session:
        for name, values in receipts_chart.items():
            total, read, acked = session.execute(text(
                "SELECT count(*), count(r.read_at), count(r.acknowledged_at) FROM notice_recipient r "
                "JOIN department d ON d.id = r.department_id WHERE r.notice_id = :n AND d.path LIKE "
                "(SELECT path FROM department WHERE name = :name) || '%'"), {"n": notice_id, "name": name}).one()
            assert values == [str(round(100 * read / total, 1)), str(round(100 * acked / total, 1))]
        assert set(receipts_chart) == {"公司", "研发部"}
    results = li.get(f"/notices/{notice_id}/results").get_data(as_text=True)
    q1 = _chart(results, "chart-q1")
    with sessions() as session:
        answered = session.execute(text("SELECT count(DISTINCT response_id) FROM survey_answer "
                                        "WHERE question = 'q1'")).scalar()
        for option, (count, pct) in q1.items():
            sql = session.execute(text("SELECT count(*) FROM survey_answer WHERE question = 'q1' AND choice = :c"),
                                  {"c": option}).scalar()
            assert (int(count), float(pct)) == (sql, round(100 * sql / answered, 1) if answered else 0.0)
    assert set(q1) == {"清楚", "不清楚"}


def test_a_notice_that_cannot_be_sent_is_explained_on_the_request_in_the_readers_language(site):
    _app, sessions, _notice_id = site
    result = runtime.start_instance(sessions, "policy_notice", {
        "title": "x", "body": "y", "people": ["zhang"], "ack_required": False,
        "questions": [{"question": "q", "kind": "single", "options": "only one"}]}, user="li")
    page = _client(site, "li").get(f"/instances/{result.instance_id}").get_data(as_text=True)
    assert "通知未能发出" in page and "第 1 题至少需要两个选项" in page and 'id="sent-notice"' not in page
    sent = runtime.start_instance(sessions, "policy_notice", {"title": "x", "body": "y", "people": ["zhang"],
                                                             "ack_required": False}, user="li")
    assert 'id="sent-notice"' in _client(site, "li").get(f"/instances/{sent.instance_id}").get_data(as_text=True)
