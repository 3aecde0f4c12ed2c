"""Who may start which process: package `starters`, department overrides, super admins."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.data.models import AdminGrant, Department, Person, PersonRole, Role
from engine.errors import InvalidPackageError, NotPermittedError
from engine.packages import deployment as packages
from engine.people import accounts, starting
from tests.engine.conftest import flow, write_package

BODY = ('<bpmn:startEvent id="start"/><bpmn:endEvent id="done"/>' + flow("start", "done"))


def _department(session, code: str, parent: Department | None) -> Department:
    department = Department(code=code, name=code, parent_id=parent.id if parent else None, path="")
    session.add(department)
    session.flush()
    department.path = f"{parent.path if parent else '/'}{department.id}/"
    return department


@pytest.fixture
def org(sessions):
    """company > sales > east, company > finance. ann: east; bob: finance, role `hr`; li: admin of sales;
    fin_admin: admin of finance; root: super admin; carl: no department."""
    now = datetime.now(UTC)
    with sessions() as session, session.begin():
        company = _department(session, "company", None)
        sales = _department(session, "sales", company)
        east = _department(session, "sales-east", sales)
        finance = _department(session, "finance", company)
        people = {name: accounts.create_person_account(session, name, name, None, now)
                  for name in ("ann", "bob", "li", "fin_admin", "carl", "root")}
        people["ann"].department_id = east.id
        people["bob"].department_id = finance.id
        hr = Role(key="hr", name="人事")
        session.add(hr)
        session.flush()
        session.add_all([PersonRole(person_id=people["bob"].id, role_id=hr.id),
                         AdminGrant(person_id=people["li"].id, department_id=sales.id),
                         AdminGrant(person_id=people["fin_admin"].id, department_id=finance.id),
                         AdminGrant(person_id=people["root"].id, department_id=None)])
        return {"company": company.id, "sales": sales.id, "east": east.id, "finance": finance.id}


@pytest.fixture
def deploy(tmp_path, deploy_package):
    def _deploy(key: str, starters: dict | None = None):
        meta = {"starters": starters} if starters is not None else {}
        return deploy_package(write_package(tmp_path / key, key, {key: BODY}, meta=meta))
    return _deploy


def _startable(sessions, username: str) -> list[str]:
    with sessions() as session:
        return starting.startable(session, username)


def _may_start(sessions, username: str, key: str) -> bool:
    with sessions() as session:
        return starting.may_start(session, username, key)


def _set(sessions, admin: str, key: str, department_id: int, allowed: bool | None) -> None:
    with sessions() as session, session.begin():
        starting.set_permission(session, admin, key, department_id, allowed)


def test_without_starters_everyone_may_start(sessions, org, deploy):
    deploy("open_to_all")
    assert _startable(sessions, "ann") == ["open_to_all"]
    assert _may_start(sessions, "carl", "open_to_all")


def test_starters_match_by_role_department_subtree_or_username(sessions, org, deploy):
    deploy("by_role", {"roles": ["hr"]})
    deploy("by_department", {"departments": ["sales"]})
    deploy("by_user", {"users": ["carl"]})
    assert _startable(sessions, "ann") == ["by_department"]  # east lies under sales
    assert _startable(sessions, "bob") == ["by_role"]
    assert _startable(sessions, "carl") == ["by_user"]
    assert not _may_start(sessions, "bob", "by_department")


def test_super_admin_may_start_everything(sessions, org, deploy):
    deploy("by_user", {"users": ["carl"]})
    _set(sessions, "root", "by_user", org["company"], False)
    assert _may_start(sessions, "root", "by_user")


def test_unknown_process_and_unknown_person_may_not_start(sessions, org, deploy):
    deploy("open_to_all")
    assert not _may_start(sessions, "ann", "nothing_here")
    assert not _may_start(sessions, "nobody", "open_to_all")
    assert _startable(sessions, "nobody") == []


def test_inactive_person_may_start_nothing(sessions, org, deploy):
    deploy("open_to_all")
    with sessions() as session, session.begin():
        session.query(Person).filter_by(username="ann").one().active = False
    assert _startable(sessions, "ann") == []


def test_nearest_department_setting_decides_over_starters(sessions, org, deploy):
    deploy("by_user", {"users": ["carl"]})
    deploy("open_to_all")
    _set(sessions, "li", "open_to_all", org["sales"], False)
    _set(sessions, "li", "by_user", org["sales"], True)
    assert _startable(sessions, "ann") == ["by_user"]           # inherited from sales
    _set(sessions, "li", "open_to_all", org["east"], True)       # east overrides sales
    assert _startable(sessions, "ann") == ["by_user", "open_to_all"]
    assert _startable(sessions, "bob") == ["open_to_all"]        # finance is untouched


def test_inherit_removes_the_department_setting(sessions, org, deploy):
    deploy("open_to_all")
    _set(sessions, "li", "open_to_all", org["east"], False)
    assert not _may_start(sessions, "ann", "open_to_all")
    _set(sessions, "li", "open_to_all", org["east"], None)
    assert _may_start(sessions, "ann", "open_to_all")
    with sessions() as session:
        assert starting.permissions_of(session, org["east"]) == {}


def test_admin_may_not_set_permissions_outside_their_subtree(sessions, org, deploy):
    deploy("open_to_all")
    with pytest.raises(NotPermittedError):
        _set(sessions, "li", "open_to_all", org["finance"], False)
    with pytest.raises(NotPermittedError):
        _set(sessions, "li", "open_to_all", org["company"], False)   # above their department
    with pytest.raises(NotPermittedError):
        _set(sessions, "ann", "open_to_all", org["east"], False)     # not an admin at all
    assert _may_start(sessions, "bob", "open_to_all")
    with sessions() as session:
        assert [d.code for d in starting.managed_departments(session, "li")] == ["sales", "sales-east"]
        assert len(starting.managed_departments(session, "root")) == 4


def test_latest_version_starters_decide(sessions, org, deploy):
    deploy("changing", {"users": ["carl"]})
    assert not _may_start(sessions, "ann", "changing")
    deploy("changing")
    assert _may_start(sessions, "ann", "changing")


def test_unknown_names_in_starters_deploy(tmp_path):
    folder = write_package(tmp_path, "later", {"later": BODY},
                           meta={"starters": {"roles": ["not_yet"], "departments": ["nowhere"]}})
    assert packages.load_package(folder).meta["starters"]["roles"] == ["not_yet"]


@pytest.mark.parametrize("starters, message", [
    (["hr"], "must be a mapping"),
    ({"groups": ["hr"]}, "unknown key `groups`"),
    ({"roles": "hr"}, "`starters.roles` must be a list"),
    ({"users": [1]}, "`starters.users` must be a list"),
])
def test_malformed_starters_are_a_problem_with_package_yaml(tmp_path, starters, message):
    folder = write_package(tmp_path, "bad", {"bad": BODY}, meta={"starters": starters})
    with pytest.raises(InvalidPackageError) as raised:
        packages.load_package(folder)
    assert any(message in str(problem) and "package.yaml" in str(problem) for problem in raised.value.problems)
