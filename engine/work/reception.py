"""Reception: the visits of a day, and checking visitors in and out with their pass code.

Checking in completes the visit's open check-in task (`liaison:pass="true"`) as the receptionist,
through `runtime.complete_task`, so the task's own rule decides who may (candidate group
`reception`); checking out completes the visit's open check-out task the same way. A visitor on the
blacklist is refused: nothing is completed, the instance's history says who refused whom and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import runtime
from engine.bpmn.workflow import company_zone
from engine.data import store
from engine.data.external_models import ExternalGrant
from engine.data.models import WorkTask
from engine.errors import NotFoundError, NotPermittedError, TaskConflictError, msg
from engine.external import passes
from engine.runtime.step import check_may_complete, db_engine
from engine.runtime.versions import version_package
from engine.runtime.visit_passes import pass_elements, slot_text

RECEPTION_GROUP = "reception"
REFUSED_ACTION = "entry_refused"  # the history entry of a refused entry

_grant = ExternalGrant.__table__
_task = WorkTask.__table__

_STATE_REFUSALS = {
    "upcoming": msg("this pass is not valid yet: entry from 30 minutes before the booked time"),
    "expired": msg("this pass has expired"),
    "revoked": msg("this pass was revoked or the visit was cancelled"),
    "checked_in": msg("this visitor is already checked in"),
    "checked_out": msg("this visitor has already checked out"),
}


class EntryRefusedError(NotPermittedError):
    """A blacklisted visitor: reception must not let them in. `entry`: the blacklist entry matched."""

    def __init__(self, message, entry: passes.BlacklistEntry):
        super().__init__(message)
        self.entry = entry


@dataclass(frozen=True)
class ExpectedVisit:
    """One visit on the reception page: the pass, the slot on the company's clock, the host's display name."""

    visit: passes.PassView
    slot: str
    host_name: str


def expected(session: Session, day: date, lang: str = "zh", now: datetime | None = None) -> list[ExpectedVisit]:
    """The visits whose booked slot overlaps `day` (company time), earliest first, each with its state."""
    zone = company_zone()
    start = datetime.combine(day, time(), zone)
    end = start + timedelta(days=1)
    now = now or datetime.now(zone)
    conn = session.connection()
    rows = conn.execute(select(_grant).where(_grant.c.kind == "pass", _grant.c.valid_from < end,
                                             _grant.c.valid_until >= start)
                        .order_by(_grant.c.valid_from, _grant.c.id)).all()
    visits = []
    for row in rows:
        view = passes.pass_view(conn, row, now, _name_field(conn, row.instance_id))
        host = view.host_name_en if lang == "en" else view.host_name
        visits.append(ExpectedVisit(view, slot_text((view.valid_from, view.valid_until)), host or view.host or ""))
    return visits


def look_up(session: Session, code: str, now: datetime) -> passes.PassView | None:
    """The pass of a typed or scanned code (for the reception page), or None."""
    conn = session.connection()
    view = passes.look_up(conn, code, now)
    if view is None:
        return None
    field = _name_field(conn, view.instance_id)
    return view if field == "visitor_name" else passes.look_up(conn, code, now, field)


def check_in(sessions: sessionmaker[Session], user: str, groups: tuple[str, ...], code: str, now: datetime,
             data: dict | None = None, lang: str = "en") -> passes.PassView:
    """Let a visitor in: completes the visit's open check-in task as `user` and marks the pass.

    Refused (nothing completed): an unknown code (NotFoundError), someone the check-in task is not
    offered to (NotPermittedError), a blacklisted visitor (EntryRefusedError, written to the history),
    a pass that is not valid now (TaskConflictError saying why)."""
    view, task_id = _open_visit_task(sessions, code, now, user, groups, check_in=True)
    if view.blacklisted is not None:
        _refuse(sessions, view, user, now)
    if view.state != "valid":
        raise TaskConflictError(_STATE_REFUSALS.get(view.state, msg("this pass is not valid")))
    runtime.complete_task(sessions, task_id, user, data or {}, groups=groups, lang=lang)
    with db_engine(sessions).begin() as conn:
        passes.mark_checked_in(conn, view.grant_id, user, now)
    return _reread(sessions, view.grant_id, now)


def check_out(sessions: sessionmaker[Session], user: str, groups: tuple[str, ...], code: str, now: datetime,
              data: dict | None = None, lang: str = "en") -> passes.PassView:
    """Let a visitor out: completes the visit's open check-out task as `user` and marks the pass."""
    view, task_id = _open_visit_task(sessions, code, now, user, groups, check_in=False)
    if view.checked_in_at is None and _mark_missed_check_in(sessions, view):
        view = _reread(sessions, view.grant_id, now)
    if view.state != "checked_in":
        raise TaskConflictError(_STATE_REFUSALS.get(view.state) if view.state == "checked_out"
                                else msg("this visitor is not checked in"))
    runtime.complete_task(sessions, task_id, user, data or {}, groups=groups, lang=lang)
    with db_engine(sessions).begin() as conn:
        passes.mark_checked_out(conn, view.grant_id, user, now)
    return _reread(sessions, view.grant_id, now)


