"""Webhook subscriptions over the API, delivered by the outbox to a real local HTTP receiver: the payload
and its HMAC signature, the owner's scope (an uninvolved person's subscription hears nothing), a dead
receiver retried by the outbox without losing the step, and the refusals of bad subscriptions."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import delete, select, update

from engine.data.models import OutboxMessage, WebhookEndpoint, utcnow
from engine.notify import delivery

from .conftest import call, conforms

START = {"leave_type": "annual", "days": 2, "manager": "li"}


class Receiver:
    """A threading HTTP server on a free port that keeps every POST (path, headers, body)."""

    def __init__(self, port: int = 0):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.path, dict(self.headers), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver():
    server = Receiver()
    yield server
    server.stop()


def deliver_api_webhooks(app, port: int, now=None) -> list[str]:
    """Deliver the due rows of API subscriptions to `port` with the outbox's own `deliver` (e-mail rows
    and other tests' subscriptions stay)."""
    sessions = app.extensions["liaison_sessions"]
    with sessions() as session:
        ids = session.scalars(select(OutboxMessage.id).join(WebhookEndpoint, WebhookEndpoint.name ==
                                                            OutboxMessage.recipient).where(
            OutboxMessage.recipient.like("api-webhook-%"), OutboxMessage.status == "pending",
            WebhookEndpoint.url.like(f"http://127.0.0.1:{port}/%")).order_by(OutboxMessage.id)).all()
    return [delivery.deliver(sessions, outbox_id, now=now) for outbox_id in ids]


def test_subscription_events_are_signed_and_scoped(api_app, tokens, receiver):
    client = api_app.test_client()
    port = receiver.port
    url = f"http://127.0.0.1:{port}/hook"
    created = call(client, "POST", "/webhooks", tokens["zhang"], json={
        "url": url, "events": ["instance.started", "task.created", "task.completed", "instance.completed"],
        "process": "leave_request"})
    assert created.status_code == 201, created.json
    conforms(client.get("/api/v1/openapi.json").json, "POST", "/webhooks", created)
    secret = created.json["secret"]
    # wang is in none of it: his subscription to everything hears nothing
    assert call(client, "POST", "/webhooks", tokens["wang"], json={
        "url": url + "/wang", "events": ["instance.started", "task.created"]}).status_code == 201
    listed = call(client, "GET", "/webhooks", tokens["zhang"]).json["items"]
    assert [(w["id"], w["events"][0]) for w in listed] == [(created.json["id"], "instance.completed")]
    assert "secret" not in listed[0]

    started = call(client, "POST", "/processes/leave_request/instances", tokens["zhang"],
                   json={"data": START, "business_key": "WH-1"})
    assert started.status_code == 201, started.json
    instance = started.json["id"]
    [task] = started.json["tasks"]
    assert deliver_api_webhooks(api_app, port) == ["sent", "sent"]
    done = call(client, "POST", f"/tasks/{task['id']}/complete", tokens["li"], json={"action": "reject"})
    assert done.status_code == 200, done.json
    assert set(deliver_api_webhooks(api_app, port)) == {"sent"}

    assert {path for path, _headers, _body in receiver.received} == {"/hook"}
    payloads = []
    for _path, headers, body in receiver.received:
        assert delivery.verify_signature(secret, headers["X-Liaison-Timestamp"], body, headers["X-Liaison-Signature"])
        assert not delivery.verify_signature("whsec_other", headers["X-Liaison-Timestamp"], body,
                                             headers["X-Liaison-Signature"])
        payload = json.loads(body)
        assert headers["X-Liaison-Event"] == payload["event"]
        assert (payload["instance_id"], payload["process"], payload["business_key"]) == (instance, "leave_request",
                                                                                        "WH-1")
        payloads.append(payload)
    events = [p["event"] for p in payloads]
    assert events[:2] == ["instance.started", "task.created"]
    assert payloads[1]["task"]["id"] == task["id"] and payloads[1]["task"]["assignee"] == "li"
    assert "task.completed" in events
    completed = next(p for p in payloads if p["event"] == "task.completed")
    assert (completed["task"]["id"], completed["actor"]) == (task["id"], "li")
    if done.json["status"] == "completed":
        assert events[-1] == "instance.completed"


