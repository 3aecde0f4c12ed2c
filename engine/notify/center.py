"""The notification center: a person's in-app notifications (list, unread count, mark read) and their
notification preferences per channel and event.

Every function takes a Session or a Connection (Core statements only), so the web app, the CLI
and the engine's own step transaction can call it alike. Every read and write is scoped to the
username given: `mark_read` silently skips ids that are not the person's own (it returns how many
rows it changed), `get` raises NotFoundError for them, so nobody learns which ids exist.

Preferences: a row with event `*` switches a whole channel for the person; a row for one event
overrides `*`; no row means enabled. `set_preferences` stores only the rows that differ from what
the person would get without them. The writing side (who gets which notification) must use
`is_enabled` or `enabled_recipients`, which apply the same rule.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.data.models import Notification, NotificationPreference, utcnow
from engine.errors import NotFoundError
from engine.results import Page, paging

ALL_EVENTS = "*"
CHANNELS = ("inapp", "email")  # the channels a person chooses for themselves
EVENTS = ("task_assigned", "task_due_soon", "task_overdue", "urged", "cc", "returned", "approved", "rejected",
          "instance_finished", "external_link", "notice", "notice_reminder", "project_mention")
# Labels live here rather than in the web catalog: e-mail and other channels are rendered by
# jobs without Flask-Babel, and they name the event too.
EVENT_LABELS = {
    "task_assigned": {"zh": "有新任务分配给我", "en": "A task is assigned to me"},
    "task_due_soon": {"zh": "任务即将到期", "en": "A task is due soon"},
    "task_overdue": {"zh": "任务已逾期", "en": "A task is overdue"},
    "urged": {"zh": "被催办", "en": "I am reminded to act (urged)"},
    "cc": {"zh": "抄送给我", "en": "A request is copied to me (cc)"},
    "returned": {"zh": "申请被退回", "en": "A request is returned"},
    "approved": {"zh": "申请已通过", "en": "A request is approved"},
    "rejected": {"zh": "申请被驳回", "en": "A request is rejected"},
    "instance_finished": {"zh": "流程已结束", "en": "A process has finished"},
    "external_link": {"zh": "外部链接消息", "en": "A message with an external link"},
    # Policy notices (engine.notices): the in-app item is always written; the e-mail follows the choice.
    "notice": {"zh": "通知公告", "en": "A notice is sent to me"},
    "notice_reminder": {"zh": "通知提醒", "en": "A reminder to read a notice"},
    # Task collaboration (engine.projects): someone mentions me in a task's discussion.
    "project_mention": {"zh": "在项目任务讨论中@我", "en": "I am mentioned in a project task's discussion"},
}
MAX_PER_PAGE = 200
MAX_IDS = 1000  # ids marked read in one call

_note = Notification.__table__
_pref = NotificationPreference.__table__
Database = Session | Connection


@dataclass(frozen=True)
class NotificationItem:
    """One notification as the center shows it; `safe_link` is the link only when it stays on this site."""

    id: int
    event: str
    instance_id: int | None
    task_id: str | None
    title: str
    body: str | None
    link: str | None
    created_at: datetime
    read_at: datetime | None

    @property
    def unread(self) -> bool:
        """Not opened or marked read yet."""
        return self.read_at is None

    @property
    def safe_link(self) -> str | None:
        """The link if it is a relative path on this site, else None (it is then shown as text only)."""
        return safe_link(self.link)

    def event_label(self, lang: str) -> str:
        """The event's name in `lang` ("zh" or "en"); the key itself for an event this version does not know."""
        return event_label(self.event, lang)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        data = asdict(self)
        data.update(created_at=self.created_at.isoformat(), read_at=self.read_at.isoformat() if self.read_at else None,
                    unread=self.unread, safe_link=self.safe_link)
        return data


def event_label(event: str, lang: str) -> str:
    """An event's label in `lang` ("zh" or "en"; zh otherwise); the key for an unknown event."""
    labels = EVENT_LABELS.get(event)
    return labels.get(lang, labels["zh"]) if labels else event


def safe_link(link: str | None) -> str | None:
    """`link` when it is a path on this site ("/tasks/1"), None for anything else.

    Refused: absolute and scheme-relative URLs ("https://x", "//x", "/\\x", which browsers read as
    "//x"), other schemes ("javascript:"), and control characters or spaces, which browsers strip.
    """
    if not link or not link.startswith("/") or link.startswith(("//", "/\\")):
        return None
    if any(ch <= " " or ch == "\x7f" or ch == "\\" for ch in link):
        return None
    parts = urlsplit(link)
    return link if not parts.scheme and not parts.netloc else None


# -- the list -----------------------------------------------------------------------------------------

def list_for(session: Database, username: str, unread_only: bool = False, page: int = 1,
             per_page: int = 20) -> Page:
    """The person's notifications, newest first, one page of them with the list's length (one query)."""
    page, per_page = paging(page, per_page, MAX_PER_PAGE)
    conditions = [_note.c.recipient == username]
    if unread_only:
        conditions.append(_note.c.read_at.is_(None))
    rows = session.execute(select(*_note.c, func.count().over().label("total")).where(*conditions)
                      .order_by(_note.c.created_at.desc(), _note.c.id.desc())
                      .limit(per_page).offset((page - 1) * per_page)).all()
    if rows:
        total = rows[0].total
    elif page == 1:
        total = 0
    else:  # past the last page: the window count has no row to ride on
        total = session.execute(select(func.count()).select_from(_note).where(*conditions)).scalar_one()
    return Page([_item(row) for row in rows], total, page, per_page)


