"""Admin pages: who may see them, people scoped to an admin's departments, org import preview then apply."""

from __future__ import annotations

import io
import re
import time

from sqlalchemy import func, select

from engine.data.models import Person

from .conftest import csrf_token, sign_in

GOOD = "用户名,姓名,部门,直属上级\nchen,陈一,公司/销售部,\nzhou,周二,公司/销售部,chen\n"
BAD = "用户名,姓名,直属上级\nchen,陈一,nobody\n"


def _upload(client, text: str, name: str = "org.csv"):
    return client.post("/admin/org-import", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, "/admin/org-import"), "file": (io.BytesIO(text.encode()), name)})


def _people(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Person))


def test_an_employee_gets_403_on_every_admin_page(app, people):
    client = app.test_client()
    sign_in(client, "zhang")
    assert client.get("/admin/").status_code == 403
    assert client.get("/admin/org-import").status_code == 403
    assert client.post("/admin/org-import/apply", data={"csrf_token": csrf_token(client, "/password")}
                       ).status_code == 403


def test_a_department_admin_sees_their_departments_people_only(app, people, sessions):
    with sessions() as session, session.begin():
        session.get(Person, people["zhang"]).department_id = people["east"]   # inside li's sales subtree
    client = app.test_client()
    sign_in(client, "li")
    page = client.get("/admin/").get_data(as_text=True)
    assert 'data-person="zhang"' in page and 'data-person="root"' not in page
    assert client.get("/admin/org-import").status_code == 403              # import: super admins only


def test_org_import_shows_row_errors_and_writes_nothing(app, people, sessions):
    client = app.test_client()
    sign_in(client, "root")
    before = _people(sessions)
    response = _upload(client, BAD)
    assert response.status_code == 422
    assert "nobody" in response.get_data(as_text=True)
    assert _people(sessions) == before


def test_org_import_preview_then_apply(app, people, sessions):
    client = app.test_client()
    sign_in(client, "root")
    before = _people(sessions)
    preview = _upload(client, GOOD)
    assert preview.status_code == 200 and _people(sessions) == before     # a dry run writes nothing
    job_id = re.search(r'name="job_id" value="(\d+)"', preview.get_data(as_text=True)).group(1)
    applied = client.post("/admin/org-import/apply", data={"csrf_token": csrf_token(client, "/admin/"),
                                                           "job_id": job_id})
    assert applied.status_code == 303 and f"/admin/org-import/progress/{job_id}" in applied.headers["Location"]
    deadline = time.monotonic() + 30                                       # applied in a background thread
    while client.get(f"/admin/org-import/jobs/{job_id}").get_json()["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, "the import job did not finish"
        time.sleep(0.05)
    assert client.get(f"/admin/org-import/jobs/{job_id}").get_json()["status"] == "done"
    assert _people(sessions) == before + 2
    again = client.post("/admin/org-import/apply", data={"csrf_token": csrf_token(client, "/admin/"),
                                                         "job_id": job_id})
    assert again.status_code == 303 and _people(sessions) == before + 2  # a job runs once
    assert client.post("/admin/org-import/apply", data={"csrf_token": csrf_token(client, "/admin/")}
                       ).status_code == 400                                # no job named


def test_org_import_preview_counts_each_row_and_names_what_changes(app, people, sessions):
    client = app.test_client()
    sign_in(client, "root")
    page = _upload(client, GOOD.replace("直属上级\n", "直属上级,备注\n")).get_data(as_text=True)
    assert "built-in method" not in page                                   # counts is a dict: c.update was its method
    assert re.search(r"(Updated|更新): \d+</li>", page)
    assert 'data-row="2"' in page and 'data-row="3"' in page               # every row that creates or changes
    assert "备注" in page                                                  # the unknown column's warning is shown


def test_the_preview_names_changed_fields_as_people_read_them(app, people):
    """An update's changed fields are labels in the page's language ("English name", "英文名称"), never the
    plan's keys (name_en, employee_no)."""
    client = app.test_client()
    sign_in(client, "root")
    text = "username,name,name_en,email,employee_no\nzhang,张三,Zhang S.,zs@example.com,E-7\n"
    pages = {}
    for lang in ("en", "zh"):
        response = client.post(f"/admin/org-import?lang={lang}", content_type="multipart/form-data", data={
            "csrf_token": csrf_token(client, "/admin/org-import"), "file": (io.BytesIO(text.encode()), "org.csv")})
        assert response.status_code == 200
        pages[lang] = re.search(r'<tr data-row="2">(.*?)</tr>', response.get_data(as_text=True), re.S).group(1)
    assert "English name, E-mail, Employee number" in pages["en"] and "name_en" not in pages["en"]
    assert "英文名称、邮箱、工号" in pages["zh"]


def test_the_preview_puts_the_decision_before_the_long_table(app, people):
    """Apply (or, with errors, "nothing was imported") comes right after the counts, before a table that may
    be a thousand rows long; each row names the person before the username."""
    client = app.test_client()
    sign_in(client, "root")
    page = _upload(client, GOOD).get_data(as_text=True)
    assert page.index('action="/admin/org-import/apply"') < page.index('data-row="2"')
    assert re.search(r'<tr data-row="2"><td><span class="cell-label">行 </span>2</td><td>陈一</td><td>chen</td>', page)
    refused = _upload(client, BAD).get_data(as_text=True)
    assert refused.index("请修改文件后重新上传") < refused.index('class="list errors"')
    assert '<tr><td><span class="cell-label">行 </span>2</td>' in refused  # the row number says so on a phone


def test_upload_without_csrf_token_is_refused(app, people):
    client = app.test_client()
    sign_in(client, "root")
    response = client.post("/admin/org-import", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(GOOD.encode()), "org.csv")})
    assert response.status_code == 400


def test_a_persons_page_names_their_roles(app, people):
    client = app.test_client()
    sign_in(client, "root")
    page = client.get(f"/admin/people/{people['zhang']}?lang=zh").get_data(as_text=True)
    assert ">财务</a>" in page                                            # by name, linked to the role's page
