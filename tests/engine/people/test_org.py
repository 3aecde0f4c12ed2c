"""The org chart's read side: groups, managers, department heads, members, admin scope, deputies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.data.models import AdminGrant, Department, OutOfOffice, Person, PersonRole, Role
from engine.errors import NotFoundError
from engine.people import org

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

# id, code, name, parent, path, head: department 22 checks that "/1/2/" is no prefix of "/1/22/"
DEPARTMENTS = [(1, "HQ", "总部", None, "/1/"), (2, "RD", "研发部", 1, "/1/2/"), (3, "PLT", "平台组", 2, "/1/2/3/"),
               (4, "FIN", "财务部", 1, "/1/4/"), (22, "SALES", "销售部", 1, "/1/22/")]
# username, department, manager, active, head of, roles
PEOPLE = [("ceo", 1, None, True, 1, ()), ("cto", 2, "ceo", True, 2, ("rd_lead",)),
          ("lead", 3, "cto", True, 3, ("reviewer", "approver")), ("dev", 3, "lead", True, None, ("dev",)),
          ("gone", 3, "lead", False, None, ("dev",)), ("cfo", 4, "ceo", True, None, ("finance",)),
          ("acct", 4, "cfo", True, None, ("finance",)), ("sales", 22, "ceo", True, 22, ()),
          ("root", None, None, True, None, ()), ("loner", None, None, True, None, ())]


@pytest.fixture
def chart(sessions):
    """A small org chart written directly through the models; returns the session factory."""
    with sessions() as session, session.begin():
        session.add_all(Department(id=i, code=c, name=n, parent_id=p, path=path) for i, c, n, p, path in DEPARTMENTS)
        session.flush()
        people = {}
        for username, dept, _manager, active, _head, _roles in PEOPLE:
            people[username] = Person(username=username, name=username.title(), department_id=dept, active=active,
                                      email=f"{username}@example.com")
        session.add_all(people.values())
        session.flush()
        roles = {}
        for username, _dept, manager, _active, head, keys in PEOPLE:
            people[username].manager_id = people[manager].id if manager else None
            if head:
                session.get(Department, head).head_id = people[username].id
            for key in keys:
                role = roles.setdefault(key, Role(key=key, name=key))
                session.add(role)
                session.flush()
                session.add(PersonRole(person_id=people[username].id, role_id=role.id))
        session.add_all([AdminGrant(person_id=people["root"].id, department_id=None),
                         AdminGrant(person_id=people["cto"].id, department_id=2)])
    return sessions


def _name(person):
    return person.username if person else None


def test_person_by_username_finds_active_and_inactive_people(chart):
    with chart() as session:
        assert org.person_by_username(session, "dev").department_id == 3
        assert org.person_by_username(session, "gone").active is False
        assert org.person_by_username(session, "nobody") is None


def test_groups_are_the_sorted_role_keys_of_an_active_person(chart):
    with chart() as session:
        assert org.groups_of(session, "lead") == ("approver", "reviewer")
        assert org.groups_of(session, "ceo") == ()
        assert org.groups_of(session, "gone") == ()  # deactivated: no tasks offered to their groups
        assert org.groups_of(session, "nobody") == ()


def test_manager_chain_by_level_ends_at_the_top(chart):
    with chart() as session:
        assert [_name(org.manager_of(session, "dev", level)) for level in (1, 2, 3, 4)] == [
            "lead", "cto", "ceo", None]
        assert org.manager_of(session, "ceo") is None
        assert org.manager_of(session, "nobody") is None
        with pytest.raises(ValueError):
            org.manager_of(session, "dev", 0)


def test_manager_chain_through_a_loop_in_the_data_ends(chart):
    with chart() as session, session.begin():
        ceo, acct = org.person_by_username(session, "ceo"), org.person_by_username(session, "acct")
        ceo.manager_id = acct.id  # ceo -> acct -> cfo -> ceo
        session.flush()
        assert [_name(org.manager_of(session, "cfo", level)) for level in (1, 2, 3, 4)] == [
            "ceo", "acct", "cfo", "ceo"]


def test_department_head_by_code_or_id(chart):
    with chart() as session:
        assert _name(org.department_head(session, "RD")) == "cto"
        assert _name(org.department_head(session, 3)) == "lead"
        assert org.department_head(session, "FIN") is None
        assert org.department_head(session, "NOPE") is None


def test_head_of_department_of_skips_oneself_and_headless_departments(chart):
    with chart() as session:
        assert _name(org.head_of_department_of(session, "dev")) == "lead"
        assert _name(org.head_of_department_of(session, "lead")) == "cto"  # the head's head is one level up
        assert _name(org.head_of_department_of(session, "acct")) == "ceo"  # 财务部 has no head
        assert org.head_of_department_of(session, "ceo") is None
        assert org.head_of_department_of(session, "loner") is None
        assert _name(org.head_of_department_of(session, "sales")) == "ceo"


def test_members_of_a_department_and_its_subtree(chart):
    with chart() as session:
        assert [p.username for p in org.members(session, "RD")] == ["cto"]
        assert [p.username for p in org.members(session, 2, include_subdepartments=True)] == [
            "cto", "dev", "lead"]  # not "gone" (inactive), not "sales" (/1/22/)
        assert len(org.members(session, "HQ", include_subdepartments=True)) == 7
        assert org.members(session, "NOPE", include_subdepartments=True) == []


def test_subtree_ids_follow_the_path(chart):
    with chart() as session:
        assert org.subtree_ids(session, "RD") == [2, 3]
        assert sorted(org.subtree_ids(session, 1)) == [1, 2, 3, 4, 22]
        assert org.subtree_ids(session, 22) == [22]
        assert org.subtree_ids(session, "NOPE") == []


def test_super_admin_administers_everyone(chart):
    with chart() as session:
        assert org.is_super_admin(session, "root")
        assert not org.is_super_admin(session, "cto")
        assert org.admin_departments(session, "root") == ()
        assert all(org.may_administer(session, "root", who) for who in ("acct", "ceo", "loner", "root"))
        assert not org.may_administer(session, "root", "nobody")


def test_department_admin_administers_only_their_subtree(chart):
    with chart() as session:
        assert org.admin_departments(session, "cto") == (2,)
        assert org.may_administer(session, "cto", "dev")
        assert org.may_administer(session, "cto", "cto")
        assert not org.may_administer(session, "cto", "acct")
        assert not org.may_administer(session, "cto", "sales")  # /1/22/ is not under /1/2/
        assert not org.may_administer(session, "cto", "loner")  # no department at all
        assert not org.may_administer(session, "dev", "dev")  # no grant


def test_an_inactive_admin_administers_nobody(chart):
    with chart() as session, session.begin():
        org.person_by_username(session, "root").active = False
        session.flush()
        assert not org.is_super_admin(session, "root")
        assert not org.may_administer(session, "root", "dev")


def test_deputy_is_active_only_inside_the_window(chart):
    with chart() as session, session.begin():
        org.set_out_of_office(session, "dev", "lead", T0, T0 + timedelta(days=3))
        assert _name(org.deputy_for(session, "dev", T0)) == "lead"
        assert _name(org.deputy_for(session, "dev", T0 + timedelta(days=2, hours=23))) == "lead"
        assert org.deputy_for(session, "dev", T0 + timedelta(days=3)) is None
        assert org.deputy_for(session, "dev", T0 - timedelta(seconds=1)) is None
        assert org.deputy_for(session, "lead", T0) is None


def test_deputy_chain_is_followed_and_stops_on_a_loop(chart):
    with chart() as session, session.begin():
        end = T0 + timedelta(days=7)
        org.set_out_of_office(session, "dev", "lead", T0, end)
        org.set_out_of_office(session, "lead", "cto", T0, end)
        assert _name(org.deputy_for(session, "dev", T0)) == "cto"  # lead is away too
        org.set_out_of_office(session, "cto", "dev", T0, end)  # dev -> lead -> cto -> dev
        assert _name(org.deputy_for(session, "dev", T0)) == "cto"
        assert _name(org.deputy_for(session, "lead", T0)) == "dev"
        assert _name(org.deputy_for(session, "cto", T0)) == "lead"


def test_an_inactive_deputy_is_ignored(chart):
    with chart() as session, session.begin():
        org.set_out_of_office(session, "dev", "lead", T0, T0 + timedelta(days=1))
        org.person_by_username(session, "lead").active = False
        session.flush()
        assert org.deputy_for(session, "dev", T0) is None


def test_a_new_window_replaces_overlapping_ones(chart):
    with chart() as session, session.begin():
        org.set_out_of_office(session, "dev", "lead", T0, T0 + timedelta(days=3))
        org.set_out_of_office(session, "dev", "cto", T0 + timedelta(days=1), T0 + timedelta(days=5))
        org.set_out_of_office(session, "dev", "ceo", T0 + timedelta(days=10), T0 + timedelta(days=11))
        assert session.query(OutOfOffice).count() == 2
        assert org.deputy_for(session, "dev", T0) is None
        assert _name(org.deputy_for(session, "dev", T0 + timedelta(days=4))) == "cto"


def test_refused_out_of_office_windows(chart):
    with chart() as session, session.begin():
        with pytest.raises(org.OrgDataError, match="must end after it starts"):
            org.set_out_of_office(session, "dev", "lead", T0, T0)
        with pytest.raises(org.OrgDataError, match="own deputy"):
            org.set_out_of_office(session, "dev", "dev", T0, T0 + timedelta(days=1))
        with pytest.raises(NotFoundError, match="`nobody`"):
            org.set_out_of_office(session, "dev", "nobody", T0, T0 + timedelta(days=1))
        with pytest.raises(org.OrgDataError, match="`gone` is not active"):
            org.set_out_of_office(session, "dev", "gone", T0, T0 + timedelta(days=1))
