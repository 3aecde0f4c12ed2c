"""engine.delivery against a real SMTP server (aiosmtpd) and a real local HTTP server."""

from __future__ import annotations

import base64
import email
import hashlib
import hmac
import json
import logging
import socket
import threading
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import select, update

from cli import main as cli_main
from engine.config import Settings
from engine.data import db, store
from engine.data.models import OutboxMessage, WebhookEndpoint
from engine.errors import NotFoundError
from engine.notify import delivery
from engine.notify.render import Event, StepFacts, render_step

NOW = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
SECRET = "s3cr3t-长"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def settings(smtp_url: str | None = None) -> Settings:
    return Settings(database_url="", redis_url=None, secret_key=None, smtp_url=smtp_url,
                    base_url="https://wf.example.com", locale="zh", timezone="Asia/Shanghai", instance_dir=Path("."))


def add_row(sessions, channel: str, recipient: str, payload: dict, instance_id: int | None = 7,
            event: str = "approved", at: datetime = NOW) -> int:
    with sessions() as session, session.begin():
        row = OutboxMessage(instance_id=instance_id, event=event, channel=channel, recipient=recipient,
                            payload=payload, status="pending", attempts=0, next_attempt_at=at, created_at=at)
        session.add(row)
        session.flush()
        return row.id


def row_of(sessions, outbox_id: int) -> OutboxMessage:
    with sessions() as session:
        return session.get(OutboxMessage, outbox_id)


def add_endpoint(sessions, name: str, url: str, fmt: str = "generic", secret: str | None = SECRET):
    with sessions() as session, session.begin():
        delivery.add_endpoint(session, name, url, fmt, secret)


# -- servers ---------------------------------------------------------------------------------------

class SmtpInbox:
    def __init__(self):
        self.envelopes = []
        self.reply = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        if self.reply:
            return self.reply
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp():
    inbox = SmtpInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.url = f"smtp://127.0.0.1:{controller.port}?from=noreply%40example.com"
    yield inbox
    controller.stop()


class Hook:
    def __init__(self):
        self.requests = []
        self.replies = []  # (status, dict) used in turn; then `default`
        self.default = (200, {"errcode": 0, "code": 0})
        self.delay = 0.0
        self.lock = threading.Lock()


class HookHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's name
        hook = self.server.hook
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with hook.lock:
            hook.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            status, reply = hook.replies.pop(0) if hook.replies else hook.default
        if hook.delay:
            time.sleep(hook.delay)
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def hook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), HookHandler)
    server.hook = Hook()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    server.hook.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server.hook
    server.shutdown()
    server.server_close()


# -- e-mail ----------------------------------------------------------------------------------------

def rendered_rows(sessions, instance_id=7):
    """E-mail rows made by engine.notifications for a zh and an en reader."""
    from engine.data.models import Person

    with sessions() as session, session.begin():
        session.add_all([Person(username="alice", name="张丽", email="alice@example.com", locale="zh"),
                         Person(username="bob", name="Bob", email="bob@example.com", locale="en")])
    with sessions() as session, session.begin():
        conn = session.connection()
        outbox, _ = render_step(conn, StepFacts(
            process_key="leave", package={"meta": {"name": {"zh": "请假申请", "en": "Leave request"}}},
            instance_id=instance_id, initiator="alice", business_key="QJ-9", data={},
            events=[Event("approved", recipients=["alice", "bob"], actor="li")]), NOW, settings=settings())
        store.write_effects(conn, instance_id, NOW, [o for o in outbox if o["channel"] == "email"], [])
    with sessions() as session:
        return {row.recipient: row.id for row in session.scalars(select(OutboxMessage))}


