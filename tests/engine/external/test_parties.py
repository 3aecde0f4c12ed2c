"""Parties and contacts: validation, listing with contact counts, revoke and reactivate."""

from __future__ import annotations

import pytest

from engine.errors import NotFoundError
from engine.external import parties
from engine.external.parties import PartyError
from tests.engine.external.conftest import NOW


def test_party_with_contacts_is_listed_with_its_active_contact_count(conn, party):
    party_id, contact_id = party
    parties.add_contact(conn, party_id, name="Li", email="li@acme.example", phone="138 0000 0000", now=NOW)
    parties.create_party(conn, kind="Customer", key="BETA", name="贝塔", now=NOW)
    parties.revoke_contact(conn, contact_id, "admin", NOW)
    listed = parties.list_parties(conn)
    assert [(p.key, p.kind, p.contacts) for p in listed] == [("ACME", "supplier", 1), ("BETA", "customer", 0)]
    assert [p.key for p in parties.list_parties(conn, kind="customer")] == ["BETA"]
    assert [p.key for p in parties.list_parties(conn, search="acm")] == ["ACME"]
    acme = parties.party_by_key(conn, " ACME ")
    assert acme.display("en") == "Acme" and acme.display("zh") == "艾克米"
    assert parties.party_by_key(conn, "nope") is None
    contacts = parties.contacts_of(conn, party_id)
    assert [(c.name, c.email, c.active) for c in contacts] == [("Li", "li@acme.example", True),
                                                               ("Wang", "wang@acme.example", False)]


@pytest.mark.parametrize("fields, reason", [
    ({"kind": "vendor"}, "bad_kind"), ({"key": "A B"}, "bad_key"), ({"key": "ACME"}, "key_taken"),
    ({"name": " "}, "bad_name"), ({"name": "x" * 301}, "too_long")])
def test_bad_party_is_refused_with_a_reason(conn, party, fields, reason):
    with pytest.raises(PartyError) as refused:
        parties.create_party(conn, **{"kind": "supplier", "key": "NEW", "name": "新", **fields})
    assert refused.value.reason == reason


@pytest.mark.parametrize("fields, reason", [
    ({"email": "not-an-address"}, "bad_email"), ({"email": "WANG@acme.example"}, "email_taken"),
    ({"locale": "fr"}, "bad_locale"), ({"name": ""}, "bad_name")])
def test_bad_contact_is_refused_with_a_reason(conn, party, fields, reason):
    with pytest.raises(PartyError) as refused:
        parties.add_contact(conn, party[0], **{"name": "Zhao", "email": "zhao@acme.example", **fields})
    assert refused.value.reason == reason


def test_update_party_and_contact_keep_the_key(conn, party):
    party_id, contact_id = party
    parties.update_party(conn, party_id, name="艾克米公司", name_en="", kind="customer", now=NOW)
    parties.update_contact(conn, contact_id, email="Wang.New@Acme.example", locale="zh", phone="")
    acme = parties.party_by_key(conn, "ACME")
    assert (acme.name, acme.name_en, acme.kind) == ("艾克米公司", None, "customer")
    [contact] = parties.contacts_of(conn, party_id)
    assert (contact.email, contact.locale, contact.phone) == ("wang.new@acme.example", "zh", None)
    with pytest.raises(NotFoundError):
        parties.update_party(conn, 999, name="x")


def test_reactivated_contact_is_active_again(conn, party):
    _, contact_id = party
    parties.revoke_contact(conn, contact_id, "admin", NOW)
    parties.reactivate_contact(conn, contact_id)
    assert [c.active for c in parties.contacts_of(conn, party[0])] == [True]
