"""Projects over the REST API: the same engine rules as the pages. li creates a project (members zhang and
the role hr), adds a task for zhang; zhang moves it and comments with a mention of hu (notified); a
non-member (wang) gets 404 from every project and task URL, a member who may not change the task 403."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.data.models import Notification
from engine.packages import deployment

from .conftest import PROCESSES, call


@pytest.fixture(scope="module")
def project(api_app, tokens):
    sessions = api_app.extensions["liaison_sessions"]
    deployment.deploy_package(sessions, deployment.load_package(PROCESSES / "project_task"), "root")
    client = api_app.test_client()
    made = call(client, "POST", "/projects", tokens["li"], json={"name": "新品发布", "people": ["zhang"], "roles": ["hr"]})
    assert made.status_code == 201, made.get_json()
    project_id = made.get_json()["id"]
    due = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    task = call(client, "POST", f"/projects/{project_id}/tasks", tokens["li"],
                json={"title": "市场调研", "owner": "zhang", "due_at": due, "labels": ["launch"]})
    assert task.status_code == 201, task.get_json()
    return project_id, task.get_json()["id"]


def test_a_member_moves_and_comments_and_the_list_agrees(api_app, tokens, project):
    client = api_app.test_client()
    project_id, task_id = project
    moved = call(client, "POST", f"/project-tasks/{task_id}/move", tokens["zhang"], json={"status": "in_progress"})
    assert moved.status_code == 200 and moved.get_json()["status"] == "in_progress"
    again = call(client, "POST", f"/project-tasks/{task_id}/move", tokens["zhang"], json={"status": "in_progress"})
    assert again.status_code == 409
    said = call(client, "POST", f"/project-tasks/{task_id}/comments", tokens["zhang"], json={"body": "@hu 请看"})
    assert said.status_code == 201
    listed = call(client, "GET", f"/projects/{project_id}/tasks?status=in_progress", tokens["hu"]).get_json()
    assert [t["id"] for t in listed] == [task_id]
    with api_app.extensions["liaison_sessions"]() as session:
        assert session.scalars(select(Notification.recipient).where(Notification.event == "project_mention")).all() == ["hu"]
    detail = call(client, "GET", f"/project-tasks/{task_id}", tokens["li"]).get_json()
    assert [h["action"] for h in detail["history"]] == ["created", "moved", "commented"]


def test_a_non_member_gets_404_everywhere_and_a_member_403_on_changes(api_app, tokens, project):
    client = api_app.test_client()
    project_id, task_id = project
    assert call(client, "GET", "/projects", tokens["wang"]).get_json() == []
    for method, path, body in (("GET", f"/projects/{project_id}", None), ("GET", f"/projects/{project_id}/tasks", None),
                               ("POST", f"/projects/{project_id}/tasks", {"title": "x", "owner": "wang"}),
                               ("GET", f"/project-tasks/{task_id}", None),
                               ("PATCH", f"/project-tasks/{task_id}", {"title": "x"}),
                               ("POST", f"/project-tasks/{task_id}/move", {"status": "done"}),
                               ("POST", f"/project-tasks/{task_id}/comments", {"body": "x"})):
        assert call(client, method, path, tokens["wang"], json=body).status_code == 404, path
    refused = call(client, "PATCH", f"/project-tasks/{task_id}", tokens["hu"], json={"title": "x"})
    assert refused.status_code == 403
