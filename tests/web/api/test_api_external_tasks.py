"""External tasks over HTTP: a worker fetches, fails once (retry with backoff), fetches again by long
polling and completes, and the instance moves on; refusals (wrong worker, twice, bad input losing
nothing); an incident on the instance page in zh and en, retried by a super admin on that page; the
admin list; the endpoints in the OpenAPI document."""

from __future__ import annotations

import shutil

import pytest

from engine.packages import deployment
from engine.people import api_tokens
from tests.conftest import FIXTURES
from web import create_app

from ..conftest import create_people, post, sign_in
from .conftest import ALL, call, conforms

CREDIT_CHECK = FIXTURES / "packages" / "credit_check"
FETCH = {"worker": "w1", "topics": [{"name": "credit-check", "lock_seconds": 30}], "max": 5}


@pytest.fixture(scope="module")
def app(sqlite_template, tmp_path_factory):
    folder = tmp_path_factory.mktemp("external_tasks")
    shutil.copy(sqlite_template, folder / "liaison.db")
    app = create_app({"DATABASE_URL": f"sqlite:///{folder / 'liaison.db'}", "TESTING": True, "SECRET_KEY": "test",
                      "LIAISON_UPLOAD_DIR": str(folder / "uploads")})
    sessions = app.extensions["liaison_sessions"]
    create_people(sessions)
    deployment.deploy_package(sessions, deployment.load_package(CREDIT_CHECK), "root")
    return app


@pytest.fixture(scope="module")
def tokens(app) -> dict[str, str]:
    with app.extensions["liaison_sessions"]() as session:
        return {name: api_tokens.create_token(session, name, "tests", ALL)[1] for name in ("root", "zhang")}


def _start(client, token: str) -> int:
    started = call(client, "POST", "/processes/credit_check/instances", token, json={"data": {"customer": "ACME"}})
    assert started.status_code == 201, started.json
    assert started.json["tasks"] == []  # it waits for a worker
    return started.json["id"]


def _fetch(client, token: str, **extra) -> list[dict]:
    answer = call(client, "POST", "/external-tasks/fetch-and-lock", token, json={**FETCH, **extra})
    assert answer.status_code == 200, answer.json
    return answer.json


def test_a_worker_fails_once_then_completes_and_the_instance_moves_on(app, tokens):
    client, worker = app.test_client(), tokens["root"]
    instance = _start(client, tokens["zhang"])
    [task] = _fetch(client, worker)
    assert (task["instance_id"], task["topic"], task["variables"]) == (instance, "credit-check", {"customer": "ACME"})
    failed = call(client, "POST", f"/external-tasks/{task['id']}/failure", worker,
                  json={"worker": "w1", "error_message": "bureau down", "retries": 1, "retry_timeout": 2})
    assert (failed.status_code, failed.json["status"], failed.json["retries"]) == (200, "open", 1)
    assert _fetch(client, worker) == []  # backing off
    [again] = _fetch(client, worker, async_response_timeout=20_000)  # long polling: there once the backoff ends
    assert (again["id"], again["error_message"]) == (task["id"], "bureau down")
    wrong = call(client, "POST", f"/external-tasks/{task['id']}/complete", worker,
                 json={"worker": "w2", "variables": {"score": 1}})
    assert (wrong.status_code, wrong.json["error"]["code"]) == (403, "forbidden")
    extended = call(client, "POST", f"/external-tasks/{task['id']}/extend-lock", worker,
                    json={"worker": "w1", "lock_seconds": 120})
    assert extended.status_code == 200 and extended.json["lock_expires_at"] > again["lock_expires_at"]
    done = call(client, "POST", f"/external-tasks/{task['id']}/complete", worker,
                json={"worker": "w1", "variables": {"score": 710}}, headers={"Idempotency-Key": "done-1"})
    assert (done.status_code, done.json["status"]) == (200, "running"), done.json
    assert [t["element_id"] for t in done.json["open_tasks"]] == ["review"]
    replayed = call(client, "POST", f"/external-tasks/{task['id']}/complete", worker,
                    json={"worker": "w1", "variables": {"score": 710}}, headers={"Idempotency-Key": "done-1"})
    assert (replayed.status_code, replayed.json) == (200, done.json)
    twice = call(client, "POST", f"/external-tasks/{task['id']}/complete", worker,
                 json={"worker": "w1", "variables": {"score": 1}}, headers={"Accept-Language": "zh"})
    assert (twice.status_code, twice.json["error"]["message"]) == (409, f"外部任务 {task['id']} 已经完成")
    view = call(client, "GET", f"/instances/{instance}", tokens["zhang"]).json
    assert view["data"]["score"] == 710


