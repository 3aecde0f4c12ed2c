"""An approval node with several signers on the task page: signers and their decisions shown, the
turn respected, decisions recorded one by one."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import runtime
from engine.data.models import ApprovalItem, WorkTask
from engine.packages import deployment as packages
from engine.people import accounts
from tests.engine.conftest import flow, write_package

from .conftest import PASSWORD, post, sign_in

BODY = f"""
<bpmn:startEvent id="start"/>
<bpmn:userTask id="countersign" name="Countersign" liaison:mode="{{mode}}" liaison:candidateUsers="wang,zhao"
               liaison:form="decision"/>
<bpmn:endEvent id="done"/>
{flow("start", "countersign")}{flow("countersign", "done")}
"""
DECISION = """
fields:
  - {name: approved, type: radio, label: {en: Decision, zh: 审批意见}, required: true,
     options: [{value: true, label: {en: Approve, zh: 同意}}, {value: false, label: {en: Reject, zh: 拒绝}}]}
"""


@pytest.fixture
def node(sessions, people, tmp_path):
    def start(mode):
        with sessions() as session, session.begin():
            for name in ("wang", "zhao"):
                accounts.create_person_account(session, name, name.title(), PASSWORD)
        folder = write_package(tmp_path / mode, "sign", {"sign": BODY.replace("{mode}", mode)})
        (folder / "forms" / "decision.yaml").write_text(DECISION)
        packages.deploy_package(sessions, packages.load_package(folder), "admin")
        return runtime.start_instance(sessions, "sign", {}, user="zhang").open_tasks[0]["id"]
    return start


def _items(sessions, task_id):
    with sessions() as session:
        return [(i.signer, i.status) for i in session.scalars(
            select(ApprovalItem).where(ApprovalItem.task_id == task_id).order_by(ApprovalItem.position))]


def test_sequential_node_page_shows_signers_and_keeps_the_turn(app, sessions, node):
    task = node("sequential")
    wang, zhao = app.test_client(), app.test_client()
    assert sign_in(wang, "wang").status_code == 302 and sign_in(zhao, "zhao").status_code == 302
    page = wang.get(f"/tasks/{task}").get_data(as_text=True)
    assert 'class="signers"' in page, page[:3000]
    assert "wang" in page.lower() and "zhao" in page.lower()
    assert "/claim" not in page  # a node with signers is never claimed
    # zhao does not see the node before his turn (it is in nobody else's inbox but the current signer's)
    assert post(zhao, f"/tasks/{task}", {"approved": "true"}).status_code == 404
    assert post(wang, f"/tasks/{task}", {"approved": "true"}).status_code == 302
    assert _items(sessions, task) == [("wang", "approved"), ("zhao", "open")]
    assert post(zhao, f"/tasks/{task}", {"approved": "false"}).status_code == 302
    assert _items(sessions, task) == [("wang", "approved"), ("zhao", "rejected")]


def test_delegate_from_the_task_page_and_back(app, sessions, people, tmp_path):
    body = BODY.replace('liaison:mode="{mode}" liaison:candidateUsers="wang,zhao"', 'liaison:assignee="wang"')
    with sessions() as session, session.begin():
        for name in ("wang", "zhao"):
            accounts.create_person_account(session, name, name.title(), PASSWORD)
    folder = write_package(tmp_path, "plain", {"plain": body})
    (folder / "forms" / "decision.yaml").write_text(DECISION)
    packages.deploy_package(sessions, packages.load_package(folder), "admin")
    task = runtime.start_instance(sessions, "plain", {}, user="zhang").open_tasks[0]["id"]
    wang, zhao = app.test_client(), app.test_client()
    assert sign_in(wang, "wang").status_code == 302 and sign_in(zhao, "zhao").status_code == 302
    assert 'id="delegate-form"' in wang.get(f"/tasks/{task}").get_data(as_text=True)
    assert post(zhao, f"/tasks/{task}/delegate", {"to": "wang"}).status_code in (403, 404)
    assert post(wang, f"/tasks/{task}/delegate", {"to": "zhao", "comment": "看一下"}).status_code == 302
    page = zhao.get(f"/tasks/{task}").get_data(as_text=True)
    assert 'id="delegate-form"' not in page  # a delegated task is not delegated again
    assert post(zhao, f"/tasks/{task}", {"approved": "true", "comment": "ok"}).status_code == 302
    with sessions() as session:
        from engine.data.models import WorkTask
        row = session.get(WorkTask, task)
        assert (row.assignee, row.delegated_by, row.status) == ("wang", None, "open")
    assert post(wang, f"/tasks/{task}", {"approved": "true"}).status_code == 302


def test_add_and_remove_a_signer_from_the_task_page(app, sessions, node):
    task = node("all")
    with sessions() as session, session.begin():
        accounts.create_person_account(session, "qian", "Qian", PASSWORD)
    wang, zhao = app.test_client(), app.test_client()
    assert sign_in(wang, "wang").status_code == 302 and sign_in(zhao, "zhao").status_code == 302
    page = wang.get(f"/tasks/{task}").get_data(as_text=True)
    assert 'id="add-signer-form"' in page and 'value="alongside"' in page and 'value="before"' not in page
    assert post(wang, f"/tasks/{task}/signers/add", {"signer": "qian", "place": "alongside"}).status_code == 302
    assert _items(sessions, task) == [("wang", "open"), ("zhao", "open"), ("qian", "open")]
    # zhao did not add qian: no remove button for him, and his post is refused
    assert 'signers/remove' not in zhao.get(f"/tasks/{task}").get_data(as_text=True)
    post(zhao, f"/tasks/{task}/signers/remove", {"signer": "qian"})
    assert ("qian", "open") in _items(sessions, task)
    assert 'signers/remove' in wang.get(f"/tasks/{task}").get_data(as_text=True)
    assert post(wang, f"/tasks/{task}/signers/remove", {"signer": "qian"}).status_code == 302
    assert ("qian", "cancelled") in _items(sessions, task)


def test_signers_and_who_the_request_waits_for_are_named_not_usernames(app, sessions, node):
    task = node("all")
    with sessions() as session, session.begin():
        accounts.create_person_account(session, "qian", "钱七", PASSWORD)
    wang, zhang = app.test_client(), app.test_client()
    assert sign_in(wang, "wang").status_code == 302 and sign_in(zhang, "zhang").status_code == 302
    assert post(wang, f"/tasks/{task}/signers/add", {"signer": "qian", "place": "alongside"}).status_code == 302
    page = wang.get(f"/tasks/{task}").get_data(as_text=True)
    assert '<span class="signer">钱七</span>' in page and '<span class="signer">Zhao</span>' in page
    assert '<span class="signer">qian</span>' not in page
    with sessions() as session:
        instance_id = session.get(WorkTask, task).instance_id
    waiting = zhang.get(f"/instances/{instance_id}?lang=zh").get_data(as_text=True)
    assert "等待 Wang, Zhao, 钱七 处理" in waiting and "尚无人处理" not in waiting


def test_the_inbox_lists_a_node_with_signers_without_a_claim_button(app, sessions, node):
    task = node("all")
    wang = app.test_client()
    assert sign_in(wang, "wang").status_code == 302
    inbox = wang.get("/inbox/").get_data(as_text=True)
    assert f'data-task="{task}"' in inbox  # each signer has it to do
    assert f'action="/inbox/tasks/{task}/claim"' not in inbox  # signed by each, never claimed
