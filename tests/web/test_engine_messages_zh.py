"""Engine messages on a Chinese page (issue 11, item 10): every refusal and "a step failed" message a zh
reader meets through the web is Chinese, and people in it appear by display name (`engine.errors.Username`),
while `str()` keeps the English text with usernames for the CLI and the logs.

zhang (locale zh) asks for leave naming wang as manager; the HR record goes to the role `hr` (人事), whose
members are li and zhao. root is the super admin, also reading Chinese.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from engine.data.models import Person, PersonRole, Role
from engine.errors import ProcessRuntimeError, Username, msg, reason_time
from engine.packages import deployment as packages
from engine.people import accounts
from engine.work import drafts, queries
from tests.engine.conftest import flow, write_package
from web.errors import translated

from .conftest import PASSWORD, post, sign_in
from .test_names_in_language import PROCESSES

# an English sentence: three or more ASCII words in a row (ids, error type names and numbers are single tokens)
ENGLISH_SENTENCE = re.compile(r"[A-Za-z]{2,}(?:[ ,.:;'`-]+[A-Za-z]{2,}){2,}")
MESSAGE_AREA = re.compile(r'<p class="alert[^"]*"[^>]*>(.*?)</p>', re.S)


def _messages(page: str) -> list[str]:
    """The texts of the page's flashes, its `problem` (start page) and `conflict` (task page) paragraphs."""
    return [re.sub(r"<[^>]+>", "", text).strip() for text in MESSAGE_AREA.findall(page)]


def _chinese(messages: list[str]) -> None:
    assert messages, "no message on the page"
    for text in messages:
        assert not ENGLISH_SENTENCE.search(text), text
        assert re.search(r"[\u4e00-\u9fff]", text), text


@pytest.fixture
def clients(app, sessions, people):
    with sessions() as session, session.begin():
        accounts.create_person_account(session, "wang", "王五", PASSWORD, locale="zh")
        accounts.create_person_account(session, "zhao", "赵六", PASSWORD, locale="zh")
        hr = Role(key="hr", name="人事", name_en="HR")
        session.add(hr)
        session.flush()
        for person in session.query(Person).filter(Person.username.in_(["zhang", "li", "root", "zhao"])):
            person.locale = "zh"
            if person.username in ("li", "zhao"):
                session.add(PersonRole(person_id=person.id, role_id=hr.id))
    packages.deploy_package(sessions, packages.load_package(PROCESSES / "leave_request"), "admin")
    signed = {}
    for username in ("zhang", "wang", "li", "zhao", "root"):
        signed[username] = app.test_client()
        assert sign_in(signed[username], username).status_code == 302
    return signed


def _open_task(sessions, instance_id: int) -> dict:
    with sessions() as session:
        return next(t for t in queries.instance_view(session, instance_id)["tasks"] if t["status"] == "open")


def _start_leave(clients) -> int:
    response = post(clients["zhang"], "/start/leave_request",
                    {"leave_type": "annual", "days": "2", "manager": "wang", "reason": "家里有事"})
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


# --- people by display name -------------------------------------------------------------------------------

def test_a_person_in_a_message_is_their_username_in_text_and_their_display_name_on_a_page(app, people):
    message = msg("task %(task)s is already claimed by %(person)s", task="t1", person=Username("zhang"))
    assert str(message) == "task t1 is already claimed by zhang"  # the CLI and the logs
    queries_run = []

    def count(*_args):
        queries_run.append(1)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        with app.test_request_context(headers={"Accept-Language": "zh"}):
            assert translated(message) == "任务 t1 已被 张三 认领"
        with app.test_request_context(headers={"Accept-Language": "en"}):
            assert translated(message) == "task t1 is already claimed by Zhang San"  # the English name
            nested = msg("Not done: %(reason)s", reason=msg("%(person)s already signs approval node %(task)s",
                                                            person=Username("li"), task="t2"))
            assert translated(nested) == "Not done: 李四 already signs approval node t2"  # no English name: 李四
            assert translated(msg("no task %(task)s", task="t3")) == "no task t3"  # nobody in it: no query
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert len(queries_run) == 3  # one directory query per message with people in it


