"""Visitor passes: derived codes stored hashed, states over time, QR images, the blacklist."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from engine.data.external_models import ExternalGrant
from engine.external import passes
from engine.external.grants import token_hash
from tests.engine.external.visits.conftest import DURING, invite


def _grant(sessions, instance_id):
    with sessions() as session:
        return session.execute(select(ExternalGrant).where(ExternalGrant.instance_id == instance_id)).scalars().all()


def test_pass_code_is_derived_from_the_task_and_the_instance_secret():
    code = passes.pass_code("task-1")
    assert len(code) == passes.CODE_LENGTH and code.isalnum() and code == code.upper()
    assert passes.pass_code("task-1") == code
    assert passes.pass_code("task-2") != code
    assert passes.pass_code("task-1", secret="another secret") != code
    assert passes.normalize_code(f" {code[:4].lower()}-{code[4:]} ") == code


def test_issuing_twice_keeps_one_pass_and_stores_only_the_code_hash(visits):
    instance_id = invite(visits)
    [grant] = _grant(visits, instance_id)
    code = passes.pass_code(grant.task_id)
    assert grant.kind == "pass" and grant.token_hash == token_hash(code)
    assert code not in {str(v) for v in (grant.label, grant.recipient, grant.task_id, grant.scopes)}
    with visits() as session, session.begin():
        again = passes.issue_pass(session.connection(), instance_id=instance_id, task_id=grant.task_id,
                                  valid_from=grant.valid_from, valid_until=grant.valid_until, label="x",
                                  recipient=None, now=DURING)
    assert again == (grant.id, code)
    assert len(_grant(visits, instance_id)) == 1


def test_a_pass_opens_with_its_code_and_shows_the_visit(visits):
    instance_id = invite(visits)
    [grant] = _grant(visits, instance_id)
    code = passes.pass_code(grant.task_id)
    with visits() as session:
        conn = session.connection()
        view = passes.look_up(conn, code.lower(), DURING)
        assert passes.look_up(conn, "AAAAAAAA", DURING) is None
        assert passes.look_up(conn, code[:-1], DURING) is None
    assert (view.visitor_name, view.company, view.host, view.instance_id) == ("王访客", "星辰科技", "li", instance_id)
    assert view.state == "valid" and view.blacklisted is None
    assert view.valid_from.isoformat() == "2030-05-20T01:00:00+00:00"  # 09:00 in Shanghai


def test_pass_states_follow_the_slot_and_the_reception_desk(visits):
    instance_id = invite(visits)
    [grant] = _grant(visits, instance_id)
    start, end = grant.valid_from, grant.valid_until
    assert passes.pass_state(grant, start - timedelta(minutes=31)) == "upcoming"
    assert passes.pass_state(grant, start - timedelta(minutes=30)) == "valid"
    assert passes.pass_state(grant, end) == "valid"
    assert passes.pass_state(grant, end + timedelta(seconds=1)) == "expired"
    assert passes.pass_state(grant, DURING, "cancelled") == "revoked"
    with visits() as session, session.begin():
        passes.mark_checked_in(session.connection(), grant.id, "zhou", DURING)
    [grant] = _grant(visits, instance_id)
    assert passes.pass_state(grant, end + timedelta(hours=1)) == "checked_in"
    with visits() as session, session.begin():
        passes.mark_checked_out(session.connection(), grant.id, "zhou", DURING + timedelta(hours=1))
    [grant] = _grant(visits, instance_id)
    assert passes.pass_state(grant, DURING) == "checked_out"
    assert (grant.checked_in_by, grant.checked_out_by) == ("zhou", "zhou")


def test_qr_image_is_an_svg_holding_the_text():
    svg = passes.qr_svg("https://wf.example.com/portal/pass?code=ABCDEFGH")
    assert svg.lstrip().startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert passes.qr_svg("A") != svg


def test_blacklist_matches_by_phone_digits_or_by_name_and_company(visits):
    with visits() as session, session.begin():
        conn = session.connection()
        by_phone = passes.add_to_blacklist(conn, name="Somebody", phone="+86 138-0013-8000", reason="threats",
                                           added_by="admin", now=DURING)
        by_name = passes.add_to_blacklist(conn, name="Zhao Liu", company="Acme Ltd", reason="theft", now=DURING)
    with visits() as session, session.begin():
        conn = session.connection()
        assert passes.blacklist_match(conn, "Anyone", "13800138000", None).id == by_phone
        assert passes.blacklist_match(conn, "zhao  liu", None, "ACME ltd").id == by_name
        assert passes.blacklist_match(conn, "Zhao Liu", "13900000000", "Other Co") is None
        assert passes.blacklist_match(conn, "Zhao Liu", None, None) is None  # a name alone is not enough
        assert [e.id for e in passes.blacklist(conn)] == [by_name, by_phone]
        assert passes.remove_from_blacklist(conn, by_phone) is True
        assert passes.remove_from_blacklist(conn, by_phone) is False
        assert passes.blacklist_match(conn, "Anyone", "13800138000", None) is None


def test_a_new_pass_for_the_same_visit_revokes_the_unused_earlier_one(visits):
    instance_id = invite(visits)
    [first] = _grant(visits, instance_id)
    with visits() as session, session.begin():
        conn = session.connection()
        second, _code = passes.issue_pass(conn, instance_id=instance_id, task_id="another-check-in-task",
                                          valid_from=first.valid_from, valid_until=first.valid_until, label=None,
                                          recipient=None, now=DURING)
        assert passes.revoke_other_passes(conn, instance_id, second, DURING) == 1
    with visits() as session:
        conn = session.connection()
        assert passes.look_up(conn, passes.pass_code(first.task_id), DURING).state == "revoked"
        assert passes.look_up(conn, passes.pass_code("another-check-in-task"), DURING).state == "valid"
