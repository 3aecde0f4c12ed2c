"""Roles, their members and admin tiers: super admins only, the refusals, the last super admin."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from engine.data.models import AdminGrant, Department, Person, Role
from engine.errors import NotFoundError, NotPermittedError
from engine.people import accounts, org, roles
from engine.people.roles import RoleError

PASSWORD = "correct horse battery"


@pytest.fixture
def world(sessions):
    """root: super admin; li: admin of sales; zhang: employee with the role finance."""
    with sessions() as session, session.begin():
        root = accounts.create_admin(session, "root", PASSWORD, "管理员")
        li = accounts.create_person_account(session, "li", "李四")
        zhang = accounts.create_person_account(session, "zhang", "张三")
        sales = Department(code="sales", name="销售部", path="")
        session.add(sales)
        session.flush()
        sales.path = f"/{sales.id}/"
        session.add(AdminGrant(person_id=li.id, department_id=sales.id))
        ids = {"root": root.id, "li": li.id, "zhang": zhang.id, "sales": sales.id}
    user = _users(sessions, ids)
    with sessions() as session, session.begin():
        ids["finance"] = roles.create_role(session, user["root"], "finance", "财务", "Finance")
        roles.add_member(session, user["root"], ids["finance"], "zhang")
    return ids, _users(sessions, ids)


def _users(sessions, ids):
    with sessions() as session:
        return {name: accounts.load_session_user(session, ids[name]) for name in ("root", "li", "zhang")}


def _do(sessions, function, *args):
    with sessions() as session, session.begin():
        return function(session, *args)


def test_list_create_rename_roles(sessions, world):
    ids, user = world
    root = user["root"]
    hr = _do(sessions, roles.create_role, root, " hr ", "人事", "")
    listed = _do(sessions, roles.list_roles, root)
    assert [(r.key, r.name, r.name_en, r.members) for r in listed] == [("finance", "财务", "Finance", 1),
                                                                        ("hr", "人事", None, 0)]
    _do(sessions, roles.rename_role, root, hr, "人力资源", "Human resources")
    role, members = _do(sessions, roles.get_role, root, hr)
    assert (role.key, role.name, role.name_en, members) == ("hr", "人力资源", "Human resources", [])
    role, members = _do(sessions, roles.get_role, root, ids["finance"])
    assert [(m.username, m.name, m.active) for m in members] == [("zhang", "张三", True)]


@pytest.mark.parametrize(("key", "name", "code"), [
    ("finance", "x", "key_taken"), ("", "x", "bad_key"), ("a b", "x", "bad_key_chars"),
    ("a,b", "x", "bad_key_chars"), ("a、b", "x", "bad_key_chars"), ("k" * 101, "x", "bad_key"),
    ("ok", " ", "no_name"), ("ok", "n" * 201, "long_name")])
def test_create_role_refusals(sessions, world, key, name, code):
    _ids, user = world
    with pytest.raises(RoleError) as refused:
        _do(sessions, roles.create_role, user["root"], key, name)
    assert refused.value.code == code


def test_members_are_added_and_removed_by_username(sessions, world):
    ids, user = world
    root = user["root"]
    _do(sessions, roles.add_member, root, ids["finance"], " li ")
    with sessions() as session:
        assert org.groups_of(session, "li") == ("finance",)
    with pytest.raises(RoleError) as twice:
        _do(sessions, roles.add_member, root, ids["finance"], "li")
    assert twice.value.code == "already_member" and "li" in str(twice.value)
    with pytest.raises(RoleError) as nobody:
        _do(sessions, roles.add_member, root, ids["finance"], "ghost")
    assert nobody.value.code == "no_person" and nobody.value.params == {"username": "ghost"}
    _do(sessions, roles.remove_member, root, ids["finance"], "li")
    with sessions() as session:
        assert org.groups_of(session, "li") == ()
    with pytest.raises(RoleError) as not_member:
        _do(sessions, roles.remove_member, root, ids["finance"], "li")
    assert not_member.value.code == "not_member"
    with pytest.raises(NotFoundError):
        _do(sessions, roles.add_member, root, 9999, "li")


def test_a_role_with_members_is_not_deleted(sessions, world):
    ids, user = world
    root = user["root"]
    _do(sessions, roles.add_member, root, ids["finance"], "li")
    with pytest.raises(RoleError) as in_use:
        _do(sessions, roles.delete_role, root, ids["finance"])
    assert in_use.value.code == "in_use" and in_use.value.params["n"] == 2
    assert "2 members" in str(in_use.value)
    for username in ("li", "zhang"):
        _do(sessions, roles.remove_member, root, ids["finance"], username)
    _do(sessions, roles.delete_role, root, ids["finance"])
    with sessions() as session:
        assert session.scalar(select(Role.id)) is None
    with pytest.raises(NotFoundError):
        _do(sessions, roles.delete_role, root, ids["finance"])


@pytest.mark.parametrize("who", ["li", "zhang"])
def test_only_super_admins_manage_roles_and_admins(sessions, world, who):
    ids, user = world
    acting = user[who]   # li is a department admin: roles are company-wide, so not theirs either
    for function, args in [(roles.list_roles, ()), (roles.get_role, (ids["finance"],)),
                           (roles.create_role, ("x", "X")), (roles.rename_role, (ids["finance"], "x")),
                           (roles.delete_role, (ids["finance"],)),
                           (roles.add_member, (ids["finance"], "li")),
                           (roles.remove_member, (ids["finance"], "zhang")), (roles.list_admins, ()),
                           (roles.grant_admin, ("zhang", None)), (roles.revoke_admin, (1,))]:
        with pytest.raises(NotPermittedError):
            _do(sessions, function, acting, *args)


def test_admin_tiers_are_listed_granted_and_revoked(sessions, world):
    ids, user = world
    root = user["root"]
    tiers = _do(sessions, roles.list_admins, root)
    assert [a.username for a in tiers.super_admins] == ["root"]
    assert [(a.username, a.department_code, a.department_name) for a in tiers.department_admins] == [
        ("li", "sales", "销售部")]
    grant = _do(sessions, roles.grant_admin, root, "zhang", "sales")
    with sessions() as session:
        assert org.admin_departments(session, "zhang") == (ids["sales"],)
    with pytest.raises(RoleError) as twice:
        _do(sessions, roles.grant_admin, root, "zhang", ids["sales"])
    assert twice.value.code == "already_admin"
    with pytest.raises(RoleError) as unknown:
        _do(sessions, roles.grant_admin, root, "zhang", "nowhere")
    assert unknown.value.code == "no_department"
    _do(sessions, roles.revoke_admin, root, grant)
    with sessions() as session:
        assert org.admin_departments(session, "zhang") == ()
    _do(sessions, roles.grant_admin, root, "zhang", None)
    with sessions() as session:
        assert org.is_super_admin(session, "zhang")
    with pytest.raises(NotFoundError):
        _do(sessions, roles.revoke_admin, root, 9999)


def test_the_last_super_admin_cannot_be_revoked(sessions, world):
    ids, user = world
    root = user["root"]
    root_grant = _do(sessions, roles.list_admins, root).super_admins[0].grant_id
    with pytest.raises(RoleError) as last:
        _do(sessions, roles.revoke_admin, root, root_grant)
    assert last.value.code == "last_super_admin" and "last super admin" in str(last.value)
    zhang_grant = _do(sessions, roles.grant_admin, root, "zhang", None)
    with sessions() as session, session.begin():   # an inactive super admin does not count
        session.execute(update(Person).where(Person.id == ids["zhang"]).values(active=False))
    with pytest.raises(RoleError):
        _do(sessions, roles.revoke_admin, root, root_grant)
    with sessions() as session, session.begin():
        session.execute(update(Person).where(Person.id == ids["zhang"]).values(active=True))
    _do(sessions, roles.revoke_admin, root, root_grant)   # zhang remains
    zhang = _users(sessions, ids)["zhang"]
    with pytest.raises(RoleError):
        _do(sessions, roles.revoke_admin, zhang, zhang_grant)
    with sessions() as session:
        assert not org.is_super_admin(session, "root") and org.is_super_admin(session, "zhang")


def test_two_super_admins_revoking_each_other_at_once_leave_one(postgres_url):
    """PostgreSQL, READ COMMITTED: the FOR UPDATE on the super admin grants makes the second wait and count again."""
    import threading

    from engine.data import db

    engine = db.make_engine(postgres_url)
    sessions = db.make_session_factory(engine)
    try:
        with sessions() as session, session.begin():
            a = accounts.create_admin(session, "a", PASSWORD, "A")
            b = accounts.create_admin(session, "b", PASSWORD, "B")
        user = {p.username: p for p in (_load(sessions, a.id), _load(sessions, b.id))}
        grants = _do(sessions, roles.list_admins, user["a"]).super_admins
        grant_of = {g.username: g.grant_id for g in grants}
        outcome = {}
        first = sessions()
        first.begin()
        roles.revoke_admin(first, user["a"], grant_of["b"])   # a revokes b, not committed yet

        def second():
            try:
                _do(sessions, roles.revoke_admin, user["b"], grant_of["a"])
                outcome["b"] = "revoked"
            except RoleError as exc:
                outcome["b"] = exc.code

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()   # waiting on the lock
        first.commit()
        first.close()
        thread.join(30)
        assert outcome == {"b": "last_super_admin"}
        with sessions() as session:
            assert org.is_super_admin(session, "a") and not org.is_super_admin(session, "b")
    finally:
        engine.dispose()


def _load(sessions, person_id):
    with sessions() as session:
        return accounts.load_session_user(session, person_id)
