"""Reading a notice, acknowledging it, and the sender's read receipts.

Who sees what: a notice is visible to its recipients (their own row only), its sender and super admins;
anyone else is told it does not exist. The receipts (per department counts, the unread people, the
reminder) are for the sender and super admins only.

Receipts are aggregated in SQL: one GROUP BY over `notice_recipient` by `department_id` (index
`ix_notice_recipient_department`), then rolled up the department tree in Python over the few
departments (the tree is small; the recipients are not). 5,000 recipients: see docs/benchmarks.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from engine.data.models import Department, Notification, Person, utcnow
from engine.data.notice_models import Notice, NoticeRecipient, SurveyRespondent
from engine.errors import NotFoundError, NotPermittedError, Username, msg
from engine.notices.sending import NoticeError, notice_link, render_markdown, write_messages
from engine.people.org import is_super_admin
from engine.results import Page, paging

REMIND_EVERY = timedelta(hours=1)
_r = NoticeRecipient.__table__


@dataclass(frozen=True)
class NoticeView:
    """A notice as its page shows it; `read_at` / `acknowledged_at` are the viewer's own (None for a non-recipient)."""

    id: int
    kind: str
    title: str
    body_html: str
    sender: str
    created_at: datetime
    ack_required: bool
    survey_id: int | None
    attachments: list
    is_recipient: bool
    may_see_receipts: bool
    read_at: datetime | None
    acknowledged_at: datetime | None


@dataclass(frozen=True)
class DepartmentReceipt:
    """One department of the tree with its whole subtree's recipients."""

    id: int | None
    name: str
    depth: int
    total: int
    read: int
    acknowledged: int

    @property
    def unread(self) -> int:
        """Recipients who have not opened the notice."""
        return self.total - self.read

    @property
    def read_pct(self) -> float:
        """Read, in percent of the recipients (one decimal)."""
        return percent(self.read, self.total)

    @property
    def acknowledged_pct(self) -> float:
        """Acknowledged, in percent of the recipients (one decimal)."""
        return percent(self.acknowledged, self.total)


@dataclass(frozen=True)
class Receipts:
    """The receipts page's numbers: totals, the fan-out progress, the department tree."""

    notice: Notice
    total: int
    read: int
    acknowledged: int
    departments: list[DepartmentReceipt]
    next_reminder_at: datetime | None
    answered: int | None = None  # recipients who answered the questionnaire (None: no questionnaire)

    @property
    def read_pct(self) -> float:
        """Read, in percent of the recipients so far."""
        return percent(self.read, self.total)

    @property
    def acknowledged_pct(self) -> float:
        """Acknowledged, in percent of the recipients so far."""
        return percent(self.acknowledged, self.total)


def percent(part: int, whole: int) -> float:
    """`part` of `whole` in percent, one decimal; 0 for nobody."""
    return round(100.0 * part / whole, 1) if whole else 0.0


def _notice(session: Session, notice_id: int) -> Notice:
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFoundError(msg("no notice %(id)s", id=notice_id))
    return notice


def may_see_receipts(session: Session, username: str, notice: Notice) -> bool:
    """The sender and super admins."""
    return notice.sender == username or is_super_admin(session, username)


def _own_row(session: Session, notice_id: int, username: str):
    return session.execute(select(_r.c.id, _r.c.read_at, _r.c.acknowledged_at)
                           .where(_r.c.notice_id == notice_id, _r.c.username == username)).first()


def open_notice(session: Session, notice_id: int, username: str, now: datetime | None = None) -> NoticeView:
    """The notice for `username`; the first opening by a recipient records the read (and marks its in-app
    items read). Anyone who is neither a recipient, the sender nor a super admin: NotFoundError."""
    notice = _notice(session, notice_id)
    own = _own_row(session, notice_id, username)
    receipts_ok = may_see_receipts(session, username, notice)
    if own is None and not receipts_ok:
        raise NotFoundError(msg("no notice %(id)s", id=notice_id))
    read_at = own.read_at if own else None
    if own is not None and read_at is None:
        read_at = now or utcnow()
        session.execute(update(_r).where(_r.c.id == own.id, _r.c.read_at.is_(None)).values(read_at=read_at))
        session.execute(update(Notification.__table__)
                        .where(Notification.recipient == username, Notification.link == notice_link(notice_id),
                               Notification.read_at.is_(None)).values(read_at=read_at))
    return NoticeView(notice.id, notice.kind, notice.title, render_markdown(notice.body), notice.sender,
                      notice.created_at, notice.ack_required, notice.survey_id, list(notice.attachments or []),
                      own is not None, receipts_ok, read_at, own.acknowledged_at if own else None)