def test_email_reaches_a_real_smtp_server(sessions, smtp):
    ids = rendered_rows(sessions)
    for outbox_id in ids.values():
        assert delivery.deliver(sessions, outbox_id, now=NOW, settings=settings(smtp.url)) == "sent"
    received = {tuple(e.rcpt_tos): e for e in smtp.envelopes}
    assert set(received) == {("alice@example.com",), ("bob@example.com",)}
    zh = email.message_from_bytes(received["alice@example.com", ].content, policy=policy.default)
    en = email.message_from_bytes(received["bob@example.com", ].content, policy=policy.default)
    assert received["alice@example.com", ].mail_from == "noreply@example.com"
    assert zh["Subject"] == "已通过：请假申请"
    assert en["Subject"] == "Approved: Leave request"
    assert zh["From"] == "noreply@example.com" and zh["To"] == "alice@example.com"
    assert zh["Message-ID"] == f"<outbox-{ids['alice@example.com']}.7@wf.example.com>"
    assert zh["X-Liaison-Event"] == "approved"
    assert zh.get_content_type() == "multipart/alternative"
    text = zh.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = zh.get_body(("html",)).get_content()
    assert zh.get_body(("plain",))["Content-Transfer-Encoding"] == "base64"
    assert text == "流程「请假申请」（QJ-9）已由li批准。\n\nhttps://wf.example.com/instances/7\n"
    assert '<a href="https://wf.example.com/instances/7">打开</a>' in html
    row = row_of(sessions, ids["alice@example.com"])
    assert (row.status, row.attempts, row.sent_at, row.claimed_until, row.last_error) == ("sent", 1, NOW, None, None)
    assert delivery.deliver(sessions, row.id, now=NOW, settings=settings(smtp.url)) == "skipped"
    assert len(smtp.envelopes) == 2


def test_message_id_of_a_row_written_before_its_instance_had_an_id(sessions, smtp):
    ids = rendered_rows(sessions, instance_id=None)
    outbox_id = ids["bob@example.com"]
    assert delivery.deliver(sessions, outbox_id, now=NOW, settings=settings(smtp.url)) == "sent"
    message = email.message_from_bytes(smtp.envelopes[0].content, policy=policy.default)
    assert message["Message-ID"] == f"<outbox-{outbox_id}.0@wf.example.com>"


def test_smtp_refusal_is_retried_then_failed(sessions, smtp):
    smtp.reply = "550 5.7.1 relaying denied"
    outbox_id = rendered_rows(sessions)["alice@example.com"]
    now, delays = NOW, []
    for attempt in range(1, delivery.MAX_ATTEMPTS):
        assert delivery.deliver(sessions, outbox_id, now=now, settings=settings(smtp.url)) == "retry"
        row = row_of(sessions, outbox_id)
        assert (row.status, row.attempts, row.claimed_until) == ("pending", attempt, None)
        assert row.last_error == "SMTP 550 5.7.1 relaying denied"
        assert delivery.deliver(sessions, outbox_id, now=row.next_attempt_at - timedelta(seconds=1),
                                settings=settings(smtp.url)) == "skipped"  # not due yet
        delays.append(row.next_attempt_at - now)
        now = row.next_attempt_at
    assert delays == [timedelta(seconds=s) for s in (30, 60, 120, 240, 480, 960, 1920)]
    assert delivery.deliver(sessions, outbox_id, now=now, settings=settings(smtp.url)) == "failed"
    row = row_of(sessions, outbox_id)
    assert (row.status, row.attempts, row.last_error) == ("failed", 8, "SMTP 550 5.7.1 relaying denied")
    assert smtp.envelopes == []


def test_unreachable_smtp_server_and_no_smtp_url_are_retried(sessions, monkeypatch):
    monkeypatch.setenv("LIAISON_RETRY_BASE_SECONDS", "2")
    ids = rendered_rows(sessions)
    closed = f"smtp://127.0.0.1:{free_port()}"
    assert delivery.deliver(sessions, ids["alice@example.com"], now=NOW, settings=settings(closed)) == "retry"
    row = row_of(sessions, ids["alice@example.com"])
    assert row.last_error.startswith("SMTP ConnectionRefusedError") and row.next_attempt_at == NOW + timedelta(seconds=2)
    assert delivery.deliver(sessions, ids["bob@example.com"], now=NOW, settings=settings(None)) == "retry"
    assert row_of(sessions, ids["bob@example.com"]).last_error == "LIAISON_SMTP_URL is not set"


