"""`POST /api/v1/signals`: the same `send_signal` as `liaison signal send`, idempotent with a key."""

from __future__ import annotations

from sqlalchemy import func, select

from engine.data.signal_models import SignalEvent
from engine.packages import deployment
from engine.people import api_tokens
from tests.conftest import FIXTURES

from .conftest import call, conforms

SIGNALS = FIXTURES / "bpmn" / "signals"


def test_a_signal_moves_the_waiting_instances_and_starts_processes_once_per_key(api_app, tokens):
    sessions = api_app.extensions["liaison_sessions"]
    for name in ("waiter", "starter"):
        deployment.deploy_package(sessions, deployment.load_package(SIGNALS / f"{name}.bpmn"), "root")
    client = api_app.test_client()
    waiters = [call(client, "POST", "/processes/sig_waiter/instances", tokens["zhang"],
                    json={"data": {"fail_on": "no"}}).json["id"] for _ in range(2)]

    key = {"Idempotency-Key": "recall-2026-12-03"}
    sent = call(client, "POST", "/signals", tokens["zhang"], json={"name": "recall", "data": {"lot": "L-9"}},
                headers=key)
    assert sent.status_code == 200, sent.json
    assert (sent.json["reached"], sent.json["started"], sent.json["pending"]) == (2, 1, 0)
    conforms(call(client, "GET", "/openapi.json", None).json, "POST", "/signals", sent)
    again = call(client, "POST", "/signals", tokens["zhang"], json={"name": "recall", "data": {"lot": "L-9"}},
                 headers=key)
    assert again.json == sent.json  # the first answer; nothing sent twice
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(SignalEvent)) == 1
    for instance in waiters:
        view = call(client, "GET", f"/instances/{instance}", tokens["zhang"]).json
        assert view["data"]["lot"] == "L-9" and view["data"]["recalled"] is True

    assert call(client, "POST", "/signals", tokens["zhang"], json={"data": {}}).status_code == 400  # no name
    assert call(client, "POST", "/signals", None, json={"name": "recall"}).status_code == 401
    with sessions() as session:
        read_only = api_tokens.create_token(session, "wang", "reader", ["read"])[1]
    refused = call(client, "POST", "/signals", read_only, json={"name": "recall"})
    assert (refused.status_code, refused.json["error"]["code"]) == (403, "insufficient_scope")
