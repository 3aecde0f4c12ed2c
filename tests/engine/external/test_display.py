"""Outsiders' identities as employees' pages show them."""

from __future__ import annotations

from datetime import timedelta

from engine.external import grants
from engine.external.display import display_names
from tests.engine.external.conftest import NOW, add_case

WEEK = NOW + timedelta(days=7)


def test_contacts_and_grants_read_as_party_contact_label_or_visitor(conn, instance_id, party):
    party_id, contact_id = party
    labelled, _ = grants.issue_link(conn, scopes=["view"], valid_until=WEEK, label="李先生", now=NOW)
    of_party, _ = grants.issue_code(conn, scopes=["view"], valid_until=WEEK, party_id=party_id, now=NOW)
    of_visit, _ = grants.issue_link(conn, scopes=["view"], valid_until=WEEK, instance_id=instance_id, now=NOW)
    anonymous, _ = grants.issue_link(conn, scopes=["view"], valid_until=WEEK, now=NOW)
    ids = [f"ext:contact:{contact_id}", f"ext:grant:{labelled}", f"ext:grant:{of_party}", f"ext:grant:{of_visit}",
           f"ext:grant:{anonymous}", "ext:grant:999", "ann", None]
    assert display_names(conn, ids, "zh") == {
        f"ext:contact:{contact_id}": "艾克米 · Wang", f"ext:grant:{labelled}": "李先生",
        f"ext:grant:{of_party}": "艾克米", f"ext:grant:{of_visit}": "外部访客", f"ext:grant:{anonymous}": "外部访客",
        "ext:grant:999": "外部访客"}
    add_case(conn, instance_id, "visitor", name="Zhao Lei")
    english = display_names(conn, ids, "en")
    assert english[f"ext:contact:{contact_id}"] == "Acme · Wang" and english[f"ext:grant:{of_party}"] == "Acme"
    assert english[f"ext:grant:{of_visit}"] == "Zhao Lei" and english[f"ext:grant:{anonymous}"] == "External visitor"


def test_a_link_issued_for_a_step_reads_as_its_party_not_as_the_step(conn, party):
    """The engine labels the links it issues with the step's name (for the admin's list); on the
    instance page the supplier acting through it is the supplier."""
    party_id, _contact_id = party
    step_link, _ = grants.issue_link(conn, scopes=["view", "fill"], valid_until=WEEK, party_id=party_id,
                                     label="确认订单", now=NOW)
    assert display_names(conn, [f"ext:grant:{step_link}"], "zh") == {f"ext:grant:{step_link}": "艾克米"}