def attachment_ids(notice: Notice) -> list[str]:
    """The upload ids a notice carries (its file field's references, or plain ids)."""
    ids = []
    for item in notice.attachments or []:
        value = item.get("id") if isinstance(item, dict) else item
        if isinstance(value, str):
            ids.append(value)
    return ids


def attachment(session: Session, notice_id: int, username: str, file_id: str) -> str:
    """`file_id` when it is one of the notice's attachments and `username` may see the notice (a recipient,
    the sender, a super admin); NotFoundError otherwise, the same for every refusal."""
    notice = _notice(session, notice_id)
    allowed = file_id in attachment_ids(notice) and (
        _own_row(session, notice_id, username) is not None or may_see_receipts(session, username, notice))
    if not allowed:
        raise NotFoundError(msg("no notice %(id)s", id=notice_id))
    return file_id


def acknowledge(session: Session, notice_id: int, username: str, now: datetime | None = None) -> datetime:
    """Record "I have read and understood" (once; the first time is kept). Only a recipient of a notice
    that asks for it."""
    notice = _notice(session, notice_id)
    own = _own_row(session, notice_id, username)
    if own is None:
        raise NotFoundError(msg("no notice %(id)s", id=notice_id))
    if not notice.ack_required:
        raise NoticeError(msg("this notice does not ask for an acknowledgement"))
    if own.acknowledged_at:
        return own.acknowledged_at
    now = now or utcnow()
    session.execute(update(_r).where(_r.c.id == own.id)
                    .values(acknowledged_at=now, read_at=func.coalesce(_r.c.read_at, now)))
    return now


def receipts(session: Session, username: str, notice_id: int, lang: str = "zh") -> Receipts:
    """The receipts of a notice for its sender or a super admin (else NotPermittedError): one GROUP BY."""
    notice = _notice(session, notice_id)
    if not may_see_receipts(session, username, notice):
        raise NotPermittedError(msg("only the sender and administrators see the receipts of a notice"))
    rows = session.execute(select(_r.c.department_id, func.count(), func.count(_r.c.read_at),
                                  func.count(_r.c.acknowledged_at))
                           .where(_r.c.notice_id == notice_id).group_by(_r.c.department_id)).all()
    counts = {dept: (total, read, acked) for dept, total, read, acked in rows}
    total = sum(c[0] for c in counts.values())
    read = sum(c[1] for c in counts.values())
    acked = sum(c[2] for c in counts.values())
    next_at = notice.reminded_at + REMIND_EVERY if notice.reminded_at else None
    answered = None
    if notice.survey_id is not None:
        answered = session.scalar(select(func.count()).select_from(_r).where(_r.c.notice_id == notice_id,
                                                                            _answered(notice))) or 0
    return Receipts(notice, total, read, acked, _tree(session, counts, lang), next_at, answered)


def _tree(session: Session, counts: dict, lang: str) -> list[DepartmentReceipt]:
    """Each department whose subtree has recipients, parents before children, with subtree sums."""
    departments = session.execute(select(Department.id, Department.name, Department.name_en, Department.path)).all()
    by_id = {d.id: d for d in departments}
    sums: dict[int, list[int]] = {}
    for dept_id, numbers in counts.items():
        if dept_id not in by_id:
            continue
        for ancestor in _ids(by_id[dept_id].path):
            if ancestor in by_id:
                cell = sums.setdefault(ancestor, [0, 0, 0])
                for i in range(3):
                    cell[i] += numbers[i]
    ordered = sorted(sums, key=lambda i: _ids(by_id[i].path))
    result = [DepartmentReceipt(i, (by_id[i].name_en if lang == "en" and by_id[i].name_en else by_id[i].name),
                                len(_ids(by_id[i].path)) - 1, *sums[i]) for i in ordered]
    loose = [numbers for dept_id, numbers in counts.items() if dept_id not in by_id]
    if loose:
        result.append(DepartmentReceipt(None, "—", 0, *(sum(n[i] for n in loose) for i in range(3))))
    return result


def _ids(path: str) -> list[int]:
    return [int(p) for p in path.strip("/").split("/") if p]


def _answered(notice: Notice):
    return select(SurveyRespondent.person_id).where(SurveyRespondent.survey_id == notice.survey_id,
                                                    SurveyRespondent.person_id == _r.c.person_id).exists()


def not_done(notice: Notice):
    """The recipients still to act: for a questionnaire, not answered; else not read, or (when asked for)
    not acknowledged."""
    if notice.kind == "survey":
        return ~_answered(notice)
    return _r.c.acknowledged_at.is_(None) if notice.ack_required else _r.c.read_at.is_(None)


