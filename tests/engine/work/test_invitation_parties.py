"""A code for a process that files requests under a company (`portal.party_field`: customer_request) names
that company: the holder never types our code of their company, and a code without one cannot send the form
(else whatever key was typed would file the request under that company, in its contacts' portal)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.data import store
from engine.data.external_models import ExternalCase
from engine.data.models import AdminGrant, Person
from engine.errors import NotPermittedError
from engine.external import grants
from engine.packages import deployment as packages
from engine.work import invitations, portal
from tests.engine.portal.support import add_party

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime.now(UTC)
REQUEST = {"request_type": "incident", "description": "打印机卡纸", "desired_date": "2030-01-15"}


@pytest.fixture
def world(sessions):
    """customer_request and visitor_booking deployed; root is the super admin; HUAXIN and BETA customers,
    ACME a supplier."""
    with sessions() as session, session.begin():
        root = Person(username="root", name="管理员")
        session.add(root)
        session.flush()
        session.add(AdminGrant(person_id=root.id, department_id=None))
        for key in ("customer_request", "visitor_booking"):
            packages.deploy(session, packages.load_package(ROOT / "processes" / key), "admin")
    return {key: add_party(sessions, key, kind) for key, kind in
            (("HUAXIN", "customer"), ("BETA", "customer"), ("ACME", "supplier"))}


def _issue(sessions, key: str, **kwargs) -> invitations.IssuedCode:
    with sessions() as session, session.begin():
        return invitations.issue_invitation(session, "root", key, days=3, label="陈工", now=NOW, **kwargs)


def _holder(sessions, code: str):
    with sessions() as session, session.begin():
        return grants.redeem_code(session.connection(), code, datetime.now(UTC), client="test")


def test_a_customer_code_names_the_company_the_portal_files_the_request_under(sessions, world):
    holder = _holder(sessions, _issue(sessions, "customer_request", party="HUAXIN").code)
    with sessions() as session:
        assert portal.start_problem(session, holder, "customer_request") is None
        assert "customer" in portal.filled_fields(session, holder, "customer_request")  # not asked
    started = portal.start_request(sessions, holder, "customer_request", {**REQUEST, "customer": "BETA"}, "zh")
    with sessions() as session:
        assert store.read_process_data(session, started)["customer"] == "HUAXIN"  # whatever was typed
        assert session.get(ExternalCase, started).party_id == world["HUAXIN"]


def test_a_code_without_its_company_cannot_send_the_form_and_says_what_to_do(sessions, world):
    with sessions() as session, session.begin():  # as the CLI may still issue one: no --party
        _id, code = grants.issue_code(session.connection(), scopes=["view", "submit"], process_key="customer_request",
                                      valid_until=NOW + timedelta(days=3), created_by="root")
    holder = _holder(sessions, code)
    with sessions() as session:
        assert "which company" in str(portal.start_problem(session, holder, "customer_request"))
    with pytest.raises(NotPermittedError, match="which company"):
        portal.start_request(sessions, holder, "customer_request", {**REQUEST, "customer": "BETA"}, "zh")


@pytest.mark.parametrize(("key", "party"), [("customer_request", None), ("customer_request", "ACME"),
                                            ("customer_request", "NOPE"), ("visitor_booking", "HUAXIN")])
def test_the_company_is_required_of_the_right_kind_and_only_where_the_process_files_under_one(
        sessions, world, key, party):
    with pytest.raises(invitations.InvalidInvitationError):
        _issue(sessions, key, party=party)
    with sessions() as session:
        assert grants.grants_of(session.connection(), kind="code") == []


def test_a_customers_code_shows_what_it_started_not_the_companys_other_requests(sessions, world):
    from engine.external import scope
    from tests.engine.portal.support import contact_principal

    contact = contact_principal(sessions, world["HUAXIN"], kind="customer")
    theirs = portal.start_request(sessions, contact, "customer_request", REQUEST, "zh")  # a colleague's request
    holder = _holder(sessions, _issue(sessions, "customer_request", party="HUAXIN").code)
    mine = portal.start_request(sessions, holder, "customer_request", REQUEST, "zh")
    with sessions() as session:
        assert session.scalars(scope.case_ids(holder)).all() == [mine]
        assert set(session.scalars(scope.case_ids(contact)).all()) == {theirs, mine}  # the company's contacts: all
