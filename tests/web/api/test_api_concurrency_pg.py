"""On PostgreSQL, over HTTP (the app in process, one client per thread): 20 workers fetching-and-locking
one topic at once never get the same task; eight retries of one completion sent at once with the same
Idempotency-Key complete the task once, each answered with that completion or a 409 to retry."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from engine.data.external_task_models import ExternalTask
from engine.data.models import HistoryEntry, Person
from engine.packages import deployment
from engine.people import api_tokens
from tests.conftest import FIXTURES
from web import create_app

from .conftest import PROCESSES, call

CREDIT_CHECK = FIXTURES / "packages" / "credit_check"


def _app(postgres_url, tmp_path, *usernames):
    app = create_app({"DATABASE_URL": postgres_url, "TESTING": True, "SECRET_KEY": "test",
                      "LIAISON_UPLOAD_DIR": str(tmp_path)})
    sessions = app.extensions["liaison_sessions"]
    with sessions() as session, session.begin():
        session.add_all([Person(username=name, name=name) for name in usernames])
    return app, sessions


def _at_once(count: int, send) -> list:
    """`send(i)` in `count` threads released together; their answers."""
    answers, gate = [None] * count, threading.Barrier(count)

    def run(i: int):
        gate.wait()
        answers[i] = send(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_twenty_workers_fetching_over_http_at_once_never_get_the_same_task(postgres_url, tmp_path):
    app, sessions = _app(postgres_url, tmp_path, "zhang", "robot")
    deployment.deploy_package(sessions, deployment.load_package(CREDIT_CHECK), "zhang")
    with sessions() as session:
        starter = api_tokens.create_token(session, "zhang", "start", ["start"])[1]
        worker = api_tokens.create_token(session, "robot", "workers", ["work"])[1]
    client = app.test_client()
    for n in range(30):
        assert call(client, "POST", "/processes/credit_check/instances", starter,
                    json={"data": {"customer": f"C{n}"}}).status_code == 201

    def fetch(i: int):
        answer = call(app.test_client(), "POST", "/external-tasks/fetch-and-lock", worker, json={
            "worker": f"w{i}", "topics": [{"name": "credit-check", "lock_seconds": 60}], "max": 2})
        return answer.status_code, [task["id"] for task in answer.json]

    answers = _at_once(20, fetch)
    assert {status for status, _ids in answers} == {200}
    locked = [task_id for _status, ids in answers for task_id in ids]
    assert locked and len(locked) == len(set(locked))  # no task went to two workers
    with sessions() as session:
        rows = {row.id: row for row in session.scalars(select(ExternalTask))}
    assert all(rows[task_id].worker == f"w{i}" for i, (_status, ids) in enumerate(answers) for task_id in ids)
    assert sum(row.status == "locked" for row in rows.values()) == len(locked)
    sessions.kw["bind"].dispose()  # the app's pool: the next test empties these tables


def test_concurrent_retries_of_one_completion_complete_the_task_once(postgres_url, tmp_path):
    app, sessions = _app(postgres_url, tmp_path, "zhang", "li")
    deployment.deploy_package(sessions, deployment.load_package(PROCESSES / "leave_request"), "zhang")
    with sessions() as session:
        starter = api_tokens.create_token(session, "zhang", "start", ["start"])[1]
        manager = api_tokens.create_token(session, "li", "work", ["work"])[1]
    started = call(app.test_client(), "POST", "/processes/leave_request/instances", starter,
                   json={"data": {"leave_type": "annual", "days": 1, "manager": "li"}})
    [task] = started.json["tasks"]
    body = {"action": "approve", "data": {"manager_comment": "ok"}}

    def complete(_i: int):
        answer = call(app.test_client(), "POST", f"/tasks/{task['id']}/complete", manager, json=body,
                      headers={"Idempotency-Key": "approve-once"})
        return answer.status_code, answer.json

    answers = _at_once(8, complete)
    assert {status for status, _json in answers} <= {200, 409}
    completions = [json for status, json in answers if status == 200]
    assert completions and all(json == completions[0] for json in completions)  # the first answer, replayed
    with sessions() as session:
        done = session.scalar(select(func.count()).select_from(HistoryEntry).where(
            HistoryEntry.instance_id == started.json["id"], HistoryEntry.action == "task_completed"))
    assert done == 1
    again = call(app.test_client(), "POST", f"/tasks/{task['id']}/complete", manager, json=body,
                 headers={"Idempotency-Key": "approve-once"})
    assert (again.status_code, again.json, again.headers["Idempotent-Replayed"]) == (200, completions[0], "true")
    sessions.kw["bind"].dispose()
