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
