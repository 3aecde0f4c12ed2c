"""POST limits (issue 11, item 5): a start or task form over its limit gets a clear 413 page, and the
loser of two completions of one task a 409 page; never a 500."""

from __future__ import annotations

import threading

import pytest

from engine.runtime import step

from .conftest import csrf_token, post
from .test_work import _client, _open_task, _start, staff  # noqa: F401 - staff is a fixture

BIG = "长" * 400_000  # 1.2 MB of UTF-8, 2.4 MB of JSON escapes: over the 1 MB a step accepts


def test_a_start_form_over_one_megabyte_gets_a_413_page_and_nothing_starts(app, staff, sessions):  # noqa: F811
    client = _client(app, "zhang")
    response = post(client, "/start/leave_request",
                    {"leave_type": "annual", "days": "2", "manager": "wang", "reason": BIG})
    text = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "表单太大：一次最多可提交 1MB。未保存任何内容。" in text
    assert "请假申请" in text  # the start page again, with what was typed
    with sessions() as session:
        from engine.work import queries
        assert queries.list_tasks(session, "wang") == []


def test_a_task_form_over_one_megabyte_gets_a_413_page_and_the_task_stays_open(app, staff, sessions):  # noqa: F811
    instance_id = _start(_client(app, "zhang"))
    task = _open_task(sessions, instance_id)
    manager = _client(app, "wang")
    response = post(manager, f"/tasks/{task['id']}", {"approved": "true", "manager_comment": BIG})
    assert response.status_code == 413
    assert "表单太大：一次最多可提交 1MB。未保存任何内容。" in response.get_data(as_text=True)
    assert _open_task(sessions, instance_id)["id"] == task["id"]


def test_a_task_that_would_make_the_request_hold_too_much_data_gets_a_413_page(app, staff, sessions,  # noqa: F811
                                                                               monkeypatch):
    monkeypatch.setattr(step, "max_instance_data", lambda: 1_572_864)  # LIAISON_MAX_INSTANCE_DATA
    instance_id = _start(_client(app, "zhang"), reason="x" * 900_000)
    task = _open_task(sessions, instance_id)
    response = post(_client(app, "wang"), f"/tasks/{task['id']}", {"approved": "true", "manager_comment": "y" * 900_000})
    assert response.status_code == 413
    assert "此申请的数据将超过 1.5MB（一个申请最多可保存的数据量）。未保存任何内容。" in response.get_data(as_text=True)
    assert _open_task(sessions, instance_id)["id"] == task["id"]


def test_a_form_post_over_the_body_limit_gets_a_localized_413_page(app, staff):  # noqa: F811
    client = _client(app, "zhang")
    token = csrf_token(client, "/password")
    response = client.post("/start/leave_request", data={"csrf_token": token, "reason": "x" * (5 * 1024 * 1024)})
    assert response.status_code == 413
    assert "表单太大，无法发送。请缩短文字，或把长文档作为附件上传。" in response.get_data(as_text=True)


def test_uploads_keep_their_own_limit(app, staff):  # noqa: F811
    """The form-post limit is for plain posts: a multipart upload over 4 MB still reaches its view."""
    import io
    client = _client(app, "zhang")
    token = csrf_token(client, "/password")
    response = client.post("/files", data={"csrf_token": token, "file": (io.BytesIO(b"x" * (5 * 1024 * 1024)),
                                                                          "big.txt")},
                           content_type="multipart/form-data")
    assert response.status_code in (201, 200, 413)
    assert response.is_json  # the upload view's own answer (JSON), not the page of a too-large form


def _hold_first_reads(monkeypatch, parties: int) -> None:
    """Each thread's first restore of the instance waits until every thread has read it (same revision)."""
    barrier = threading.Barrier(parties, timeout=30)
    local = threading.local()
    real = step.restore

    def restore_then_wait(*args):
        workflow = real(*args)
        if not getattr(local, "waited", False):
            local.waited = True
            barrier.wait()
        return workflow

    from engine.runtime import delegation, instances, messages, moves, timers
    for module in (step, instances, moves, timers, messages, delegation):
        monkeypatch.setattr(module, "restore", restore_then_wait)


@pytest.mark.parametrize("people_racing", [("zhao", "qian"), ("wang", "wang")], ids=["two of a group", "double"])
def test_completions_of_one_task_racing_one_wins_the_other_gets_409(app, staff, sessions, monkeypatch,  # noqa: F811
                                                                   people_racing):
    instance_id = _start(_client(app, "zhang"))
    task = _open_task(sessions, instance_id)
    if people_racing[0] == "zhao":
        assert post(_client(app, "wang"), f"/tasks/{task['id']}", {"approved": "true"}).status_code == 302
        task = _open_task(sessions, instance_id)
        payload = {"recorded": "true"}
    else:
        payload = {"approved": "true"}
    clients = [_client(app, who) for who in people_racing]
    tokens = [csrf_token(client, "/password") for client in clients]
    _hold_first_reads(monkeypatch, 2)
    answers, lock = [], threading.Lock()

    def submit(client, token):
        response = client.post(f"/tasks/{task['id']}", data={**payload, "csrf_token": token})
        with lock:
            answers.append((response.status_code, response.get_data(as_text=True)))

    threads = [threading.Thread(target=submit, args=pair) for pair in zip(clients, tokens, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    statuses = sorted(status for status, _ in answers)
    assert statuses == [302, 409], [(s, t[:2000]) for s, t in answers if s != 302]
    lost = next(text for status, text in answers if status == 409)
    assert "其他人已先处理了此任务，您提交的内容未被保存。" in lost