def test_a_dead_receiver_is_retried_by_the_outbox_and_the_step_is_kept(api_app, tokens):
    client = api_app.test_client()
    dead = Receiver()
    port = dead.port
    dead.stop()  # nothing listens on the port now
    created = call(client, "POST", "/webhooks", tokens["hu"], json={
        "url": f"http://127.0.0.1:{port}/late", "events": ["task.created"]})
    assert created.status_code == 201, created.json
    started = call(client, "POST", "/processes/leave_request/instances", tokens["zhang"],
                   json={"data": {**START, "manager": "hu"}, "business_key": "WH-2"})
    assert started.status_code == 201, started.json  # the step is saved whatever the receiver does
    assert deliver_api_webhooks(api_app, port) == ["retry"]
    sessions = api_app.extensions["liaison_sessions"]
    with sessions() as session:
        [row] = session.scalars(select(OutboxMessage).join(WebhookEndpoint, WebhookEndpoint.name ==
                                                           OutboxMessage.recipient)
                                .where(WebhookEndpoint.url.like(f"http://127.0.0.1:{port}/%"))).all()
        assert (row.status, row.attempts, row.instance_id) == ("pending", 1, started.json["id"])
        assert "refused" in row.last_error
    alive = Receiver(port)
    try:
        assert deliver_api_webhooks(api_app, port, now=utcnow() + timedelta(hours=1)) == ["sent"]
        [(_path, headers, body)] = alive.received
        assert delivery.verify_signature(created.json["secret"], headers["X-Liaison-Timestamp"], body,
                                         headers["X-Liaison-Signature"])
        assert json.loads(body)["instance_id"] == started.json["id"]
    finally:
        alive.stop()
    # deleted: nothing more is queued for it, and someone else cannot delete it
    assert call(client, "DELETE", f"/webhooks/{created.json['id']}", tokens["wang"]).status_code == 404
    assert call(client, "DELETE", f"/webhooks/{created.json['id']}", tokens["hu"]).json == {"ok": True}
    call(client, "POST", "/processes/leave_request/instances", tokens["zhang"],
         json={"data": {**START, "manager": "hu"}, "business_key": "WH-3"})
    assert deliver_api_webhooks(api_app, port) == []


def test_bad_subscriptions_are_refused_precisely(api_app, tokens):
    client = api_app.test_client()
    bad = call(client, "POST", "/webhooks", tokens["zhang"], json={"url": "ftp://x", "events": ["nope"]},
               headers={"Accept-Language": "zh"})
    assert bad.status_code == 400
    assert set(bad.json["error"]["details"]["fields"]) == {"url", "events"}
    everything = call(client, "POST", "/webhooks", tokens["zhang"], json={
        "url": "http://127.0.0.1:9/x", "events": ["task.created"], "all_instances": True})
    assert (everything.status_code, everything.json["error"]["code"]) == (403, "forbidden")
    assert call(client, "POST", "/webhooks", tokens["zhang"], json={
        "url": "http://127.0.0.1:9/mine", "events": ["task.created"]}).status_code == 201
    root = call(client, "POST", "/webhooks", tokens["root"], json={
        "url": "http://127.0.0.1:9/x", "events": ["task.created"], "all_instances": True})
    assert root.status_code == 201, root.json
    owners = {w["owner"] for w in call(client, "GET", "/webhooks", tokens["root"]).json["items"]}
    assert {"root", "zhang"} <= owners
    assert call(client, "DELETE", f"/webhooks/{root.json['id']}", tokens["root"]).status_code == 200


def test_a_token_follows_the_directory_at_once(api_app, tokens):
    """The token's person is kept per directory version: a new role, a new admin grant, a deactivation
    and a revocation all show on the very next request."""
    from engine.data.models import AdminGrant, Person, PersonRole, Role
    from engine.people import api_tokens

    client = api_app.test_client()
    sessions = api_app.extensions["liaison_sessions"]
    with sessions() as session:
        token = api_tokens.create_token(session, "wang", "follows", ["read", "admin"])[1]
    assert call(client, "GET", "/webhooks", token).status_code == 200
    everything = {"url": "http://127.0.0.1:9/x", "events": ["task.created"], "all_instances": True}
    assert call(client, "POST", "/webhooks", token, json=everything).status_code == 403
    with sessions() as session, session.begin():
        wang = session.scalar(select(Person.id).where(Person.username == "wang"))
        session.add(AdminGrant(person_id=wang, department_id=None))
    made = call(client, "POST", "/webhooks", token, json=everything)
    assert made.status_code == 201, made.json
    with sessions() as session:
        assert api_tokens.verify_token(session, token).user.groups == ()
    with sessions() as session, session.begin():
        session.add(PersonRole(person_id=wang, role_id=session.scalar(select(Role.id).where(Role.key == "hr"))))
    with sessions() as session:
        assert api_tokens.verify_token(session, token).user.groups == ("hr",)
    with sessions() as session, session.begin():
        session.execute(delete(AdminGrant).where(AdminGrant.person_id == wang))
    assert call(client, "POST", "/webhooks", token, json=everything).status_code == 403
    with sessions() as session, session.begin():
        session.execute(update(Person).where(Person.id == wang).values(active=False))
    assert call(client, "GET", "/webhooks", token).status_code == 401
    with sessions() as session, session.begin():
        session.execute(update(Person).where(Person.id == wang).values(active=True))
    assert call(client, "GET", "/webhooks", token).status_code == 200
    with sessions() as session:
        token_id = api_tokens.verify_token(session, token).token_id
        api_tokens.revoke_token(session, token_id, None)
    assert call(client, "GET", "/webhooks", token).status_code == 401


