"""Delivery of the outbox: e-mail over SMTP and webhooks over HTTP, with leases and retries.

Rows are written by engine steps (`engine.notifications`) with status `pending`. A worker claims
due rows (`claim_due`: a lease in `claimed_until`; SKIP LOCKED on PostgreSQL), then `deliver`s each:

1. one short transaction marks the row `sending` (attempts + 1, lease until now + 60 s), only if it
   is still pending and due, or `sending` with an expired lease (a dead worker's claim). That
   conditional UPDATE decides who sends when two workers try the same row;
2. the message is sent outside any transaction (SMTP: 30 s timeout; HTTP: 10 s);
3. a second transaction marks it `sent`, or schedules a retry (`pending`, next attempt after
   BASE * 2**(attempts - 1), at most an hour), or `failed` after MAX_ATTEMPTS or when retrying
   cannot help (unknown or inactive endpoint, HTTP 4xx other than 408/429).

Delivery is at-least-once: a worker that dies after the receiver accepted a message and before
step 3 committed leaves the row `sending`; when its lease expires it is sent again. E-mails carry
a deterministic Message-ID (`<outbox-{id}.{instance}@{host}>`) and webhooks the header
`X-Liaison-Delivery: {id}`, so receivers can recognise the repeat.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine.config import Settings, load_settings
from engine.data.models import OutboxMessage, WebhookEndpoint, utcnow
from engine.errors import LiaisonError, NotFoundError

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_SECONDS = 30.0  # LIAISON_RETRY_BASE_SECONDS overrides it (tests)
MAX_BACKOFF = timedelta(hours=1)
LEASE = timedelta(seconds=60)
SMTP_TIMEOUT = 30
HTTP_TIMEOUT = 10
FORMATS = ("generic", "dingtalk", "feishu", "wecom")
MAX_REPLY = 64 * 1024
MAX_ERROR = 2000

_outbox = OutboxMessage.__table__
_endpoint = WebhookEndpoint.__table__


class DeliveryError(Exception):
    """Sending failed; `retry` False when trying again cannot help; `unconfigured` when the channel is not
    set up at all (the same for every row: logged once per process, not once per row and attempt)."""

    def __init__(self, message: str, retry: bool = True, unconfigured: bool = False):
        super().__init__(message)
        self.retry = retry
        self.unconfigured = unconfigured


_UNCONFIGURED_SAID: set[str] = set()  # the `unconfigured` errors this process has logged at WARNING


# -- claiming --------------------------------------------------------------------------------------

def _due(now_param: str = "b_now"):
    now = bindparam(now_param)
    return or_(and_(_outbox.c.status == "pending", _outbox.c.next_attempt_at <= now),
               and_(_outbox.c.status == "sending", _outbox.c.claimed_until < now))


_SELECT_DUE = (select(_outbox.c.id)
               .where(_due(), or_(_outbox.c.status == "sending", _outbox.c.claimed_until.is_(None),
                                  _outbox.c.claimed_until < bindparam("b_now")))
               .order_by(_outbox.c.next_attempt_at, _outbox.c.id).limit(bindparam("b_limit")))
_SELECT_DUE_LOCKED = _SELECT_DUE.with_for_update(skip_locked=True)
# A dead worker's `sending` row goes back to `pending` (its attempt stays counted), so `deliver` takes it.
_LEASE = (update(_outbox).where(_outbox.c.id.in_(bindparam("b_ids", expanding=True)))
          .values(status="pending", claimed_until=bindparam("b_until")))
_START = (update(_outbox).where(_outbox.c.id == bindparam("b_id"), _due())
          .values(status="sending", attempts=_outbox.c.attempts + 1, claimed_until=bindparam("b_until")))
_READ = select(_outbox).where(_outbox.c.id == bindparam("b_id"))
_ENDPOINT = select(_endpoint).where(_endpoint.c.name == bindparam("b_name"))
_FINISH = (update(_outbox).where(_outbox.c.id == bindparam("b_id"), _outbox.c.status == "sending",
                                 _outbox.c.attempts == bindparam("b_attempts")))


def claim_due(sessions: sessionmaker[Session], now: datetime | None = None, limit: int = 100,
              lease: timedelta = LEASE) -> list[int]:
    """Ids of up to `limit` due rows, leased to the caller until now + `lease` (one short transaction).

    Due: pending with `next_attempt_at` <= now and no live lease, or `sending` whose lease ran out
    (its worker died; it is put back to pending). PostgreSQL skips rows another worker is claiming
    at the same moment. The lease keeps other `claim_due` callers off; `deliver` still decides who sends.
    """
    now = now or utcnow()
    with sessions() as session, session.begin():
        conn = session.connection()
        statement = _SELECT_DUE_LOCKED if conn.dialect.name == "postgresql" else _SELECT_DUE
        ids = list(conn.scalars(statement, {"b_now": now, "b_limit": limit}))
        if ids:
            conn.execute(_LEASE, {"b_ids": ids, "b_until": now + lease})
    return ids


# -- delivering ------------------------------------------------------------------------------------

def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: BASE * 2**(attempts - 1), at most an hour."""
    base = float(os.environ.get("LIAISON_RETRY_BASE_SECONDS") or BASE_SECONDS)
    return min(timedelta(seconds=base * 2 ** max(0, attempts - 1)), MAX_BACKOFF)


