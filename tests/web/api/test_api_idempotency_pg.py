"""On PostgreSQL: eight clients sending the same start with the same Idempotency-Key at once start one
instance; each gets that instance (the first response, replayed) or a 409 to retry, never a second one."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from engine.data.models import Person, ProcessInstance
from engine.packages import deployment
from engine.people import api_tokens
from web import create_app

from .conftest import PROCESSES, call


def test_concurrent_retries_with_one_key_start_one_instance(postgres_url, tmp_path):
    app = create_app({"DATABASE_URL": postgres_url, "TESTING": True, "SECRET_KEY": "test",
                      "LIAISON_UPLOAD_DIR": str(tmp_path)})
    sessions = app.extensions["liaison_sessions"]
    with sessions() as session, session.begin():
        session.add_all([Person(username="zhang", name="张三"), Person(username="li", name="李四")])
    deployment.deploy_package(sessions, deployment.load_package(PROCESSES / "leave_request"), "zhang")
    with sessions() as session:
        token = api_tokens.create_token(session, "zhang", "t", ["start"])[1]
    body = {"data": {"leave_type": "annual", "days": 1, "manager": "li"}}
    answers, gate = [], threading.Barrier(8)

    def send():
        client = app.test_client()
        gate.wait()
        answer = call(client, "POST", "/processes/leave_request/instances", token, json=body,
                      headers={"Idempotency-Key": "once"})
        answers.append((answer.status_code, answer.json.get("id")))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ProcessInstance)) == 1
        [instance] = session.scalars(select(ProcessInstance.id))
    assert {status for status, _id in answers} <= {201, 409}
    assert {found for status, found in answers if status == 201} == {instance}
    final = call(app.test_client(), "POST", "/processes/leave_request/instances", token, json=body,
                 headers={"Idempotency-Key": "once"})
    assert (final.status_code, final.json["id"]) == (201, instance)
    sessions.kw["bind"].dispose()  # the app's pool: the next test empties these tables
