"""Org chart imports applied in the background, with progress a page can poll.

The flow: the upload is planned as a dry run (`org_import.plan_import`); when it is clean,
`start_job` stores the file's parsed rows in an `org_import_job` row (status `queued`: waiting
for the admin's "apply"); "apply" runs `run_job` in a background thread, and the page polls
`job_status` until the job is `done` or `failed`.

Atomicity: `apply_import` is atomic as a whole (new people's ids feed managers, departments are
created level by level, a username swap frees values first), so `run_job` keeps it in one
transaction: it plans the rows again in that transaction (the directory must be current),
applies them, and marks the job `done` *in the same commit*. Data and "done" are committed
together: a job that is not `done` has applied nothing, whatever happened to its worker. A
failure rolls everything back and marks the job `failed` with the error.

Progress: phases inside that one transaction report `done` of `total` people written
(`apply_import`'s `on_progress`). It goes to a registry in this process, which `job_status`
reads first, and on PostgreSQL also to the job row through a separate connection (its own
short transactions), with a heartbeat (`updated_at`) every 20 s, so any process can report it.
SQLite allows one writer at a time: the import's transaction holds it, so there the row is
written only when the job is claimed and when it ends, and progress and liveness come from
the registry of the process running the job (the embedded SQLite deployment is one process).

A job still `running` whose heartbeat is older than two minutes, and that this process is not
running, lost its worker (the process stopped): `job_status` marks it failed ("nothing was
applied", which the single transaction guarantees), and a worker that comes back finds its
final conditional update refused and rolls back.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from engine.data.models import OrgImportJob, utcnow
from engine.errors import LiaisonError, NotFoundError, NotPermittedError
from engine.people import org_import
from engine.people.accounts import SessionUser
from engine.people.org_import import ImportPlan, ImportRefusedError, OrgTable

log = logging.getLogger("liaison.org_import")

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STALE_AFTER = timedelta(minutes=2)  # a running job whose heartbeat is older lost its worker
HEARTBEAT_SECONDS = 20.0
REPLACED_MESSAGE = "replaced by a newer preview before it was applied; nothing was applied"
MAX_ERROR = 4000

Sessions = sessionmaker[Session]


class JobAbandonedError(LiaisonError):
    """The job was marked failed while it ran (its heartbeat looked stale): its writes were rolled back."""


# -- the rows between the preview and the job --------------------------------------------------------

def table_to_json(table: OrgTable, deactivate_missing: bool) -> dict:
    """What a job stores of the file: its parsed rows, columns and the import's option."""
    return {"source": table.source, "columns": list(table.columns), "header_row": table.header_row,
            "ignored_headers": list(table.ignored_headers), "deactivate_missing": deactivate_missing,
            "rows": [[number, cells] for number, cells in table.rows]}


def table_from_json(data: dict) -> tuple[OrgTable, bool]:
    """The table and the "deactivate people missing from the file" option stored by `table_to_json`."""
    table = OrgTable(data["source"], tuple(data["columns"]), [(int(n), dict(cells)) for n, cells in data["rows"]],
                     int(data.get("header_row", 1)), ignored_headers=tuple(data.get("ignored_headers", ())))
    return table, bool(data.get("deactivate_missing"))


def _work(plan: ImportPlan) -> int:
    """How many people the plan writes: the `total` of its progress."""
    counts = plan.counts()
    return counts["create"] + counts["update"] + counts["deactivate"]


