"""The roles page and the admin tiers page: super admins only, every change through a CSRF-checked post."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.data.models import AdminGrant, Role
from engine.people import org

from .conftest import csrf_token, post, sign_in


@pytest.fixture
def root(app, people):
    client = app.test_client()
    assert sign_in(client, "root").status_code == 302
    client.get("/admin/?lang=en")   # the messages below are checked in English
    return client


def _role_id(sessions, key: str) -> int | None:
    with sessions() as session:
        return session.scalar(select(Role.id).where(Role.key == key))


def _flash(client, path: str) -> str:
    return client.get(path).get_data(as_text=True)


@pytest.mark.parametrize("username", ["zhang", "li"])
def test_employees_and_department_admins_get_403(app, people, sessions, username):
    client = app.test_client()
    sign_in(client, username)
    finance = _role_id(sessions, "finance")
    for path in ("/admin/roles", f"/admin/roles/{finance}", "/admin/admins"):
        assert client.get(path).status_code == 403
    for path, data in [("/admin/roles", {"key": "x", "name": "X"}),
                       (f"/admin/roles/{finance}/members", {"username": username}),
                       (f"/admin/roles/{finance}/members/remove", {"username": "zhang"}),
                       (f"/admin/roles/{finance}/rename", {"name": "x"}), (f"/admin/roles/{finance}/delete", {}),
                       ("/admin/admins", {"username": username, "tier": "super"}),
                       ("/admin/admins/1/revoke", {})]:
        assert post(client, path, data).status_code == 403
    with sessions() as session:
        assert not org.is_super_admin(session, username) and org.groups_of(session, "zhang") == ("finance",)


def test_a_department_admin_sees_no_roles_or_admins_link(app, people):
    client = app.test_client()
    sign_in(client, "li")
    page = client.get("/admin/").get_data(as_text=True)
    assert "/admin/roles" not in page and "/admin/admins" not in page


def test_roles_are_listed_created_renamed_and_deleted(root, sessions):
    page = root.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/roles"' in page and 'href="/admin/admins"' in page
    listing = root.get("/admin/roles").get_data(as_text=True)
    assert 'data-role="finance"' in listing and "财务" in listing
    finance = _role_id(sessions, "finance")  # the name leads the row and opens the role; the key comes after it
    assert f'<tr data-role="finance"><td><a href="/admin/roles/{finance}">财务</a></td>' in listing
    created = post(root, "/admin/roles", {"key": "hr", "name": "人事", "name_en": "HR"})
    assert created.status_code == 303
    hr = _role_id(sessions, "hr")
    assert hr is not None and "Role created." in _flash(root, "/admin/roles")
    assert post(root, "/admin/roles", {"key": "hr", "name": "again"}).status_code == 303
    assert "The role key hr is taken." in _flash(root, "/admin/roles")
    post(root, f"/admin/roles/{hr}/rename", {"name": "人力资源", "name_en": "Human resources"})
    assert "人力资源" in root.get(f"/admin/roles/{hr}").get_data(as_text=True)
    post(root, f"/admin/roles/{hr}/delete")
    assert _role_id(sessions, "hr") is None
    assert root.get(f"/admin/roles/{hr}").status_code == 404


def test_members_are_added_and_removed_and_a_used_role_is_kept(root, sessions):
    finance = _role_id(sessions, "finance")
    post(root, f"/admin/roles/{finance}/members", {"username": "li"})
    page = root.get(f"/admin/roles/{finance}").get_data(as_text=True)
    assert 'data-member="li"' in page and 'data-member="zhang"' in page and "李四 added." in page  # by display name
    # the role by its name (the key beside it), each member by name in the page's language, the username below
    assert "<h1>财务 <small" in page and "<title>财务" in page
    assert '<tr data-member="zhang"><td>Zhang San<small>zhang</small></td>' in page
    zh = root.get(f"/admin/roles/{finance}?lang=zh").get_data(as_text=True)
    assert '<tr data-member="zhang"><td>张三<small>zhang</small></td>' in zh and "人员 <input" in zh
    root.get("/admin/?lang=en")  # back to English for the messages below
    post(root, f"/admin/roles/{finance}/members", {"username": "ghost"})
    assert "Nobody has the username ghost." in _flash(root, f"/admin/roles/{finance}")
    post(root, f"/admin/roles/{finance}/delete")
    assert "The role finance has 2 members: remove them first." in _flash(root, "/admin/roles")
    assert _role_id(sessions, "finance") == finance
    post(root, f"/admin/roles/{finance}/members/remove", {"username": "li"})
    with sessions() as session:
        assert org.groups_of(session, "li") == ()


def test_admin_tiers_are_granted_and_revoked_but_not_the_last_super_admin(root, people, sessions):
    page = root.get("/admin/admins").get_data(as_text=True)
    assert 'data-admin="root"' in page and 'data-department="sales"' in page
    post(root, "/admin/admins", {"username": "zhang", "tier": "department", "department": "sales-east"})
    with sessions() as session:
        assert org.admin_departments(session, "zhang") == (people["east"],)
    post(root, "/admin/admins", {"username": "zhang", "tier": "department", "department": "nowhere"})
    assert "No department nowhere." in _flash(root, "/admin/admins")
    with sessions() as session:
        root_grant = session.scalar(select(AdminGrant.id).where(AdminGrant.person_id == people["root"]))
    post(root, f"/admin/admins/{root_grant}/revoke")
    assert "This is the last super admin" in _flash(root, "/admin/admins")
    with sessions() as session:
        assert org.is_super_admin(session, "root")
    post(root, "/admin/admins", {"username": "li", "tier": "super"})
    post(root, f"/admin/admins/{root_grant}/revoke")
    with sessions() as session:
        assert not org.is_super_admin(session, "root") and org.is_super_admin(session, "li")
    assert root.get("/admin/admins").status_code == 403   # the next request knows


def test_messages_are_translated(root, sessions):
    root.post("/language", data={"lang": "zh", "next": "/admin/roles", "csrf_token": csrf_token(root, "/password")})
    post(root, "/admin/roles", {"key": "a b", "name": "x"})
    assert "角色标识不能包含空格" in _flash(root, "/admin/roles")
    page = root.get("/admin/admins").get_data(as_text=True)
    assert "超级管理员" in page and "部门管理员" in page


def test_admins_and_the_admin_index_show_people_by_name_in_the_readers_language(root, people, sessions):
    """Each admin's name leads its row (the username below it), in English on an English page; the grant form
    asks for a person (its picker finds people by name); the admin index lists people the same way."""
    import re

    post(root, "/admin/admins", {"username": "zhang", "tier": "department", "department": "sales-east"})
    page = root.get("/admin/admins?lang=en").get_data(as_text=True)
    row = re.search(r'<tr data-admin="zhang" data-department="sales-east"><td>(.*?)</td>', page).group(1)
    assert row == "Zhang San<small>zhang</small>"
    assert ">Username<" not in page and "Person <input" in page
    zh = root.get("/admin/admins?lang=zh").get_data(as_text=True)
    assert '<tr data-admin="zhang" data-department="sales-east"><td>张三<small>zhang</small>' in zh
    assert "人员 <input" in zh
    index = root.get("/admin/?lang=en").get_data(as_text=True)
    assert re.search(r'<tr data-person="zhang"><td><a href="/admin/people/\d+">Zhang San</a></td>\s*<td>zhang</td>', index)
