"""The training pages with Flask's test client: HR saves a course (a bad quiz is refused with what was
typed kept), adds a material and assigns it; a person takes the quiz (no answer key before submitting,
the graded review after), downloads the certificate; HR's score table with its charts and export.
One app and database for the module."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook

from engine.data import db
from engine.data.models import Department, PersonRole, Role, utcnow
from engine.packages import deployment as packages
from engine.people import accounts
from web import create_app

from .conftest import PASSWORD, csrf_token, sign_in

ROOT = Path(__file__).resolve().parents[2]
QUIZ = """- name: q1
  kind: single
  question: {zh: "密码最少几位？", en: "Minimum password length?"}
  options: ["6", "8", "12"]
  answer: "12"
  points: 50
- name: q2
  kind: true_false
  question: {zh: 可以共享账号, en: Accounts may be shared}
  answer: false
  points: 50
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory, sqlite_template):
    folder = tmp_path_factory.mktemp("training_pages")
    shutil.copy(sqlite_template, folder / "liaison.db")
    url = f"sqlite:///{folder / 'liaison.db'}"
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(ROOT / "processes" / "training_assessment"), "admin")
        dept = Department(code="RD", name="研发部", name_en="R&D", path="/1/")
        session.add(dept)
        session.flush()
        people = {name: accounts.create_person_account(session, name, zh, PASSWORD, utcnow(), name_en=en)
                  for name, zh, en in (("hu", "胡人事", "Hu"), ("zhang", "张三", "Zhang San"), ("wang", "王五", "Wang"))}
        for person in people.values():
            person.department_id = dept.id
        roles = {key: Role(key=key, name=name) for key, name in (("hr", "人事"), ("process_owners", "流程管理员"))}
        session.add_all(roles.values())
        session.flush()
        session.add(PersonRole(person_id=people["hu"].id, role_id=roles["hr"].id))
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "test",
                      "LIAISON_UPLOAD_DIR": str(folder / "uploads")})
    yield app, sessions
    engine.dispose()


def _client(app, username: str):
    client = app.test_client()
    assert sign_in(client, username).status_code in (302, 303)
    return client


@pytest.fixture(scope="module")
def course(site):
    """HR saves a course (first with a broken quiz), with one material file; assigns it to zhang."""
    app, _ = site
    hr = _client(app, "hu")
    form = {"title": "信息安全培训", "title_en": "Information security basics", "quiz": QUIZ.replace('"12"\n', '"7"\n'),
            "links": "Policy | https://intranet.example/policy", "pass_mark": "80", "attempt_limit": "2",
            "due_days": "14", "grant_role": "process_owners", "csrf_token": csrf_token(hr, "/training/admin/new")}
    refused = hr.post("/training/admin/new?lang=en", data=form)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "answer `7` is not one of the options" in page and "Information security basics" in page
    saved = hr.post("/training/admin/new", data={**form, "quiz": QUIZ,
                                                 "material": (io.BytesIO(b"read me"), "policy.txt")},
                    content_type="multipart/form-data")
    assert saved.status_code == 303
    course_id = int(re.search(r"/training/admin/(\d+)/assign", saved.headers["Location"]).group(1))
    unknown = hr.post(f"/training/admin/{course_id}/assign?lang=zh",
                      data={"usernames": "zhang ghost", "csrf_token": csrf_token(hr, "/training/admin/")})
    assert unknown.status_code == 422 and "没有在职人员的用户名是 ghost" in unknown.get_data(as_text=True)
    assert "zhang ghost" in unknown.get_data(as_text=True)  # what was typed is still there
    assigned = hr.post(f"/training/admin/{course_id}/assign?lang=en",
                       data={"usernames": "zhang", "csrf_token": csrf_token(hr, "/training/admin/")})
    assert "Assigned to 1 people" in assigned.get_data(as_text=True)
    return course_id


def test_the_quiz_hides_the_key_until_submitted_and_then_shows_the_review(site, course):
    app, _ = site
    zhang = _client(app, "zhang")
    mine = zhang.get("/training/").get_data(as_text=True)
    link = re.search(r'href="(/training/(\d+))"', mine)
    page = zhang.get(link.group(1)).get_data(as_text=True)
    assert 'name="q1"' in page and "policy.txt" in page and "answer" not in page.lower().replace(
        "submit answers", "").replace("提交答案", "")
    material = re.search(r'href="(/training/courses/\d+/materials/\w+)"', page).group(1)
    assert zhang.get(material).data == b"read me"
    done = zhang.post(link.group(1) + "?lang=en", data={"q1": "12", "q2": "false",
                                                        "csrf_token": csrf_token(zhang, link.group(1))})
    result = done.get_data(as_text=True)
    assert "Attempt 1: 100.0 points" in result and "Correct answer" in result
    pdf = re.search(r'href="(/training/certificates/\d+\.pdf)"', result).group(1)
    assert zhang.get(pdf).headers["Content-Type"] == "application/pdf"
    wang = _client(app, "wang")
    assert wang.get(pdf).status_code == 404 and wang.get(material).status_code == 404
    assert wang.get(link.group(1)).status_code == 404
    again = zhang.post(link.group(1) + "?lang=en", data={"q1": "6", "csrf_token": csrf_token(zhang, link.group(1))})
    assert again.status_code == 409 and "already passed" in again.get_data(as_text=True)