def test_a_claim_that_lost_names_the_winner_by_display_name(clients, sessions):
    instance_id = _start_leave(clients)
    task = _open_task(sessions, instance_id)
    post(clients["wang"], f"/tasks/{task['id']}", {"approved": "true", "task-comment": "同意"},
         token_from=f"/tasks/{task['id']}")
    hr_task = _open_task(sessions, instance_id)
    assert post(clients["li"], f"/inbox/tasks/{hr_task['id']}/claim", token_from="/inbox/").status_code in (302, 303)
    post(clients["zhao"], f"/inbox/tasks/{hr_task['id']}/claim", token_from="/inbox/")
    messages = _messages(clients["zhao"].get("/inbox/").get_data(as_text=True))
    assert any("已被 李四 认领" in text for text in messages), messages
    _chinese(messages)


def test_a_transfer_to_the_initiator_is_refused_in_chinese_naming_them(clients, sessions):
    task = _open_task(sessions, _start_leave(clients))
    post(clients["wang"], f"/tasks/{task['id']}/transfer", {"to": "zhang"}, token_from=f"/tasks/{task['id']}")
    messages = _messages(clients["wang"].get(f"/tasks/{task['id']}").get_data(as_text=True))
    assert any("张三" in text and "发起" in text for text in messages), messages
    assert not any("zhang" in text for text in messages), messages
    _chinese(messages)


# --- a failed step ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("script", "condition", "expected"), [
    ("x = 1 / 0", None, "脚本第 1 行出错（ZeroDivisionError）"),
    ("x = 'a' * 20000000", None, "脚本生成的数据超过了允许的大小"),
    ("while True:\n    x = 1", None, "脚本或条件运行超过了 2.0 秒的时间限制"),
    ("x = 1", "missing_name > 1", "脚本或条件出错（NameError）"),
    ("x = 2", None, "找不到处理人：请告知流程负责人或管理员应由谁处理"),  # the approver is zhang's manager: none
])
def test_a_failing_script_or_condition_is_explained_in_chinese_without_the_code(
        app, clients, sessions, tmp_path, script, condition, expected):
    steps = ['<bpmn:startEvent id="start"/>', flow("start", "compute"),
             f'<bpmn:scriptTask id="compute"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>']
    if condition:
        steps += [flow("compute", "choose"), '<bpmn:exclusiveGateway id="choose" default="f_choose_end"/>',
                  flow("choose", "review", condition), flow("choose", "end", flow_id="f_choose_end")]
    else:
        steps.append(flow("compute", "review"))
    review = '<bpmn:userTask id="review" liaison:approvers="manager"/>' if "处理人" in expected else '<bpmn:userTask id="review"/>'
    steps += [review, flow("review", "end"), '<bpmn:endEvent id="end"/>']
    packages.deploy_package(sessions, packages.load_package(write_package(tmp_path, "calc", {"calc": "\n".join(steps)})),
                            "admin")
    response = post(clients["zhang"], "/start/calc", {})
    page = response.get_data(as_text=True)
    assert response.status_code == 500, page
    messages = _messages(page)
    assert any("流程中的某个步骤出错" in text and expected in text for text in messages), messages
    assert script not in page and "compute" not in " ".join(messages)  # the code and the step id are for the owner
    _chinese(messages)


# --- admin pages ------------------------------------------------------------------------------------------

def _role_id(sessions, key: str) -> int:
    with sessions() as session:
        return session.query(Role).filter_by(key=key).one().id


def _person_id(sessions, username: str) -> int:
    with sessions() as session:
        return session.query(Person).filter_by(username=username).one().id


def _flashed(client, response) -> list[str]:
    """The messages of the page a refused post redirects to."""
    assert response.status_code in (302, 303), response.status_code
    return _messages(client.get(response.headers["Location"]).get_data(as_text=True))