def _mark_missed_check_in(sessions, view: passes.PassView) -> bool:
    """The check-in task was completed but the pass not marked (the process stopped in between):
    mark it now as that completion says. True when marked."""
    with db_engine(sessions).begin() as conn:
        done = conn.execute(select(_task.c.completed_by, _task.c.completed_at)
                            .where(_task.c.id == view.task_id, _task.c.status == "completed")).first()
        if done is None or done.completed_at is None:
            return False
        passes.mark_checked_in(conn, view.grant_id, done.completed_by or "", done.completed_at)
        return True


def _open_visit_task(sessions, code: str, now: datetime, user: str, groups: tuple[str, ...],
                     check_in: bool) -> tuple[passes.PassView, str]:
    """The pass and the open task reception completes (check-in: the pass's own task; check-out: the
    visit's other open task offered to reception), after checking `user` may complete it."""
    with db_engine(sessions).connect() as conn:
        view = passes.look_up(conn, code, now)
        if view is None:
            raise NotFoundError(msg("no visitor pass has this code"))
        if check_in:
            task_id = view.task_id
        else:
            handle = store.instance_handle(conn, view.instance_id)
            marked = pass_elements(conn, handle.version_id, handle.checksum) if handle else frozenset()
            task_id = _open_reception_task(conn, view.instance_id, marked)
            if task_id is None:
                raise TaskConflictError(msg("this visit has no open check-out step"))
        handle = store.task_handle(conn, task_id)
        if handle is None:
            raise NotFoundError(msg("no task %(task)s", task=task_id))
        check_may_complete(handle, user, groups)
        field = _name_field(conn, view.instance_id)
        if field != "visitor_name":
            view = passes.look_up(conn, code, now, field) or view
    return view, task_id


def _open_reception_task(conn, instance_id: int, marked: frozenset[str]) -> str | None:
    rows = conn.execute(select(_task.c.id, _task.c.element_id, _task.c.candidate_groups)
                        .where(_task.c.instance_id == instance_id, _task.c.status == "open")
                        .order_by(_task.c.created_at)).all()
    for task_id, element_id, candidate_groups in rows:
        if element_id not in marked and RECEPTION_GROUP in (candidate_groups or []):
            return task_id
    return None


def _refuse(sessions, view: passes.PassView, user: str, now: datetime) -> None:
    entry = view.blacklisted
    with db_engine(sessions).begin() as conn:
        store.append_history(conn, [{
            "instance_id": view.instance_id, "actor": user, "action": REFUSED_ACTION, "task_id": view.task_id,
            "at": now, "comment": entry.reason,
            "data": {"blacklist_id": entry.id, "visitor": view.visitor_name, "company": view.company}}])
    raise EntryRefusedError(msg("Entry refused: %(name)s is on the visitor blacklist (%(reason)s). Nothing was "
                                "checked in; tell security.", name=view.visitor_name, reason=entry.reason), entry)


def _reread(sessions, grant_id: int, now: datetime) -> passes.PassView:
    with db_engine(sessions).connect() as conn:
        row = conn.execute(select(_grant).where(_grant.c.id == grant_id)).one()
        return passes.pass_view(conn, row, now, _name_field(conn, row.instance_id))


def _name_field(conn, instance_id: int) -> str:
    """package.yaml `portal.name_field` of the instance's version (the package is cached)."""
    handle = store.instance_handle(conn, instance_id)
    if handle is None:
        return "visitor_name"
    portal = (version_package(conn, handle.version_id, handle.checksum).get("meta") or {}).get("portal") or {}
    return portal.get("name_field") or "visitor_name"