def deliver(sessions: sessionmaker[Session], outbox_id: int, now: datetime | None = None,
            settings: Settings | None = None, lease: timedelta | None = None) -> str:
    """Send one outbox row: "sent", "retry" (rescheduled), "failed" (given up) or "skipped".

    "skipped": the row is sent, failed, not due yet, or another worker holds it (its lease is live).
    `lease`: how long the row stays ours while sending (default LEASE); a dead worker's row is
    given out again after it.
    """
    now = now or utcnow()
    lease = lease or LEASE
    with sessions() as session, session.begin():
        conn = session.connection()
        if conn.execute(_START, {"b_id": outbox_id, "b_now": now, "b_until": now + lease}).rowcount != 1:
            return "skipped"
        row = conn.execute(_READ, {"b_id": outbox_id}).mappings().one()
        endpoint = (conn.execute(_ENDPOINT, {"b_name": row["recipient"]}).mappings().first()
                    if row["channel"] == "webhook" else None)
    try:
        if row["channel"] == "email":
            send_email(row, settings or load_settings())
        elif row["channel"] == "webhook":
            send_webhook(row, endpoint, now)
        else:
            raise DeliveryError(f"unknown channel `{row['channel']}`", retry=False)
    except DeliveryError as exc:
        return _record_failure(sessions, row, str(exc), exc.retry, now, exc.unconfigured)
    except Exception as exc:  # noqa: BLE001 - whatever went wrong is recorded on the row
        log.exception("outbox %s: delivery failed", outbox_id)
        return _record_failure(sessions, row, f"{type(exc).__name__}: {exc}", True, now)
    with sessions() as session, session.begin():
        session.connection().execute(_FINISH.values(status="sent", sent_at=now, claimed_until=None,
                                                    last_error=None),
                                     {"b_id": outbox_id, "b_attempts": row["attempts"]})
    return "sent"


def _record_failure(sessions, row, error: str, retry: bool, now: datetime, unconfigured: bool = False) -> str:
    error = " ".join(error.split())[:MAX_ERROR] or "failed"
    attempts = row["attempts"]
    if retry and attempts < MAX_ATTEMPTS:
        values = {"status": "pending", "next_attempt_at": now + retry_delay(attempts)}
        outcome = "retry"
    else:
        values = {"status": "failed"}
        outcome = "failed"
    if unconfigured and error in _UNCONFIGURED_SAID:
        log.debug("outbox %s (%s to %s), attempt %s: %s -> %s", row["id"], row["channel"], row["recipient"],
                  attempts, error, outcome)
    elif unconfigured:
        _UNCONFIGURED_SAID.add(error)
        log.warning("outbox %s (%s to %s), attempt %s: %s -> %s; %s messages are kept in the outbox and retried "
                    "(then marked failed; `liaison outbox --retry-failed` sends them again); further rows failing for the "
                    "same reason are logged at DEBUG", row["id"], row["channel"], row["recipient"], attempts, error,
                    outcome, row["channel"])
    else:
        log.warning("outbox %s (%s to %s), attempt %s: %s -> %s", row["id"], row["channel"], row["recipient"],
                    attempts, error, outcome)
    with sessions() as session, session.begin():
        session.connection().execute(_FINISH.values(claimed_until=None, last_error=error, **values),
                                     {"b_id": row["id"], "b_attempts": attempts})
    return outcome


