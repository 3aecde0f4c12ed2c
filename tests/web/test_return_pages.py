"""Return, take back and jump from the task and instance pages."""

from __future__ import annotations

from sqlalchemy import select

from engine import runtime
from engine.data.models import WorkTask
from engine.packages import deployment as packages
from engine.people import accounts
from tests.engine.conftest import flow, write_package

from .conftest import PASSWORD, post, sign_in

BODY = f"""
<bpmn:startEvent id="start"/>
<bpmn:userTask id="manager" name="Manager" liaison:assignee="boss"/>
<bpmn:userTask id="director" name="Director" liaison:assignee="big"/>
<bpmn:endEvent id="done"/>
{flow("start", "manager")}{flow("manager", "director")}{flow("director", "done")}
"""


def _open(sessions, instance_id):
    with sessions() as session:
        return [(t.element_id, t.assignee, t.id) for t in session.scalars(
            select(WorkTask).where(WorkTask.instance_id == instance_id, WorkTask.status == "open"))]


def test_return_take_back_and_jump_from_the_pages(app, sessions, people, tmp_path):
    with sessions() as session, session.begin():
        for name in ("boss", "big"):
            accounts.create_person_account(session, name, name.title(), PASSWORD)
    packages.deploy_package(sessions, packages.load_package(write_package(tmp_path, "req", {"req": BODY})), "admin")
    started = runtime.start_instance(sessions, "req", {}, user="zhang")
    instance = started.instance_id
    runtime.complete_task(sessions, started.open_tasks[0]["id"], "boss", {})
    [(_e, _a, director)] = _open(sessions, instance)
    boss, big, root = app.test_client(), app.test_client(), app.test_client()
    for client, name in ((boss, "boss"), (big, "big"), (root, "root")):
        assert sign_in(client, name).status_code == 302

    # boss completed the step before and nobody acted since: he may take it back
    assert 'id="take-back-form"' in boss.get(f"/instances/{instance}").get_data(as_text=True)
    assert 'id="take-back-form"' not in big.get(f"/instances/{instance}").get_data(as_text=True)
    assert post(boss, f"/tasks/{director}/take-back").status_code == 302
    [(element, assignee, manager)] = _open(sessions, instance)
    assert (element, assignee) == ("manager", "boss")

    runtime.complete_task(sessions, manager, "boss", {})
    [(_e, _a, director)] = _open(sessions, instance)
    page = big.get(f"/tasks/{director}").get_data(as_text=True)
    assert 'id="return-form"' in page and 'id="jump-form"' not in page
    assert post(boss, f"/tasks/{director}/return", {"to": "previous", "comment": "x"}).status_code in (403, 404)
    assert post(big, f"/tasks/{director}/return", {"to": "previous", "comment": "金额不对"}).status_code == 302
    [(element, _a, manager)] = _open(sessions, instance)
    assert element == "manager"

    assert 'id="jump-form"' in root.get(f"/tasks/{manager}").get_data(as_text=True)
    assert post(boss, f"/tasks/{manager}/jump", {"to": "director", "comment": "x"}).status_code == 403
    assert post(root, f"/tasks/{manager}/jump", {"to": "director", "comment": "经理休假"}).status_code == 302
    assert [e for e, _a, _t in _open(sessions, instance)] == ["director"]


def test_a_refused_jump_answers_4xx_with_the_reason_and_process_admins_may_jump(app, sessions, people, tmp_path):
    with sessions() as session, session.begin():
        for name in ("boss", "big", "padmin"):
            accounts.create_person_account(session, name, name.title(), PASSWORD)
    folder = write_package(tmp_path, "req", {"req": BODY}, meta={"admins": ["padmin"]})
    packages.deploy_package(sessions, packages.load_package(folder), "admin")
    started = runtime.start_instance(sessions, "req", {}, user="zhang")
    manager = started.open_tasks[0]["id"]
    root, padmin = app.test_client(), app.test_client()
    for client, name in ((root, "root"), (padmin, "padmin")):
        assert sign_in(client, name).status_code == 302
    refused = post(root, f"/tasks/{manager}/jump", {"to": "no_such_node", "comment": "x"})
    assert refused.status_code == 403 and "no_such_node" in refused.get_data(as_text=True)
    assert [e for e, _a, _t in _open(sessions, started.instance_id)] == ["manager"]  # nothing moved
    # the engine's rule, not the page's: a process admin named in package.yaml may jump too
    assert runtime.may_jump(sessions, manager, "padmin") and not runtime.may_jump(sessions, manager, "boss")
    assert 'id="jump-form"' in padmin.get(f"/tasks/{manager}").get_data(as_text=True)
    assert post(padmin, f"/tasks/{manager}/jump", {"to": "director", "comment": "急"}).status_code == 302
    assert [e for e, _a, _t in _open(sessions, started.instance_id)] == ["director"]