def test_missing_smtp_url_is_logged_once_and_still_recorded_on_every_row(sessions, monkeypatch, caplog):
    """`make run` has no mail server: one warning saying so, not one per e-mail and attempt."""
    monkeypatch.setattr(delivery, "_UNCONFIGURED_SAID", set())
    ids = rendered_rows(sessions)
    caplog.set_level(logging.DEBUG, logger=delivery.log.name)
    for address in ids:
        assert delivery.deliver(sessions, ids[address], now=NOW, settings=settings(None)) == "retry"
        assert row_of(sessions, ids[address]).last_error == "LIAISON_SMTP_URL is not set"
    said = [r for r in caplog.records if "LIAISON_SMTP_URL is not set" in r.getMessage()]
    assert len(said) == len(ids) >= 2
    assert [r.levelno for r in said] == [logging.WARNING] + [logging.DEBUG] * (len(ids) - 1)
    assert "--retry-failed" in said[0].getMessage()
    closed = f"smtp://127.0.0.1:{free_port()}"  # a real failure is still a warning every time
    caplog.clear()
    for address in ids:
        delivery.deliver(sessions, ids[address], now=NOW + timedelta(hours=2), settings=settings(closed))
    assert [r.levelno for r in caplog.records if "ConnectionRefused" in r.getMessage()] == [logging.WARNING] * len(ids)


def test_smtp_url_forms():
    target = delivery.parse_smtp_url("smtp+starttls://u%40x:p%3Aw@mail.example.com?from=wf%40example.com")
    assert (target.host, target.port, target.mode, target.username, target.password, target.sender) == (
        "mail.example.com", 587, "starttls", "u@x", "p:w", "wf@example.com")
    assert delivery.parse_smtp_url("smtps://mail.example.com").port == 465
    plain = delivery.parse_smtp_url("smtp://mail.example.com:2525")
    assert (plain.port, plain.mode, plain.sender) == (2525, "plain", "liaison@mail.example.com")
    with pytest.raises(delivery.DeliveryError):
        delivery.parse_smtp_url("http://mail.example.com")


# -- webhooks --------------------------------------------------------------------------------------

PAYLOAD = {"event": "approved", "process_key": "leave", "instance_id": None, "business_key": "QJ-9",
           "task": None, "actor": "li", "comment": "好", "occurred_at": NOW.isoformat(), "title": "已通过：请假申请",
           "text": "流程「请假申请」已批准。", "link": "https://wf.example.com/instances/7", "lang": "zh"}


def test_generic_webhook_is_signed(sessions, hook):
    add_endpoint(sessions, "ops", hook.url + "/hooks/liaison")
    outbox_id = add_row(sessions, "webhook", "ops", PAYLOAD)
    assert delivery.deliver(sessions, outbox_id, now=NOW) == "sent"
    [request] = hook.requests
    headers, body = request["headers"], request["body"]
    assert request["path"] == "/hooks/liaison"
    assert headers["X-Liaison-Event"] == "approved"
    assert headers["X-Liaison-Delivery"] == str(outbox_id)
    assert headers["X-Liaison-Timestamp"] == str(int(NOW.timestamp()))
    assert json.loads(body) == {**PAYLOAD, "instance_id": 7}  # the row's instance id filled in
    timestamp, signature = headers["X-Liaison-Timestamp"], headers["X-Liaison-Signature"]
    assert delivery.verify_signature(SECRET, timestamp, body, signature)
    assert delivery.verify_signature(SECRET, timestamp, body.decode(), signature)
    assert not delivery.verify_signature("wrong", timestamp, body, signature)
    assert not delivery.verify_signature(SECRET, str(int(timestamp) + 1), body, signature)
    assert not delivery.verify_signature(SECRET, timestamp, body + b" ", signature)
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert signature == f"sha256={expected}"
    assert row_of(sessions, outbox_id).status == "sent"