def test_a_task_offered_to_a_group_reaches_its_members_subscriptions_only(api_app, tokens):
    """hr_record is offered to the hr group: hu (in hr) hears task.created for it and may read the task;
    zhou (not in hr) neither hears it nor may read it, until he joins hr (the next pool task reaches him)."""
    from engine.data.models import Person, PersonRole, Role
    from engine.people import api_tokens

    client = api_app.test_client()
    sessions = api_app.extensions["liaison_sessions"]
    with sessions() as session, session.begin():
        session.add(Person(username="zhou", name="周六"))
    with sessions() as session:
        tokens = {**tokens, "zhou": api_tokens.create_token(session, "zhou", "tests", ["read"])[1]}
    group = Receiver()
    try:
        port = group.port
        subscribed = {}
        for person in ("hu", "zhou"):
            made = call(client, "POST", "/webhooks", tokens[person], json={
                "url": f"http://127.0.0.1:{port}/{person}", "events": ["task.created"], "process": "leave_request"})
            assert made.status_code == 201, made.json
            subscribed[person] = made.json["secret"]

        def approve_to_hr(business_key: str) -> str:
            started = call(client, "POST", "/processes/leave_request/instances", tokens["zhang"],
                           json={"data": START, "business_key": business_key})
            [manager] = started.json["tasks"]
            done = call(client, "POST", f"/tasks/{manager['id']}/complete", tokens["li"],
                        json={"action": "approve", "data": {"manager_comment": "ok"}})
            assert done.status_code == 200, done.json
            [record] = done.json["tasks"]
            assert record["element_id"] == "hr_record" and record["assignee"] is None
            return record["id"]

        record = approve_to_hr("WH-G1")
        assert set(deliver_api_webhooks(api_app, port)) == {"sent"}
        heard = [(path, json.loads(body)) for path, _headers, body in group.received]
        assert [path for path, _payload in heard] == ["/hu"]  # the manager's task was li's, not hu's
        [(_path, payload)] = heard
        assert (payload["event"], payload["task"]["id"], payload["task"]["candidate_groups"]) == (
            "task.created", record, ["hr"])
        [(_path, headers, body)] = group.received
        assert delivery.verify_signature(subscribed["hu"], headers["X-Liaison-Timestamp"], body,
                                         headers["X-Liaison-Signature"])
        # the rule is visibility's: hu may read the task he heard of, zhou may not
        assert call(client, "GET", f"/tasks/{record}", tokens["hu"]).status_code == 200
        assert call(client, "GET", f"/tasks/{record}", tokens["zhou"]).status_code == 404

        with sessions() as session, session.begin():
            zhou = session.scalar(select(Person.id).where(Person.username == "zhou"))
            session.add(PersonRole(person_id=zhou, role_id=session.scalar(select(Role.id).where(Role.key == "hr"))))
        group.received.clear()
        second = approve_to_hr("WH-G2")
        assert set(deliver_api_webhooks(api_app, port)) == {"sent"}
        assert sorted((path, json.loads(body)["task"]["id"]) for path, _h, body in group.received) == [
            ("/hu", second), ("/zhou", second)]
        assert call(client, "GET", f"/tasks/{second}", tokens["zhou"]).status_code == 200
        with sessions() as session, session.begin():
            session.execute(delete(PersonRole).where(PersonRole.person_id == zhou))
    finally:
        group.stop()
