"""A whole approval over HTTP only, as three token holders (start, transfer, return, approve, record),
with idempotent retries of start and complete, a stale completion (409), per-field form errors in zh and
en, and what an uninvolved person may see."""

from __future__ import annotations

from .conftest import call, conforms

START = {"leave_type": "annual", "days": 2, "manager": "li"}


def test_full_approval_over_http_with_transfer_and_return(api_app, tokens):
    client = api_app.test_client()
    # zhang starts; a retry with the same Idempotency-Key returns the first response, starting nothing new
    first = call(client, "POST", "/processes/leave_request/instances", tokens["zhang"],
                 json={"data": START, "business_key": "LR-1"}, headers={"Idempotency-Key": "start-LR-1"})
    assert first.status_code == 201, first.json
    again = call(client, "POST", "/processes/leave_request/instances", tokens["zhang"],
                 json={"data": START, "business_key": "LR-1"}, headers={"Idempotency-Key": "start-LR-1"})
    assert (again.status_code, again.json) == (201, first.json)
    assert again.headers["Idempotent-Replayed"] == "true"
    reused = call(client, "POST", "/processes/leave_request/instances", tokens["zhang"],
                  json={"data": {**START, "days": 3}}, headers={"Idempotency-Key": "start-LR-1"})
    assert (reused.status_code, reused.json["error"]["code"]) == (422, "idempotency_key_reused")
    listed = call(client, "GET", "/instances?business_key=LR-1", tokens["zhang"]).json["items"]
    assert [item["id"] for item in listed] == [first.json["id"]]
    instance = first.json["id"]
    [manager_task] = first.json["tasks"]
    assert manager_task["assignee"] == "li"

    # li sees it in the to-do list with its form, and transfers it to hu
    mine = call(client, "GET", "/tasks?scope=mine", tokens["li"]).json["items"]
    [listed_task] = [t for t in mine if t["id"] == manager_task["id"]]
    assert "approved" in {field["name"] for field in listed_task["form"]["fields"]}
    moved = call(client, "POST", f"/tasks/{manager_task['id']}/transfer", tokens["li"], json={"to": "hu"})
    assert (moved.status_code, moved.json["to_user"]) == (200, "hu")
    assert call(client, "POST", f"/tasks/{manager_task['id']}/complete", tokens["li"],
                json={"action": "approve"}).status_code == 403  # not li's any more; she still sees it (she acted on it)

    # hu approves; HR's record is offered to the hr group; hu sends it back to the manager's step
    approved = call(client, "POST", f"/tasks/{manager_task['id']}/complete", tokens["hu"],
                    json={"action": "approve", "data": {"manager_comment": "ok"}, "comment": "fine"})
    assert approved.status_code == 200, approved.json
    [record] = approved.json["tasks"]
    assert record["element_id"] == "hr_record"
    pool = call(client, "GET", "/tasks?scope=pool", tokens["hu"]).json["items"]
    assert record["id"] in {t["id"] for t in pool}
    returned = call(client, "POST", f"/tasks/{record['id']}/return", tokens["hu"],
                    json={"to": "previous", "comment": "days are wrong"})
    assert returned.status_code == 200, returned.json
    [back] = returned.json["tasks"]
    assert back["element_id"] == "manager_approval"

    # the manager's step decides again (a retried completion is answered once); then HR records it
    holder = "li" if back["assignee"] == "li" else "hu"
    body = {"action": "approve", "data": {"manager_comment": "ok now"}}
    done = call(client, "POST", f"/tasks/{back['id']}/complete", tokens[holder], json=body,
                headers={"Idempotency-Key": "approve-again"})
    retry = call(client, "POST", f"/tasks/{back['id']}/complete", tokens[holder], json=body,
                 headers={"Idempotency-Key": "approve-again"})
    assert done.status_code == 200 and (retry.status_code, retry.json) == (200, done.json)
    stale = call(client, "POST", f"/tasks/{back['id']}/complete", tokens[holder], json=body)
    assert (stale.status_code, stale.json["error"]["code"]) == (409, "conflict")
    [record] = done.json["tasks"]
    finished = call(client, "POST", f"/tasks/{record['id']}/complete", tokens["hu"],
                    json={"data": {"recorded": True}})
    assert (finished.status_code, finished.json["status"]) == (200, "completed"), finished.json

    view = call(client, "GET", f"/instances/{instance}", tokens["zhang"]).json
    assert (view["status"], view["outcome"], view["end_event"]) == ("completed", "approved", "approved_end")
    actions = [h["action"] for h in view["history"]]
    assert "transferred" in actions and "returned" in actions
    done_by_hu = call(client, "GET", "/tasks?scope=done", tokens["hu"]).json["items"]
    assert {t["instance_id"] for t in done_by_hu} == {instance}

    # the answers are what the OpenAPI document declares
    document = client.get("/api/v1/openapi.json").json
    conforms(document, "POST", "/processes/{key}/instances", first)
    conforms(document, "POST", "/processes/{key}/instances", reused)
    conforms(document, "POST", "/tasks/{task_id}/complete", finished)
    conforms(document, "POST", "/tasks/{task_id}/complete", stale)
    conforms(document, "POST", "/tasks/{task_id}/transfer", moved)
    conforms(document, "POST", "/tasks/{task_id}/return", returned)
    conforms(document, "GET", "/instances/{instance_id}", call(client, "GET", f"/instances/{instance}", tokens["zhang"]))
    conforms(document, "GET", "/instances", call(client, "GET", "/instances", tokens["zhang"]))
    conforms(document, "GET", "/tasks", call(client, "GET", "/tasks?scope=done", tokens["hu"]))
    conforms(document, "GET", "/tasks/{task_id}", call(client, "GET", f"/tasks/{record['id']}", tokens["hu"]))
    conforms(document, "GET", "/packages", call(client, "GET", "/packages", tokens["hu"]))
    conforms(document, "GET", "/packages/{key}", call(client, "GET", "/packages/leave_request", tokens["hu"]))
    conforms(document, "GET", "/people", call(client, "GET", "/people?q=li", tokens["hu"]))

    # wang took no part: the instance is no id he can read, and no list shows it
    assert call(client, "GET", f"/instances/{instance}", tokens["wang"]).status_code == 404
    assert call(client, "GET", f"/tasks/{record['id']}", tokens["wang"]).status_code == 404
    assert call(client, "GET", "/instances", tokens["wang"]).json["items"] == []
    assert call(client, "POST", f"/instances/{instance}/cc", tokens["wang"], json={"to": ["li"]}).status_code == 404


def test_form_errors_come_per_field_in_the_callers_language(api_app, tokens):
    client = api_app.test_client()
    bad = {"data": {"leave_type": "annual", "days": "many"}}
    english = call(client, "POST", "/processes/leave_request/instances", tokens["zhang"], json=bad,
                   headers={"Accept-Language": "en"})
    chinese = call(client, "POST", "/processes/leave_request/instances", tokens["zhang"], json=bad,
                   headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert english.status_code == chinese.status_code == 422
    assert english.json["error"]["details"]["fields"] == {"days": ["Must be a number."],
                                                           "manager": ["This field is required."]}
    assert chinese.json["error"]["details"]["fields"] == {"days": ["必须是数字。"], "manager": ["此项为必填项。"]}
    assert chinese.json["error"]["message"] == "表单有误：请看各字段的提示。"
    # nothing was started by the refused requests
    assert call(client, "GET", "/instances?started_by=zhang&process=leave_request", tokens["root"]).json[
        "items"] == [i for i in call(client, "GET", "/instances", tokens["zhang"]).json["items"]
                     if i["initiator"] == "zhang"]