def test_dingtalk_robot(sessions, hook):
    add_endpoint(sessions, "ding", hook.url + "/robot/send?access_token=abc", "dingtalk")
    outbox_id = add_row(sessions, "webhook", "ding", PAYLOAD)
    assert delivery.deliver(sessions, outbox_id, now=NOW) == "sent"
    request = hook.requests[0]
    path, _, query = request["path"].partition("?")
    params = urllib.parse.parse_qs(query)
    assert path == "/robot/send" and params["access_token"] == ["abc"]
    timestamp = params["timestamp"][0]
    assert timestamp == str(int(NOW.timestamp() * 1000))
    digest = hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256).digest()
    assert params["sign"] == [base64.b64encode(digest).decode()]
    assert json.loads(request["body"]) == {"msgtype": "markdown", "markdown": {
        "title": "已通过：请假申请",
        "text": "#### 已通过：请假申请\n\n流程「请假申请」已批准。\n\n"
                "[https://wf.example.com/instances/7](https://wf.example.com/instances/7)"}}

    hook.default = (200, {"errcode": 310000, "errmsg": "sign not match"})
    second = add_row(sessions, "webhook", "ding", PAYLOAD)
    assert delivery.deliver(sessions, second, now=NOW) == "retry"
    assert row_of(sessions, second).last_error == "dingtalk replied errcode 310000: sign not match"


