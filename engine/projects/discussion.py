"""A task's discussion: comments (markdown, rendered without raw HTML) with @mentions. A mention names a
person by username or display name (`@zhang`, `@张三`); each mentioned person who sees the project gets
an in-app notification (event `project_mention`, following their notification preferences) in the
same transaction as the comment.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session, sessionmaker

from engine.data.models import Notification, Person, utcnow
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
        if told:
            author = session.scalar(select(Person.name).where(Person.username == actor)) or actor
            session.execute(insert(Notification.__table__), [
                {"recipient": u, "event": EVENT, "title": f"{author} @ {task.title}"[:500], "body": body[:2000],
                 "link": f"/projects/tasks/{task_id}#comment-{comment.id}", "created_at": now} for u in told])
        return comment.id


def comments_of(session: Session, task_id: int) -> list[ProjectComment]:
    """The task's comments, oldest first."""
    return list(session.scalars(select(ProjectComment).where(ProjectComment.task_id == task_id)
                                .order_by(ProjectComment.id)))
