"""Creating a notice and fanning it out in the background, in batches.

`create_notice` writes the notice row (audience checked, its size counted) with `job = "fanout"` and
returns: a request never writes thousands of rows. The dispatcher (`engine.jobs`) claims notices with a
due job (`claim_due`, a lease as on timers and outbox rows) and runs `run_job`, which writes BATCH
recipients per transaction, each batch with its `notice_recipient` rows, in-app `notification` rows and
e-mail `outbox` rows, and advances the notice's `cursor` (the last person id done) and `delivered`
count in the same commit. A worker that dies mid-way leaves a consistent prefix; the next claim goes on
from the cursor, and the unique (notice, person) key keeps anyone from being reached twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from markdown_it import MarkdownIt
from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine.config import load_settings
from engine.data.models import Notification, OutboxMessage, Person, WebhookEndpoint, utcnow
from engine.data.notice_models import Notice, NoticeRecipient
from engine.errors import LiaisonError, msg
from engine.notices import audience as audiences
from engine.notify.center import enabled_recipients

BATCH = 500  # recipients written per transaction
LEASE = timedelta(seconds=60)
EVENT = "notice"
REMINDER_EVENT = "notice_reminder"
MAX_TITLE, MAX_BODY = 300, 50_000
ACK_TEXT = {"zh": "我已阅读并理解", "en": "I have read and understood"}
_SUBJECT = {("notice", "zh"): "【通知】%s", ("notice", "en"): "[Notice] %s",
            ("survey", "zh"): "【问卷】%s", ("survey", "en"): "[Survey] %s"}
_REMIND = {"zh": "提醒：%s", "en": "Reminder: %s"}
_PLEASE = {"zh": "请打开链接阅读", "en": "Please open the link to read it"}
_PLEASE_ACK = {"zh": "请打开链接阅读并确认“我已阅读并理解”", "en": 'Please open the link, read it and confirm '
               '"I have read and understood"'}
_PLEASE_ANSWER = {"zh": "请打开链接填写问卷", "en": "Please open the link to answer the questionnaire"}

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).disable("image")
_recipient = NoticeRecipient.__table__
_notice = Notice.__table__


class NoticeError(LiaisonError):
    """A notice refused: no title, an empty audience, a reminder too soon, a survey answer that does not fit."""


def render_markdown(text: str | None) -> str:
    """The notice body as HTML: CommonMark without raw HTML or images (links are checked by markdown-it)."""
    return _MARKDOWN.render(text or "")


def notice_link(notice_id: int) -> str:
    """The notice's page on this site."""
    return f"/notices/{notice_id}"


def create_notice(session: Session, sender: str, title: str, audience: dict, *, body: str | None = None,
                  kind: str = "notice", ack_required: bool = False, survey_id: int | None = None,
                  attachments: list | None = None, instance_id: int | None = None,
                  robot: str | None = None, now: datetime | None = None) -> int:
    """Store a notice to send and queue its fan-out; returns its id. Nothing is delivered here.

    `attachments`: the file field's references ({id, name, ...}); `robot`: a webhook endpoint told once.
    Refused (`NoticeError` / `AudienceError`, nothing stored): a blank or too long title or body, an
    audience naming nobody or unknown departments or roles, a robot that is not an active endpoint.
    The caller commits.
    """
    title = (title or "").strip()
    if not title:
        raise NoticeError(msg("a notice needs a title"))
    if len(title) > MAX_TITLE or len(body or "") > MAX_BODY:
        raise NoticeError(msg("the title may have at most %(title)s characters and the text %(body)s",
                              title=MAX_TITLE, body=MAX_BODY))
    if kind not in ("notice", "survey"):
        raise NoticeError(msg("unknown notice kind %(kind)s", kind=kind))
    if kind == "survey" and survey_id is None:
        raise NoticeError(msg("a questionnaire needs at least one question"))
    robot = (robot or "").strip() or None
    if robot and session.scalar(select(WebhookEndpoint.id).where(WebhookEndpoint.name == robot,
                                                                 WebhookEndpoint.active.is_(True))) is None:
        raise NoticeError(msg("no active robot (webhook endpoint) named %(name)s", name=robot))
    cleaned = audiences.clean(audience)
    audiences.check(session, cleaned)
    notice = Notice(kind=kind, title=title, body=body or None, attachments=list(attachments or []), sender=sender,
                    instance_id=instance_id, audience=cleaned, ack_required=bool(ack_required), survey_id=survey_id,
                    robot=robot, status="sending", total=audiences.count(session, cleaned), delivered=0,
                    cursor=0, job="fanout", created_at=now or utcnow())
    session.add(notice)
    session.flush()
    return notice.id


def progress(session: Session, notice_id: int) -> tuple[int, int, str]:
    """(delivered, total, status) of a notice's fan-out: one primary-key read."""
    row = session.execute(select(_notice.c.delivered, _notice.c.total, _notice.c.status)
                          .where(_notice.c.id == notice_id)).first()
    return (row.delivered, max(row.total, row.delivered), row.status) if row else (0, 0, "missing")


# -- the background side ----------------------------------------------------------------------------

