"""The approval operations on the task and instance pages: shown to the people allowed, refused to others.

zhang starts a leave request naming wang as manager; li and zhao are involved in nothing until someone
transfers or copies something to them; root is a super admin.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.data.models import HistoryEntry, Notification
from engine.packages import deployment as packages
from engine.people import accounts
from engine.work import queries

from .conftest import PASSWORD, post, sign_in

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
FORMS = ("urge-form", "cc-form", "withdraw-form", "terminate-form")


@pytest.fixture
def staff(sessions, people):
    with sessions() as session, session.begin():
        accounts.create_person_account(session, "wang", "王五", PASSWORD)
        accounts.create_person_account(session, "zhao", "赵六", PASSWORD)
    packages.deploy_package(sessions, packages.load_package(PROCESSES / "leave_request"), "admin")
    return people


@pytest.fixture
def clients(app, staff):
    signed = {}
    for username in ("zhang", "wang", "li", "zhao", "root"):
        signed[username] = app.test_client()
        assert sign_in(signed[username], username).status_code == 302
    return signed


def _start(client) -> int:
    response = post(client, "/start/leave_request",
                    {"leave_type": "annual", "days": "2", "manager": "wang", "reason": "家里有事"})
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _view(sessions, instance_id: int) -> dict:
    with sessions() as session:
        return queries.instance_view(session, instance_id)


def _open_task(sessions, instance_id: int) -> dict:
    return next(t for t in _view(sessions, instance_id)["tasks"] if t["status"] == "open")


def _forms(page: str) -> set[str]:
    return {name for name in FORMS if f'id="{name}"' in page}


def test_each_person_sees_the_operations_the_rules_give_them(clients, sessions):
    instance_id = _start(clients["zhang"])
    task = _open_task(sessions, instance_id)
    page = lambda who: clients[who].get(f"/instances/{instance_id}").get_data(as_text=True)  # noqa: E731
    assert _forms(page("zhang")) == {"urge-form", "cc-form", "withdraw-form"}
    assert _forms(page("root")) == {"urge-form", "cc-form", "terminate-form"}
    assert _forms(page("wang")) == {"cc-form"}  # holds its task: may copy it (抄送) while deciding
    assert "催办" in page("zhang") and "撤回申请" in page("zhang") and "终止" in page("root")
    task_page = lambda who: clients[who].get(f"/tasks/{task['id']}").get_data(as_text=True)  # noqa: E731
    assert 'id="transfer-form"' in task_page("wang") and 'id="transfer-form"' in task_page("root")
    assert 'id="transfer-form"' not in task_page("zhang")


def test_the_assignee_transfers_the_task_and_others_are_refused(clients, sessions):
    instance_id = _start(clients["zhang"])
    task = _open_task(sessions, instance_id)
    path = f"/tasks/{task['id']}/transfer"
    assert post(clients["zhao"], path, {"to": "li"}).status_code == 404  # cannot even see it
    assert post(clients["zhang"], path, {"to": "li"}).status_code == 403
    response = post(clients["wang"], path, {"to": "li", "comment": "出差"})
    # back to the inbox: the task is li's now (wang still sees the instance: he acted on it)
    assert response.status_code == 302 and response.headers["Location"] == "/inbox/"
    assert "任务已转办给 李四。" in clients["wang"].get("/inbox/").get_data(as_text=True)
    assert _open_task(sessions, instance_id)["assignee"] == "li"
    assert re.search(r'id="(submit|approve)-task"', clients["li"].get(f"/tasks/{task['id']}").get_data(as_text=True))
    timeline = clients["zhang"].get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "转办" in timeline and "出差" in timeline
    assert '→ <span class="target">李四</span>' in timeline  # to whom, by name
    refused = post(clients["li"], path, {"to": "nobody"})
    assert refused.status_code == 302
    text = clients["li"].get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert "未完成：" in text and "没有使用此用户名的在职人员" in text  # the engine refusal, in zh


def test_whoever_transferred_a_task_keeps_the_instance_page_and_finds_it_under_done(clients, sessions):
    instance_id = _start(clients["zhang"])
    task = _open_task(sessions, instance_id)
    assert clients["zhao"].get(f"/instances/{instance_id}").status_code == 404
    assert post(clients["wang"], f"/tasks/{task['id']}/transfer", {"to": "li"}).status_code == 302
    assert clients["wang"].get(f"/instances/{instance_id}").status_code == 200
    assert clients["zhao"].get(f"/instances/{instance_id}").status_code == 404  # still nobody else's
    done = clients["wang"].get("/inbox/?view=done").get_data(as_text=True)
    assert f'data-task="{task["id"]}"' in done and "已转交给 李四" in done
    assert "Transferred to" in clients["wang"].get("/inbox/?view=done&lang=en").get_data(as_text=True)
    assert f'data-task="{task["id"]}"' not in clients["li"].get("/inbox/?view=done").get_data(as_text=True)


def test_urge_once_then_the_rate_limit_says_when(clients, sessions):
    instance_id = _start(clients["zhang"])
    path = f"/instances/{instance_id}/urge"
    assert post(clients["zhao"], path).status_code == 404
    assert post(clients["wang"], path).status_code == 403  # involved, but not the initiator
    assert post(clients["zhang"], path, {"comment": "急"}).status_code == 302
    assert "已发送提醒。" in clients["zhang"].get(f"/instances/{instance_id}").get_data(as_text=True)
    with sessions() as session:
        assert [(n.recipient, n.event) for n in session.scalars(
            select(Notification).where(Notification.event == "urged"))] == [("wang", "urged")]
    assert post(clients["zhang"], path).status_code == 302
    assert "10 分钟内已催办过" in clients["zhang"].get(f"/instances/{instance_id}").get_data(as_text=True)


def test_cc_gives_viewing_and_the_inbox_shows_read_status(clients, sessions):
    instance_id = _start(clients["zhang"])
    assert clients["zhao"].get(f"/instances/{instance_id}").status_code == 404
    assert post(clients["zhang"], f"/instances/{instance_id}/cc", {"to": "zhao, li"}).status_code == 302
    assert post(clients["li"], f"/instances/{instance_id}/cc", {"to": "wang"}).status_code == 403  # only reads it
    listed = clients["zhao"].get("/inbox/?view=cc").get_data(as_text=True)
    assert f'data-instance="{instance_id}" class="is-unread"' in listed and "抄送我的" in listed
    assert f'data-instance="{instance_id}"' in clients["zhao"].get("/inbox/?view=cc&unread=1").get_data(as_text=True)
    assert clients["zhao"].get(f"/instances/{instance_id}").status_code == 200  # marks it read
    assert clients["zhao"].get(f"/instances/{instance_id}").status_code == 200
    assert f'data-instance="{instance_id}"' not in clients["zhao"].get("/inbox/?view=cc&unread=1").get_data(
        as_text=True)
    with sessions() as session:
        reads = session.scalars(select(HistoryEntry.actor).where(HistoryEntry.action == "cc_read")).all()
    assert reads == ["zhao"]
    post(clients["zhang"], f"/instances/{instance_id}/cc", {"to": "zhao"})
    assert "已抄送过，跳过：赵六" in clients["zhang"].get(f"/instances/{instance_id}").get_data(as_text=True)


def test_the_holder_copies_the_request_from_the_task_page_and_stays_on_it(clients, sessions):
    instance_id = _start(clients["zhang"])
    task_path = "/tasks/" + _open_task(sessions, instance_id)["id"]
    page = clients["wang"].get(task_path).get_data(as_text=True)
    assert 'id="cc-form"' in page and f'name="next" value="{task_path}"' in page
    response = post(clients["wang"], f"/instances/{instance_id}/cc", {"to": "zhao", "next": task_path})
    assert response.status_code == 302 and response.headers["Location"] == task_path
    assert "已抄送给 赵六。" in clients["wang"].get(task_path).get_data(as_text=True)
    assert clients["zhao"].get(f"/instances/{instance_id}").status_code == 200
    assert _open_task(sessions, instance_id)["assignee"] == "wang"  # the task is still wang's to decide
    elsewhere = post(clients["wang"], f"/instances/{instance_id}/cc", {"to": "li", "next": "https://evil.example/"})
    assert elsewhere.headers["Location"] == f"/instances/{instance_id}"  # never off the site


def test_withdraw_and_terminate(clients, sessions):
    first, second = _start(clients["zhang"]), _start(clients["zhang"])
    assert post(clients["wang"], f"/instances/{first}/withdraw").status_code == 403
    assert post(clients["zhang"], f"/instances/{first}/terminate", {"reason": "x"}).status_code == 403
    assert post(clients["zhang"], f"/instances/{first}/withdraw", {"comment": "不休了"}).status_code == 302
    assert _view(sessions, first)["status"] == "cancelled"
    assert post(clients["zhang"], f"/instances/{first}/withdraw").status_code == 403  # it has ended
    assert post(clients["root"], f"/instances/{second}/terminate", {"reason": ""}).status_code == 302
    assert _view(sessions, second)["status"] == "running"  # a reason is required
    assert post(clients["root"], f"/instances/{second}/terminate", {"reason": "重复申请"}).status_code == 302
    view = _view(sessions, second)
    assert view["status"] == "cancelled"
    assert (view["history"][-1]["action"], view["history"][-1]["comment"]) == ("terminated", "重复申请")
    page = clients["zhang"].get(f"/instances/{second}").get_data(as_text=True)
    assert "已终止" in page and _forms(page) == {"cc-form"}
