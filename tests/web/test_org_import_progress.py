"""The org import's apply runs in the background: the progress JSON, the progress page, failures, access."""

from __future__ import annotations

import io
import re
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from engine.data.models import Department, OrgImportJob, Person, utcnow
from engine.people import org_import

from .conftest import csrf_token, sign_in

TIMEOUT = 30.0


def _csv(count: int) -> str:
    lines = ["用户名,姓名,部门,直属上级"]
    lines += [f"p{i:04d},员工{i},公司/研发部,{'' if i == 0 else 'p0000'}" for i in range(count)]
    return "\n".join(lines) + "\n"


def _preview(client, text: str) -> int:
    response = client.post("/admin/org-import", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, "/admin/org-import"), "file": (io.BytesIO(text.encode()), "org.csv")})
    assert response.status_code == 200
    return int(re.search(r'name="job_id" value="(\d+)"', response.get_data(as_text=True)).group(1))


def _apply(client, job_id: int):
    return client.post("/admin/org-import/apply", data={"csrf_token": csrf_token(client, "/admin/"),
                                                        "job_id": job_id})


def _job(client, job_id: int) -> dict:
    response = client.get(f"/admin/org-import/jobs/{job_id}")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def _wait(client, job_id: int, until) -> dict:
    """Poll the JSON endpoint until `until(job)` holds (no wall-clock assumptions beyond a generous timeout)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        job = _job(client, job_id)
        if until(job):
            return job
        assert time.monotonic() < deadline, f"job stuck at {job}"
        time.sleep(0.05)


def _count(sessions, model=Person) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def root(app, people):
    client = app.test_client()
    assert sign_in(client, "root").status_code == 302
    return client


@pytest.fixture
def gate(monkeypatch):
    """Hold the import's writes until the test opens the gate (so it sees the job running at 0)."""
    opened, reached = threading.Event(), threading.Event()
    real_apply = org_import.apply_import

    def gated(session, plan, *, on_progress=None):
        reached.set()
        assert opened.wait(TIMEOUT)
        return real_apply(session, plan, on_progress=on_progress)

    monkeypatch.setattr(org_import, "apply_import", gated)
    yield opened, reached
    opened.set()


def test_progress_goes_from_zero_to_total(root, sessions, gate):
    opened, reached = gate
    before = _count(sessions)
    job_id = _preview(root, _csv(1200))
    assert _job(root, job_id) | {"created_at": None, "updated_at": None} == {
        "id": job_id, "status": "queued", "file_name": "org.csv", "started_by": "root", "total": 1200, "done": 0,
        "summary": None, "error": None, "created_at": None, "updated_at": None}
    applied = _apply(root, job_id)
    assert applied.status_code == 303
    assert reached.wait(TIMEOUT)
    running = _job(root, job_id)
    assert (running["status"], running["done"], running["total"]) == ("running", 0, 1200)
    page = root.get(f"/admin/org-import/progress/{job_id}").get_data(as_text=True)
    assert '<progress id="import-bar" max="1200" value="0"' in page
    assert 'src="/static/org-import-progress.js"' in page and '<meta http-equiv="refresh"' in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)                # CSP: no inline script
    assert _count(sessions) == before                                     # nothing written yet
    opened.set()
    done = _wait(root, job_id, lambda job: job["status"] in ("done", "failed"))
    assert (done["status"], done["done"], done["total"]) == ("done", 1200, 1200)
    assert done["summary"]["created"] == 1200
    assert _count(sessions) == before + 1200
    page = root.get(f"/admin/org-import/progress/{job_id}").get_data(as_text=True)
    assert 'value="1200"' in page and "http-equiv" not in page and "org-import-progress.js" not in page


def test_a_failing_apply_marks_the_job_failed_and_changes_nothing(root, sessions, monkeypatch):
    real_apply = org_import.apply_import

    def broken(session, plan, *, on_progress=None):
        real_apply(session, plan, on_progress=on_progress)
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(org_import, "apply_import", broken)
    people, departments = _count(sessions), _count(sessions, Department)
    job_id = _preview(root, _csv(30))
    _apply(root, job_id)
    failed = _wait(root, job_id, lambda job: job["status"] in ("done", "failed"))
    assert failed["status"] == "failed" and "the disk is full" in failed["error"]
    assert (_count(sessions), _count(sessions, Department)) == (people, departments)
    page = root.get(f"/admin/org-import/progress/{job_id}", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "导入失败" in page and "the disk is full" in page


def test_other_people_cannot_read_the_job(app, root, sessions):
    job_id = _preview(root, _csv(2))
    for username in ("zhang", "li"):   # an employee, a department admin
        client = app.test_client()
        sign_in(client, username)
        assert client.get(f"/admin/org-import/jobs/{job_id}").status_code == 403
        assert client.get(f"/admin/org-import/progress/{job_id}").status_code == 403
        assert client.post("/admin/org-import/apply", data={"csrf_token": csrf_token(client, "/password"),
                                                            "job_id": job_id}).status_code == 403
    assert root.get(f"/admin/org-import/jobs/{job_id + 1000}").status_code == 404
    assert _job(root, job_id)["status"] == "queued"   # nobody started it


def test_a_stale_heartbeat_is_reported_failed(root, sessions):
    job_id = _preview(root, _csv(2))
    with sessions() as session, session.begin():   # claimed by a worker whose process then stopped
        session.execute(update(OrgImportJob).where(OrgImportJob.id == job_id)
                        .values(status="running", updated_at=utcnow() - timedelta(minutes=5)))
    job = _job(root, job_id)
    assert job["status"] == "failed" and "worker stopped" in job["error"] and "nothing was applied" in job["error"]
    assert _apply(root, job_id).status_code == 303   # applying it again does nothing
    assert _job(root, job_id)["status"] == "failed"


def test_the_progress_script_is_served(app, root):
    script = root.get("/static/org-import-progress.js")
    assert script.status_code == 200 and "progress" in script.get_data(as_text=True)
    script.close()
