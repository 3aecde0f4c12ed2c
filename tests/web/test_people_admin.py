"""The admin's people list (`/admin/people`), invitation and reset links, and the link's page
(issue 11 items 15 and 16)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from engine.data.models import AccountToken, Department, Person
from engine.people import accounts

from .conftest import PASSWORD, csrf_token, post, sign_in

LINK = re.compile(r'value="(https?://[^"]+/account/password/([^"]+))"')


@pytest.fixture
def staff(sessions, people):
    """Besides root, zhang and li (admin of sales): wang in sales-east, imported (no password);
    zhao in no department, with a password."""
    with sessions() as s, s.begin():
        wang = accounts.create_person_account(s, "wang", "王五", None, department_id=people["east"],
                                              name_en="Wang Wu")
        zhao = accounts.create_person_account(s, "zhao", "赵六", PASSWORD)
        return {**people, "wang": wang.id, "zhao": zhao.id}


def _issue(client, person_id):
    page = post(client, f"/admin/people/{person_id}/link", token_from="/admin/people/")
    assert page.status_code == 200
    match = LINK.search(page.get_data(as_text=True))
    assert match, "the page shows the link"
    return page, match.group(1), match.group(2)


def test_the_admin_index_links_the_people_list_and_it_shows_names_not_usernames_first(app, staff):
    admin = app.test_client()
    sign_in(admin, "root")
    assert 'href="/admin/people/"' in admin.get("/admin/").get_data(as_text=True)
    page = admin.get("/admin/people/").get_data(as_text=True)
    for text in ("王五", "华东销售", "赵六", "最近登录", "尚未邀请或未设置密码"):
        assert text in page
    assert "Wang Wu" in admin.get("/admin/people/?lang=en").get_data(as_text=True)
    assert "赵六" not in admin.get("/admin/people/?q=王&lang=zh").get_data(as_text=True)
    assert admin.get("/admin/people/?page=99999999999999999999").status_code == 200


def test_a_department_admin_sees_and_changes_only_their_subtree(app, staff):
    li = app.test_client()
    sign_in(li, "li")
    page = li.get("/admin/people/").get_data(as_text=True)
    assert "王五" in page and "赵六" not in page and "张三" not in page
    assert li.get(f"/admin/people/{staff['zhao']}").status_code == 404
    assert post(li, f"/admin/people/{staff['zhao']}/link", token_from="/admin/people/").status_code == 404
    assert post(li, f"/admin/people/{staff['zhao']}/active", {"active": "0"},
                token_from="/admin/people/").status_code == 404
    zhang = app.test_client()
    sign_in(zhang, "zhang")
    assert zhang.get("/admin/people/").status_code == 403


def test_an_invited_person_sets_a_password_once_through_the_link(app, staff, sessions):
    li = app.test_client()
    sign_in(li, "li")
    page, link, token = _issue(li, staff["wang"])
    text = page.get_data(as_text=True)
    assert "没有电子邮箱" in text and "王五" in text and page.headers["Cache-Control"] == "no-store"
    with sessions() as s:
        assert s.scalars(select(AccountToken.token_hash)).one() != token
    assert li.get(f"/admin/people/{staff['wang']}").get_data(as_text=True).count(token) == 0  # shown once

    wang = app.test_client()
    form = wang.get(f"/account/password/{token}")
    assert form.status_code == 200 and "设置密码" in form.get_data(as_text=True)
    weak = wang.post(f"/account/password/{token}", data={"new_password": "short", "confirm": "short",
                                                         "csrf_token": csrf_token(wang, f"/account/password/{token}")})
    assert weak.status_code == 200 and "密码至少需要 10 个字符。" in weak.get_data(as_text=True)
    new = "my own long secret"
    done = wang.post(f"/account/password/{token}", data={"new_password": new, "confirm": new,
                                                         "csrf_token": csrf_token(wang, f"/account/password/{token}")})
    assert done.status_code == 303 and done.headers["Location"] == "/login"
    assert sign_in(wang, "wang", new).status_code == 302
    again = app.test_client().get(f"/account/password/{token}")
    assert again.status_code == 410 and "此链接已使用过" in again.get_data(as_text=True)
    assert app.test_client().get("/account/password/made-up").status_code == 404
    assert "最近登录" in li.get("/admin/people/").get_data(as_text=True)


def test_an_expired_link_says_so(app, staff, sessions):
    root = app.test_client()
    sign_in(root, "root")
    _page, _link, token = _issue(root, staff["zhao"])
    with sessions() as s, s.begin():
        s.execute(update(AccountToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    expired = app.test_client().get(f"/account/password/{token}")
    assert expired.status_code == 410 and "此链接已过期" in expired.get_data(as_text=True)


def test_a_reset_link_with_an_email_is_sent_and_ends_the_persons_sessions(app, staff, sessions):
    with sessions() as s, s.begin():
        s.execute(update(Person).where(Person.id == staff["zhao"]).values(email="zhao@example.com"))
    zhao = app.test_client()
    sign_in(zhao, "zhao")
    root = app.test_client()
    sign_in(root, "root")
    page, _link, token = _issue(root, staff["zhao"])
    assert "zhao@example.com" in page.get_data(as_text=True) and "重置" in page.get_data(as_text=True)
    assert zhao.get("/password").status_code == 200  # the link alone changes nothing
    reader = app.test_client()
    new = "my own long secret"
    reader.post(f"/account/password/{token}", data={"new_password": new, "confirm": new,
                                                     "csrf_token": csrf_token(reader, f"/account/password/{token}")})
    assert zhao.get("/password").status_code == 302


def test_deactivating_ends_the_persons_sessions_and_moves_and_managers_are_saved(app, staff, sessions):
    zhang = app.test_client()
    sign_in(zhang, "zhang")
    root = app.test_client()
    sign_in(root, "root")
    token = "/admin/people/"
    assert post(root, f"/admin/people/{staff['zhang']}/active", {"active": "0"}, token).status_code == 303
    assert zhang.get("/password").status_code == 302
    assert "此账号已停用" in sign_in(zhang, "zhang").get_data(as_text=True)
    assert "已停用" in root.get("/admin/people/").get_data(as_text=True)
    post(root, f"/admin/people/{staff['zhang']}/active", {"active": "1"}, token)
    assert sign_in(app.test_client(), "zhang").status_code == 302
    refused = post(root, f"/admin/people/{staff['root']}/active", {"active": "0"}, token)
    assert "不能停用自己" in root.get(refused.headers["Location"]).get_data(as_text=True)

    post(root, f"/admin/people/{staff['zhang']}/department", {"department": "sales-east"}, token)
    post(root, f"/admin/people/{staff['zhang']}/manager", {"manager": "wang"}, token)
    with sessions() as s:
        person = s.get(Person, staff["zhang"])
        assert person.department_id == staff["east"] and person.manager_id == staff["wang"]
    page = root.get(f"/admin/people/{staff['zhang']}").get_data(as_text=True)
    assert 'data-picker="people"' in page and 'data-picker="departments"' in page and "王五" in page
    loop = post(root, f"/admin/people/{staff['wang']}/manager", {"manager": "zhang"}, token)
    assert "张三 向 王五 汇报" in root.get(loop.headers["Location"]).get_data(as_text=True)
    li = app.test_client()
    sign_in(li, "li")
    with sessions() as s:
        finance = s.scalar(select(Department.id).where(Department.code == "company"))
    assert finance
    moved = post(li, f"/admin/people/{staff['wang']}/department", {"department": "company"}, token)
    assert "您不能" in li.get(moved.headers["Location"]).get_data(as_text=True)


def test_every_form_on_the_people_pages_needs_its_csrf_token(app, staff):
    root = app.test_client()
    sign_in(root, "root")
    for action, data in (("link", {}), ("active", {"active": "0"}), ("department", {"department": "sales"}),
                         ("manager", {"manager": "li"})):
        assert root.post(f"/admin/people/{staff['zhang']}/{action}", data=data).status_code == 400
    assert app.test_client().post("/account/password/x", data={"new_password": "a", "confirm": "a"}).status_code in (400, 404)


def test_the_departments_page_shows_the_admins_tree_with_heads_and_people(app, staff, sessions):
    """A super admin sees every department in tree order (heads by name, active people in the department and
    with those below); a department admin their subtree only; an employee gets 403."""
    with sessions() as s, s.begin():
        s.execute(update(Department).where(Department.code == "sales-east").values(head_id=staff["wang"],
                                                                                   name_en="East sales"))
    root = app.test_client()
    sign_in(root, "root")
    assert 'href="/admin/departments"' in root.get("/admin/").get_data(as_text=True)
    page = root.get("/admin/departments?lang=en").get_data(as_text=True)
    label = r'<span class="cell-label">[^<]+</span>'  # the column's name, shown on a phone where the header is hidden
    rows = re.findall(r'<tr data-department="([^"]+)"><td style="padding-left: ([\d.]+)rem">([^<]+)(?:<small>[^<]*</small>)?'
                      rf'</td>\s*<td>{label}([^<]+)</td>\s*<td class="num">{label}(\d+)</td>\s*'
                      rf'<td class="num">{label}(\d+)</td>', page)
    assert [(code, pad, name, head, n, below) for code, pad, name, head, n, below in rows] == [
        ("company", "0.5", "公司", "—", "0", "1"), ("sales", "1.75", "销售部", "—", "0", "1"),
        ("sales-east", "3.0", "East sales", "Wang Wu", "1", "1")]
    zh = root.get("/admin/departments?lang=zh").get_data(as_text=True)
    assert "华东销售" in zh and "王五" in zh and "含下级部门" in zh
    li = app.test_client()
    sign_in(li, "li")
    mine = li.get("/admin/departments").get_data(as_text=True)
    assert 'data-department="sales"' in mine and 'data-department="company"' not in mine
    assert re.search(r'data-department="sales"><td style="padding-left: 0.5rem">', mine)  # their tree's top
    zhang = app.test_client()
    sign_in(zhang, "zhang")
    assert zhang.get("/admin/departments").status_code == 403


def test_the_admin_index_groups_its_pages_as_tiles_before_the_people_list(app, staff):
    """Two groups of tiles (people and organization; processes and services), then the people list; a
    department admin's tiles hold only what their tier opens."""
    root = app.test_client()
    sign_in(root, "root")
    page = root.get("/admin/?lang=zh").get_data(as_text=True)
    organization = page[page.index('id="organization"'):page.index('id="services"')]
    for href in ("/admin/people/", "/admin/departments", "/admin/org-import", "/admin/roles", "/admin/admins",
                 "/admin/processes"):
        assert f'<li><a href="{href}">' in organization, href
    assert "人员与组织" in page and "流程与服务" in page
    assert page.index('id="services"') < page.index('id="people-list"') < page.index('data-person="wang"')
    assert '<span class="cell-label">在职: </span>' in page  # "yes" says what it answers on a phone
    li = app.test_client()
    sign_in(li, "li")
    mine = li.get("/admin/").get_data(as_text=True)
    assert '<li><a href="/admin/departments">' in mine and "/admin/org-import" not in mine and "/admin/calendar" not in mine
