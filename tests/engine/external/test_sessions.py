"""Portal sessions stand on their grant or contact: revoking either ends them on the next request."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from engine.data.external_models import ExternalSession
from engine.external import grants, parties, sessions
from engine.external.sessions import contact_principal
from tests.engine.external.conftest import NOW, add_case

WEEK = NOW + timedelta(days=7)


def _contact(party):
    party_id, contact_id = party
    return contact_principal(contact_id, party_id, "supplier", "艾克米", "Acme", "Wang", "en")


def test_contact_session_loads_until_signed_out_and_stores_only_a_digest(conn, party):
    token = sessions.start(conn, _contact(party), ip="1.2.3.4", user_agent="phone", now=NOW)
    assert conn.scalar(select(ExternalSession.id)) != token
    loaded = sessions.load(conn, token, NOW + timedelta(hours=1), lang="en")
    assert loaded.identity == f"ext:contact:{party[1]}" and loaded.display_name == "Acme · Wang"
    assert sessions.load(conn, "forged", NOW) is None
    assert sessions.revoke(conn, token, NOW) and sessions.load(conn, token, NOW) is None


def test_session_expires_with_its_lifetime_and_never_outlives_its_grant(conn, instance_id):
    grant_id, token = grants.issue_link(conn, scopes=["view"], valid_until=NOW + timedelta(hours=2),
                                        instance_id=instance_id, now=NOW)
    principal = grants.redeem_link(conn, token, NOW)
    cookie = sessions.start(conn, principal, ip=None, user_agent=None, now=NOW, lifetime=timedelta(hours=8))
    assert sessions.load(conn, cookie, NOW + timedelta(hours=1)).grant_id == grant_id
    assert sessions.load(conn, cookie, NOW + timedelta(hours=2)) is None


def test_revoking_the_party_ends_contact_and_grant_sessions_at_once(conn, instance_id, party):
    party_id, _ = party
    add_case(conn, instance_id, "supplier", party_id)
    _, token = grants.issue_link(conn, scopes=["view", "fill"], valid_until=WEEK, instance_id=instance_id, now=NOW)
    by_link = sessions.start(conn, grants.redeem_link(conn, token, NOW), ip=None, user_agent=None, now=NOW)
    by_contact = sessions.start(conn, _contact(party), ip=None, user_agent=None, now=NOW)
    assert sessions.load(conn, by_link, NOW).kind == "supplier"
    revoked = parties.revoke_party(conn, party_id, "admin", NOW)
    assert (revoked.grants, revoked.sessions) == (1, 2)
    parties.reactivate_party(conn, party_id, NOW)
    assert sessions.load(conn, by_link, NOW) is None and sessions.load(conn, by_contact, NOW) is None


def test_deactivated_contact_is_refused_even_if_its_session_was_not_marked(conn, party):
    token = sessions.start(conn, _contact(party), ip=None, user_agent=None, now=NOW)
    conn.execute(parties.ExternalContact.__table__.update().values(active=False))  # e.g. changed by hand
    assert sessions.load(conn, token, NOW) is None


def test_revoked_grant_ends_its_sessions(conn, instance_id):
    grant_id, token = grants.issue_link(conn, scopes=["view"], valid_until=WEEK, instance_id=instance_id, now=NOW)
    cookie = sessions.start(conn, grants.redeem_link(conn, token, NOW), ip=None, user_agent=None, now=NOW)
    grants.revoke_grant(conn, grant_id, "admin", NOW)
    assert sessions.load(conn, cookie, NOW) is None
    assert conn.scalar(select(ExternalSession.revoked_at)) == NOW
