"""The project pages with Flask's test client: li creates a project with members from two departments,
adds tasks, a member moves and comments (@mention), attaches and downloads a file; board, list and
calendar agree; the list exports as CSV / XLSX of text cells; and the authorization walk: zhao, no member,
gets 404 from every project URL (pages, posts, exports, files). One app and database for the module."""

from __future__ import annotations

import html
import io
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from engine.data import db
from engine.data.models import Department, Notification, utcnow
from engine.data.project_models import ProjectTask
from engine.packages import deployment as packages
from engine.people import accounts
from web import create_app

from .conftest import PASSWORD, csrf_token, sign_in

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = (("li", "李经理", "Manager Li", "HQ"), ("zhang", "张三", "Zhang San", "MKT"),
          ("wang", "王五", "Wang Wu", "MKT"), ("chen", "陈七", "Chen Qi", "PRD"), ("zhao", "赵六", "Zhao Liu", "OPS"))


def build_site(folder: Path, sqlite_template):
    """A database with the project_task package and five people in four departments; the app on it."""
    shutil.copy(sqlite_template, folder / "liaison.db")
    url = f"sqlite:///{folder / 'liaison.db'}"
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(ROOT / "processes" / "project_task"), "admin")
        departments = {code: Department(code=code, name=zh, name_en=en, path=path) for code, zh, en, path in (
            ("HQ", "总部", "HQ", "/1/"), ("MKT", "市场部", "Marketing", "/1/2/"), ("PRD", "产品部", "Product", "/1/3/"),
            ("OPS", "运营部", "Operations", "/1/4/"))}
        session.add_all(departments.values())
        session.flush()
        for username, zh, en, code in PEOPLE:
            person = accounts.create_person_account(session, username, zh, PASSWORD, utcnow(), name_en=en)
            person.department_id = departments[code].id
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "test",
                      "LIAISON_UPLOAD_DIR": str(folder / "uploads")})
    return app, sessions, engine


@pytest.fixture(scope="module")
def site(tmp_path_factory, sqlite_template):
    app, sessions, engine = build_site(tmp_path_factory.mktemp("projects_pages"), sqlite_template)
    yield app, sessions
    engine.dispose()


def _client(app, username: str):
    client = app.test_client()
    assert sign_in(client, username).status_code in (302, 303)
    return client


def _post(client, path: str, data: dict, **kw):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, "/projects/")}, **kw)


@pytest.fixture(scope="module")
def project(site):
    """li's project: zhang (a person) and the departments MKT and PRD; three tasks."""
    app, sessions = site
    li = _client(app, "li")
    refused = _post(li, "/projects/?lang=en", {"name": "新品发布", "departments": "MKT, NOPE"})
    assert refused.status_code == 422 and "no department has the code `NOPE`" in refused.get_data(as_text=True)
    made = _post(li, "/projects/", {"name": "新品发布", "people": "zhang", "departments": "MKT, PRD",
                                    "visibility": "members"})
    assert made.status_code == 302
    project_id = int(re.search(r"/projects/(\d+)", made.headers["Location"]).group(1))
    due = (datetime.now() + timedelta(days=3)).date()
    for title, owner, days in (("市场调研", "zhang", 3), ("产品定价", "chen", 5), ("发布会筹备", "wang", 10)):
        added = _post(li, f"/projects/{project_id}/tasks", {"title": title, "owner": owner, "labels": "launch",
                                                            "due": (due + timedelta(days=days - 3)).isoformat()})
        assert added.status_code == 302, added.get_data(as_text=True)
    with sessions() as session:
        ids = {t.title: t.id for t in session.scalars(select(ProjectTask).where(ProjectTask.project_id == project_id))}
    return project_id, ids


def test_board_list_and_calendar_agree_after_a_member_moves_a_task(site, project):
    app, _ = site
    project_id, ids = project
    zhang = _client(app, "zhang")
    moved = _post(zhang, f"/projects/tasks/{ids['市场调研']}/move", {"status": "in_progress"})
    assert moved.status_code == 302
    board = zhang.get(f"/projects/{project_id}?view=board").get_data(as_text=True)
    column = board.split('data-status="in_progress"')[1].split("</ul>")[0]
    assert "市场调研" in column and "产品定价" not in column
    listed = zhang.get(f"/projects/{project_id}?view=list&status=in_progress").get_data(as_text=True)
    assert re.findall(r'<tr data-task="(\d+)"', listed) == [str(ids["市场调研"])]
    task = zhang.get(f"/projects/tasks/{ids['市场调研']}").get_data(as_text=True)
    assert 'data-status="in_progress"' in task
    due = datetime.now() + timedelta(days=3)
    calendar = zhang.get(f"/projects/{project_id}?view=calendar&year={due.year}&month={due.month}").get_data(as_text=True)
    day = calendar.split(f'data-day="{due.day}"')[1].split("</td>")[0]
    assert f'data-task="{ids["市场调研"]}"' in day


def test_only_the_owner_collaborators_and_project_owner_move_a_task(site, project):
    app, _ = site
    _, ids = project
    wang = _client(app, "wang")
    refused = _post(wang, f"/projects/tasks/{ids['产品定价']}/move?lang=en", {"status": "done"})
    assert refused.status_code == 403
    assert "only the task's owner" in html.unescape(refused.get_data(as_text=True))