def claim_due(sessions: sessionmaker[Session], now: datetime | None = None, limit: int = 100,
              lease: timedelta = LEASE) -> list[int]:
    """Ids of notices with background work due (no live lease), leased to the caller until now + lease."""
    now = now or utcnow()
    with sessions() as session, session.begin():
        query = (select(_notice.c.id).where(_notice.c.job.is_not(None),
                                            or_(_notice.c.claimed_until.is_(None), _notice.c.claimed_until <= now))
                 .order_by(_notice.c.id).limit(limit))
        if session.bind.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = list(session.scalars(query))
        if ids:
            session.execute(update(_notice).where(_notice.c.id.in_(ids)).values(claimed_until=now + lease))
    return ids


def run_job(sessions: sessionmaker[Session], notice_id: int, lease: timedelta = LEASE,
            batch: int = BATCH) -> str:
    """Do a notice's due background work to the end, one batch per transaction: "fanout" or "remind".

    Returns "sent", "reminded" or "skipped" (no work due: another worker finished it).
    """
    from engine.notices import receipts  # the reminder's batches live with the receipts

    while True:
        with sessions() as session, session.begin():
            notice = _lock(session, notice_id)
            if notice is None or notice.job is None:
                return "skipped"
            now = utcnow()
            notice.claimed_until = now + lease
            if notice.job == "fanout":
                finished = _fanout_batch(session, notice, now, batch)
                outcome = "sent"
            else:
                finished = receipts.remind_batch(session, notice, now, batch)
                outcome = "reminded"
            if finished:
                notice.job, notice.claimed_until = None, None
        if finished:
            return outcome


def _lock(session: Session, notice_id: int) -> Notice | None:
    query = select(Notice).where(Notice.id == notice_id)
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query).first()


def _fanout_batch(session: Session, notice: Notice, now: datetime, batch: int) -> bool:
    """Reach the next `batch` people of the audience; True when everyone has been reached."""
    where = audiences.person_filter(session, notice.audience)
    people = session.execute(select(Person.id, Person.username, Person.department_id, Person.email, Person.locale)
                             .where(where, Person.id > notice.cursor).order_by(Person.id).limit(batch)).all()
    if people:
        session.execute(insert(_recipient), [
            {"notice_id": notice.id, "person_id": p.id, "username": p.username, "department_id": p.department_id,
             "delivered_at": now} for p in people])
        write_messages(session, notice, people, now)
        notice.cursor = people[-1].id
        notice.delivered += len(people)
    if len(people) < batch:
        notice.status, notice.sent_at = "sent", now
        notice.total = notice.delivered
        if notice.robot:
            session.execute(insert(OutboxMessage.__table__), [_robot_row(notice, now)])
        return True
    return False


def write_messages(session: Session, notice: Notice, people, now: datetime, reminder: bool = False) -> None:
    """The in-app items of `people` and their e-mails (where they have an address and have not switched
    notice e-mails off), as two multi-row inserts."""
    event = REMINDER_EVENT if reminder else EVENT
    link = notice_link(notice.id)
    session.execute(insert(Notification.__table__), [
        {"recipient": p.username, "event": event, "title": notice.title[:500], "body": _please(notice, _lang(p)),
         "link": link, "created_at": now} for p in people])
    mailed = set(enabled_recipients(session, [p.username for p in people if p.email], "email", event))
    rows = [_email_row(notice, p, link, now, reminder) for p in people if p.username in mailed]
    if rows:
        session.execute(insert(OutboxMessage.__table__), rows)


def _lang(person) -> str:
    return "en" if person.locale == "en" else "zh"


def _please(notice: Notice, lang: str) -> str:
    if notice.kind == "survey":
        return _PLEASE_ANSWER[lang]
    return (_PLEASE_ACK if notice.ack_required else _PLEASE)[lang]


def _email_row(notice: Notice, person, link: str, now: datetime, reminder: bool) -> dict:
    lang = _lang(person)
    url = load_settings().base_url.rstrip("/") + link
    subject = _SUBJECT[(notice.kind, lang)] % notice.title
    if reminder:
        subject = _REMIND[lang] % subject
    text = f"{notice.body or ''}\n\n{_please(notice, lang)}: {url}".strip()
    html = f"{render_markdown(notice.body)}<p><a href=\"{url}\">{_please(notice, lang)}</a></p>"
    event = REMINDER_EVENT if reminder else EVENT
    payload = {"subject": subject, "text": text, "html": html, "lang": lang, "to": person.email,
               "username": person.username, "message_id": None,
               "headers": {"X-Liaison-Event": event}}
    return {"instance_id": notice.instance_id, "event": event, "channel": "email", "recipient": person.email,
            "payload": payload, "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}


def _robot_row(notice: Notice, now: datetime) -> dict:
    url = load_settings().base_url.rstrip("/") + notice_link(notice.id)
    payload = {"event": EVENT, "title": _SUBJECT[(notice.kind, "zh")] % notice.title,
               "text": (notice.body or "")[:2000], "link": url, "lang": "zh", "occurred_at": now.isoformat(),
               "instance_id": notice.instance_id}
    return {"instance_id": notice.instance_id, "event": EVENT, "channel": "webhook", "recipient": notice.robot,
            "payload": payload, "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
