"""Names in the reader's language (issue 11, item 10): the leave request's steps, events and flow labels
come from package.yaml `names`; people and roles by their display names.

zhang (locale zh) asks for leave naming wang (locale zh) as manager; the HR record goes to the role `hr`
(人事), whose member is li. Every page the request touches shows no English element name.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from engine.data.models import Person, PersonRole, Role
from engine.packages import deployment as packages
from engine.people import accounts
from engine.work import queries

from .conftest import PASSWORD, csrf_token, post, sign_in

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
ENGLISH_NAMES = ("Manager approval", "Approved?", "HR record", "Leave requested", "Leave approved",
                 "Leave rejected", "Leave request")


@pytest.fixture
def clients(app, sessions, people):
    with sessions() as session, session.begin():
        accounts.create_person_account(session, "wang", "王五", PASSWORD, locale="zh")
        hr = Role(key="hr", name="人事", name_en="HR")
        session.add(hr)
        session.flush()
        li = session.query(Person).filter_by(username="li").one()
        li.locale = "zh"
        session.query(Person).filter_by(username="zhang").one().locale = "zh"
        session.add(PersonRole(person_id=li.id, role_id=hr.id))
    packages.deploy_package(sessions, packages.load_package(PROCESSES / "leave_request"), "admin")
    signed = {}
    for username in ("zhang", "wang", "li"):
        signed[username] = app.test_client()
        assert sign_in(signed[username], username).status_code == 302
    return signed


def _open_task(sessions, instance_id: int) -> dict:
    with sessions() as session:
        return next(t for t in queries.instance_view(session, instance_id)["tasks"] if t["status"] == "open")


def _english(page: str) -> list[str]:
    return [name for name in ENGLISH_NAMES if name in page]


def test_a_zh_walk_through_the_leave_request_shows_no_english_element_name(clients, sessions):
    response = post(clients["zhang"], "/start/leave_request",
                    {"leave_type": "annual", "days": "2", "manager": "wang", "reason": "家里有事"})
    assert response.status_code == 302, response.get_data(as_text=True)
    instance_id = int(response.headers["Location"].rsplit("/", 1)[1])
    task = _open_task(sessions, instance_id)

    pages = {
        "wang inbox": clients["wang"].get("/inbox/"),
        "wang task": clients["wang"].get(f"/tasks/{task['id']}"),
        "wang notifications": clients["wang"].get("/notifications"),
        "zhang requests": clients["zhang"].get("/requests/"),
        "zhang instance": clients["zhang"].get(f"/instances/{instance_id}"),
    }
    for where, page in pages.items():
        assert page.status_code == 200, where
        assert not _english(page.get_data(as_text=True)), (where, _english(page.get_data(as_text=True)))
    assert "上级审批" in pages["wang inbox"].get_data(as_text=True)
    assert "上级审批" in pages["wang notifications"].get_data(as_text=True)
    requests_page = pages["zhang requests"].get_data(as_text=True)
    assert "上级审批" in requests_page and "王五" in requests_page  # the step and who holds it
    task_page = pages["wang task"].get_data(as_text=True)
    assert "张三" in task_page  # the start form's `manager` and the initiator by display name
    assert ">wang<" not in task_page and "value=\"wang\"" not in task_page.split("lf-view", 1)[-1]

    response = post(clients["wang"], f"/tasks/{task['id']}",
                    {"approved": "true", "manager_comment": "同意"}, token_from=f"/tasks/{task['id']}")
    assert response.status_code == 302, response.get_data(as_text=True)
    hr_task = _open_task(sessions, instance_id)
    pages = {
        "li inbox": clients["li"].get("/inbox/"),
        "li task": clients["li"].get(f"/tasks/{hr_task['id']}"),
        "zhang requests": clients["zhang"].get("/requests/"),
        "zhang instance": clients["zhang"].get(f"/instances/{instance_id}"),
        "zhang notifications": clients["zhang"].get("/notifications"),
        "wang done": clients["wang"].get("/inbox/?view=done"),
        "diagram": clients["zhang"].get(f"/instances/{instance_id}/diagram.xml"),
    }
    for where, page in pages.items():
        assert page.status_code == 200, where
        assert not _english(page.get_data(as_text=True)), (where, _english(page.get_data(as_text=True)))
    instance_page = pages["zhang instance"].get_data(as_text=True)
    assert "是否批准？" in instance_page and "提交请假申请" in instance_page
    assert "待 hr 认领" not in instance_page and "人事" in instance_page  # the role by its name
    diagram = pages["diagram"].get_data(as_text=True)
    assert 'name="批准"' in diagram and 'name="yes"' not in diagram and 'name="no"' not in diagram

    csv = clients["zhang"].get("/requests/?format=csv").get_data(as_text=True)
    assert "人事备案" in csv and "HR record" not in csv
    csv = clients["li"].get("/inbox/?format=csv").get_data(as_text=True)
    assert "张三" in csv and ",zhang," not in csv  # the initiator by display name

    english = clients["zhang"].get(f"/instances/{instance_id}?lang=en")  # the person's locale wins: still zh
    assert "是否批准？" in english.get_data(as_text=True)


def test_an_english_reader_gets_the_english_names(app, clients, sessions):
    with sessions() as session, session.begin():
        session.query(Person).filter_by(username="wang").one().locale = "en"
    response = post(clients["zhang"], "/start/leave_request",
                    {"leave_type": "annual", "days": "2", "manager": "wang", "reason": "x"})
    instance_id = int(response.headers["Location"].rsplit("/", 1)[1])
    task = _open_task(sessions, instance_id)
    wang = app.test_client()
    sign_in(wang, "wang")
    inbox = wang.get("/inbox/").get_data(as_text=True)
    assert "Manager approval" in inbox and "上级审批" not in inbox
    assert "Leave requested" in wang.get(f"/tasks/{task['id']}").get_data(as_text=True)  # the timeline


def _start_leave(clients) -> tuple[int, dict]:
    response = post(clients["zhang"], "/start/leave_request",
                    {"leave_type": "annual", "days": "2", "manager": "wang", "reason": "家里有事"})
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_engine_refusals_on_the_task_page_are_in_the_readers_language(clients, sessions):
    instance_id = _start_leave(clients)
    task = _open_task(sessions, instance_id)
    wang = clients["wang"]
    token = f"/tasks/{task['id']}"
    post(wang, f"/tasks/{task['id']}/transfer", {"to": "nobody_here"}, token_from=token)
    page = wang.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert "未完成：无法把任务" in page and "没有使用此用户名的在职人员" in page
    assert "no active person has that username" not in page
    refused = post(wang, f"/tasks/{task['id']}/return", {"to": "previous", "comment": ""}, token_from=token)
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "退回时须填写原因" in text and "needs a comment" not in text
    post(wang, f"/tasks/{task['id']}/delegate", {"to": "wang"}, token_from=token)
    page = wang.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert "任务只能委派给他人" in page
    post(wang, f"/tasks/{task['id']}/signers/add", {"signer": "li", "place": "after"}, token_from=token)
    page = wang.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert "只有一位审批人" in page and "has one approver" not in page


def test_cc_lines_and_transfer_messages_name_people_by_their_display_names(clients, sessions):
    instance_id = _start_leave(clients)
    post(clients["zhang"], f"/instances/{instance_id}/cc", {"to": "li"}, token_from=f"/instances/{instance_id}")
    page = clients["zhang"].get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "已抄送给 李四。" in page and "已抄送给 li" not in page
    task = _open_task(sessions, instance_id)
    post(clients["wang"], f"/tasks/{task['id']}/transfer", {"to": "li", "comment": "请代办"},
         token_from=f"/tasks/{task['id']}")
    page = clients["wang"].get("/inbox/").get_data(as_text=True)
    assert "李四" in page and "转交给 li" not in page


def test_org_import_row_errors_are_in_the_readers_language(app, clients):
    client = app.test_client()
    sign_in(client, "root")
    text = "用户名,姓名,直属上级\nchen,陈一,nobody\nchen2,,\n"
    response = client.post("/admin/org-import", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, "/admin/org-import"),
        "file": (io.BytesIO(text.encode()), "org.csv")}, headers={"Accept-Language": "zh"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "未知的直属上级“nobody”" in page and "姓名 为空" in page
    assert "unknown manager" not in page and "is empty" not in page


def test_batch_approval_names_the_steps_in_the_readers_language(clients, sessions):
    instance_id = _start_leave(clients)
    task = _open_task(sessions, instance_id)
    post(clients["wang"], "/inbox/batch", {"task": task["id"], "confirm": "1"}, token_from="/inbox/")
    page = clients["wang"].get("/inbox/?view=done").get_data(as_text=True)
    assert "上级审批" in page and "Manager approval" not in page


def test_the_task_page_names_its_assignee_by_display_name(app, clients, sessions):
    instance_id = _start_leave(clients)
    task = _open_task(sessions, instance_id)
    page = clients["zhang"].get(f"/tasks/{task['id']}").get_data(as_text=True)  # the initiator looks on
    assert "<dd>王五" in page and "<dd>wang" not in page


def test_an_unreadable_org_file_is_explained_in_the_readers_language(app, clients):
    client = app.test_client()
    sign_in(client, "root")
    response = client.post("/admin/org-import", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, "/admin/org-import"),
        "file": (io.BytesIO(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512), "org.xls")})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "旧版 Excel .xls 格式" in page and "old Excel" not in page
