"""Notification templates in the designer (issue 15): list with defaults, variables, checks with their line,
previews per channel as the engine sends them, write back with the draft's revision; the page's JSON."""

from __future__ import annotations

import pytest

from engine.packages import designer_access, drafts
from engine.packages import notification_drafts as nd
from engine.packages.templates import template_files
from tests.designer.test_editor import signed_in
from tests.designer.test_flow import token_of

FILES = template_files("approval", "buy", {"zh": "采购", "en": "Buy"})


def _texts(zh_text: str, en_text: str = "Request {{ data.title }}") -> dict:
    return {"zh": {"title": "申请：{{ data.title }}", "text": zh_text}, "en": {"title": "Request", "text": en_text}}


def test_the_list_shows_the_package_texts_and_the_defaults_of_the_rest():
    listing = {e["event"]: e for e in nd.template_list(FILES)}
    assert list(listing) == list(nd.EVENTS)
    assigned = listing["task_assigned"]
    assert assigned["defined"] and assigned["file"] == "notifications/outcome.yaml"
    assert assigned["texts"]["zh"]["title"] == "请审批：{{ data.title }}" and assigned["channels"] == ["inapp", "email"]
    urged = listing["urged"]
    assert not urged["defined"] and urged["texts"]["en"]["title"] == "Reminder: {{ task.name }}"


def test_variables_follow_the_renderer_and_the_forms():
    names = [v["name"] for v in nd.variables(FILES, "task_assigned")]
    assert {"process.name", "instance.business_key", "task.due", "actor", "comment", "link"} <= set(names)
    assert {"data.title", "data.amount", "data.opinion"} <= set(names)
    assert "task.name" not in [v["name"] for v in nd.variables(FILES, "approved")]  # no task on the outcome
    assert "extra.link" in [v["name"] for v in nd.variables(FILES, "external_link")]


def test_a_syntax_error_names_its_line_and_an_undefined_variable_names_itself():
    problems = nd.check_template("第一行 {{ data.title }}\n第二行\n{% if comment %}没有结束", html=False)
    assert [(p["line"], p["severity"]) for p in problems] == [(3, "error")]
    assert "line 3" in str(problems[0]["message"])
    problems = nd.check_template("{{ process.name }}\n{{ data.title }} {{ applicant }}", html=False,
                                 known_data={"title"})
    assert [(p["line"], p["severity"]) for p in problems] == [(2, "error")]
    assert "`applicant`" in str(problems[0]["message"])
    problems = nd.check_template("{% for x in data.items %}{{ x }}{% endfor %}{{ data.titel }}", html=False,
                                 known_data={"title"})
    assert [(p["severity"], "titel" in str(p["message"])) for p in problems] == [("warning", False),
                                                                                ("warning", True)]
    found = nd.check_texts(FILES, {"zh": {"title": "", "text": "{{ nobody }}"}, "en": {"title": "t", "text": "t"}})
    assert set(found) == {"zh.title", "zh.text"}


def test_preview_renders_email_and_robots_as_the_engine_sends_them():
    texts = _texts("{{ actor }}：{{ data.title }}，金额 {{ data.amount }}")
    shown = nd.preview(FILES, "buy", "task_assigned", texts, "zh")
    assert shown["errors"] == {}
    assert shown["inapp"] == {"title": "申请：New laptop", "text": "王经理：New laptop，金额 8000"}  # the scenario's data
    assert shown["email"]["subject"] == "申请：New laptop"
    assert shown["email"]["text"].startswith("王经理：New laptop") and "https://liaison.example.com/tasks/" in \
        shown["email"]["text"]
    assert "<p>王经理：New laptop，金额 8000</p>" in shown["email"]["html"]
    ding = shown["dingtalk"]
    assert ding["msgtype"] == "markdown" and ding["markdown"]["title"] == "申请：New laptop"
    assert "王经理：New laptop" in ding["markdown"]["text"]
    assert shown["feishu"]["content"]["text"].startswith("申请：New laptop\n")
    assert shown["webhook"]["event"] == "task_assigned" and shown["webhook"]["lang"] == "zh"
    english = nd.preview(FILES, "buy", "task_assigned", texts, "en")
    assert english["inapp"]["text"] == "Request New laptop"


