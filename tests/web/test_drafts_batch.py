"""Drafts of start forms (save unvalidated, resume, start, delete) and batch approval from the inbox.

zhang starts leave requests naming li as manager; li approves them from the to-do list in one go.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.data.models import PersonRole, Role
from engine.packages import deployment as packages
from engine.work import queries

from .conftest import post, sign_in

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
LEAVE = {"leave_type": "annual", "days": "2", "manager": "li", "reason": "家里有事"}


@pytest.fixture
def deployed(sessions, people):
    packages.deploy_package(sessions, packages.load_package(PROCESSES / "leave_request"), "admin")
    return people


def _client(app, username: str):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def _draft_id(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(re.search(r"draft=(\d+)", response.headers["Location"]).group(1))


def _open_task(sessions, instance_id: int) -> dict:
    with sessions() as session:
        return next(t for t in queries.instance_view(session, instance_id)["tasks"] if t["status"] == "open")


def _start(client) -> int:
    response = post(client, "/start/leave_request", LEAVE)
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_draft_is_saved_unvalidated_resumed_and_gone_after_starting(app, deployed, sessions):
    zhang = _client(app, "zhang")
    assert "保存草稿" in zhang.get("/start/leave_request").get_data(as_text=True)
    draft = _draft_id(post(zhang, "/start/leave_request", {"days": "-3", "reason": "回老家办事",
                                                           "action": "draft"}))
    resumed = zhang.get(f"/start/leave_request?draft={draft}").get_data(as_text=True)
    assert "草稿已保存" in resumed and "回老家办事" in resumed and 'value="-3"' in resumed
    listed = zhang.get("/inbox/?view=drafts").get_data(as_text=True)
    assert f"/start/leave_request?draft={draft}" in listed and "请假申请" in listed

    again = post(zhang, f"/start/leave_request?draft={draft}", {**LEAVE, "days": "", "action": "draft"})
    assert _draft_id(again) == draft  # the same draft, updated
    response = post(zhang, f"/start/leave_request?draft={draft}", LEAVE)
    assert response.status_code == 302 and "/instances/" in response.headers["Location"]
    assert zhang.get(f"/start/leave_request?draft={draft}").status_code == 404
    assert f"draft={draft}" not in zhang.get("/inbox/?view=drafts").get_data(as_text=True)


def test_invalid_submission_keeps_the_draft(app, deployed):
    zhang = _client(app, "zhang")
    draft = _draft_id(post(zhang, "/start/leave_request", {"reason": "x", "action": "draft"}))
    assert post(zhang, f"/start/leave_request?draft={draft}", {"days": "2"}).status_code == 422
    assert zhang.get(f"/start/leave_request?draft={draft}").status_code == 200


def test_someone_elses_draft_is_not_found_and_cannot_be_deleted(app, deployed):
    zhang = _client(app, "zhang")
    draft = _draft_id(post(zhang, "/start/leave_request", {"reason": "私事", "action": "draft"}))
    li = _client(app, "li")
    assert li.get(f"/start/leave_request?draft={draft}").status_code == 404
    assert "私事" not in li.get("/inbox/?view=drafts").get_data(as_text=True)
    assert post(li, f"/inbox/drafts/{draft}/delete").status_code == 404
    assert post(li, f"/start/leave_request?draft={draft}", {"reason": "改", "action": "draft"}).status_code == 404
    assert "私事" in zhang.get(f"/start/leave_request?draft={draft}").get_data(as_text=True)

    response = post(zhang, f"/inbox/drafts/{draft}/delete")
    assert response.status_code == 302 and "草稿已删除" in zhang.get("/inbox/?view=drafts").get_data(as_text=True)
    assert zhang.get(f"/start/leave_request?draft={draft}").status_code == 404


def test_batch_approve_completes_each_approval_and_reports_the_others(app, deployed, sessions):
    with sessions() as session, session.begin():
        hr = Role(key="hr", name="人事")
        session.add(hr)
        session.flush()
        session.add(PersonRole(person_id=deployed["li"], role_id=hr.id))
    zhang = _client(app, "zhang")
    first, second, third = _start(zhang), _start(zhang), _start(zhang)
    tasks = [_open_task(sessions, i)["id"] for i in (first, second)]
    li = _client(app, "li")
    todo = li.get("/inbox/").get_data(as_text=True)
    assert "批量同意" in todo and f'name="task" value="{tasks[0]}"' in todo

    confirm = post(li, "/inbox/batch", {"task": [*tasks, "no-such-task"]})  # first: what will happen
    assert confirm.status_code == 200
    page = confirm.get_data(as_text=True)
    assert f"请假申请 #{first} (张三)" in page and f"请假申请 #{second} (张三)" in page
    assert 'name="confirm" value="1"' in page and "no-such-task" in page[page.index('id="batch-refused"'):]
    assert _open_task(sessions, first)["element_id"] != "hr_record"  # nothing approved yet
    response = post(li, "/inbox/batch", {"task": [*tasks, "no-such-task"], "confirm": "1"})
    assert response.status_code == 302
    page = li.get("/inbox/").get_data(as_text=True)
    assert "已同意 2 个申请" in page and "未同意：no-such-task" in page
    assert f"请假申请 #{first} (张三)" in page and f"请假申请 #{second} (张三)" in page
    for instance_id in (first, second):
        with sessions() as session:
            view = queries.instance_view(session, instance_id)
        assert view["data"]["approved"] is True
        assert _open_task(sessions, instance_id)["element_id"] == "hr_record"

    hr_task = _open_task(sessions, first)["id"]  # offered to hr (li): its form has no `approved`
    still_open = _open_task(sessions, third)["id"]
    post(li, "/inbox/batch", {"task": [hr_task, still_open], "confirm": "1"})
    page = li.get("/inbox/").get_data(as_text=True)
    assert "已同意 1 个申请" in page and "表单没有“同意”选项" in page
    assert f"未同意：请假申请 #{first} (张三)" in page
    assert _open_task(sessions, first)["id"] == hr_task
    assert _open_task(sessions, third)["element_id"] == "hr_record"


def test_batch_approve_refuses_tasks_of_others(app, deployed, sessions):
    instance_id = _start(_client(app, "zhang"))
    task = _open_task(sessions, instance_id)["id"]
    root = _client(app, "root")
    assert "任务不存在，或不由您办理" in post(root, "/inbox/batch", {"task": task}).get_data(as_text=True)
    post(root, "/inbox/batch", {"task": task, "confirm": "1"})
    assert "任务不存在，或不由您办理" in root.get("/inbox/").get_data(as_text=True)
    assert _open_task(sessions, instance_id)["id"] == task
    assert "请先勾选" in (post(root, "/inbox/batch", {}) and root.get("/inbox/").get_data(as_text=True))