def start_job(sessions: Sessions, plan: ImportPlan, table: OrgTable, user: SessionUser, *,
              deactivate_missing: bool = False) -> int:
    """Store a clean preview's rows as a queued job of `user` (a super admin) and return its id.

    `plan` is the dry run of `table` with the same `deactivate_missing`. The user's older queued
    jobs (previews never applied) end as failed ("replaced"): the newest preview is the one to apply.
    """
    if not user.is_super_admin:
        raise NotPermittedError("only a super admin may import the org chart")
    if not plan.ok:
        raise ImportRefusedError(f"{plan.source or 'the import'}: {len(plan.errors)} errors, nothing was imported")
    now = utcnow()
    with sessions() as session, session.begin():
        session.execute(update(OrgImportJob)
                        .where(OrgImportJob.started_by == user.username, OrgImportJob.status == QUEUED)
                        .values(status=FAILED, error=REPLACED_MESSAGE, rows=None, updated_at=now))
        job = OrgImportJob(started_by=user.username, status=QUEUED, file_name=(table.source or "")[:300],
                           total=_work(plan), done=0, rows=table_to_json(table, deactivate_missing),
                           created_at=now, updated_at=now)
        session.add(job)
        session.flush()
        return job.id


# -- running a job ------------------------------------------------------------------------------------

@dataclass
class _Live:
    """A job this process is running: its progress, newer than the row on SQLite."""

    total: int
    done: int = 0
    stop: threading.Event = field(default_factory=threading.Event)


_LIVE: dict[int, _Live] = {}
_LIVE_LOCK = threading.Lock()


