"""The directory's JSON for the pickers, and the pages whose inputs carry the picker's attributes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from engine.data.models import Person
from engine.packages import deployment as packages
from engine.people import accounts

from .conftest import PASSWORD, post, sign_in

PROCESSES = Path(__file__).resolve().parents[2] / "processes"


def _client(app, username: str = "zhang"):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def _more_people(sessions, people):
    """wang in sales (with an English name), zhao inactive."""
    now = datetime.now(UTC)
    with sessions() as session, session.begin():
        wang = accounts.create_person_account(session, "wang", "王五", PASSWORD, now, name_en="Wang Wu")
        wang.department_id = people["sales"]
        zhao = accounts.create_person_account(session, "zhao", "赵六", PASSWORD, now)
        zhao.active = False


def test_people_answer_value_label_and_detail(app, people, sessions):
    _more_people(sessions, people)
    client = _client(app)
    response = client.get("/directory/people?q=wa")
    assert response.status_code == 200 and response.is_json
    assert response.headers["Cache-Control"] == "no-store"
    # what a person reads (label, and detail: the line under it) names them, never by username
    assert response.get_json() == [{"value": "wang", "label": "王五", "detail": "销售部", "active": True}]
    english = client.get("/directory/people?q=WANG&lang=en").get_json()
    assert english == [{"value": "wang", "label": "Wang Wu", "detail": "销售部", "active": True}]
    assert [p["value"] for p in client.get("/directory/people?q=张").get_json()] == ["zhang"]
    body = client.get("/directory/people?q=zhang").get_data(as_text=True)
    assert "@" not in body  # no e-mail addresses


def test_inactive_people_are_not_listed(app, people, sessions):
    _more_people(sessions, people)
    client = _client(app)
    assert client.get("/directory/people?q=zhao").get_json() == []
    assert client.get("/directory/people?q=赵").get_json() == []
    # a value already chosen is still shown, marked inactive
    assert client.get("/directory/people?names=zhao,li").get_json() == [
        {"value": "zhao", "label": "赵六", "detail": "", "active": False},
        {"value": "li", "label": "李四", "detail": "", "active": True}]


def test_short_query_is_an_empty_list_and_results_are_capped(app, people, sessions):
    with sessions() as session, session.begin():
        session.add_all(Person(username=f"user{n:02}", name=f"同事{n}") for n in range(25))
    client = _client(app)
    for query in ("", "q=", "q=%20%20"):
        response = client.get(f"/directory/people?{query}")
        assert response.status_code == 200 and response.get_json() == []
    assert len(client.get("/directory/people?q=user").get_json()) == 10
    assert len(client.get("/directory/people?q=同事").get_json()) == 10
    assert client.get("/directory/departments?q=").get_json() == []


def test_departments_answer_code_name_and_parent(app, people):
    client = _client(app)
    assert client.get("/directory/departments?q=销售").get_json() == [
        {"value": "sales", "label": "销售部", "detail": "sales · 公司"},
        {"value": "sales-east", "label": "华东销售", "detail": "sales-east · 销售部"}]


def test_signed_in_people_only(app, people):
    anonymous = app.test_client()
    for path in ("/directory/people?q=zh", "/directory/departments?q=s", "/directory/people?names=zhang"):
        response = anonymous.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_pages_mark_their_username_inputs_as_pickers(app, people, sessions):
    packages.deploy_package(sessions, packages.load_package(PROCESSES / "leave_request"), "admin")
    client = _client(app)
    page = client.get("/me/out-of-office").get_data(as_text=True)
    deputy = re.search(r'<input[^>]*id="deputy"[^>]*>', page).group(0)
    assert 'data-picker="people"' in deputy and 'autocomplete="off"' in deputy
    assert 'aria-describedby="deputy-hint"' in deputy
    assert 'src="/static/picker.js"' in page and 'data-people-url="/directory/people"' in page
    assert "/static/picker.css" in page
    start = client.get("/start/leave_request").get_data(as_text=True)  # the form's user field
    manager = re.search(r'<input[^>]*id="manager"[^>]*>', start).group(0)
    assert 'data-picker="people"' in manager
    started = post(client, "/start/leave_request",
                   {"leave_type": "annual", "days": "2", "manager": "li", "reason": "事假"}, token_from="/start")
    instance = started.headers["Location"]
    page = client.get(instance).get_data(as_text=True)  # the initiator may copy the request to others
    cc = re.search(r'<input[^>]*id="cc-to"[^>]*>', page).group(0)
    assert 'data-picker="people"' in cc and "data-multiple" in cc


def test_a_rejected_deputy_keeps_the_error_tied_to_the_input(app, people):
    client = _client(app)
    response = post(client, "/me/out-of-office", {"starts_on": "2026-12-01", "ends_on": "2026-12-02",
                                                  "deputy": "nobody"}, token_from="/me/out-of-office")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    deputy = re.search(r'<input[^>]*id="deputy"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in deputy and 'aria-describedby="deputy-hint deputy-error"' in deputy
    assert 'id="deputy-error"' in page


def test_pages_of_anonymous_visitors_load_no_picker(app):
    page = app.test_client().get("/login").get_data(as_text=True)
    assert "picker.js" not in page