def test_bad_input_is_refused_precisely_and_loses_nothing(app, tokens):
    client, worker = app.test_client(), tokens["root"]
    _start(client, tokens["zhang"])
    bad = call(client, "POST", "/external-tasks/fetch-and-lock", worker,
               json={"worker": "w1", "topics": [{"name": "credit-check", "lock_seconds": 0}]})
    assert (bad.status_code, bad.json["error"]["code"]) == (400, "invalid_request")
    assert "topics" in bad.json["error"]["details"]["fields"]
    [task] = _fetch(client, worker)
    refused = call(client, "POST", f"/external-tasks/{task['id']}/complete", worker,
                   json={"worker": "w1", "variables": {"_private": 1}})
    assert refused.status_code == 422
    assert call(client, "POST", f"/external-tasks/{task['id']}/complete", worker,
                json={"worker": "w1", "variables": {}}).status_code == 200  # still locked for w1


def test_an_incident_shows_on_the_instance_page_and_a_super_admin_retries_it(app, tokens):
    client, worker = app.test_client(), tokens["root"]
    instance = _start(client, tokens["zhang"])
    [task] = _fetch(client, worker)
    call(client, "POST", f"/external-tasks/{task['id']}/failure", worker,
         json={"worker": "w1", "error_message": "card bureau refused", "error_details": "HTTP 451", "retries": 0})
    shown = call(client, "GET", f"/instances/{instance}", tokens["zhang"]).json["external_tasks"]
    assert [(t["id"], t["status"], t["error_message"]) for t in shown] == [(task["id"], "incident",
                                                                             "card bureau refused")]
    listed = call(client, "GET", "/external-tasks?status=incident", worker)
    assert [item["id"] for item in listed.json["items"]] == [task["id"]]
    assert call(client, "GET", "/external-tasks", tokens["zhang"]).status_code == 403  # not a super admin
    zhang = app.test_client()
    sign_in(zhang, "zhang")
    page = zhang.get(f"/instances/{instance}?lang=zh").get_data(as_text=True)
    assert "故障" in page and "card bureau refused" in page and "外部信用查询" in page
    assert f"retry-incident-{task['id']}" not in page  # only a super admin retries
    assert zhang.get("/external-tasks/").status_code == 403  # the list is for super admins
    root = app.test_client()
    sign_in(root, "root")
    listing = root.get("/external-tasks/?status=incident&lang=zh").get_data(as_text=True)
    assert f'data-external="{task["id"]}"' in listing and "card bureau refused" in listing and "故障" in listing
    assert 'id="external-tasks-link"' in root.get("/admin/").get_data(as_text=True)
    page = root.get(f"/instances/{instance}?lang=en").get_data(as_text=True)
    assert "Incidents" in page and "External credit lookup" in page and "Outside worker failed" in page
    retried = post(root, "/external-tasks/{}/retry".format(task["id"]), {"instance_id": instance},
                   token_from=f"/instances/{instance}")
    assert retried.status_code == 302
    page = root.get(f"/instances/{instance}").get_data(as_text=True)
    assert 'id="incidents"' not in page and "Incident retried" in page
    assert "Waiting for an outside worker" in page and "last failure: card bureau refused" in page
    [back] = _fetch(client, worker)
    assert (back["id"], back["retries"]) == (task["id"], 1)


def test_the_endpoints_are_in_the_openapi_document(app, tokens):
    client = app.test_client()
    document = client.get("/api/v1/openapi.json").json
    for path in ("/external-tasks/fetch-and-lock", "/external-tasks/{task_id}/complete",
                 "/external-tasks/{task_id}/failure", "/external-tasks/{task_id}/extend-lock", "/external-tasks"):
        assert path in document["paths"], path
    answer = call(client, "POST", "/external-tasks/fetch-and-lock", tokens["root"], json=FETCH)
    conforms(document, "POST", "/external-tasks/fetch-and-lock", answer)


def test_the_worker_in_docs_api_md_runs(app, tokens):
    """docs/api.md's worker, run as written against the served app: one round completes the task."""
    import re
    from pathlib import Path

    from tests.browser_support import serving

    text = (Path(__file__).resolve().parents[3] / "docs" / "api.md").read_text(encoding="utf-8")
    [code] = [block for block in re.findall(r"```python\n(.*?)```", text, re.S) if "def work_once" in block]
    client = app.test_client()
    instance = _start(client, tokens["zhang"])
    with serving(app) as base:
        code = code.replace('"http://localhost:5000/api/v1"', repr(base + "/api/v1"))
        code = code.replace('"lia_...the worker\'s token"', repr(tokens["root"]))
        namespace = {"__name__": "docs_api_worker"}
        exec(compile(code, "docs/api.md", "exec"), namespace)  # noqa: S102
        assert namespace["work_once"]() >= 1
    view = call(client, "GET", f"/instances/{instance}", tokens["zhang"]).json
    assert view["data"]["score"] == 400 and [t["element_id"] for t in view["tasks"] if t["status"] == "open"] == ["review"]
