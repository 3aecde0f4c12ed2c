"""A task's discussion: comments (markdown, rendered without raw HTML) with @mentions. A mention names a
person by username or display name (`@zhang`, `@张三`); each mentioned person who sees the project gets
an in-app notification and, when they have an address, an e-mail through the outbox (event
`project_mention`, each channel following their notification preferences) in the same transaction as the
comment.
"""

from __future__ import annotations

import re
from datetime import datetime
from html import escape

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session, sessionmaker

from engine.config import load_settings
from engine.data.models import Notification, OutboxMessage, Person, utcnow
from engine.data.project_models import ProjectComment
from engine.errors import msg
from engine.notify.center import enabled_recipients
from engine.projects import access, life
from engine.projects.access import Viewer
from engine.projects.projects import InvalidProjectError

BODY_LIMIT = 5000
MENTION = re.compile(r"@([\w.\-\u4e00-\u9fff]+)")
EVENT = "project_mention"


def mentioned(session: Session, body: str) -> list[str]:
    """Usernames of the active people the text mentions, in order of first mention."""
    words = list(dict.fromkeys(MENTION.findall(body or "")))
    if not words:
        return []
    found = session.execute(select(Person.username, Person.name, Person.name_en).where(
        Person.active, or_(Person.username.in_(words), Person.name.in_(words), Person.name_en.in_(words)))).all()
    order = []
    for word in words:
        order += [p.username for p in found if word in (p.username, p.name, p.name_en) and p.username not in order]
    return order


def add_comment(sessions: sessionmaker[Session], actor: str, task_id: int, body: str,
                now: datetime | None = None) -> int:
    """Post a comment on a task of an open project the actor sees; notify the people it mentions."""
    now = now or utcnow()
    body = (body or "").strip()
    if not body or len(body) > BODY_LIMIT:
        raise InvalidProjectError(msg("a comment needs 1 to %(n)s characters", n=BODY_LIMIT))
    with sessions() as session, session.begin():
        task, project = access.task_for(session, task_id, Viewer(session, actor))
        access.check_open(project)
        people = [u for u in mentioned(session, body)
                  if u != actor and access.may_see(session, project, Viewer(session, u))]
        comment = ProjectComment(task_id=task_id, author=actor, body=body, mentions=people, created_at=now)
        session.add(comment)
        session.flush()
        life.record(session, task, actor, "commented", {"comment": comment.id, "mentions": people}, now)
        told = enabled_recipients(session, people, "inapp", EVENT)
        author = session.execute(select(Person.name, Person.name_en).where(Person.username == actor)).first()
        link = f"/projects/tasks/{task_id}#comment-{comment.id}"
        if told:
            session.execute(insert(Notification.__table__), [
                {"recipient": u, "event": EVENT, "title": f"{author.name if author else actor} @ {task.title}"[:500],
                 "body": body[:2000], "link": link, "created_at": now} for u in told])
        mailed = set(enabled_recipients(session, people, "email", EVENT))
        rows = [_email_row(person, author, actor, task, body, link, now) for person in session.execute(
            select(Person.username, Person.email, Person.locale).where(Person.username.in_(mailed),
                                                                        Person.email.is_not(None)))
                if person.email]
        if rows:
            session.execute(insert(OutboxMessage.__table__), rows)
        return comment.id


_SUBJECT = {"zh": "%(author)s 在任务「%(task)s」中提到了你", "en": "%(author)s mentioned you on the task \u201c%(task)s\u201d"}
_OPEN = {"zh": "打开任务", "en": "Open the task"}


def _email_row(person, author, actor: str, task, body: str, link: str, now: datetime) -> dict:
    """One e-mail of a mention, in the mentioned person's language, written to the outbox."""
    lang = "en" if person.locale == "en" else "zh"
    name = (author.name_en if lang == "en" and author.name_en else author.name) if author else actor
    subject = (_SUBJECT[lang] % {"author": name, "task": task.title})[:300]
    url = load_settings().base_url.rstrip("/") + link
    text = f"{body}\n\n{_OPEN[lang]}: {url}"
    html = f"<p>{escape(body)}</p><p><a href=\"{escape(url)}\">{_OPEN[lang]}</a></p>"
    payload = {"subject": subject, "text": text, "html": html, "lang": lang, "to": person.email,
               "username": person.username, "message_id": None, "headers": {"X-Liaison-Event": EVENT}}
    return {"instance_id": task.life_instance_id, "event": EVENT, "channel": "email", "recipient": person.email,
            "payload": payload, "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}


def comments_of(session: Session, task_id: int) -> list[ProjectComment]:
    """The task's comments, oldest first."""
    return list(session.scalars(select(ProjectComment).where(ProjectComment.task_id == task_id)
                                .order_by(ProjectComment.id)))
