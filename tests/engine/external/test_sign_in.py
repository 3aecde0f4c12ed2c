"""Contacts sign in with an e-mailed one-time code; nothing tells whether an address is known."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.data.external_models import ExternalSignInCode
from engine.data.models import OutboxMessage
from engine.external import audit, parties, sign_in
from engine.external.errors import ExternalAccessError
from tests.engine.external.conftest import NOW

BASE = "https://liaison.example"


def _codes(conn) -> list[str]:
    text = conn.scalar(select(OutboxMessage.payload).order_by(OutboxMessage.id.desc()).limit(1))["text"]
    return re.findall(r"\b\d{6}\b", text.split("----")[0])


def _outbox(conn) -> int:
    return conn.scalar(select(func.count()).select_from(OutboxMessage))


def test_known_address_gets_a_code_in_its_language_and_signs_in(conn, party):
    party_id, contact_id = party
    assert sign_in.request_code(conn, " WANG@acme.example ", client="1.2.3.4", now=NOW, base_url=BASE) is None
    message = conn.execute(select(OutboxMessage.recipient, OutboxMessage.payload)).one()
    assert message.recipient == "wang@acme.example"
    assert message.payload["text"].startswith("Hello Wang") and "门户登录验证码" in message.payload["text"]
    assert BASE + "/portal/" in message.payload["text"]
    [code] = _codes(conn)
    conn.commit()
    principal = sign_in.verify_code(conn, "wang@acme.example", code, client="1.2.3.4", now=NOW + timedelta(minutes=9))
    assert principal.identity == f"ext:contact:{contact_id}" and principal.party_id == party_id
    assert principal.kind == "supplier" and principal.scopes == ("view", "fill", "upload", "submit")
    assert principal.display_name == "艾克米 · Wang"
    conn.commit()
    with pytest.raises(ExternalAccessError):  # used once
        sign_in.verify_code(conn, "wang@acme.example", code, client="1.2.3.4", now=NOW + timedelta(minutes=9))
    assert ("sign_in", "ok") in [(a.action, a.outcome) for a in audit.accesses(conn, contact_id=contact_id)]


def test_unknown_address_behaves_the_same_and_sends_nothing(conn, party):
    assert sign_in.request_code(conn, "nobody@acme.example", client="1.2.3.4", now=NOW, base_url=BASE) is None
    assert _outbox(conn) == 0
    conn.commit()
    with pytest.raises(ExternalAccessError) as refused:
        sign_in.verify_code(conn, "nobody@acme.example", "123456", client="1.2.3.4", now=NOW)
    assert str(refused.value) == sign_in.WRONG_CODE


def test_code_expires_after_ten_minutes_and_a_new_request_voids_the_old(conn, party):
    sign_in.request_code(conn, "wang@acme.example", client="1.2.3.4", now=NOW, base_url=BASE)
    conn.commit()  # a refusal writes on a connection of its own
    [old] = _codes(conn)
    with pytest.raises(ExternalAccessError):
        sign_in.verify_code(conn, "wang@acme.example", old, client="1.2.3.4", now=NOW + timedelta(minutes=10))
    sign_in.request_code(conn, "wang@acme.example", client="1.2.3.4", now=NOW + timedelta(minutes=1), base_url=BASE)
    conn.commit()
    [new] = _codes(conn)
    if new != old:
        with pytest.raises(ExternalAccessError):
            sign_in.verify_code(conn, "wang@acme.example", old, client="1.2.3.5", now=NOW + timedelta(minutes=2))
    assert sign_in.verify_code(conn, "wang@acme.example", new, client="1.2.3.5", now=NOW + timedelta(minutes=2))


def test_five_wrong_codes_void_the_code(conn, party):
    sign_in.request_code(conn, "wang@acme.example", client="1.2.3.4", now=NOW, base_url=BASE)
    conn.commit()  # a refusal writes on a connection of its own
    [code] = _codes(conn)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for n in range(5):
        with pytest.raises(ExternalAccessError):  # from five clients: only the code's attempts stop it
            sign_in.verify_code(conn, "wang@acme.example", wrong, client=f"9.9.9.{n}", now=NOW)
    with pytest.raises(ExternalAccessError) as refused:
        sign_in.verify_code(conn, "wang@acme.example", code, client="8.8.8.8", now=NOW)
    assert refused.value.reason == "unknown"


def test_wrong_codes_from_one_client_end_throttled(conn, party):
    reasons = []
    for n in range(100):
        sign_in.request_code(conn, "wang@acme.example", client="6.6.6.6", now=NOW, base_url=BASE)
        conn.commit()
        try:
            sign_in.verify_code(conn, "wang@acme.example", f"{n:06d}", client="6.6.6.6", now=NOW)
        except ExternalAccessError as exc:
            reasons.append(exc.reason)
    assert reasons[-1] == "throttled"
    assert conn.scalar(select(func.count()).select_from(OutboxMessage)) == sign_in.MAX_REQUESTS  # no mail bombing


def test_revoked_contact_cannot_sign_in_with_a_code_sent_before(conn, party):
    _, contact_id = party
    sign_in.request_code(conn, "wang@acme.example", client="1.2.3.4", now=NOW, base_url=BASE)
    conn.commit()  # a refusal writes on a connection of its own
    [code] = _codes(conn)
    parties.revoke_contact(conn, contact_id, "admin", NOW)
    conn.commit()
    assert conn.scalar(select(func.count()).select_from(ExternalSignInCode)) == 0
    with pytest.raises(ExternalAccessError):
        sign_in.verify_code(conn, "wang@acme.example", code, client="1.2.3.4", now=NOW)


def test_an_address_of_two_parties_gets_one_code_per_party_and_the_code_picks_the_party(conn, party):
    acme, _ = party
    other = parties.create_party(conn, kind="customer", key="BETA", name="贝塔", now=NOW)
    beta_contact = parties.add_contact(conn, other, name="Wang", email="wang@acme.example", locale="en", now=NOW)
    sign_in.request_code(conn, "wang@acme.example", client="1.2.3.4", now=NOW, base_url=BASE)
    assert _outbox(conn) == 1
    text = conn.scalar(select(OutboxMessage.payload))["text"]
    beta_code = re.search(r"贝塔: (\d{6})", text).group(1)
    principal = sign_in.verify_code(conn, "wang@acme.example", beta_code, client="1.2.3.4", now=NOW)
    assert (principal.contact_id, principal.party_id, principal.kind) == (beta_contact, other, "customer")
    assert acme != other
