"""Who may issue an invitation code for a start form (`may_issue_code`), and an issuer's own codes."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.data import store
from engine.data.models import AdminGrant, Person, PersonRole, Role
from engine.errors import NotFoundError, NotPermittedError
from engine.external import grants
from engine.external.errors import ExternalAccessError
from engine.packages import deployment as packages
from engine.packages.portal_checks import portal_section_problems
from engine.work import invitations, portal
from tests.engine.portal.support import deploy_supplier_order_only

VISITOR_BOOKING = Path(__file__).resolve().parents[3] / "processes" / "visitor_booking"
VISIT = {"visitor_name": "Anna Berg", "visitor_company": "Nordic AB", "visitor_phone": "+46 70 123 45 67",
         "visitor_email": "anna@example.com", "visit_start": "2030-05-21T14:00", "visit_end": "2030-05-21T15:30",
         "purpose": "Supplier audit"}
NOW = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)


def _people(sessions):
    """root: super admin; desk: reception; owner, zhou: employees; gone: no longer active."""
    with sessions() as session, session.begin():
        people = {name: Person(username=name, name=name, active=name != "gone")
                  for name in ("root", "desk", "owner", "zhou", "gone")}
        session.add_all(people.values())
        role = Role(key="reception", name="前台")
        session.add(role)
        session.flush()
        session.add_all([AdminGrant(person_id=people["root"].id, department_id=None),
                         PersonRole(person_id=people["desk"].id, role_id=role.id)])


def _deploy_visitor_booking(sessions, tmp_path, *, invite: str | None = "employees", admins=()):
    """visitor_booking as shipped (`portal.invite: employees`), or with another `invite` and `admins`."""
    folder = tmp_path / "visitor_booking"
    shutil.copytree(VISITOR_BOOKING, folder)
    text = (folder / "package.yaml").read_text()
    text = "\n".join(line for line in text.splitlines() if not line.strip().startswith("invite:"))
    if invite is not None:
        text = text.replace("  host_field: host", f"  invite: {invite}\n  host_field: host")
    if admins:
        text += "\nadmins: [" + ", ".join(admins) + "]\n"
    (folder / "package.yaml").write_text(text)
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(folder), "admin")


def _may(sessions, username: str, key: str = "visitor_booking") -> bool:
    with sessions() as session:
        return invitations.may_issue_code(session, username, key)


def test_the_shipped_visitor_booking_lets_any_active_employee_invite(sessions):
    _people(sessions)
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(VISITOR_BOOKING), "admin")
    assert [_may(sessions, who) for who in ("root", "desk", "owner", "zhou")] == [True] * 4
    assert not _may(sessions, "gone") and not _may(sessions, "nobody")


def test_without_invite_only_super_admins_the_process_admins_and_reception_may(sessions, tmp_path):
    _people(sessions)
    _deploy_visitor_booking(sessions, tmp_path, invite=None, admins=("owner",))
    assert {who: _may(sessions, who) for who in ("root", "desk", "owner", "zhou")} == {
        "root": True, "desk": True, "owner": True, "zhou": False}
    with sessions() as session:
        assert [p["key"] for p in invitations.invitable_processes(session, "desk")] == ["visitor_booking"]
        assert invitations.invitable_processes(session, "zhou") == []


def test_reception_may_not_invite_to_a_supplier_process_nor_anyone_to_a_process_without_a_portal(sessions):
    _people(sessions)
    deploy_supplier_order_only(sessions)
    assert not _may(sessions, "desk", "supplier_order") and _may(sessions, "root", "supplier_order")
    assert not _may(sessions, "root", "no_such_process")


def test_an_employee_not_allowed_is_refused_and_nothing_is_stored(sessions, tmp_path):
    _people(sessions)
    _deploy_visitor_booking(sessions, tmp_path, invite="admins")
    with sessions() as session, session.begin(), pytest.raises(NotPermittedError):
        invitations.issue_invitation(session, "zhou", "visitor_booking", days=3, label="Anna", now=NOW)
    with sessions() as session:
        assert invitations.codes_held_by(session, "zhou") == []


@pytest.mark.parametrize("days", [0, 366, None, "3", True])
def test_the_validity_is_one_day_to_a_year(sessions, days):
    _people(sessions)
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(VISITOR_BOOKING), "admin")
    with sessions() as session, session.begin(), pytest.raises(invitations.InvalidInvitationError):
        invitations.issue_invitation(session, "zhou", "visitor_booking", days=days, label="Anna", now=NOW)


def test_an_employees_code_starts_a_visit_they_host_and_only_they_withdraw_it(sessions):
    _people(sessions)
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(VISITOR_BOOKING), "admin")
    now = datetime.now(UTC)
    with sessions() as session, session.begin():
        issued = invitations.issue_invitation(session, "zhou", "visitor_booking", days=2, label="  Anna Berg ",
                                              now=now)
    assert issued.valid_until == now + timedelta(days=2)
    with sessions() as session, session.begin():
        principal = grants.redeem_code(session.connection(), issued.code, datetime.now(UTC), client="test")
    assert principal.display_name == "Anna Berg" and principal.allows("submit")
    instance_id = portal.start_request(sessions, principal, "visitor_booking", {**VISIT, "host": "owner"}, "en")
    with sessions() as session:
        assert store.read_process_data(session, instance_id)["host"] == "zhou"
        [mine] = invitations.codes_held_by(session, "zhou")
        assert (mine.id, mine.label, mine.use_count) == (issued.grant_id, "Anna Berg", 1)
        assert invitations.codes_held_by(session, "owner") == []
    with sessions() as session, session.begin(), pytest.raises(NotFoundError):
        invitations.withdraw_code(session, "owner", issued.grant_id, datetime.now(UTC))
    with sessions() as session, session.begin():
        assert invitations.withdraw_code(session, "zhou", issued.grant_id, datetime.now(UTC))
        assert not invitations.withdraw_code(session, "zhou", issued.grant_id, datetime.now(UTC))
    with sessions() as session, session.begin(), pytest.raises(ExternalAccessError):
        grants.redeem_code(session.connection(), issued.code, datetime.now(UTC), client="test")


@pytest.mark.parametrize(("value", "wrong"), [("employees", False), ("admins", False), ("everyone", True)])
def test_portal_invite_is_admins_or_employees(value, wrong):
    forms = {"visit": {"fields": [{"name": "visitor_email", "type": "text"}]}}
    problems = portal_section_problems({"party": "visitor", "email_field": "visitor_email", "invite": value}, forms)
    assert bool(problems) is wrong
