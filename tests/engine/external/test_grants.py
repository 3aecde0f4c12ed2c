"""Links and invitation codes: issue, redeem, refuse, revoke, throttle."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from engine.data.external_models import ExternalGrant
from engine.external import audit, grants, parties
from engine.external.errors import ExternalAccessError
from tests.engine.external.conftest import NOW, add_case

WEEK = NOW + timedelta(days=7)


def test_code_is_eight_unambiguous_characters_shown_in_two_groups(conn):
    _, code = grants.issue_code(conn, scopes=["view"], valid_until=WEEK, now=NOW)
    assert len(code) == 9 and code[4] == "-"
    assert not set(code.replace("-", "")) & set("0O1IL")
    stored = conn.scalar(select(ExternalGrant.token_hash))
    assert stored == grants.token_hash(code.replace("-", "")) and code.replace("-", "") not in stored


@pytest.mark.parametrize("typed", ["{a} {b}", "{a}{b}", " {a}-{b} ", "{a_lower}-{b_lower}", "{fw}"])
def test_code_typed_in_any_common_way_is_redeemed(conn, instance_id, typed):
    grant_id, code = grants.issue_code(conn, scopes=["view", "fill"], valid_until=WEEK, instance_id=instance_id,
                                       label="Mr Li", now=NOW)
    a, b = code.split("-")
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in a + b)  # Ａ-Ｚ, ０-９ typed on a Chinese keyboard
    entered = typed.format(a=a, b=b, a_lower=a.lower(), b_lower=b.lower(), fw=fullwidth[:4] + "－" + fullwidth[4:])
    principal = grants.redeem_code(conn, entered, NOW + timedelta(hours=1), client="10.0.0.1")
    assert principal.identity == f"ext:grant:{grant_id}"
    assert principal.instance_id == instance_id and principal.scopes == ("view", "fill")
    assert principal.kind == "visitor" and principal.display_name == "Mr Li"
    row = conn.execute(select(ExternalGrant.use_count, ExternalGrant.last_used_at)).one()
    assert row == (1, NOW + timedelta(hours=1))


def test_link_kind_comes_from_party_then_case_then_visitor(conn, instance_id, party):
    party_id, _ = party
    _, bound = grants.issue_link(conn, scopes=["view"], valid_until=WEEK, party_id=party_id, now=NOW)
    _, plain = grants.issue_link(conn, scopes=["view"], valid_until=WEEK, instance_id=instance_id, now=NOW)
    assert grants.redeem_link(conn, bound, NOW).kind == "supplier"
    assert grants.redeem_link(conn, plain, NOW).kind == "visitor"
    add_case(conn, instance_id, "customer")
    assert grants.redeem_link(conn, plain, NOW).kind == "customer"


@pytest.mark.parametrize("when, reason", [(NOW - timedelta(minutes=1), "not_yet"), (WEEK, "expired")])
def test_link_outside_its_validity_is_refused_with_reason(conn, when, reason):
    grant_id, token = grants.issue_link(conn, scopes=["view"], valid_until=WEEK, now=NOW)
    conn.commit()  # a refusal writes on a connection of its own
    with pytest.raises(ExternalAccessError) as refused:
        grants.redeem_link(conn, token, when)
    assert refused.value.reason == reason
    logged = audit.accesses(conn, grant_id=grant_id)
    assert [(a.action, a.outcome) for a in logged] == [("enter_link", reason)]


def test_unknown_and_pass_tokens_are_unknown(conn):
    conn.execute(insert(ExternalGrant).values(kind="pass", token_hash=grants.token_hash("ABCDEFGH"), scopes=["view"],
                                              valid_from=NOW, valid_until=WEEK, use_count=0))
    conn.commit()
    for attempt in (lambda: grants.redeem_code(conn, "ABCD-EFGH", NOW), lambda: grants.redeem_link(conn, "nope", NOW)):
        with pytest.raises(ExternalAccessError) as refused:
            attempt()
        assert refused.value.reason == "unknown"
        assert str(refused.value) == "This link or code is not valid."


def test_revoked_grant_party_or_contact_refuses_the_link(conn, party):
    party_id, contact_id = party
    _, by_grant = grants.issue_link(conn, scopes=["view"], valid_until=WEEK, now=NOW)
    gid, _ = grants.issue_link(conn, scopes=["view"], valid_until=WEEK, now=NOW)
    _, by_party = grants.issue_link(conn, scopes=["view"], valid_until=WEEK, party_id=party_id, now=NOW)
    _, by_contact = grants.issue_link(conn, scopes=["view"], valid_until=WEEK, party_id=party_id,
                                      contact_id=contact_id, now=NOW)
    assert grants.revoke_grant(conn, gid, "admin", NOW) and not grants.revoke_grant(conn, gid, "admin", NOW)
    parties.revoke_contact(conn, contact_id, "admin", NOW)
    conn.commit()
    for token in (by_contact,):
        with pytest.raises(ExternalAccessError) as refused:
            grants.redeem_link(conn, token, NOW)
        assert refused.value.reason == "revoked"
    assert grants.redeem_link(conn, by_party, NOW, lang="en").display_name == "Acme"
    conn.execute(ExternalGrant.__table__.update().where(ExternalGrant.id == gid).values(revoked_at=None))
    parties.revoke_party(conn, party_id, "admin", NOW)
    conn.commit()
    with pytest.raises(ExternalAccessError, match="withdrawn"):
        grants.redeem_link(conn, by_party, NOW)
    assert grants.redeem_link(conn, by_grant, NOW).grant_id


def test_links_of_a_revoked_partys_cases_are_refused(conn, instance_id, party):
    party_id, _ = party
    add_case(conn, instance_id, "supplier", party_id)
    grant_id, token = grants.issue_link(conn, scopes=["view"], valid_until=WEEK, instance_id=instance_id, now=NOW)
    assert grants.redeem_link(conn, token, NOW).kind == "supplier"
    parties.revoke_party(conn, party_id, "admin", NOW)
    parties.reactivate_party(conn, party_id, NOW)
    conn.commit()
    with pytest.raises(ExternalAccessError) as refused:  # withdrawn with the party; reactivating does not restore it
        grants.redeem_link(conn, token, NOW)
    assert refused.value.reason == "revoked"
    assert [g.revoked_by for g in grants.grants_of(conn, instance_id=instance_id)] == ["admin"]


def test_refusal_is_logged_even_when_the_caller_rolls_back_and_leaves_its_transaction_alone(sessions):
    with sessions() as session, session.begin():  # the web's pattern: an ORM session's transaction
        with pytest.raises(ExternalAccessError):
            grants.redeem_code(session.connection(), "WXYZ-2345", NOW, client="10.0.0.9")
        session.rollback()
    with sessions() as session, session.begin():
        assert [(a.outcome, a.ip) for a in audit.accesses(session.connection())] == [("unknown", "10.0.0.9")]
        grant_id, code = grants.issue_code(session.connection(), scopes=["view"], valid_until=WEEK, now=NOW)
    with sessions() as session, session.begin():
        with pytest.raises(ExternalAccessError):
            grants.redeem_code(session.connection(), "WXYZ-2346", NOW, client="10.0.0.9")
        assert grants.redeem_code(session.connection(), code, NOW, client="10.0.0.8").grant_id == grant_id
    with sessions() as session:
        assert [g.use_count for g in grants.grants_of(session.connection())] == [1]


def test_hundred_wrong_codes_from_one_client_end_throttled(conn):
    _, code = grants.issue_code(conn, scopes=["view"], valid_until=WEEK, now=NOW)
    conn.commit()
    reasons = []
    for n in range(100):
        try:
            grants.redeem_code(conn, f"AAAA-{n:04d}".replace("0", "A").replace("1", "B"), NOW, client="10.6.6.6")
        except ExternalAccessError as exc:
            reasons.append(exc.reason)
    assert reasons[0] == "unknown" and reasons[-1] == "throttled"
    with pytest.raises(ExternalAccessError) as refused:  # even the right code waits, from that client
        grants.redeem_code(conn, code, NOW, client="10.6.6.6")
    assert refused.value.reason == "throttled" and "seconds" in str(refused.value)
    assert grants.redeem_code(conn, code, NOW, client="10.7.7.7").grant_id  # another client is not slowed


def test_grants_of_lists_an_instances_and_a_partys_grants_without_tokens(conn, instance_id, party):
    party_id, _ = party
    first, _ = grants.issue_link(conn, scopes=["view"], valid_until=WEEK, instance_id=instance_id, now=NOW)
    second, _ = grants.issue_code(conn, scopes=["submit"], valid_until=WEEK, party_id=party_id,
                                  process_key="ext_order", now=NOW)
    assert [g.id for g in grants.grants_of(conn, instance_id=instance_id)] == [first]
    listed = grants.grants_of(conn, party_id=party_id)
    assert [(g.id, g.kind, g.scopes, g.process_key) for g in listed] == [(second, "code", ("submit",), "ext_order")]
    assert not hasattr(listed[0], "token_hash")


def test_a_grant_for_a_contact_takes_the_kind_of_the_contacts_party_and_ends_with_the_party(conn, party):
    party_id, contact_id = party
    _, token = grants.issue_link(conn, scopes=["view"], valid_until=WEEK, contact_id=contact_id, now=NOW)
    assert grants.redeem_link(conn, token, NOW).kind == "supplier"
    assert parties.revoke_party(conn, party_id, "admin", NOW).grants == 1
    conn.commit()
    with pytest.raises(ExternalAccessError) as refused:
        grants.redeem_link(conn, token, NOW)
    assert refused.value.reason == "revoked"
