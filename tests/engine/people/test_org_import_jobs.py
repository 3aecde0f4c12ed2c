"""Org imports as background jobs: stored rows, one transaction, progress, failures, who may read a job."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from engine.data.models import Department, OrgImportJob, Person, utcnow
from engine.errors import NotFoundError, NotPermittedError
from engine.people import accounts, org_import, org_import_jobs
from engine.people.org_import import ImportRefusedError, OrgTable, plan_import

PASSWORD = "correct horse battery"
HEADER = ["username", "name", "email", "department", "manager"]


@pytest.fixture
def users(sessions):
    """root and boss: super admins; zhang: an employee. SessionUsers by username."""
    with sessions() as session, session.begin():
        ids = {"root": accounts.create_admin(session, "root", PASSWORD, "管理员").id,
               "boss": accounts.create_admin(session, "boss", PASSWORD, "老板").id,
               "zhang": accounts.create_person_account(session, "zhang", "张三").id}
    with sessions() as session:
        return {name: accounts.load_session_user(session, pid) for name, pid in ids.items()}


def _table(count: int, first: int = 0) -> OrgTable:
    """`count` people in 公司/研发部, each reporting to the first of them."""
    rows = [{"username": f"p{i:05d}", "name": f"员工{i}", "email": f"p{i:05d}@example.com",
             "department": "公司/研发部", "manager": "" if i == first else f"p{first:05d}"}
            for i in range(first, first + count)]
    return OrgTable.from_records(rows, "people.csv")


def _start(sessions, user, table, **options) -> int:
    with sessions() as session:
        plan = plan_import(session, table, **options)
    assert plan.ok, plan.report()
    return org_import_jobs.start_job(sessions, plan, table, user, **options)


def _count(sessions, model=Person) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def _row(sessions, job_id) -> OrgImportJob:
    with sessions() as session:
        return session.get(OrgImportJob, job_id)


def test_a_job_stores_the_rows_then_applies_them_in_one_go(sessions, users):
    job_id = _start(sessions, users["root"], _table(3))
    queued = org_import_jobs.job_status(sessions, job_id, users["root"])
    assert (queued["status"], queued["done"], queued["total"], queued["file_name"]) == ("queued", 0, 3, "people.csv")
    assert _row(sessions, job_id).rows["rows"][0][1]["username"] == "p00000"   # the plan lives in the row
    assert _count(sessions) == 3                                                # nothing written yet

    assert org_import_jobs.run_job(sessions, job_id) == "done"
    job = org_import_jobs.job_status(sessions, job_id, users["root"])
    assert (job["status"], job["done"], job["total"], job["error"]) == ("done", 3, 3, None)
    assert job["summary"]["created"] == 3 and job["summary"]["updated"] == 0 and job["summary"]["deactivated"] == 0
    assert _count(sessions) == 6 and _row(sessions, job_id).rows is None        # the stored rows are dropped
    assert org_import_jobs.run_job(sessions, job_id) == "done"                  # a job runs once
    assert _count(sessions) == 6


def test_progress_goes_from_zero_to_total_in_phases(sessions, users, monkeypatch):
    job_id = _start(sessions, users["root"], _table(2500))
    seen, in_row = [], []
    real_apply = org_import.apply_import

    def watched(session, plan, *, on_progress=None):
        def report(done, total):
            on_progress(done, total)
            seen.append(org_import_jobs.job_status(sessions, job_id, users["root"])["done"])
            in_row.append(_row(sessions, job_id).done)   # what another process would read
        return real_apply(session, plan, on_progress=report)

    monkeypatch.setattr(org_import, "apply_import", watched)
    assert org_import_jobs.run_job(sessions, job_id) == "done"
    assert seen == sorted(seen) and 0 < seen[0] < 2500 and seen[-1] == 2500 and len(set(seen)) >= 3
    if sessions.kw["bind"].dialect.name == "sqlite":
        assert set(in_row) == {0}     # one writer: the row waits for the commit, the process registry has it
    else:
        assert in_row == seen         # PostgreSQL: the row follows through a connection of its own
    assert org_import_jobs.job_status(sessions, job_id, users["root"])["done"] == 2500


def test_a_failing_apply_marks_the_job_failed_and_writes_nothing(sessions, users, monkeypatch):
    job_id = _start(sessions, users["root"], _table(5))
    people, departments = _count(sessions), _count(sessions, Department)
    real_apply = org_import.apply_import

    def broken(session, plan, *, on_progress=None):
        real_apply(session, plan, on_progress=on_progress)   # everything written, then
        raise RuntimeError("disk full")

    monkeypatch.setattr(org_import, "apply_import", broken)
    assert org_import_jobs.run_job(sessions, job_id) == "failed"
    job = org_import_jobs.job_status(sessions, job_id, users["root"])
    assert job["status"] == "failed" and "disk full" in job["error"] and "nothing was applied" in job["error"]
    assert (_count(sessions), _count(sessions, Department)) == (people, departments)
    assert not org_import_jobs.is_running_here(job_id)


def test_a_plan_that_went_stale_since_the_preview_fails_with_its_errors(sessions, users):
    job_id = _start(sessions, users["root"], _table(2))
    with sessions() as session, session.begin():   # meanwhile p00001 got an account, zhang their e-mail
        session.execute(update(Person).where(Person.username == "zhang").values(email="p00001@example.com"))
        accounts.create_person_account(session, "p00001", "员工1")
    assert org_import_jobs.run_job(sessions, job_id) == "failed"
    job = org_import_jobs.job_status(sessions, job_id, users["root"])
    assert "changed since the preview" in job["error"] and "p00001@example.com" in job["error"]
    assert _count(sessions) == 4


def test_only_the_starter_or_a_super_admin_reads_a_job(sessions, users):
    job_id = _start(sessions, users["root"], _table(1))
    assert org_import_jobs.job_status(sessions, job_id, users["boss"])["id"] == job_id   # another super admin
    with pytest.raises(NotFoundError):
        org_import_jobs.job_status(sessions, job_id, users["zhang"])
    with pytest.raises(NotFoundError):
        org_import_jobs.job_status(sessions, job_id + 100, users["root"])
    with pytest.raises(NotPermittedError), sessions() as session:
        table = _table(1, first=10)
        org_import_jobs.start_job(sessions, plan_import(session, table), table, users["zhang"])


def test_a_plan_with_errors_cannot_become_a_job(sessions, users):
    table = OrgTable.from_records([{"username": "x", "name": "X", "manager": "nobody"}], "bad.csv")
    with sessions() as session:
        plan = plan_import(session, table)
    with pytest.raises(ImportRefusedError):
        org_import_jobs.start_job(sessions, plan, table, users["root"])


def test_a_new_preview_replaces_the_unapplied_one(sessions, users):
    first = _start(sessions, users["root"], _table(1))
    second = _start(sessions, users["root"], _table(2))
    replaced = org_import_jobs.job_status(sessions, first, users["root"])
    assert replaced["status"] == "failed" and replaced["error"] == org_import_jobs.REPLACED_MESSAGE
    assert org_import_jobs.run_job(sessions, first) == "failed" and _count(sessions) == 3
    assert org_import_jobs.job_status(sessions, second, users["root"])["status"] == "queued"


def test_a_stale_heartbeat_is_reported_and_recorded_as_failed(sessions, users):
    job_id = _start(sessions, users["root"], _table(2))
    with sessions() as session, session.begin():   # a worker claimed it, then its process died
        session.execute(update(OrgImportJob).where(OrgImportJob.id == job_id)
                        .values(status="running", updated_at=utcnow() - timedelta(minutes=3)))
    job = org_import_jobs.job_status(sessions, job_id, users["root"])
    assert job["status"] == "failed" and job["error"] == org_import_jobs.STALE_MESSAGE
    assert "nothing was applied" in job["error"]
    assert _row(sessions, job_id).status == "failed"
    assert org_import_jobs.run_job(sessions, job_id) == "failed" and _count(sessions) == 3


def test_a_recent_heartbeat_is_still_running(sessions, users):
    job_id = _start(sessions, users["root"], _table(2))
    with sessions() as session, session.begin():   # another process runs it and beat a minute ago
        session.execute(update(OrgImportJob).where(OrgImportJob.id == job_id)
                        .values(status="running", updated_at=utcnow() - timedelta(minutes=1)))
    assert org_import_jobs.job_status(sessions, job_id, users["root"])["status"] == "running"


def test_a_job_marked_failed_while_it_runs_rolls_its_writes_back(sessions, users, monkeypatch):
    job_id = _start(sessions, users["root"], _table(4))
    real_apply = org_import.apply_import

    def overtaken(session, plan, *, on_progress=None):
        with sessions() as other, other.begin():   # e.g. its heartbeat looked stale to another process
            other.execute(update(OrgImportJob).where(OrgImportJob.id == job_id).values(status="failed"))
        return real_apply(session, plan, on_progress=on_progress)

    monkeypatch.setattr(org_import, "apply_import", overtaken)
    assert org_import_jobs.run_job(sessions, job_id) == "failed"
    assert _count(sessions) == 3


def test_run_job_in_a_thread_while_status_is_polled(sessions, users, monkeypatch):
    job_id = _start(sessions, users["root"], _table(3))
    gate, started = threading.Event(), threading.Event()
    real_apply = org_import.apply_import

    def gated(session, plan, *, on_progress=None):
        started.set()
        assert gate.wait(30)
        return real_apply(session, plan, on_progress=on_progress)

    monkeypatch.setattr(org_import, "apply_import", gated)
    worker = threading.Thread(target=org_import_jobs.run_job, args=(sessions, job_id))
    worker.start()
    try:
        assert started.wait(30)
        job = org_import_jobs.job_status(sessions, job_id, users["root"])
        assert (job["status"], job["done"], job["total"]) == ("running", 0, 3)
        assert org_import_jobs.is_running_here(job_id)
        assert org_import_jobs.run_job(sessions, job_id) == "running"   # a second apply does not run it again
    finally:
        gate.set()
        worker.join(30)
    assert org_import_jobs.job_status(sessions, job_id, users["root"])["status"] == "done"
    assert _count(sessions) == 6


def test_rows_survive_the_json_round_trip():
    table = _table(2)
    table.ignored_headers = ("备注",)
    again, deactivate = org_import_jobs.table_from_json(org_import_jobs.table_to_json(table, True))
    assert (again.source, again.columns, again.rows, again.ignored_headers, deactivate) == (
        table.source, table.columns, table.rows, ("备注",), True)
