"""Issue 11 item 12 without a browser: the start page shows who will approve, resolved by the engine's own
assignment rules for this person and this data; the manager defaults from the org chart."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from engine.data.models import Person
from engine.packages import deployment as packages
from engine.work import preview

from .conftest import csrf_token, sign_in

PROCESSES = Path(__file__).resolve().parents[2] / "processes"


@pytest.fixture
def deployed(sessions, people):
    """leave_request; li is zhang's manager; hu holds role hr."""
    packages.deploy_package(sessions, packages.load_package(PROCESSES / "leave_request"), "admin")
    from engine.data.models import PersonRole, Role
    with sessions() as session, session.begin():
        li = session.query(Person).filter_by(username="li").one()
        session.query(Person).filter_by(username="zhang").one().manager_id = li.id
        hu = Person(username="hu", name="胡六", name_en="Hu Liu")
        hr = Role(key="hr", name="人事", name_en="HR")
        session.add_all([hu, hr])
        session.flush()
        session.add(PersonRole(person_id=hu.id, role_id=hr.id))
    return people


def _zhang(app, lang="zh"):
    client = app.test_client()
    assert sign_in(client, "zhang").status_code == 302
    client.get(f"/start?lang={lang}")
    return client


def test_the_start_page_defaults_the_manager_and_shows_the_chain(app, deployed):
    page = _zhang(app).get("/start/leave_request").get_data(as_text=True)
    assert 'value="li"' in page  # default_from: initiator.manager
    chain = page[page.index('id="approval-chain"'):]
    assert "上级审批" in chain and "李四" in chain  # the package's zh names (issue 11 item 12)
    assert "人事" in chain and "是否批准？" in chain  # HR, only on one branch of the gateway
    assert "Manager approval" not in chain and "Approved?" not in chain


@pytest.mark.parametrize("lang, name", [("zh", "李四"), ("en", "李四")])  # li has no English name
def test_people_fields_carry_their_display_names(app, deployed, lang, name):
    """Issue 11 item 10: the picker shows the default manager, or a value posted back with errors, by
    name; the input still holds the username (what a page without the script posts)."""
    client = _zhang(app, lang)
    page = client.get("/start/leave_request").get_data(as_text=True)
    manager = re.search(r'<input[^>]*id="manager"[^>]*>', page).group(0)
    assert 'value="li"' in manager and 'data-picker="people"' in manager
    assert json.loads(html.unescape(re.search(r'data-labels="([^"]*)"', manager).group(1))) == {"li": name}
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    back = client.post("/start/leave_request", data={"manager": "hu", "csrf_token": token})
    assert back.status_code == 422
    manager = re.search(r'<input[^>]*id="manager"[^>]*>', back.get_data(as_text=True)).group(0)
    assert ("Hu Liu" if lang == "en" else "胡六") in html.unescape(manager)


def test_the_chain_endpoint_follows_the_form(app, deployed):
    client = _zhang(app, "en")
    token = csrf_token(client, "/start/leave_request")
    answer = client.post("/start/leave_request/chain", data={"manager": "hu", "days": "1", "csrf_token": token})
    assert answer.status_code == 200
    steps = answer.get_json()["chain"]["steps"]
    assert [(s["element_id"], [p["label"] for p in s["people"]]) for s in steps] == [
        ("manager_approval", ["Hu Liu"]), ("hr_record", [])]
    assert steps[1]["groups"] == [{"key": "hr", "label": "HR"}]
    assert "Hu Liu" in answer.get_json()["html"]
    # the requester as their own approver: the node's self-approval policy puts their manager in
    itself = client.post("/start/leave_request/chain", data={"manager": "zhang", "csrf_token": token}).get_json()
    assert [p["username"] for p in itself["chain"]["steps"][0]["people"]] == ["li"]
    assert client.post("/start/leave_request/chain", data={"manager": "hu"}).status_code == 400  # no CSRF token


def test_the_chain_uses_the_runtimes_resolution(sessions, deployed):
    """The same rule, same result: what the preview names is who the task goes to."""
    from engine import runtime
    with sessions() as session:
        shown = preview.approval_chain(session, "leave_request", "zhang", {"manager": "hu", "days": 1.0})
    started = runtime.start_instance(sessions, "leave_request", {"leave_type": "annual", "days": 1, "manager": "hu"},
                                     user="zhang")
    assert [p["username"] for p in shown.steps[0].people] == [started.open_tasks[0]["assignee"]]


@pytest.mark.parametrize("data", [{"days": "1e999"}, {"manager": "x" * 5000}, {"manager": "<script>"},
                                  {"days": "-1", "leave_type": "nope"}, {"manager": ["li", "hu"]}])
def test_odd_values_give_a_chain_never_a_5xx(app, deployed, data):
    client = _zhang(app, "en")
    answer = client.post("/start/leave_request/chain", data={**data, "csrf_token": csrf_token(client, "/start")})
    assert answer.status_code == 200 and "<script>" not in answer.get_json()["html"]


def test_the_chain_is_only_for_processes_the_person_may_start(app, deployed):
    client = _zhang(app)
    token = csrf_token(client, "/start")
    assert client.post("/start/no_such_process/chain", data={"csrf_token": token}).status_code == 404