def deliver_due(sessions: sessionmaker[Session], limit: int = 100, now: datetime | None = None,
                settings: Settings | None = None) -> int:
    """Claim up to `limit` due rows and deliver them one by one; the number handled (sent, retry or failed).

    When it returns `limit`, more may be waiting: call it again.
    """
    settings = settings or load_settings()
    handled = 0
    for outbox_id in claim_due(sessions, now=now, limit=limit):
        if deliver(sessions, outbox_id, now=now, settings=settings) != "skipped":
            handled += 1
    return handled


# -- e-mail ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to send e-mail, from `LIAISON_SMTP_URL`."""

    host: str
    port: int
    mode: str  # plain | starttls | ssl
    username: str | None
    password: str | None
    sender: str


def parse_smtp_url(url: str) -> SmtpTarget:
    """`smtp://user:pass@host:25`, `smtp+starttls://...` (port 587), `smtps://...` (port 465); `?from=` sender."""
    parts = urllib.parse.urlsplit(url)
    modes = {"smtp": ("plain", 25), "smtp+starttls": ("starttls", 587), "smtps": ("ssl", 465)}
    if parts.scheme not in modes or not parts.hostname:
        raise DeliveryError(f"LIAISON_SMTP_URL must look like smtp://[user:pass@]host[:port] "
                            f"(or smtp+starttls://, smtps://), not `{parts.scheme}://...`", retry=True)
    mode, default_port = modes[parts.scheme]
    query = urllib.parse.parse_qs(parts.query)
    sender = (query.get("from") or [f"liaison@{parts.hostname}"])[0]
    return SmtpTarget(
        host=parts.hostname, port=parts.port or default_port, mode=mode,
        username=urllib.parse.unquote(parts.username) if parts.username else None,
        password=urllib.parse.unquote(parts.password) if parts.password else None,
        sender=sender)


def message_id(row, base_url: str) -> str:
    """The e-mail's Message-ID, the same on every attempt: `<outbox-{id}.{instance}@{host of base_url}>`."""
    host = urllib.parse.urlsplit(base_url).hostname or "liaison.invalid"
    return f"<outbox-{row['id']}.{row['instance_id'] or 0}@{host}>"


def build_email(row, sender: str, base_url: str) -> EmailMessage:
    """The multipart/alternative message (text and HTML, UTF-8) of an e-mail outbox row."""
    payload = row["payload"] or {}
    message = EmailMessage()
    message["Subject"] = payload.get("subject") or ""
    message["From"] = sender
    message["To"] = formataddr((None, row["recipient"])) if "<" not in row["recipient"] else row["recipient"]
    message["Date"] = format_datetime(row["created_at"]) if row["created_at"] else format_datetime(utcnow())
    message["Message-ID"] = payload.get("message_id") or message_id(row, base_url)
    message["Auto-Submitted"] = "auto-generated"
    for name, value in (payload.get("headers") or {}).items():
        if name.lower() not in ("subject", "from", "to", "date", "message-id", "cc", "bcc"):
            message[name] = str(value)
    # base64: 7-bit clean, so no server needs 8BITMIME; compact for Chinese text
    message.set_content(payload.get("text") or "", charset="utf-8", cte="base64")
    if payload.get("html"):
        message.add_alternative(payload["html"], subtype="html", charset="utf-8", cte="base64")
    return message


def send_email(row, settings: Settings) -> None:
    """Send an e-mail outbox row through `settings.smtp_url`; DeliveryError on any failure."""
    if not settings.smtp_url:
        raise DeliveryError("LIAISON_SMTP_URL is not set", unconfigured=True)
    target = parse_smtp_url(settings.smtp_url)
    message = build_email(row, target.sender, settings.base_url)
    try:
        if target.mode == "ssl":
            client = smtplib.SMTP_SSL(target.host, target.port, timeout=SMTP_TIMEOUT,
                                      context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(target.host, target.port, timeout=SMTP_TIMEOUT)
        with client:
            if target.mode == "starttls":
                client.starttls(context=ssl.create_default_context())
            if target.username:
                client.login(target.username, target.password or "")
            refused = client.send_message(message, from_addr=target.sender, to_addrs=[row["recipient"]])
            if refused:
                raise DeliveryError(f"SMTP refused the recipient: {refused}")
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        raise DeliveryError(f"SMTP {exc.smtp_code} {text}") from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"SMTP refused the recipient: {_smtp_refusals(exc.recipients)}") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP {type(exc).__name__}: {exc} ({target.host}:{target.port})") from exc