def test_the_numbers_of_a_row_say_what_they_are_where_the_header_is_hidden(site, course):
    """On a phone a table's header row is hidden: the person's list and HR's score table name each number."""
    app, _ = site
    mine = _client(app, "zhang").get("/training/?lang=zh").get_data(as_text=True)
    for label in ("截止时间", "考试次数", "最高分", "结果"):
        assert f'<span class="cell-label">{label}: </span>' in mine, label
    scores = _client(app, "hu").get(f"/training/admin/scores?course={course}&lang=en").get_data(as_text=True)
    for label in ("Best score", "Last score", "Attempts", "Date"):
        assert f'<span class="cell-label">{label}: </span>' in scores, label


def test_hr_sees_the_score_table_with_charts_and_exports_it(site, course):
    app, _ = site
    hr = _client(app, "hu")
    page = hr.get(f"/training/admin/scores?course={course}&lang=zh").get_data(as_text=True)
    assert 'id="training-distribution"' in page and 'id="training-questions"' in page
    assert "张三" in page and "zhang" not in re.sub(r'data-person="zhang"', "", page)
    exported = hr.get(f"/training/admin/scores.xlsx?course={course}")
    book = load_workbook(io.BytesIO(exported.data))
    assert book.active["A2"].value == "张三"
    assert exported.headers["Content-Disposition"] == (  # the page's title as the file's name, ASCII for old clients
        "attachment; filename=\"training-scores.xlsx\"; filename*=UTF-8''%E8%80%83%E6%A0%B8%E6%88%90%E7%BB%A9%E7%BB%9F%E8%AE%A1%E8%A1%A8.xlsx")
    certificate = re.search(r'href="(/training/certificates/\d+\.pdf)"', page).group(1)
    assert hr.get(certificate).headers["Content-Type"] == "application/pdf"  # HR downloads it too
    assert "培训管理" in hr.get("/?lang=zh").get_data(as_text=True)


def test_the_exported_date_is_a_date_cell_in_the_readers_time_zone(site, course):
    """The page shows the last attempt in the reader's zone (Asia/Shanghai here); the export's date is that
    same moment as a date-time cell (not UTC's day as text), and scores and attempts are numbers."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from sqlalchemy import func, select

    from engine.data.training_models import TrainingAttempt

    app, sessions = site
    with sessions() as session:
        moment = session.scalar(select(func.max(TrainingAttempt.submitted_at)).where(
            TrainingAttempt.course_id == course, TrainingAttempt.username == "zhang"))
    local = moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    book = load_workbook(io.BytesIO(_client(app, "hu").get(f"/training/admin/scores.xlsx?course={course}").data))
    name, _, _, best, last, attempts, _, when = next(r for r in book.active.iter_rows(min_row=2, values_only=True)
                                                    if r[0] == "张三")
    assert isinstance(when, datetime) and when == local.replace(tzinfo=None, second=0, microsecond=0)
    assert book.active["H2"].number_format == "yyyy-mm-dd hh:mm"
    assert (best, last, attempts) == (100, 100, 1) and all(isinstance(v, int | float) for v in (best, last, attempts))


def test_people_outside_hr_cannot_open_the_admin_pages(site, course):
    app, _ = site
    zhang = _client(app, "zhang")
    for path in ("/training/admin/", "/training/admin/scores", "/training/admin/scores.xlsx",
                 f"/training/admin/{course}/assign"):
        assert zhang.get(path).status_code == 403


def test_editing_a_course_shows_its_quiz_as_yaml_and_saves_it_back(site, course):
    import html

    app, _ = site
    hr = _client(app, "hu")
    page = hr.get(f"/training/admin/{course}/edit").get_data(as_text=True)
    quiz = html.unescape(re.search(r'<textarea name="quiz"[^>]*>(.*?)</textarea>', page, re.S).group(1))
    assert "name: q1" in quiz and "answer: '12'" in quiz
    form = {"title": "信息安全培训（2027）", "title_en": "Information security basics", "quiz": quiz,
            "pass_mark": "80", "attempt_limit": "2", "due_days": "14", "grant_role": "process_owners",
            "materials": re.findall(r'name="materials" value="(\w+)"', page),
            "csrf_token": csrf_token(hr, f"/training/admin/{course}/edit")}
    assert hr.post(f"/training/admin/{course}/edit", data=form).status_code == 303
    assert "信息安全培训（2027）" in hr.get("/training/admin/").get_data(as_text=True)