def test_preview_with_an_undefined_variable_shows_the_error():
    shown = nd.preview(FILES, "buy", "approved", _texts("{{ missing_thing }}"), "zh")
    assert list(shown["errors"]) == ["zh.text"] and "missing_thing" in str(shown["errors"]["zh.text"][0]["message"])
    assert shown["inapp"]["title"] == "申请：New laptop"  # the title still renders


def test_sample_data_without_tests_comes_from_the_forms():
    files = {k: v for k, v in FILES.items() if not k.startswith("tests/")}
    data = nd.sample_data(files)
    assert data["title"] == "标题" and data["amount"] == 1280.5


@pytest.fixture
def owner(sessions, people):
    with sessions() as session, session.begin():
        designer_access.grant(session, "root", "general", "li", edit=True, deploy=True)
        drafts.create_draft(session, "li", "buy", {"zh": "采购", "en": "Buy"}, "general", template="approval")
    return "li"


def test_save_event_writes_the_yaml_and_a_stale_revision_is_refused(sessions, owner):
    with sessions() as session, session.begin():
        draft = nd.save_event(session, owner, "buy", 1, "urged", {"channels": ["inapp", "email"],
                                                                   **_texts("快处理 {{ data.title }}")})
        assert draft.revision == 2
        assert "urged:" in draft.files[nd.NEW_FILE] and "快处理 {{ data.title }}" in draft.files[nd.NEW_FILE]
        listing = {e["event"]: e for e in nd.template_list(draft.files)}
        assert listing["urged"]["defined"] and listing["urged"]["texts"]["zh"]["text"] == "快处理 {{ data.title }}"
        draft = nd.save_event(session, owner, "buy", 2, "approved", {**_texts("好"), "webhooks": ["hr-ding"]})
        assert "approved:" in draft.files["notifications/outcome.yaml"]
        listing = {e["event"]: e for e in nd.template_list(draft.files)}
        assert listing["approved"]["channels"] == ["inapp", "email", "webhook"]
        draft = nd.save_event(session, owner, "buy", 3, "urged", None)  # back to the default
        assert nd.NEW_FILE not in draft.files
    with sessions() as session, session.begin(), pytest.raises(drafts.DraftConflictError):
        nd.save_event(session, owner, "buy", 1, "cc", _texts("x"))
    with sessions() as session, session.begin(), pytest.raises(drafts.DraftFileError):
        nd.save_event(session, owner, "buy", 4, "cc", _texts("{% if %}"))


def test_page_and_json(app, owner):
    li = signed_in(app, owner)
    page = li.get("/designer/buy/notifications", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'id="nt-editor"' in page and "notifications/notifications.js" in page and 'id="nt-labels"' in page
    assert 'href="/designer/buy/notifications" aria-current="page"' in page
    body = li.get("/designer/buy/notifications.json").get_json()
    assert body["revision"] == 1 and body["events"][0]["event"] == "task_assigned"
    assert body["fields"]["title"] == "标题"
    token = token_of(li, "buy")
    headers = {"X-CSRFToken": token}
    checked = li.post("/designer/buy/notifications/check", headers=headers,
                      json={"event": "task_assigned", "texts": _texts("{{ oops }}"), "lang": "zh"}).get_json()
    assert checked["problems"]["zh.text"][0]["line"] == 1 and "oops" in checked["problems"]["zh.text"][0]["message"]
    assert checked["preview"]["dingtalk"]["markdown"]["title"] == "申请：New laptop"
    refused = li.put("/designer/buy/notifications.json", headers=headers,
                     json={"revision": 1, "event": "cc", "definition": _texts("{{ oops }}")})
    assert refused.status_code == 422 and "zh.text" in refused.get_json()["problems"]
    saved = li.put("/designer/buy/notifications.json", headers=headers,
                   json={"revision": 1, "event": "cc", "definition": _texts("抄送 {{ data.title }}")})
    assert saved.status_code == 200 and saved.get_json()["revision"] == 2
    stale = li.put("/designer/buy/notifications.json", headers=headers,
                   json={"revision": 1, "event": "cc", "definition": _texts("x")})
    assert stale.status_code == 409 and stale.get_json()["revision"] == 2