def get(session: Database, username: str, notification_id: int) -> NotificationItem:
    """The person's notification `notification_id`; NotFoundError when it is missing or someone else's."""
    row = session.execute(select(_note).where(_note.c.id == notification_id, _note.c.recipient == username)).first()
    if row is None:
        raise NotFoundError(f"no notification {notification_id}")
    return _item(row)


def unread_count(session: Database, username: str) -> int:
    """How many of the person's notifications are unread (one query on the recipient index)."""
    return session.execute(select(func.count()).select_from(_note)
                      .where(_note.c.recipient == username, _note.c.read_at.is_(None))).scalar_one()


def mark_read(session: Database, username: str, ids, now: datetime | None = None) -> int:
    """Mark the person's own unread notifications among `ids` read; returns how many changed.

    Ids of someone else's (or missing, or already read) notifications are silently left alone.
    """
    wanted = sorted({int(i) for i in ids})[:MAX_IDS]
    if not wanted:
        return 0
    return session.execute(update(_note).where(_note.c.recipient == username, _note.c.read_at.is_(None),
                                           _note.c.id.in_(wanted))
                      .values(read_at=now or utcnow())).rowcount


def mark_all_read(session: Database, username: str, now: datetime | None = None) -> int:
    """Mark every unread notification of the person read; returns how many changed."""
    return session.execute(update(_note).where(_note.c.recipient == username, _note.c.read_at.is_(None))
                      .values(read_at=now or utcnow())).rowcount


def _item(row) -> NotificationItem:
    return NotificationItem(row.id, row.event, row.instance_id, row.task_id, row.title, row.body, row.link,
                            row.created_at, row.read_at)


# -- preferences --------------------------------------------------------------------------------------

def preferences(session: Database, username: str) -> dict[str, dict[str, bool]]:
    """The person's effective choices: {channel: {"*": bool, event: bool}} for every channel and event."""
    rows = session.execute(select(_pref.c.channel, _pref.c.event, _pref.c.enabled)
                      .where(_pref.c.username == username, _pref.c.channel.in_(CHANNELS))).all()
    stored: dict[str, dict[str, bool]] = {channel: {} for channel in CHANNELS}
    for channel, event, enabled in rows:
        stored[channel][event] = bool(enabled)
    return {channel: _effective(stored[channel]) for channel in CHANNELS}


def _effective(stored: dict[str, bool]) -> dict[str, bool]:
    master = stored.get(ALL_EVENTS, True)
    return {ALL_EVENTS: master, **{event: stored.get(event, master) for event in EVENTS}}


def is_enabled(prefs: dict, channel: str, event: str) -> bool:
    """Whether `event` reaches the person on `channel`, given their `preferences` (or stored rows).

    The event's own entry wins, then the channel's `*`, then enabled.
    """
    choices = prefs.get(channel) or {}
    if event in choices:
        return bool(choices[event])
    return bool(choices.get(ALL_EVENTS, True))


def enabled_recipients(session: Database, usernames, channel: str, event: str) -> list[str]:
    """Those of `usernames` for whom `event` is enabled on `channel`, in the order given (one query)."""
    names = list(dict.fromkeys(u for u in usernames if u))
    if not names:
        return []
    rows = session.execute(select(_pref.c.username, _pref.c.event, _pref.c.enabled)
                      .where(_pref.c.username.in_(names), _pref.c.channel == channel,
                             _pref.c.event.in_((ALL_EVENTS, event)))).all()
    stored: dict[str, dict[str, bool]] = {}
    for username, row_event, enabled in rows:
        stored.setdefault(username, {})[row_event] = bool(enabled)
    return [u for u in names if is_enabled({channel: stored.get(u, {})}, channel, event)]


def set_preferences(session: Database, username: str, choices: dict[str, dict[str, bool]]) -> None:
    """Store the person's choices for the channels in `choices` ({channel: {"*": bool, event: bool}}).

    Only what differs is stored: a `*` row when the channel is off, an event row when the event
    differs from the channel's switch. An event left out follows the switch; a switch left out is
    on. Rows no longer needed are deleted. ValueError for an unknown channel or event.
    """
    for channel, wanted in choices.items():
        if channel not in CHANNELS:
            raise ValueError(f"unknown notification channel {channel!r}")
        unknown = set(wanted) - {ALL_EVENTS, *EVENTS}
        if unknown:
            raise ValueError(f"unknown notification event {sorted(unknown)[0]!r}")
        master = bool(wanted.get(ALL_EVENTS, True))
        keep = {ALL_EVENTS: False} if not master else {}
        keep.update({event: bool(wanted[event]) for event in EVENTS
                     if event in wanted and bool(wanted[event]) != master})
        session.execute(delete(_pref).where(_pref.c.username == username, _pref.c.channel == channel,
                                       _pref.c.event.not_in(list(keep))))
        for event, enabled in keep.items():
            session.execute(_upsert(session, username, channel, event, enabled))


def _upsert(session: Database, username: str, channel: str, event: str, enabled: bool):
    """INSERT ... ON CONFLICT DO UPDATE: one statement, both databases, no read first."""
    insert = pg_insert if _dialect(session) == "postgresql" else sqlite_insert
    return (insert(_pref).values(username=username, channel=channel, event=event, enabled=enabled)
            .on_conflict_do_update(index_elements=["username", "channel", "event"], set_={"enabled": enabled}))


def _dialect(session: Database) -> str:
    return session.dialect.name if isinstance(session, Connection) else session.get_bind().dialect.name