def unread_people(session: Session, username: str, notice_id: int, lang: str = "zh", page: int = 1,
                  per_page: int = 100) -> Page:
    """The recipients still to act (`not_done`): (name, department) by department and name, one page;
    sender and super admins only."""
    notice = _notice(session, notice_id)
    if not may_see_receipts(session, username, notice):
        raise NotPermittedError(msg("only the sender and administrators see the receipts of a notice"))
    page, per_page = paging(page, per_page, 500)
    name = Person.name_en if lang == "en" else Person.name
    dept = Department.name_en if lang == "en" else Department.name
    where = and_(_r.c.notice_id == notice_id, not_done(notice))
    total = session.scalar(select(func.count()).select_from(_r).where(where)) or 0
    rows = session.execute(select(func.coalesce(name, Person.name), func.coalesce(dept, Department.name))
                           .select_from(_r).join(Person, Person.id == _r.c.person_id)
                           .outerjoin(Department, Department.id == _r.c.department_id).where(where)
                           .order_by(Department.path, Person.sort_key, Person.id)
                           .limit(per_page).offset((page - 1) * per_page)).all()
    return Page([(n, d or "—") for n, d in rows], total, page, per_page)


def request_reminder(session: Session, username: str, notice_id: int, now: datetime | None = None) -> None:
    """Queue "remind the unread" (one background job). Refused while the notice is still being sent, and
    a second time within an hour (the message says when it is possible again). The caller commits."""
    notice = _notice(session, notice_id)
    if not may_see_receipts(session, username, notice):
        raise NotPermittedError(msg("only the sender and administrators may remind the recipients of a notice"))
    now = now or utcnow()
    if notice.job is not None:
        raise NoticeError(msg("the notice is still being sent or reminded; try again when it is done"))
    if notice.reminded_at and now < notice.reminded_at + REMIND_EVERY:
        minutes = -int(-(notice.reminded_at + REMIND_EVERY - now).total_seconds() // 60)  # rounded up
        raise NoticeError(msg("the unread were reminded less than an hour ago by %(person)s; you can remind "
                              "them again in %(minutes)s minutes", person=Username(notice.reminded_by or ""),
                              minutes=minutes))
    notice.reminded_at, notice.reminded_by, notice.job, notice.claimed_until = now, username, "remind", None


def remind_batch(session: Session, notice: Notice, now: datetime, batch: int) -> bool:
    """The reminder job's next batch of recipients still to act; True when all are reminded."""
    rows = session.execute(select(_r.c.id, Person.username, Person.email, Person.locale)
                           .join(Person, Person.id == _r.c.person_id)
                           .where(_r.c.notice_id == notice.id, not_done(notice),
                                  or_(_r.c.reminded_at.is_(None), _r.c.reminded_at < notice.reminded_at))
                           .order_by(_r.c.id).limit(batch)).all()
    if rows:
        write_messages(session, notice, rows, now, reminder=True)
        session.execute(update(_r).where(_r.c.id.in_([r.id for r in rows])).values(reminded_at=notice.reminded_at))
    return len(rows) < batch


def notice_of_instance(session: Session, instance_id: int, username: str) -> Notice | None:
    """The notice an instance composed, for its sender or a super admin (None for anyone else): the
    request's page links to its receipts. One indexed read (`notice.instance_id` is unique)."""
    notice = session.scalar(select(Notice).where(Notice.instance_id == instance_id))
    return notice if notice is not None and may_see_receipts(session, username, notice) else None


def my_notices(session: Session, username: str, page: int = 1, per_page: int = 50) -> Page:
    """The notices `username` received, newest first: (notice, read_at, acknowledged_at)."""
    page, per_page = paging(page, per_page, 200)
    where = _r.c.username == username
    total = session.scalar(select(func.count()).select_from(_r).where(where)) or 0
    rows = session.execute(select(Notice, _r.c.read_at, _r.c.acknowledged_at)
                           .join(_r, _r.c.notice_id == Notice.id).where(where)
                           .order_by(Notice.id.desc()).limit(per_page).offset((page - 1) * per_page)).all()
    return Page([tuple(r) for r in rows], total, page, per_page)


def all_notices(session: Session, username: str, page: int = 1, per_page: int = 50) -> Page:
    """Every notice, newest first, for a super admin (else NotPermittedError)."""
    if not is_super_admin(session, username):
        raise NotPermittedError(msg("only administrators see every notice"))
    page, per_page = paging(page, per_page, 200)
    total = session.scalar(select(func.count()).select_from(Notice)) or 0
    items = list(session.scalars(select(Notice).order_by(Notice.id.desc()).limit(per_page)
                                 .offset((page - 1) * per_page)))
    return Page(items, total, page, per_page)


def sent_notices(session: Session, username: str, limit: int = 50) -> list[Notice]:
    """The notices `username` sent, newest first."""
    return list(session.scalars(select(Notice).where(Notice.sender == username)
                                .order_by(Notice.created_at.desc(), Notice.id.desc()).limit(limit)))
