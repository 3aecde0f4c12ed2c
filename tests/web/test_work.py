"""Starting a process and working its tasks through the pages: leave_request from start form to HR record.

zhang starts it naming wang as manager; wang approves on the task page; the HR group (zhao, qian) is
offered the record step. li is involved in nothing and sees nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine import runtime
from engine.data.models import PersonRole, Role
from engine.errors import ProcessRuntimeError, TaskConflictError, reason_failed
from engine.packages import deployment as packages
from engine.people import accounts
from engine.work import queries

from .conftest import PASSWORD, post, sign_in

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
_DATA = re.compile(r"data-(done|current)='([^']*)'")


@pytest.fixture
def staff(sessions, people):
    """The people fixture plus wang (a manager) and zhao, qian (both in the role `hr`)."""
    with sessions() as session, session.begin():
        accounts.create_person_account(session, "wang", "王五", PASSWORD, name_en="Wang Wu")
        hr = Role(key="hr", name="人事")
        session.add(hr)
        session.flush()
        for username, name in (("zhao", "赵六"), ("qian", "钱七")):
            person = accounts.create_person_account(session, username, name, PASSWORD)
            session.add(PersonRole(person_id=person.id, role_id=hr.id))
    packages.deploy_package(sessions, packages.load_package(PROCESSES / "leave_request"), "admin")
    return people


def _client(app, username: str):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def _start(client, **fields) -> int:
    data = {"leave_type": "annual", "days": "2", "manager": "wang", "reason": "家里有事", **fields}
    response = post(client, "/start/leave_request", data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _open_task(sessions, instance_id: int) -> dict:
    with sessions() as session:
        tasks = [t for t in queries.instance_view(session, instance_id)["tasks"] if t["status"] == "open"]
    assert len(tasks) == 1
    return tasks[0]


def _markers(page: str) -> dict[str, str]:
    return dict(_DATA.findall(page))


def test_catalog_lists_processes_by_category_and_filters_by_name(app, staff):
    client = _client(app, "zhang")
    page = client.get("/start").get_data(as_text=True)
    assert "发起申请" in page and "人事" in page and 'href="/start/leave_request"' in page and "请假申请" in page
    assert 'href="/start"' in page  # the navigation links the catalog now that it exists
    assert "leave_request · v" not in page  # keys and versions are for process designers
    assert "<code>leave_request</code>" not in client.get("/").get_data(as_text=True)
    assert 'href="/start/leave_request"' in client.get("/start?q=请假").get_data(as_text=True)
    assert 'href="/start/leave_request"' in client.get("/start?q=LEAVE").get_data(as_text=True)
    none = client.get("/start?q=报销").get_data(as_text=True)
    assert 'href="/start/leave_request"' not in none and "没有与“报销”匹配的流程。" in none
    assert client.get("/start/no_such_process").status_code == 404


def test_every_shipped_category_has_a_label_in_the_catalog():
    """A category without a label is shown as its key ("communication" on a Chinese page)."""
    from web.catalog import CATEGORY_LABELS
    categories = {packages.load_package(folder).meta.get("category") for folder in PROCESSES.iterdir()
                  if (folder / "package.yaml").exists()}
    assert categories - {None} <= set(CATEGORY_LABELS)


def test_starting_through_the_start_form_shows_the_new_instance(app, staff, sessions):
    client = _client(app, "zhang")
    form = client.get("/start/leave_request").get_data(as_text=True)
    for piece in ('<select id="leave_type" name="leave_type"', 'id="days" name="days"', 'name="manager"',
                  'name="csrf_token"', "提交申请", "/forms-static/liaison-forms.js"):
        assert piece in form, piece
    instance_id = _start(client)
    page = client.get(f"/instances/{instance_id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "您的申请“请假申请”已发起。" in text  # the flash message
    for piece in ("进行中", "张三", "发起了申请", "家里有事", "天数", "上级审批", "王五",
                  f'data-diagram-url="/instances/{instance_id}/diagram.xml"'):
        assert piece in text, piece
    assert _markers(text) == {"done": '["submitted"]', "current": '["manager_approval"]'}
    with sessions() as session:
        view = queries.instance_view(session, instance_id)
    assert view["initiator"] == "zhang" and view["data"]["days"] == 2 and view["data"]["manager"] == "wang"


def test_start_form_errors_come_back_next_to_the_fields_with_422(app, staff, sessions):
    client = _client(app, "zhang")
    response = post(client, "/start/leave_request", {"leave_type": "annual", "days": "0", "manager": ""})
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<ul class="field-errors" id="days-errors" role="alert">\n<li>不能小于 0.5。</li>' in text
    assert 'id="manager-errors"' in text and "此项为必填项。" in text and 'value="0"' in text
    with sessions() as session:
        assert queries.list_tasks(session, "wang") == []


def test_task_page_is_titled_with_the_step_name_the_inbox_lists(app, staff, sessions):
    """The step's name ("Manager approval", as in the inbox), not its form's title ("Manager decision")."""
    task = _open_task(sessions, _start(_client(app, "zhang")))
    manager = _client(app, "wang")
    assert '<h1 id="task-title">Manager approval</h1>' in manager.get(f"/tasks/{task['id']}?lang=en").get_data(
        as_text=True)
    assert '<h1 id="task-title">上级审批</h1>' in manager.get(f"/tasks/{task['id']}?lang=zh").get_data(as_text=True)


def test_manager_approves_on_the_task_page_and_hr_records_it(app, staff, sessions):
    instance_id = _start(_client(app, "zhang"))
    task = _open_task(sessions, instance_id)
    manager = _client(app, "wang")
    page = manager.get(f"/tasks/{task['id']}").get_data(as_text=True)
    for piece in ("上级审批", 'name="approved"', 'name="task-comment"', "家里有事", "您的处理", "张三"):
        assert piece in page, piece
    response = post(manager, f"/tasks/{task['id']}", {"approved": "true", "task-comment": "好好休息"})
    assert response.status_code == 302 and response.headers["Location"] == "/inbox/"
    assert f"您已同意申请 #{instance_id}。" in manager.get("/inbox/").get_data(as_text=True)

    record = _open_task(sessions, instance_id)
    assert record["element_id"] == "hr_record" and record["candidate_groups"] == ["hr"]
    hr = _client(app, "zhao")
    page = hr.get(f"/tasks/{record['id']}").get_data(as_text=True)
    assert "认领" in page and f'action="/tasks/{record["id"]}/claim"' in page
    assert post(hr, f"/tasks/{record['id']}", {"recorded": "true"}).status_code == 302

    finished = _client(app, "zhang").get(f"/instances/{instance_id}").get_data(as_text=True)
    for piece in ("已结束", "王五", "完成了", "好好休息", "赵六", "结束时间"):
        assert piece in finished, piece
    markers = _markers(finished)
    assert markers["current"] == "[]" and "approved_end" in markers["done"] and "hr_record" in markers["done"]
    with sessions() as session:
        view = queries.instance_view(session, instance_id)
    assert view["status"] == "completed" and view["data"]["approved"] is True
    assert any(h["action"] == "task_completed" and h["comment"] == "好好休息" for h in view["history"])


def test_task_form_errors_come_back_with_422_and_nothing_is_saved(app, staff, sessions):
    instance_id = _start(_client(app, "zhang"))
    task = _open_task(sessions, instance_id)
    manager = _client(app, "wang")
    response = post(manager, f"/tasks/{task['id']}", {"manager_comment": "?", "task-comment": "稍后再说"})
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="approved-errors"' in text and "此项为必填项。" in text
    assert ">稍后再说</textarea>" in text  # what was typed stays
    response = post(manager, f"/tasks/{task['id']}", {"approved": "true", "task-comment": "x" * 2001})
    assert response.status_code == 422 and "意见过长（最多 2000 个字符）。" in response.get_data(as_text=True)
    assert _open_task(sessions, instance_id)["id"] == task["id"]


def test_someone_not_involved_gets_404_for_task_instance_and_diagram(app, staff, sessions):
    instance_id = _start(_client(app, "zhang"))
    task = _open_task(sessions, instance_id)
    stranger = _client(app, "li")
    assert stranger.get(f"/tasks/{task['id']}").status_code == 404
    assert stranger.get(f"/instances/{instance_id}").status_code == 404
    assert stranger.get(f"/instances/{instance_id}/diagram.xml").status_code == 404
    assert post(stranger, f"/tasks/{task['id']}", {"approved": "true"}).status_code == 404
    assert post(stranger, f"/tasks/{task['id']}/claim").status_code == 404
    assert stranger.get("/tasks/no-such-task").status_code == 404
    assert stranger.get("/instances/999").status_code == 404
    assert _open_task(sessions, instance_id)["id"] == task["id"]


def test_diagram_xml_is_served_to_those_who_may_see_the_instance(app, staff, sessions):
    instance_id = _start(_client(app, "zhang"))
    for username in ("zhang", "wang", "root"):
        response = _client(app, username).get(f"/instances/{instance_id}/diagram.xml")
        assert response.status_code == 200, username
        assert response.headers["Content-Type"].startswith("application/xml")
        assert b'<bpmn:process id="leave_request"' in response.data


def test_the_initiator_reads_the_task_but_cannot_complete_it(app, staff, sessions):
    client = _client(app, "zhang")
    instance_id = _start(client)
    task = _open_task(sessions, instance_id)
    page = client.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert "您可以查看此任务，但不能处理。" in page and 'name="approved"' not in page
    assert post(client, f"/tasks/{task['id']}", {"approved": "true"}).status_code == 403
    assert _open_task(sessions, instance_id)["id"] == task["id"]


def test_a_post_without_csrf_token_is_refused(app, staff, sessions):
    instance_id = _start(_client(app, "zhang"))
    task = _open_task(sessions, instance_id)
    manager = _client(app, "wang")
    assert manager.post(f"/tasks/{task['id']}", data={"approved": "true"}).status_code == 400
    assert manager.post("/start/leave_request", data={"leave_type": "annual", "days": "1",
                                                      "manager": "wang"}).status_code == 400
    assert _open_task(sessions, instance_id)["id"] == task["id"]


def test_completing_a_task_twice_conflicts_with_409(app, staff, sessions):
    instance_id = _start(_client(app, "zhang"))
    task = _open_task(sessions, instance_id)
    manager = _client(app, "wang")
    assert post(manager, f"/tasks/{task['id']}", {"approved": "false"}).status_code == 302
    again = post(manager, f"/tasks/{task['id']}", {"approved": "true", "task-comment": "改主意了"})
    text = again.get_data(as_text=True)
    assert again.status_code == 409
    assert "王五 已完成此任务，您提交的内容未被保存。" in text and 'name="approved"' not in text
    with sessions() as session:
        view = queries.instance_view(session, instance_id)
    assert view["status"] == "completed" and view["end_event"] == "rejected_end"
    assert view["data"]["approved"] is False and not any(h["comment"] == "改主意了" for h in view["history"])


def test_a_completion_lost_to_a_concurrent_one_shows_the_engines_message(app, staff, sessions, monkeypatch):
    instance_id = _start(_client(app, "zhang"))
    task = _open_task(sessions, instance_id)
    manager = _client(app, "wang")

    def raced(*_args, **_kwargs):
        raise TaskConflictError(f"task {task['id']} is already completed by qian; nothing of this submission "
                                "was saved")
    monkeypatch.setattr(runtime, "complete_task", raced)
    response = post(manager, f"/tasks/{task['id']}", {"approved": "true"})
    text = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "其他人已先处理了此任务，您提交的内容未被保存。" in text and "already completed by qian" in text


def test_a_group_member_claims_the_offered_task(app, staff, sessions):
    instance_id = _start(_client(app, "zhang"))
    post(_client(app, "wang"), f"/tasks/{_open_task(sessions, instance_id)['id']}", {"approved": "true"})
    record = _open_task(sessions, instance_id)
    zhao = _client(app, "zhao")
    response = post(zhao, f"/tasks/{record['id']}/claim")
    assert response.status_code == 302 and response.headers["Location"] == f"/tasks/{record['id']}"
    page = zhao.get(response.headers["Location"]).get_data(as_text=True)
    assert "您已认领此任务。" in page and "认领了" in page and 'name="recorded"' in page
    assert _open_task(sessions, instance_id)["assignee"] == "zhao"
    qian = _client(app, "qian")  # offered it too: may still read it, no longer act on it
    page = qian.get(f"/tasks/{record['id']}").get_data(as_text=True)
    assert "您可以查看此任务，但不能处理。" in page and 'name="recorded"' not in page
    assert "其他人已先认领了此任务。" in qian.get(
        post(qian, f"/tasks/{record['id']}/claim").headers["Location"]).get_data(as_text=True)


def test_pages_follow_the_language(app, staff, sessions):
    client = _client(app, "zhang")
    instance_id = _start(client)
    task = _open_task(sessions, instance_id)
    manager = _client(app, "wang")
    page = manager.get(f"/tasks/{task['id']}?lang=en").get_data(as_text=True)
    for piece in ("Manager decision", "Your decision", "Approve", "Timeline", "Started the request", "Leave request"):
        assert piece in page, piece
    page = client.get(f"/instances/{instance_id}?lang=en").get_data(as_text=True)
    assert "In progress" in page and "Days" in page and "Wang Wu" in page and "Zhang San" in page


def test_forms_static_serves_only_the_forms_script(app, staff):
    client = _client(app, "zhang")
    response = client.get("/forms-static/liaison-forms.js")
    assert response.status_code == 200 and b"LiaisonForms" in response.data
    assert client.get("/forms-static/macros.html").status_code == 404
    assert client.get("/forms-static/..%2Fbuild.py").status_code == 404


def test_a_failing_process_step_is_explained_and_keeps_what_was_typed(app, staff, sessions, monkeypatch):
    client = _client(app, "zhang")
    instance_id = _start(client)
    task = _open_task(sessions, instance_id)

    def failing(*_args, **_kwargs):
        raise ProcessRuntimeError("script `notify` failed: division by zero", element_id="notify",
                                  reason=reason_failed(ZeroDivisionError("division by zero"), 2))
    monkeypatch.setattr(runtime, "complete_task", failing)
    monkeypatch.setattr(runtime, "start_instance", failing)
    response = post(_client(app, "wang"), f"/tasks/{task['id']}", {"approved": "true", "task-comment": "准了"})
    text = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "流程中的某个步骤出错，因此未保存任何内容。" in text and "脚本第 2 行出错（ZeroDivisionError）" in text
    assert "division by zero" not in text  # the technical text is logged, not shown
    assert ">准了</textarea>" in text
    response = post(client, "/start/leave_request", {"leave_type": "sick", "days": "1", "manager": "wang"})
    text = response.get_data(as_text=True)
    assert response.status_code == 500 and "脚本第 2 行出错（ZeroDivisionError）" in text
    assert "division by zero" not in text


def test_a_read_only_total_with_a_currency_reads_as_money(app):
    from forms.schema import load_schema
    from web.work import readonly_form
    schema = load_schema({"fields": [
        {"name": "price", "type": "money", "label": "Price"},
        {"name": "total", "type": "formula", "expression": "price * 2", "decimals": 2, "currency": "CNY",
         "label": "Total"}]})
    with app.test_request_context("/"):
        html = str(readonly_form(schema, {"price": 4000, "total": 8000.0}, "zh"))
    assert "¥8,000.00（捌仟元整）" in html and ">8000.00<" not in html
