"""package.yaml `portal.host_field`: a visit asked for with an invitation code names the code's issuer as host."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine import runtime
from engine.data import store
from engine.data.models import WorkTask, utcnow
from engine.errors import FormInvalidError, NotPermittedError
from engine.external import grants
from engine.packages import deployment as packages
from engine.packages.portal_checks import portal_section_problems
from engine.work import portal
from tests.conftest import add_people

VISITOR_BOOKING = Path(__file__).resolve().parents[3] / "processes" / "visitor_booking"
VISIT = {"visitor_name": "Anna Berg", "visitor_company": "Nordic AB", "visitor_phone": "+46 70 123 45 67",
         "visitor_email": "anna@example.com", "visit_start": "2030-05-21T14:00", "visit_end": "2030-05-21T15:30",
         "purpose": "Supplier audit"}


def _visitor_with_code_from_li(sessions):
    """visitor_booking deployed, a visitor code issued by li and redeemed: the visitor's principal."""
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(VISITOR_BOOKING), "admin")
        _grant_id, code = grants.issue_code(session.connection(), scopes=["submit", "view"],
                                            valid_until=utcnow() + timedelta(days=3), process_key="visitor_booking",
                                            created_by="li")
    with sessions() as session, session.begin():
        return grants.redeem_code(session.connection(), code, utcnow(), client="test")



def test_the_code_issuer_is_the_host_whatever_the_visitor_sends(sessions):
    add_people(sessions, "li", "zhou")
    principal = _visitor_with_code_from_li(sessions)
    instance_id = portal.start_request(sessions, principal, "visitor_booking", {**VISIT, "host": "zhou"}, "en")
    with sessions() as session:
        assert store.read_process_data(session, instance_id)["host"] == "li"


def test_a_code_issued_by_nobody_is_refused_with_what_to_do_instead_of_a_hidden_required_field(sessions):
    add_people(sessions, "li")
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(VISITOR_BOOKING), "admin")
        _grant_id, code = grants.issue_code(session.connection(), scopes=["submit", "view"],
                                            valid_until=utcnow() + timedelta(days=3), process_key="visitor_booking")
    with sessions() as session, session.begin():
        principal = grants.redeem_code(session.connection(), code, utcnow(), client="test")
    with pytest.raises(NotPermittedError, match="does not say whom you are visiting"):
        portal.start_request(sessions, principal, "visitor_booking", {**VISIT, "host": "li"}, "en")


@pytest.mark.parametrize(("value", "wrong"), [("host", False), ("nope", True), ("", True)])
def test_host_field_must_name_a_form_field(value, wrong):
    forms = {"visit": {"fields": [{"name": "host", "type": "user"}, {"name": "visitor_email", "type": "text"}]}}
    problems = portal_section_problems({"party": "visitor", "email_field": "visitor_email", "host_field": value},
                                       forms)
    assert bool(problems) is wrong


def test_a_visitors_progress_lists_the_other_endings_only_once_reached_and_nothing_ahead_once_over(sessions):
    add_people(sessions, "li")
    principal = _visitor_with_code_from_li(sessions)
    instance_id = portal.start_request(sessions, principal, "visitor_booking", VISIT, "en")
    with sessions() as session:
        running = [m.element_id for m in portal.case_view(session, principal, instance_id, "en").milestones]
        task_id = session.scalars(select(WorkTask.id).where(WorkTask.instance_id == instance_id,
                                                            WorkTask.status == "open")).one()
    assert running == ["check_in", "check_out", "visit_done"]
    runtime.complete_task(sessions, task_id, "li", {"approved": False})
    with sessions() as session:
        declined = [(m.element_id, m.status) for m in portal.case_view(session, principal, instance_id, "en").milestones]
    assert declined == [("rejected_end", "done")]  # no check-in "upcoming" on a visit that will not happen


def test_a_visit_that_ends_before_it_starts_is_refused_on_its_end_field(sessions):
    add_people(sessions, "li")
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(VISITOR_BOOKING), "admin")
    with pytest.raises(FormInvalidError) as refused:
        runtime.start_instance(sessions, "visitor_booking", {**VISIT, "visit_end": "2030-05-21T13:00", "host": "li"},
                               "li")
    assert "visit_end" in refused.value.errors
