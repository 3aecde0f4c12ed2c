"""The chain editor's page and JSON (issue 16): round trip, conflicts, refusals, preview, templates."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engine.data.models import Person
from engine.packages import designer_access, drafts
from engine.packages.chain import chain_to_bpmn
from engine.people import accounts
from tests.designer.test_editor import create, signed_in
from tests.web.conftest import PASSWORD, csrf_token

_META_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def token_of(client, key: str) -> str:
    page = client.get(f"/designer/{key}/flow").get_data(as_text=True)
    return _META_TOKEN.search(page).group(1)


def new_from(client, template: str, key: str):
    return client.post("/designer/new", data={"template": f"chain:{template}", "key": key, "name_zh": "请假测试",
                                              "name_en": "", "category": "hr",
                                              "csrf_token": csrf_token(client, "/designer/")})


@pytest.fixture
def owner(sessions, people):
    """li (李四) owns the category `hr` (edit and deploy)."""
    with sessions() as session, session.begin():
        designer_access.grant(session, "root", "hr", "li", edit=True, deploy=True)
    return "li"


def test_chain_templates_are_offered_and_open_in_the_chain_editor(app, people, owner):
    li = signed_in(app, owner)
    listing = li.get("/designer/").get_data(as_text=True)
    for name in ("leave", "expense", "purchase", "general"):
        assert f'value="chain:{name}"' in listing
    response = new_from(li, "leave", "leave2")
    assert response.status_code == 302 and response.headers["Location"].endswith("/designer/leave2/flow")
    page = li.get("/designer/leave2/flow", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'id="flow-editor"' in page and 'data-flow-url="/designer/leave2/flow.json"' in page
    assert 'href="/designer/leave2/edit"' in page and "Open in BPMN modeler" in page
    assert 'type="module" src="/designer/static/flow/flow.js"' in page and 'id="flow-labels"' in page
    body = li.get("/designer/leave2/flow.json").get_json()
    assert body["revision"] == 1 and body["can_deploy"] is True
    assert [n["id"] for n in body["chain"]["nodes"]] == ["manager_approval", "long_leave", "cc_hr"]
    assert {f["name"] for f in body["start_fields"]} >= {"leave_type", "days"}
    assert ">" in body["operators"]["number"] and {"value": "annual", "label": "annual"} in next(
        f for f in body["start_fields"] if f["name"] == "leave_type")["options"]
    assert "approved" in [f["name"] for f in body["forms"]["decision"]]
    assert li.get("/designer/leave2/flow.json").get_json()["chain"]["start"]["name"]["zh"] == "发起请假"


def test_json_round_trip_keeps_the_chain_and_a_stale_revision_is_409(app, people, owner, sessions):
    li, root = signed_in(app, owner), signed_in(app, "root")
    assert new_from(li, "expense", "claims").status_code == 302
    with sessions() as session, session.begin():  # a notification file the chain does not know of
        draft = drafts.get_draft(session, "claims")
        draft.files = {**draft.files, "notifications/paid.yaml": "subject: paid\n"}
    body = li.get("/designer/claims/flow.json").get_json()
    chain = body["chain"]
    chain["nodes"][0]["fields"] = {"amount": "readonly", "approved": "editable", "opinion": "hidden"}
    chain["nodes"].insert(1, {"kind": "approver", "id": "extra", "name": {"zh": "加签", "en": "Extra"},
                              "approvers": "users:zhang,li", "mode": "all", "form": "decision",
                              "allow": "return,addSigner", "returnTo": "previous"})
    chain["nodes"][0]["allow"] = ""  # the drawer's "nothing allowed": kept, not dropped
    token = token_of(li, "claims")
    assert li.put("/designer/claims/flow.json", json={"revision": 1, "chain": chain}).status_code == 400  # CSRF
    saved = li.put("/designer/claims/flow.json", json={"revision": 1, "chain": chain}, headers={"X-CSRFToken": token})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert saved.get_json()["revision"] == 2
    again = li.get("/designer/claims/flow.json").get_json()
    assert again["chain"] == chain and again["revision"] == 2
    with sessions() as session:
        files = drafts.get_draft(session, "claims").files
        assert files["notifications/paid.yaml"] == "subject: paid\n" and "category: hr" in files["package.yaml"] and "summary:" in files["package.yaml"]
    stale = root.put("/designer/claims/flow.json", json={"revision": 1, "chain": chain},
                     headers={"X-CSRFToken": token_of(root, "claims")})
    assert stale.status_code == 409 and "李四" in stale.get_json()["error"]
    broken = li.put("/designer/claims/flow.json", json={"revision": 2, "chain": {"start": {}, "nodes": [{}]}},
                    headers={"X-CSRFToken": token})
    assert broken.status_code == 400 and broken.get_json()["error"]
    assert li.get("/designer/claims/flow.json").get_json()["revision"] == 2


def test_problems_are_marked_on_their_nodes(app, people, owner):
    li = signed_in(app, owner)
    assert new_from(li, "general", "ask").status_code == 302
    chain = li.get("/designer/ask/flow.json").get_json()["chain"]
    chain["nodes"].append({"kind": "approver", "id": "nobody_yet", "form": "decision"})
    chain["nodes"].append({"kind": "approver", "id": "odd_ops", "approvers": "initiator", "allow": "return,forward"})
    saved = li.put("/designer/ask/flow.json", json={"revision": 1, "chain": chain},
                   headers={"X-CSRFToken": token_of(li, "ask")})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert any(p["node_id"] == "nobody_yet" for p in saved.get_json()["problems"])
    assert any(p["node_id"] == "odd_ops" and "forward" in p["message"] for p in saved.get_json()["problems"])


def test_a_boundary_timer_gets_the_shape_message_naming_the_element(app, people, owner):
    li = signed_in(app, owner)
    assert create(li, "timed").status_code == 302
    xml, _names = chain_to_bpmn({"start": {"id": "submit"}, "nodes": [
        {"kind": "approver", "id": "head", "approvers": "department_head"}]}, "timed")
    xml = xml.replace('<bpmn:endEvent id="end"', '<bpmn:boundaryEvent id="too_slow" attachedToRef="head">'
                      '<bpmn:timerEventDefinition><bpmn:timeDuration>"P1D"</bpmn:timeDuration>'
                      '</bpmn:timerEventDefinition></bpmn:boundaryEvent><bpmn:endEvent id="end"', 1)
    token = csrf_token(li, "/designer/timed/edit")
    assert li.put("/designer/timed/draft", json={"revision": 1, "xml": xml}, headers={"X-CSRFToken": token}).status_code == 200
    page = li.get("/designer/timed/flow", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'id="flow-refusal"' in page and "too_slow" in page and 'href="/designer/timed/edit"' in page
    assert 'id="flow-editor"' not in page
    assert li.get("/designer/timed/flow.json").status_code == 422


def test_preview_for_two_initiators_names_different_approvers(app, people, owner, sessions):
    now = datetime.now(UTC)
    with sessions() as session, session.begin():
        boss_a = accounts.create_person_account(session, "boss_a", "王经理", PASSWORD, now, name_en="Manager Wang")
        boss_b = accounts.create_person_account(session, "boss_b", "赵经理", PASSWORD, now, name_en="Manager Zhao")
        for name, boss in (("emp_a", boss_a), ("emp_b", boss_b)):
            accounts.create_person_account(session, name, name, PASSWORD, now)
            session.scalar(select(Person).where(Person.username == name)).manager_id = boss.id
    li = signed_in(app, owner)
    assert new_from(li, "general", "ask").status_code == 302
    token = token_of(li, "ask")

    def preview(initiator: str, **extra) -> list:
        response = li.post("/designer/ask/flow/preview", json={"initiator": initiator, "data": {"title": "x"}, **extra},
                           headers={"X-CSRFToken": token})
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()["steps"]

    first, second = preview("emp_a"), preview("emp_b")
    assert [s["node_id"] for s in first] == ["manager_approval"]
    assert first[0]["people"] == ["王经理"] and second[0]["people"] == ["赵经理"]
    chain = li.get("/designer/ask/flow.json").get_json()["chain"]  # an unsaved chain previews too
    chain["nodes"].append({"kind": "approver", "id": "finance_check", "approvers": "role:finance", "mode": "all",
                           "form": "decision"})
    steps = preview("emp_a", chain=chain)
    assert [s["node_id"] for s in steps] == ["manager_approval", "finance_check"] and steps[1]["people"] == ["张三"]


def test_a_node_without_an_approver_rule_is_told_so_once(app, people, owner):
    li = signed_in(app, owner)
    assert new_from(li, "general", "ask_once").status_code == 302
    chain = li.get("/designer/ask_once/flow.json").get_json()["chain"]
    chain["nodes"].append({"kind": "approver", "id": "nobody_yet", "form": "decision"})
    saved = li.put("/designer/ask_once/flow.json", json={"revision": 1, "chain": chain},
                   headers={"X-CSRFToken": token_of(li, "ask_once")}).get_json()
    found = [p["message"] for p in saved["problems"] if p["node_id"] == "nobody_yet"]
    assert len(found) == 1, found  # the chain's own "no approver rule", not the modeler's warning as well
