"""Issue 11 item 2 through the pages: a start form's user field names a person of the directory, never
the requester as their own approver (leave_request: `picked:manager` with `selfApproval`)."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from engine.data.models import ProcessInstance
from engine.packages import deployment as packages

from .conftest import csrf_token, sign_in

PROCESSES = Path(__file__).resolve().parents[2] / "processes"


@pytest.fixture
def deployed(sessions, people):
    packages.deploy_package(sessions, packages.load_package(PROCESSES / "leave_request"), "admin")
    return people


def _start(app, manager: str, lang: str):
    client = app.test_client()
    assert sign_in(client, "zhang").status_code == 302
    client.get(f"/start?lang={lang}")
    return client.post("/start/leave_request", data={
        "leave_type": "annual", "days": "1", "manager": manager, "reason": "",
        "csrf_token": csrf_token(client, "/start/leave_request")})


@pytest.mark.parametrize("manager, lang, text", [
    ("zhang", "en", "You cannot pick yourself as your approver."),
    ("zhang", "zh", "不能选择自己作为审批人。"),
    ("nobody_here", "en", "`nobody_here` is not a known user."),
    ("nobody_here", "zh", "用户“nobody_here”不存在。"),
    ("<b>li</b>", "en", "`<b>li</b>` is not a known user."),
])
def test_the_start_page_refuses_unknown_people_and_the_requester_as_approver(app, sessions, deployed,
                                                                           manager, lang, text):
    response = _start(app, manager, lang)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert html.escape(text, quote=False) in page.replace("&#34;", '"').replace("&#39;", "'")
    assert "<b>li</b>" not in page
    with sessions() as session:
        assert session.query(ProcessInstance).count() == 0


def test_the_start_page_accepts_a_person_of_the_directory(app, sessions, deployed):
    assert _start(app, "li", "en").status_code == 302
    with sessions() as session:
        assert session.query(ProcessInstance).count() == 1


PICKS = ('<bpmn:startEvent id="start" liaison:form="request"/>'
         '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="first"/>'
         '<bpmn:userTask id="first" liaison:form="pick_next" liaison:approvers="picked:approver" '
         'liaison:selfApproval="skip"/>'
         '<bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="second"/>'
         '<bpmn:userTask id="second" liaison:approvers="expr:next_approver" liaison:selfApproval="manager"/>'
         '<bpmn:sequenceFlow id="f3" sourceRef="second" targetRef="end"/><bpmn:endEvent id="end"/>')


def test_the_task_page_refuses_the_initiator_as_the_next_approver(app, sessions, people, tmp_path):
    import yaml

    from engine import runtime
    from tests.engine.conftest import write_package
    folder = write_package(tmp_path, "picks", {"picks": PICKS})
    (folder / "forms" / "request.yaml").write_text(yaml.safe_dump({"fields": [{"name": "approver", "type": "user"}]}))
    (folder / "forms" / "pick_next.yaml").write_text(yaml.safe_dump({"fields": [
        {"name": "next_approver", "type": "user", "required": True}]}))
    packages.deploy_package(sessions, packages.load_package(folder), "admin")
    task = runtime.start_instance(sessions, "picks", {"approver": "li"}, user="zhang").open_tasks[0]
    client = app.test_client()
    assert sign_in(client, "li").status_code == 302
    for value, lang, text in (("zhang", "zh", "不能选择自己作为审批人。"), ("nobody_here", "en", "is not a known user.")):
        client.get(f"/start?lang={lang}")
        response = client.post(f"/tasks/{task['id']}", data={"next_approver": value,
                                                             "csrf_token": csrf_token(client, "/start")})
        assert response.status_code == 422 and text in response.get_data(as_text=True)


def test_the_transfer_form_refuses_the_initiator_where_self_approval_is_not_allowed(app, sessions, deployed):
    from engine import runtime
    task = runtime.start_instance(sessions, "leave_request", {"leave_type": "annual", "days": 1, "manager": "li"},
                                  user="zhang").open_tasks[0]
    client = app.test_client()
    assert sign_in(client, "li").status_code == 302
    response = client.post(f"/tasks/{task['id']}/transfer", data={"to": "zhang", "csrf_token": csrf_token(client, "/start")})
    assert response.status_code == 302
    page = client.get(f"/tasks/{task['id']}").get_data(as_text=True)  # li reads Chinese: zhang by display name
    assert "此申请由其发起" in page and "转交给 张三" in page and "they started this request" not in page
    with sessions() as session:
        from engine.data.models import WorkTask
        assert session.get(WorkTask, task["id"]).assignee == "li"