def _smtp_refusals(recipients: dict) -> str:
    return "; ".join(f"{address}: {code} {message.decode('utf-8', 'replace') if isinstance(message, bytes) else message}"
                     for address, (code, message) in recipients.items())


# -- webhooks --------------------------------------------------------------------------------------

def sign_generic(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>`: the `X-Liaison-Signature` header."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str, timestamp: str, body: bytes | str, header: str | None) -> bool:
    """Whether `header` (X-Liaison-Signature) signs `body` sent at `timestamp` (X-Liaison-Timestamp).

    For receivers of generic webhooks; they should also refuse timestamps too far from their clock.
    """
    if not header or not secret:
        return False
    if isinstance(body, str):
        body = body.encode("utf-8")
    return hmac.compare_digest(sign_generic(secret, str(timestamp), body), header.strip())


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk robot signature: base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")), not URL-encoded."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu bot signature: base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def webhook_request(row, endpoint, now: datetime) -> tuple[str, bytes, dict[str, str]]:
    """(url, body, headers) of a webhook outbox row for its endpoint's format."""
    payload = dict(row["payload"] or {})
    if payload.get("instance_id") is None:
        payload["instance_id"] = row["instance_id"]  # the step that created the instance did not know it
    secret = endpoint["secret"] or ""
    url = endpoint["url"]
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Liaison-Webhook/1"}
    fmt = endpoint["format"]
    title, text, link = payload.get("title") or payload.get("event") or "", payload.get("text") or "", \
        payload.get("link") or ""
    if fmt == "generic":
        timestamp = str(int(now.timestamp()))
        body = _json_bytes(payload)
        headers.update({"X-Liaison-Event": str(payload.get("event") or row["event"]),
                        "X-Liaison-Delivery": str(row["id"]), "X-Liaison-Timestamp": timestamp})
        if secret:
            headers["X-Liaison-Signature"] = sign_generic(secret, timestamp, body)
        return url, body, headers
    if fmt == "dingtalk":
        markdown = f"#### {title}\n\n{text}" + (f"\n\n[{link}]({link})" if link else "")
        body = _json_bytes({"msgtype": "markdown", "markdown": {"title": title, "text": markdown}})
        if secret:
            timestamp_ms = int(now.timestamp() * 1000)
            query = urllib.parse.urlencode({"timestamp": timestamp_ms, "sign": dingtalk_sign(secret, timestamp_ms)})
            url = f"{url}{'&' if '?' in url else '?'}{query}"
        return url, body, headers
    if fmt == "feishu":
        message = {"msg_type": "text", "content": {"text": "\n".join(x for x in (title, text, link) if x)}}
        if secret:
            timestamp_s = int(now.timestamp())
            message = {"timestamp": str(timestamp_s), "sign": feishu_sign(secret, timestamp_s), **message}
        return url, _json_bytes(message), headers
    if fmt == "wecom":
        content = f"**{title}**\n{text}" + (f"\n[{link}]({link})" if link else "")
        return url, _json_bytes({"msgtype": "markdown", "markdown": {"content": content}}), headers
    raise DeliveryError(f"webhook endpoint `{endpoint['name']}` has an unknown format `{fmt}`", retry=False)


def _json_bytes(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


def send_webhook(row, endpoint, now: datetime) -> None:
    """POST a webhook outbox row to its endpoint; DeliveryError (retry or not) on any failure."""
    if endpoint is None:
        raise DeliveryError(f"no webhook endpoint named `{row['recipient']}`", retry=False)
    if not endpoint["active"]:
        raise DeliveryError(f"webhook endpoint `{row['recipient']}` is not active", retry=False)
    url, body, headers = webhook_request(row, endpoint, now)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:  # noqa: S310 - admin-set URL
            status, reply = response.status, response.read(MAX_REPLY)
    except urllib.error.HTTPError as exc:
        reply = exc.read(MAX_REPLY) if exc.fp else b""
        retry = exc.code >= 500 or exc.code in (408, 429)
        raise DeliveryError(f"HTTP {exc.code}: {reply.decode('utf-8', 'replace')[:200]}", retry=retry) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}") from exc
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status}: {reply.decode('utf-8', 'replace')[:200]}",
                            retry=status >= 500 or status in (408, 429))
    _check_robot_reply(endpoint["format"], reply)


def _check_robot_reply(fmt: str, reply: bytes) -> None:
    """Group robots answer 200 with an error code in the body."""
    if fmt == "generic":
        return
    try:
        answer = json.loads(reply.decode("utf-8") or "{}")
    except ValueError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    if fmt in ("dingtalk", "wecom"):
        code, message = answer.get("errcode", 0), answer.get("errmsg")
    else:  # feishu: `code`, older bots `StatusCode`
        code = answer.get("code", answer.get("StatusCode", 0))
        message = answer.get("msg", answer.get("StatusMessage"))
    if code not in (0, "0", None):
        raise DeliveryError(f"{fmt} replied errcode {code}: {message}")


# -- administration (CLI) --------------------------------------------------------------------------

class EndpointError(LiaisonError):
    """A webhook endpoint was refused (bad name, URL or format, or the name is taken)."""


def add_endpoint(session: Session, name: str, url: str, format: str = "generic",  # noqa: A002 - CLI word
                 secret: str | None = None) -> WebhookEndpoint:
    """Create a named webhook endpoint that packages refer to; EndpointError when invalid or taken."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise EndpointError("a webhook endpoint needs a name of 1 to 100 characters")
    if format not in FORMATS:
        raise EndpointError(f"unknown webhook format `{format}` (known: {', '.join(FORMATS)})")
    parts = urllib.parse.urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointError("the webhook URL must be an http:// or https:// URL")
    if session.scalar(select(WebhookEndpoint.id).where(WebhookEndpoint.name == name)) is not None:
        raise EndpointError(f"a webhook endpoint named `{name}` exists already")
    endpoint = WebhookEndpoint(name=name, url=url, format=format, secret=secret or None, active=True)
    session.add(endpoint)
    session.flush()
    return endpoint


def list_endpoints(session: Session) -> list[dict]:
    """Every endpoint by name: name, url (shortened: robots keep their token in the path or query),
    format, whether it has a secret, active."""
    rows = session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.name))
    return [{"name": e.name, "url": _shown_url(e.url), "format": e.format, "has_secret": bool(e.secret),
             "active": e.active, "created_at": e.created_at} for e in rows]


def _shown_url(url: str) -> str:
    """The URL without what may be a token: path segments after the second, the query, the fragment."""
    parts = urllib.parse.urlsplit(url)
    segments = parts.path.split("/")
    path = "/".join(segments[:3]) + ("/…" if len(segments) > 3 else "")
    return urllib.parse.urlunsplit(parts._replace(path=path, query="…" if parts.query else "", fragment=""))


def remove_endpoint(session: Session, name: str) -> None:
    """Delete an endpoint; NotFoundError when there is none of that name. Rows still addressed to it fail."""
    if session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.name == name)).rowcount != 1:
        raise NotFoundError(f"no webhook endpoint named `{name}`")


def outbox_summary(session: Session, failed_limit: int = 20) -> dict:
    """`{"counts": {status: n}, "failed": [the last `failed_limit` failed rows, newest first]}`."""
    counts = {status: 0 for status in ("pending", "sending", "sent", "failed")}
    counts.update({status: n for status, n in session.execute(
        select(_outbox.c.status, func.count()).group_by(_outbox.c.status))})
    failed = session.execute(
        select(_outbox.c.id, _outbox.c.instance_id, _outbox.c.event, _outbox.c.channel, _outbox.c.recipient,
               _outbox.c.attempts, _outbox.c.last_error, _outbox.c.created_at)
        .where(_outbox.c.status == "failed").order_by(_outbox.c.id.desc()).limit(failed_limit)).mappings()
    return {"counts": counts, "failed": [dict(row) for row in failed]}


def retry_failed(session: Session, ids: list[int] | None = None) -> int:
    """Give failed rows (all, or those of `ids`) a fresh set of attempts, due now; how many."""
    statement = update(_outbox).where(_outbox.c.status == "failed")
    if ids:
        statement = statement.where(_outbox.c.id.in_(ids))
    return session.execute(statement.values(status="pending", attempts=0, next_attempt_at=utcnow(),
                                            claimed_until=None)).rowcount
