"""The other approval operations over HTTP, each the engine's own: delegate and hand back, claim and
unclaim a pool task, take back, jump and terminate (scope admin), cc."""

from __future__ import annotations

from .conftest import call


def test_delegate_claim_take_back_jump_and_terminate(api_app, tokens):
    client = api_app.test_client()
    started = call(client, "POST", "/processes/leave_request/instances", tokens["zhang"],
                   json={"data": {"leave_type": "annual", "days": 3, "manager": "li"}}).json
    instance, [task] = started["id"], started["tasks"]

    # li has wang handle it (委派); wang's submission hands it back to li, who decides
    assert call(client, "POST", f"/tasks/{task['id']}/delegate", tokens["li"], json={"to": "wang"}).status_code == 200
    assert call(client, "POST", f"/tasks/{task['id']}/delegate", tokens["hu"], json={"to": "wang"}).status_code == 404
    handed = call(client, "POST", f"/tasks/{task['id']}/complete", tokens["wang"],
                  json={"action": "approve", "data": {"manager_comment": "looks fine"}})
    assert handed.status_code == 200, handed.json
    [back] = handed.json["tasks"]
    assert (back["element_id"], back["assignee"]) == ("manager_approval", "li")
    decided = call(client, "POST", f"/tasks/{back['id']}/complete", tokens["li"], json={"action": "approve"}).json
    [record] = decided["tasks"]

    # li decided and nobody acted since: li takes it back (拿回), and decides again
    taken = call(client, "POST", f"/tasks/{record['id']}/take-back", tokens["li"])
    assert taken.status_code == 200, taken.json
    [manager] = taken.json["tasks"]
    assert manager["element_id"] == "manager_approval"
    [record] = call(client, "POST", f"/tasks/{manager['id']}/complete", tokens["li"],
                    json={"action": "approve"}).json["tasks"]

    # HR's pool task: hu claims it (nobody else may take it then), gives it back
    assert call(client, "POST", f"/tasks/{record['id']}/claim", tokens["hu"]).status_code == 200
    again = call(client, "POST", f"/tasks/{record['id']}/claim", tokens["root"])
    assert again.status_code in (403, 409), again.json
    assert call(client, "POST", f"/tasks/{record['id']}/unclaim", tokens["hu"]).status_code == 200

    # jump and terminate need the admin scope and a super admin (or process admin)
    body = {"task_id": record["id"], "to": "manager_approval", "comment": "the manager again"}
    assert call(client, "POST", f"/instances/{instance}/jump", tokens["li"], json=body).status_code == 403
    jumped = call(client, "POST", f"/instances/{instance}/jump", tokens["root"], json=body)
    assert (jumped.status_code, jumped.json["tasks"][0]["element_id"]) == (200, "manager_approval"), jumped.json
    copied = call(client, "POST", f"/instances/{instance}/cc", tokens["zhang"], json={"to": ["wang", "hu"]})
    assert copied.status_code == 200 and set(copied.json["added"]) == {"wang", "hu"}
    assert instance in {i["instance_id"] for i in call(client, "GET", "/tasks?scope=cc", tokens["wang"]).json["items"]}
    assert call(client, "POST", f"/instances/{instance}/terminate", tokens["zhang"],
                json={"reason": "x"}).status_code == 403  # zhang is no super admin
    ended = call(client, "POST", f"/instances/{instance}/terminate", tokens["root"], json={"reason": "duplicate"})
    assert (ended.status_code, ended.json["status"]) == (200, "cancelled")
    view = call(client, "GET", f"/instances/{instance}", tokens["zhang"]).json
    assert view["outcome"] == "terminated"
    assert {"delegated", "claimed", "unclaimed", "taken_back", "jumped", "cc", "terminated"} <= \
        {h["action"] for h in view["history"]}


def test_a_message_reaches_the_instance_waiting_for_its_business_key(api_app, tokens, tmp_path):
    from engine.packages import deployment
    from tests.engine.conftest import flow, write_package

    body = f"""
<bpmn:startEvent id="start"/>
<bpmn:intermediateCatchEvent id="signed"><bpmn:messageEventDefinition messageRef="m"/></bpmn:intermediateCatchEvent>
<bpmn:endEvent id="done"/>
{flow("start", "signed")}{flow("signed", "done")}
"""
    folder = write_package(tmp_path, "contract", {"contract": body},
                           definitions='<bpmn:message id="m" name="contract_signed"/>')
    deployment.deploy_package(api_app.extensions["liaison_sessions"], deployment.load_package(folder), "root")
    client = api_app.test_client()
    started = call(client, "POST", "/processes/contract/instances", tokens["zhang"], json={"business_key": "DOC-1"})
    assert started.status_code == 201, started.json
    kept = call(client, "POST", "/messages", tokens["zhang"], json={"name": "contract_signed", "business_key": "DOC-2"})
    assert (kept.status_code, kept.json["status"]) == (200, "kept")
    sent = call(client, "POST", "/messages", tokens["zhang"],
                json={"name": "contract_signed", "business_key": "DOC-1", "data": {"by": "acme"}})
    assert (sent.json["status"], sent.json["instance_id"]) == ("delivered", started.json["id"])
    view = call(client, "GET", f"/instances/{started.json['id']}", tokens["zhang"]).json
    assert view["status"] == "completed" and view["data"]["by"] == "acme"
    assert call(client, "POST", "/messages", tokens["zhang"], json={"business_key": "x"}).status_code == 400


def test_add_and_remove_a_signer_on_a_sequential_node(api_app, tokens, tmp_path):
    from engine.packages import deployment
    from tests.engine.conftest import flow, write_package

    body = f"""
<bpmn:startEvent id="start"/>
<bpmn:userTask id="check" name="Check" liaison:mode="sequential" liaison:candidateUsers="li"/>
<bpmn:endEvent id="done"/>
{flow("start", "check")}{flow("check", "done")}
"""
    deployment.deploy_package(api_app.extensions["liaison_sessions"],
                              deployment.load_package(write_package(tmp_path, "signed", {"signed": body})), "root")
    client = api_app.test_client()
    [task] = call(client, "POST", "/processes/signed/instances", tokens["zhang"], json={}).json["tasks"]
    added = call(client, "POST", f"/tasks/{task['id']}/add-signer", tokens["li"],
                 json={"signer": "hu", "place": "after", "comment": "HR too"})
    assert added.status_code == 200, added.json
    assert call(client, "POST", f"/tasks/{task['id']}/add-signer", tokens["li"],
                json={"signer": "hu", "place": "sideways"}).status_code == 400
    assert call(client, "POST", f"/tasks/{task['id']}/remove-signer", tokens["wang"],
                json={"signer": "hu"}).status_code == 404  # wang sees nothing of it
    removed = call(client, "POST", f"/tasks/{task['id']}/remove-signer", tokens["li"], json={"signer": "hu"})
    assert (removed.status_code, removed.json["node_completed"]) == (200, False), removed.json
    done = call(client, "POST", f"/tasks/{task['id']}/complete", tokens["li"], json={"action": "approve"})
    assert (done.status_code, done.json["status"]) == (200, "completed"), done.json