def test_a_mention_notifies_and_a_file_is_attached_and_downloaded(site, project):
    app, sessions = site
    _, ids = project
    zhang = _client(app, "zhang")
    posted = _post(zhang, f"/projects/tasks/{ids['市场调研']}/comments", {"body": "@陈七 请确认定价 <script>x</script>"})
    assert posted.status_code == 302
    page = zhang.get(f"/projects/tasks/{ids['市场调研']}").get_data(as_text=True)
    assert "&lt;script&gt;" in page and "<script>x" not in page  # markdown without raw HTML
    with sessions() as session:
        told = session.scalars(select(Notification).where(Notification.event == "project_mention")).all()
    assert [n.recipient for n in told] == ["chen"]
    uploaded = zhang.post("/files", data={"file": (io.BytesIO(b"survey"), "survey.txt"),
                                          "csrf_token": csrf_token(zhang, "/projects/")},
                          content_type="multipart/form-data")
    assert uploaded.status_code == 201
    upload = uploaded.get_json()
    attached = _post(zhang, f"/projects/tasks/{ids['市场调研']}/files", {"attachments": f'["{upload["id"]}"]'})
    assert attached.status_code == 302
    page = zhang.get(f"/projects/tasks/{ids['市场调研']}").get_data(as_text=True)
    file_url = re.search(r'href="(/projects/files/\d+)"', page).group(1)
    chen = _client(app, "chen")
    assert chen.get(file_url).get_data() == b"survey"
    assert _client(app, "zhao").get(file_url).status_code == 404
    done = _post(zhang, f"/projects/tasks/{ids['市场调研']}/move", {"status": "done"})
    assert done.status_code == 302
    summary = zhang.get(f"/projects/{project[0]}?view=summary").get_data(as_text=True)
    assert re.search(r'data-status="done"><strong>1</strong>', summary)
    assert 'id="burndown"' in summary


def test_the_export_is_text_in_both_formats(site, project):
    app, _ = site
    project_id, _ids = project
    li = _client(app, "li")
    csv_text = li.get(f"/projects/{project_id}/export.csv?lang=en&label=launch").get_data().decode("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("Id,Title,Owner") and "Zhang San" in csv_text
    book = load_workbook(io.BytesIO(li.get(f"/projects/{project_id}/export.xlsx?lang=zh").get_data()))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][1] == "标题" and len(rows) == 4
    assert all(isinstance(v, str) for row in rows for v in row if v is not None)


def test_a_non_member_cannot_see_or_change_anything_by_any_url(site, project):
    app, _ = site
    project_id, ids = project
    zhao = _client(app, "zhao")
    assert "新品发布" not in zhao.get("/projects/").get_data(as_text=True)
    task = ids["产品定价"]
    for path in (f"/projects/{project_id}", f"/projects/{project_id}?view=list", f"/projects/{project_id}?view=calendar",
                 f"/projects/{project_id}?view=summary", f"/projects/{project_id}/export.csv",
                 f"/projects/{project_id}/export.xlsx", f"/projects/tasks/{task}"):
        assert zhao.get(path).status_code == 404, path
    for path, data in ((f"/projects/{project_id}/tasks", {"title": "x", "owner": "zhao"}),
                       (f"/projects/{project_id}/settings", {"archive": "1"}),
                       (f"/projects/tasks/{task}/move", {"status": "done"}),
                       (f"/projects/tasks/{task}/edit", {"title": "x"}),
                       (f"/projects/tasks/{task}/checklist", {"new": "x"}),
                       (f"/projects/tasks/{task}/comments", {"body": "x"}),
                       (f"/projects/tasks/{task}/files", {"attachments": "[]"}),
                       (f"/projects/tasks/{task}/links", {"instance_id": "1"})):
        assert _post(zhao, path, data).status_code == 404, path


def test_member_roles_are_chosen_by_name_and_a_role_makes_its_holders_members(site):
    """The create form lists every role by its name (a checklist, no keys to type); a checked role makes
    its holders members who see the project."""
    from engine.data.models import Person, PersonRole, Role
    app, sessions = site
    with sessions() as session, session.begin():
        role = Role(key="launch_team", name="发布小组", name_en="Launch team")
        session.add(role)
        session.flush()
        zhao = session.scalar(select(Person).where(Person.username == "zhao"))
        session.add(PersonRole(person_id=zhao.id, role_id=role.id))
    li = _client(app, "li")
    page = li.get("/projects/?lang=en").get_data(as_text=True)
    assert 'name="roles" value="launch_team"' in page and "Launch team" in page
    assert "发布小组" in li.get("/projects/?lang=zh").get_data(as_text=True)
    made = _post(li, "/projects/", {"name": "路演", "roles": "launch_team", "visibility": "members"})
    assert made.status_code == 302
    zhao_client = _client(app, "zhao")
    assert zhao_client.get(made.headers["Location"]).status_code == 200
    settings = li.get(made.headers["Location"] + "?view=summary&lang=en").get_data(as_text=True)
    assert 'value="launch_team" checked' in settings
