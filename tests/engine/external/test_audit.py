"""The access log for the admin page: newest first, filtered, paged by id."""

from __future__ import annotations

from datetime import timedelta

from engine.external import audit
from engine.external.sessions import contact_principal
from tests.engine.external.conftest import NOW


def test_accesses_are_filtered_by_party_and_paged_newest_first(conn, party):
    party_id, contact_id = party
    principal = contact_principal(contact_id, party_id, "supplier", "艾克米", None, "Wang", "zh")
    for n in range(5):
        audit.record(conn, action="view", outcome="ok", principal=principal, instance_id=n + 1, path=f"/portal/{n}",
                     ip="1.2.3.4", user_agent="x" * 400, now=NOW + timedelta(minutes=n))
    audit.record(conn, action="enter_code", outcome="unknown", ip="5.6.7.8", now=NOW)
    first = audit.accesses(conn, party_id=party_id, limit=2)
    assert [a.instance_id for a in first] == [5, 4] and first[0].contact_id == contact_id
    assert len(first[0].user_agent) == 300
    rest = audit.accesses(conn, party_id=party_id, before_id=first[-1].id)
    assert [a.instance_id for a in rest] == [3, 2, 1]
    assert [a.outcome for a in audit.accesses(conn, limit=1)] == ["unknown"]
    assert len(audit.accesses(conn, contact_id=contact_id)) == 5