def test_feishu_bot(sessions, hook):
    add_endpoint(sessions, "fs", hook.url + "/open-apis/bot/v2/hook/xyz", "feishu")
    outbox_id = add_row(sessions, "webhook", "fs", PAYLOAD)
    assert delivery.deliver(sessions, outbox_id, now=NOW) == "sent"
    body = json.loads(hook.requests[0]["body"])
    timestamp = str(int(NOW.timestamp()))
    digest = hmac.new(f"{timestamp}\n{SECRET}".encode(), b"", hashlib.sha256).digest()
    assert body == {"timestamp": timestamp, "sign": base64.b64encode(digest).decode(), "msg_type": "text",
                    "content": {"text": "已通过：请假申请\n流程「请假申请」已批准。\nhttps://wf.example.com/instances/7"}}
    hook.default = (200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"})
    second = add_row(sessions, "webhook", "fs", PAYLOAD)
    assert delivery.deliver(sessions, second, now=NOW) == "retry"
    assert row_of(sessions, second).last_error.startswith("feishu replied errcode 19021: sign match fail")


def test_wecom_robot(sessions, hook):
    add_endpoint(sessions, "wx", hook.url + "/cgi-bin/webhook/send?key=k", "wecom", secret=None)
    outbox_id = add_row(sessions, "webhook", "wx", PAYLOAD)
    assert delivery.deliver(sessions, outbox_id, now=NOW) == "sent"
    assert hook.requests[0]["path"] == "/cgi-bin/webhook/send?key=k"
    assert json.loads(hook.requests[0]["body"]) == {"msgtype": "markdown", "markdown": {
        "content": "**已通过：请假申请**\n流程「请假申请」已批准。\n"
                   "[https://wf.example.com/instances/7](https://wf.example.com/instances/7)"}}
    hook.default = (200, {"errcode": 93000, "errmsg": "invalid webhook url"})
    second = add_row(sessions, "webhook", "wx", PAYLOAD)
    assert delivery.deliver(sessions, second, now=NOW) == "retry"


def test_server_errors_back_off_exponentially(sessions, hook):
    add_endpoint(sessions, "ops", hook.url)
    hook.default = (500, {"error": "boom"})
    outbox_id = add_row(sessions, "webhook", "ops", PAYLOAD)
    now = NOW
    for attempt, seconds in ((1, 30), (2, 60), (3, 120)):
        assert delivery.deliver(sessions, outbox_id, now=now) == "retry"
        row = row_of(sessions, outbox_id)
        assert row.attempts == attempt and row.next_attempt_at == now + timedelta(seconds=seconds)
        assert row.last_error == 'HTTP 500: {"error": "boom"}'
        now = row.next_attempt_at
    hook.default = (429, {})
    assert delivery.deliver(sessions, outbox_id, now=now) == "retry"  # too many requests: later
    hook.default = (200, {})
    assert delivery.deliver(sessions, outbox_id, now=now + timedelta(hours=1)) == "sent"
    assert len(hook.requests) == 5


def test_client_errors_and_bad_endpoints_fail_at_once(sessions, hook):
    add_endpoint(sessions, "ops", hook.url)
    hook.default = (400, {"error": "x" * 300})
    outbox_id = add_row(sessions, "webhook", "ops", PAYLOAD)
    assert delivery.deliver(sessions, outbox_id, now=NOW) == "failed"
    row = row_of(sessions, outbox_id)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error == "HTTP 400: " + ('{"error": "' + "x" * 300)[:200]

    unknown = add_row(sessions, "webhook", "nope", PAYLOAD)
    assert delivery.deliver(sessions, unknown, now=NOW) == "failed"
    assert row_of(sessions, unknown).last_error == "no webhook endpoint named `nope`"
    with sessions() as session, session.begin():
        session.execute(update(WebhookEndpoint).values(active=False))
    inactive = add_row(sessions, "webhook", "ops", PAYLOAD)
    assert delivery.deliver(sessions, inactive, now=NOW) == "failed"
    assert row_of(sessions, inactive).last_error == "webhook endpoint `ops` is not active"
    assert len(hook.requests) == 1


def test_unreachable_webhook_is_retried(sessions):
    add_endpoint(sessions, "ops", f"http://127.0.0.1:{free_port()}/x")
    outbox_id = add_row(sessions, "webhook", "ops", PAYLOAD)
    assert delivery.deliver(sessions, outbox_id, now=NOW) == "retry"
    assert "Connection refused" in row_of(sessions, outbox_id).last_error


# -- claiming, leases, workers ---------------------------------------------------------------------

def test_claim_due_leases_and_takes_back_a_dead_workers_rows(sessions, hook):
    add_endpoint(sessions, "ops", hook.url)
    due = add_row(sessions, "webhook", "ops", PAYLOAD)
    later = add_row(sessions, "webhook", "ops", PAYLOAD, at=NOW + timedelta(minutes=5))
    crashed = add_row(sessions, "webhook", "ops", PAYLOAD)
    done = add_row(sessions, "webhook", "ops", PAYLOAD)
    with sessions() as session, session.begin():  # a worker marked it sending, then was SIGKILLed
        session.execute(update(OutboxMessage).where(OutboxMessage.id == crashed)
                        .values(status="sending", attempts=1, claimed_until=NOW + timedelta(seconds=60)))
        session.execute(update(OutboxMessage).where(OutboxMessage.id == done).values(status="sent"))

    assert delivery.claim_due(sessions, now=NOW) == [due]
    assert delivery.claim_due(sessions, now=NOW + timedelta(seconds=30)) == []  # leased to the first caller
    assert row_of(sessions, due).claimed_until == NOW + timedelta(seconds=60)
    assert delivery.deliver(sessions, crashed, now=NOW + timedelta(seconds=30)) == "skipped"  # its lease is live
    after = NOW + timedelta(seconds=61)
    assert sorted(delivery.claim_due(sessions, now=after)) == [due, crashed]
    assert delivery.deliver(sessions, crashed, now=after) == "sent"
    assert row_of(sessions, crashed).attempts == 2
    assert delivery.claim_due(sessions, now=NOW + timedelta(minutes=6), limit=1) == [due]
    assert delivery.deliver_due(sessions, now=NOW + timedelta(minutes=10), settings=settings()) == 2  # due, later
    assert {row_of(sessions, i).status for i in (due, later, crashed, done)} == {"sent"}
    assert delivery.deliver_due(sessions, now=NOW + timedelta(minutes=10), settings=settings()) == 0


def test_two_workers_one_request(postgres_url, hook):
    engine = db.make_engine(postgres_url)
    sessions = db.make_session_factory(engine)
    try:
        add_endpoint(sessions, "ops", hook.url)
        hook.delay = 0.2
        outbox_id = add_row(sessions, "webhook", "ops", PAYLOAD)
        barrier, outcomes = threading.Barrier(2), []

        def worker():
            barrier.wait()
            outcomes.append(delivery.deliver(sessions, outbox_id, now=NOW))

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert sorted(outcomes) == ["sent", "skipped"]
        assert len(hook.requests) == 1
        assert row_of(sessions, outbox_id).attempts == 1
    finally:
        engine.dispose()


# -- administration --------------------------------------------------------------------------------

def test_endpoints_and_outbox_summary(sessions):
    with sessions() as session, session.begin():
        delivery.add_endpoint(session, "ops", "https://hooks.example.com/robot/send?token=t", "dingtalk", "s")
        delivery.add_endpoint(session, "fs", "https://open.feishu.cn/open-apis/bot/v2/hook/tok", "feishu")
        for bad, message in ((("ops", "https://a.example.com"), "a webhook endpoint named `ops` exists already"),
                             (("x", "ftp://a.example.com"), "the webhook URL must be an http:// or https:// URL"),
                             (("x", "https://a.example.com", "slack"), "unknown webhook format `slack`")):
            with pytest.raises(delivery.EndpointError, match=message):
                delivery.add_endpoint(session, *bad)
    with sessions() as session:
        feishu, listed = delivery.list_endpoints(session)
    assert {k: listed[k] for k in ("name", "url", "format", "has_secret", "active")} == {
        "name": "ops", "url": "https://hooks.example.com/robot/send?…", "format": "dingtalk", "has_secret": True,
        "active": True}
    assert (feishu["url"], feishu["has_secret"]) == ("https://open.feishu.cn/open-apis/bot/…", False)
    first = add_row(sessions, "webhook", "gone", PAYLOAD)
    delivery.deliver(sessions, first, now=NOW)
    add_row(sessions, "email", "a@example.com", {})
    with sessions() as session:
        summary = delivery.outbox_summary(session)
    assert summary["counts"] == {"pending": 1, "sending": 0, "sent": 0, "failed": 1}
    assert [(r["id"], r["last_error"]) for r in summary["failed"]] == [(first, "no webhook endpoint named `gone`")]
    with sessions() as session, session.begin():
        assert delivery.retry_failed(session) == 1
    assert (row_of(sessions, first).status, row_of(sessions, first).attempts) == ("pending", 0)
    with sessions() as session, session.begin():
        delivery.remove_endpoint(session, "ops")
        with pytest.raises(NotFoundError):
            delivery.remove_endpoint(session, "ops")


def test_cli_webhook_and_outbox(database_url):
    runner = CliRunner()

    def run(*args, code=0):
        result = runner.invoke(cli_main, ["--database-url", database_url, *args])
        assert result.exit_code == code, result.output
        return result.output

    assert run("webhook", "add", "ops", "https://hooks.example.com/x", "--format", "feishu", "--secret", "s") == (
        "added webhook `ops` (feishu)\n")
    result = runner.invoke(cli_main, ["--database-url", database_url, "webhook", "add", "gen",
                                      "https://hooks.example.com/y", "--secret-stdin"], input="from-stdin\n")
    assert result.exit_code == 0, result.output
    engine = db.make_engine(database_url)
    with db.make_session_factory(engine)() as session:
        assert session.scalar(select(WebhookEndpoint.secret).where(WebhookEndpoint.name == "gen")) == "from-stdin"
    engine.dispose()
    assert "ops" in run("webhook", "list") and "signed" in run("webhook", "list")
    assert [(e["name"], e["format"]) for e in json.loads(run("webhook", "list", "--json"))] == [
        ("gen", "generic"), ("ops", "feishu")]
    assert run("outbox") == "pending: 0  sending: 0  sent: 0  failed: 0\n"
    assert run("outbox", "--retry-failed").startswith("0 failed row(s) will be sent again\n")
    assert run("webhook", "remove", "ops") == "removed webhook `ops`\n"
    run("webhook", "remove", "ops", code=1)