def test_role_refusals_are_chinese_and_name_people_by_display_name(clients, sessions):
    role_id = _role_id(sessions, "hr")
    root = clients["root"]
    messages = _flashed(root, post(root, f"/admin/roles/{role_id}/members", {"username": "li"},
                                   token_from=f"/admin/roles/{role_id}"))
    assert "李四 已拥有角色 hr。" in messages, messages
    taken = _flashed(root, post(root, "/admin/roles", {"key": "hr", "name": "人事二"}, token_from="/admin/roles"))
    assert any("角色标识 hr 已被使用" in text for text in taken), taken
    messages += taken + _flashed(root, post(root, f"/admin/roles/{role_id}/delete", {},
                                            token_from=f"/admin/roles/{role_id}"))
    assert len(messages) == 3, messages
    _chinese(messages)


def test_people_admin_refusals_are_chinese_and_name_people_by_display_name(clients, sessions):
    root = clients["root"]
    zhang, li, root_id = (_person_id(sessions, name) for name in ("zhang", "li", "root"))
    _flashed(root, post(root, f"/admin/people/{zhang}/manager", {"manager": "li"}, token_from=f"/admin/people/{zhang}"))
    messages = []
    for person, path, form in ((li, "manager", {"manager": "zhang"}), (li, "manager", {"manager": "li"}),
                               (li, "manager", {"manager": "nobody_here"}), (root_id, "active", {"active": "0"})):
        messages += _flashed(root, post(root, f"/admin/people/{person}/{path}", form,
                                        token_from=f"/admin/people/{person}"))
    assert "张三 向 李四 汇报：请另选上级。" in messages, messages
    assert len(messages) == 4, messages
    _chinese(messages)


def test_a_refused_draft_says_why_in_chinese(clients, monkeypatch):
    monkeypatch.setattr(drafts, "MAX_DRAFTS_PER_PERSON", 1)
    zhang = clients["zhang"]
    form = {"leave_type": "annual", "days": "2", "action": "draft"}
    assert post(zhang, "/start/leave_request", form).status_code == 302
    response = post(zhang, "/start/leave_request", form)
    assert response.status_code == 413
    messages = _messages(response.get_data(as_text=True))
    assert any("草稿未保存：您已有 1 份草稿" in text for text in messages), messages
    _chinese(messages)


def test_a_failed_step_in_the_timeline_does_not_show_the_technical_text(clients, sessions, tmp_path):
    body = "\n".join(['<bpmn:startEvent id="start"/>', flow("start", "review"),
                      '<bpmn:userTask id="review" liaison:assignee="zhang"/>', flow("review", "compute"),
                      '<bpmn:scriptTask id="compute"><bpmn:script>x = 1 / 0</bpmn:script></bpmn:scriptTask>',
                      flow("compute", "end"), '<bpmn:endEvent id="end"/>'])
    packages.deploy_package(sessions, packages.load_package(write_package(tmp_path, "after", {"after": body})),
                            "admin")
    zhang = clients["zhang"]
    started = post(zhang, "/start/after", {})
    instance_id = int(started.headers["Location"].rsplit("/", 1)[1])
    task = _open_task(sessions, instance_id)
    failed = post(zhang, f"/tasks/{task['id']}", {}, token_from=f"/tasks/{task['id']}")
    assert failed.status_code == 500
    _chinese(_messages(failed.get_data(as_text=True)))
    with sessions() as session:  # the history keeps the technical text for the owner (the CLI shows it)
        history = queries.instance_view(session, instance_id)["history"]
        assert any(h["action"] == "failed" and "division by zero" in (h["comment"] or "") for h in history)
    page = zhang.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "流程负责人可在命令行查看此申请的历史记录中的技术细节" in page
    assert "division by zero" not in page and "x = 1 / 0" not in page


def test_a_failed_step_behind_any_operation_reads_as_the_failed_message(app):
    """An operation's flash ("Not done: ...") and the refused page render a ProcessRuntimeError through
    `translated`: the person's words, not the technical text."""
    failure = ProcessRuntimeError("element `compute`: `while True: pass`: script exceeded 2.0 s time limit",
                                  "compute", reason=reason_time(2.0))
    assert "script exceeded" in str(failure)  # the owner's text, unchanged
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        text = translated(msg("Not done: %(reason)s", reason=translated(failure)))
    assert text == ("未完成：流程中的某个步骤出错，因此未保存任何内容。请稍后重试，或告知流程负责人。"
                    "该步骤失败的原因：脚本或条件运行超过了 2.0 秒的时间限制。")
