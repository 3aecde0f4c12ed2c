"""The API's frame: tokens and scopes, cookies refused, JSON errors (400, 401, 403, 404, 413, 415, 429),
cursors, package deploy and export, people and departments, and the OpenAPI document."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta

from openapi_spec_validator import validate

from engine.people import api_tokens

from ..conftest import PASSWORD, sign_in
from .conftest import PROCESSES, call

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="api_note" name="API note" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:userTask id="look" name="Look"/><bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="look"/>
    <bpmn:sequenceFlow id="f2" sourceRef="look" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""


def _token(app, username: str, scopes, **kwargs) -> str:
    with app.extensions["liaison_sessions"]() as session:
        return api_tokens.create_token(session, username, "t", scopes, **kwargs)[1]


def test_requests_without_a_live_bearer_token_are_401(api_app, tokens):
    client = api_app.test_client()
    assert call(client, "GET", "/tasks", None).status_code == 401
    assert call(client, "GET", "/tasks", "lia_not-a-token").json["error"]["code"] == "invalid_token"
    revoked = _token(api_app, "li", ["read"])
    with api_app.extensions["liaison_sessions"]() as session:
        [info] = [t for t in api_tokens.list_tokens(session, None, everyone=True) if t.state() == "active"
                  and t.username == "li" and t.name == "t"][:1]
        api_tokens.revoke_token(session, info.id, None)
    assert call(client, "GET", "/tasks", revoked).status_code == 401
    expired = _token(api_app, "li", ["read"], now=datetime.now(UTC) - timedelta(days=2),
                     expires_at=datetime.now(UTC) - timedelta(days=1))
    answer = call(client, "GET", "/tasks", expired)
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert call(client, "GET", "/nowhere", None).status_code == 401  # no sign-in redirect under /api/
    chinese = call(client, "GET", "/tasks", None, headers={"Accept-Language": "zh"}).json["error"]["message"]
    assert chinese.startswith("需要 `Authorization: Bearer TOKEN` 请求头")


def test_a_signed_in_browser_cookie_is_not_accepted(api_app):
    from engine.people import accounts
    with api_app.extensions["liaison_sessions"]() as session, session.begin():
        accounts.create_person_account(session, "cookie", "饼干", PASSWORD, datetime.now(UTC))
    browser = api_app.test_client()
    assert sign_in(browser, "cookie").status_code == 302
    assert browser.get("/").status_code == 200  # the session works on pages...
    refused = browser.get("/api/v1/tasks")  # ...and counts for nothing here
    assert refused.status_code == 401 and refused.json["error"]["code"] == "unauthorized"
    assert browser.post("/api/v1/processes/leave_request/instances", json={"data": {}}).status_code == 401


def test_each_endpoint_needs_its_scope(api_app):
    client = api_app.test_client()
    reader, deployer = _token(api_app, "zhang", ["read"]), _token(api_app, "root", ["deploy"])
    refused = call(client, "POST", "/processes/leave_request/instances", reader, json={"data": {}})
    assert (refused.status_code, refused.json["error"]["details"]) == (403, {"required_scope": "start"})
    assert call(client, "GET", "/tasks", deployer).status_code == 403
    assert call(client, "GET", "/tasks", reader).status_code == 200
    assert call(client, "POST", "/instances/1/terminate", reader, json={"reason": "x"}).status_code == 403


def test_bad_bodies_are_json_errors(api_app, tokens):
    client = api_app.test_client()
    path = "/processes/leave_request/instances"
    bad = call(client, "POST", path, tokens["zhang"], data="{not json", headers={"Content-Type": "application/json"})
    assert (bad.status_code, bad.json["error"]["code"]) == (400, "bad_json")
    assert call(client, "POST", path, tokens["zhang"], data="[1]",
                headers={"Content-Type": "application/json"}).status_code == 400
    wrong = call(client, "POST", path, tokens["zhang"], json={"data": "text"})
    assert (wrong.status_code, list(wrong.json["error"]["details"]["fields"])) == (400, ["data"])
    assert call(client, "POST", path, tokens["zhang"], data="a=1",
                headers={"Content-Type": "text/plain"}).status_code == 415
    huge = call(client, "POST", path, tokens["zhang"], data=b"{" + b" " * (1024 * 1024 + 1) + b"}",
                headers={"Content-Type": "application/json"})
    assert (huge.status_code, huge.json["error"]["code"]) == (413, "too_large")
    assert call(client, "GET", "/instances?status=nonsense", tokens["root"]).status_code == 400
    assert call(client, "GET", "/instances?cursor=!!", tokens["root"]).json["error"]["code"] == "bad_cursor"
    missing = call(client, "GET", "/packages/nope", tokens["root"])
    assert (missing.status_code, missing.json["error"]["code"]) == (404, "not_found")


def test_a_second_urge_within_ten_minutes_is_429_with_retry_after(api_app, tokens):
    client = api_app.test_client()
    started = call(client, "POST", "/processes/leave_request/instances", tokens["zhang"],
                   json={"data": {"leave_type": "sick", "days": 1, "manager": "li"}}).json
    assert call(client, "POST", f"/instances/{started['id']}/urge", tokens["zhang"], json={}).status_code == 200
    again = call(client, "POST", f"/instances/{started['id']}/urge", tokens["zhang"], json={})
    assert again.status_code == 429 and 0 < int(again.headers["Retry-After"]) <= 600
    withdrawn = call(client, "POST", f"/instances/{started['id']}/withdraw", tokens["zhang"], json={"comment": "no"})
    assert (withdrawn.status_code, withdrawn.json["status"]) == (200, "cancelled")


def test_deploy_list_read_and_export_packages(api_app, tokens):
    client = api_app.test_client()
    upload = {"file": (io.BytesIO(BPMN.encode()), "api_note.bpmn"), "notes": "from the API"}
    assert call(client, "POST", "/packages", tokens["zhang"], data=upload,
                content_type="multipart/form-data").status_code == 403  # no designer right
    deployed = call(client, "POST", "/packages", tokens["root"], content_type="multipart/form-data",
                    data={"file": (io.BytesIO(BPMN.encode()), "api_note.bpmn")})
    assert deployed.status_code == 201, deployed.json
    assert (deployed.json["key"], deployed.json["version"]) == ("api_note", 1)
    broken = call(client, "POST", "/packages", tokens["root"], content_type="multipart/form-data",
                  data={"file": (io.BytesIO(BPMN.replace('targetRef="e"', 'targetRef="gone"').encode()), "x.bpmn")})
    assert broken.status_code == 422 and any("gone" in p for p in broken.json["error"]["details"]["problems"])
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for path in (PROCESSES / "leave_request").rglob("*"):
            if path.is_file():
                z.write(path, f"leave_request/{path.relative_to(PROCESSES / 'leave_request')}")
    again = call(client, "POST", "/packages", tokens["root"], content_type="multipart/form-data",
                 data={"file": (io.BytesIO(archive.getvalue()), "leave_request.zip")})
    assert (again.status_code, again.json["version"], again.json["created"]) == (201, 1, False)

    first = call(client, "GET", "/packages?limit=1", tokens["zhang"]).json
    second = call(client, "GET", f"/packages?limit=1&cursor={first['next_cursor']}", tokens["zhang"]).json
    assert [p["key"] for p in first["items"] + second["items"]] == ["api_note", "leave_request"]
    assert second["next_cursor"] is None
    detail = call(client, "GET", "/packages/api_note", tokens["zhang"]).json
    assert [v["number"] for v in detail["versions"]] == [1]
    exported = call(client, "GET", "/packages/api_note/versions/1/export", tokens["root"])
    assert exported.mimetype == "application/zip"
    assert "api_note/package.yaml" in zipfile.ZipFile(io.BytesIO(exported.data)).namelist()


def test_people_and_departments(api_app, tokens):
    client = api_app.test_client()
    people = call(client, "GET", "/people?q=zh", tokens["li"], headers={"Accept-Language": "en"}).json["items"]
    assert {"username": "zhang", "name": "Zhang San", "department": None} in people
    assert call(client, "GET", "/departments?q=x", tokens["li"]).json == {"items": [], "next_cursor": None}


def test_the_openapi_document_validates_and_names_every_scope(api_app):
    client = api_app.test_client()
    document = client.get("/api/v1/openapi.json").json
    validate(document)
    assert document["openapi"] == "3.1.0"
    operations = [op for path in document["paths"].values() for op in path.values()]
    assert len(operations) >= 25
    assert all(op["security"][0]["bearer"] for op in operations)
    assert document["servers"] == [{"url": "/api/v1"}]
    complete = document["paths"]["/tasks/{task_id}/complete"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in complete["parameters"]}
    assert client.get("/api/v1/docs").status_code == 200


def test_the_python_client_in_docs_api_md_runs(api_app, tokens):
    """docs/api.md's `requests` example, run as written against the served app with real tokens."""
    import re
    from pathlib import Path

    from tests.browser_support import serving

    text = (Path(__file__).resolve().parents[3] / "docs" / "api.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    printed = []
    with serving(api_app) as base:
        code = code.replace('"http://localhost:5000/api/v1"', repr(base + "/api/v1"))
        code = code.replace("\"lia_...zhang's token\"", repr(tokens["zhang"]))
        code = code.replace("\"lia_...li's token\"", repr(tokens["li"]))
        exec(compile(code, "docs/api.md", "exec"), {"print": lambda *args: printed.append(args)})  # noqa: S102
    assert printed[0][0] == "started" and printed[1][:2] == ("now", "running") and printed[-1] == ("running",)


def test_a_token_over_its_rate_gets_429_with_retry_after(api_app, tokens):
    api_app.config["LIAISON_API_RATE"] = "3/minute"
    try:
        client, other = api_app.test_client(), _token(api_app, "li", ["read"])
        answers = [call(client, "GET", "/packages", tokens["wang"]) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[-1].json["error"]["code"] == "too_many_requests"
        assert int(answers[-1].headers["Retry-After"]) > 0 and answers[0].headers["X-RateLimit-Limit"] == "3"
        assert call(client, "GET", "/packages", other).status_code == 200  # another token's budget is its own
        assert client.get("/api/v1/openapi.json").status_code == 200  # the document is not limited
    finally:
        api_app.config.pop("LIAISON_API_RATE")