class _RowWriter:
    """Progress and heartbeat written to the job row by a connection of its own (not SQLite)."""

    def __init__(self, sessions: Sessions, job_id: int):
        self.engine = sessions.kw["bind"]
        self.job_id = job_id
        self.enabled = self.engine.dialect.name != "sqlite"
        self.lock = threading.Lock()

    def write(self, **values) -> None:
        if not self.enabled:
            return
        with self.lock:
            try:
                with self.engine.begin() as conn:  # its own transaction, committed at once
                    conn.execute(update(OrgImportJob)
                                 .where(OrgImportJob.id == self.job_id, OrgImportJob.status == RUNNING)
                                 .values(updated_at=utcnow(), **values))
            except Exception:  # noqa: BLE001 - progress is best effort; the import goes on
                log.warning("org import job %s: could not record progress", self.job_id, exc_info=True)

    def beat_until(self, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            self.write()


def run_job(sessions: Sessions, job_id: int) -> str:
    """Apply a queued job's rows (planned again now) in one transaction; returns `done` or `failed`.

    A job that is not queued (running elsewhere, finished, unknown) is left alone and its
    status is returned (None when there is no such job).
    """
    with sessions() as session, session.begin():
        claimed = session.execute(update(OrgImportJob)
                                  .where(OrgImportJob.id == job_id, OrgImportJob.status == QUEUED)
                                  .values(status=RUNNING, done=0, updated_at=utcnow())).rowcount
        if claimed != 1:
            return session.scalar(select(OrgImportJob.status).where(OrgImportJob.id == job_id))
        total = session.scalar(select(OrgImportJob.total).where(OrgImportJob.id == job_id))
    live = _Live(total=total)
    with _LIVE_LOCK:
        _LIVE[job_id] = live
    writer = _RowWriter(sessions, job_id)
    heartbeat = None
    if writer.enabled:
        heartbeat = threading.Thread(target=writer.beat_until, args=(live.stop,), daemon=True,
                                     name=f"org-import-{job_id}-heartbeat")
        heartbeat.start()

    def progress(done: int, of: int) -> None:
        live.done, live.total = done, of
        writer.write(done=done, total=of)

    try:
        with sessions() as session, session.begin():
            rows = session.scalar(select(OrgImportJob.rows).where(OrgImportJob.id == job_id))
            table, deactivate_missing = table_from_json(rows)
            plan = org_import.plan_import(session, table, deactivate_missing=deactivate_missing)
            if not plan.ok:  # the org chart changed since the preview
                first = "; ".join(f"row {e.row}: {e.message}" for e in plan.errors[:5])
                raise ImportRefusedError(f"the org chart changed since the preview: {len(plan.errors)} errors "
                                         f"({first}{' ...' if len(plan.errors) > 5 else ''})")
            total = _work(plan)
            progress(0, total)
            counts = org_import.apply_import(session, plan, on_progress=progress)
            live.stop.set()  # no progress write may wait on the row lock this update takes
            if heartbeat is not None:
                heartbeat.join()
            summary = {"created": counts["create"], "updated": counts["update"],
                       "deactivated": counts["deactivate"], "unchanged": counts["unchanged"],
                       "new_departments": counts["new_departments"], "new_positions": counts["new_positions"],
                       "new_roles": counts["new_roles"]}
            finished = session.execute(update(OrgImportJob)
                                       .where(OrgImportJob.id == job_id, OrgImportJob.status == RUNNING)
                                       .values(status=DONE, total=total, done=total, summary=summary, rows=None,
                                               error=None, updated_at=utcnow())
                                       .execution_options(synchronize_session=False)).rowcount
            if finished != 1:
                raise JobAbandonedError("the job was marked failed while it ran; nothing was applied")
        return DONE
    except Exception as exc:  # noqa: BLE001 - any failure ends the job, recorded; the transaction rolled back
        log.warning("org import job %s failed", job_id, exc_info=not isinstance(exc, LiaisonError))
        message = str(exc) if isinstance(exc, LiaisonError) else f"{type(exc).__name__}: {exc}"
        if "nothing was applied" not in message:
            message = f"{message} (nothing was applied)"
        _fail(sessions, job_id, message)
        return FAILED
    finally:
        live.stop.set()
        if heartbeat is not None:
            heartbeat.join()
        with _LIVE_LOCK:
            _LIVE.pop(job_id, None)


def _fail(sessions: Sessions, job_id: int, message: str, stale_before: datetime | None = None) -> bool:
    """Mark a running job failed (only one whose heartbeat is older than `stale_before`, if given)."""
    query = update(OrgImportJob).where(OrgImportJob.id == job_id, OrgImportJob.status == RUNNING)
    if stale_before is not None:
        query = query.where(OrgImportJob.updated_at < stale_before)
    with sessions() as session, session.begin():
        return session.execute(query.values(status=FAILED, error=message[:MAX_ERROR], rows=None,
                                            updated_at=utcnow())).rowcount == 1


# -- reading a job ------------------------------------------------------------------------------------

STALE_MESSAGE = "the worker stopped before the import finished; nothing was applied"


def job_status(sessions: Sessions, job_id: int, user: SessionUser) -> dict:
    """A job as JSON-ready data, for its starter or a super admin (anyone else: NotFoundError).

    Keys: id, status, file_name, started_by, total, done, summary, error, created_at, updated_at
    (ISO 8601). A running job whose worker is gone is reported (and recorded) as failed.
    """
    with sessions() as session:
        job = session.get(OrgImportJob, job_id)
        if job is None or (job.started_by != user.username and not user.is_super_admin):
            raise NotFoundError(f"no org import job {job_id}")
        data = {"id": job.id, "status": job.status, "file_name": job.file_name, "started_by": job.started_by,
                "total": job.total, "done": job.done, "summary": job.summary, "error": job.error,
                "created_at": job.created_at, "updated_at": job.updated_at}
    if data["status"] == RUNNING:
        with _LIVE_LOCK:
            live = _LIVE.get(job_id)
            progress = (live.done, live.total) if live is not None else None
        if progress is not None:  # this process runs it: alive, and its progress is the newest
            data["done"], data["total"] = progress
        elif data["updated_at"] < utcnow() - STALE_AFTER:
            try:
                recorded = _fail(sessions, job_id, STALE_MESSAGE, stale_before=utcnow() - STALE_AFTER)
            except OperationalError:  # the database is busy (SQLite's single writer): report it anyway
                log.warning("org import job %s: could not record the stale heartbeat", job_id)
                recorded = True
            if not recorded:  # it beat or ended meanwhile: read it again
                return job_status(sessions, job_id, user)
            data.update(status=FAILED, error=STALE_MESSAGE)
    for key in ("created_at", "updated_at"):
        data[key] = data[key].isoformat()
    return data


def is_running_here(job_id: int) -> bool:
    """Whether this process runs the job now."""
    with _LIVE_LOCK:
        return job_id in _LIVE
