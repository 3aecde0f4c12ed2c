"""`liaison:allow` on the task page: what the node does not allow is not offered, and its posts are refused."""

from __future__ import annotations

from sqlalchemy import select

from engine import runtime
from engine.data.models import ApprovalItem, WorkTask
from engine.packages import deployment as packages
from engine.people import accounts
from tests.engine.conftest import flow, write_package

from .conftest import PASSWORD, post, sign_in

BODY = f"""
<bpmn:startEvent id="start"/>
<bpmn:userTask id="check" name="Check" liaison:mode="sequential" liaison:candidateUsers="boss"/>
<bpmn:userTask id="countersign" name="Countersign" liaison:mode="sequential" liaison:candidateUsers="wang,zhao"
               liaison:allow="return"/>
<bpmn:endEvent id="done"/>
{flow("start", "check")}{flow("check", "countersign")}{flow("countersign", "done")}
"""


def _open(sessions, instance_id):
    with sessions() as session:
        return [(t.element_id, t.assignee, t.id) for t in session.scalars(
            select(WorkTask).where(WorkTask.instance_id == instance_id, WorkTask.status == "open"))]


def _signers(sessions, task_id):
    with sessions() as session:
        return list(session.scalars(select(ApprovalItem.signer).where(ApprovalItem.task_id == task_id)
                                    .order_by(ApprovalItem.position)))


def test_the_task_page_offers_only_what_the_node_allows(app, sessions, people, tmp_path):
    with sessions() as session, session.begin():
        for name in ("boss", "wang", "zhao", "qian"):
            accounts.create_person_account(session, name, name.title(), PASSWORD)
    packages.deploy_package(sessions, packages.load_package(write_package(tmp_path, "req", {"req": BODY})), "admin")
    started = runtime.start_instance(sessions, "req", {}, user="zhang")
    check = started.open_tasks[0]["id"]
    boss, wang = app.test_client(), app.test_client()
    assert sign_in(boss, "boss").status_code == 302 and sign_in(wang, "wang").status_code == 302

    # a node without liaison:allow offers everything, as before
    page = boss.get(f"/tasks/{check}").get_data(as_text=True)
    assert 'id="transfer-form"' in page and 'id="add-signer-form"' in page
    runtime.complete_task(sessions, check, "boss", {"approved": True})
    [(element, holder, task)] = _open(sessions, started.instance_id)
    assert (element, holder) == ("countersign", "wang")

    # allow="return": the return form only
    page = wang.get(f"/tasks/{task}").get_data(as_text=True)
    assert 'id="return-form"' in page
    for hidden in ("transfer-form", "add-signer-form", "delegate-form"):
        assert f'id="{hidden}"' not in page
    assert post(wang, f"/tasks/{task}/transfer", {"to": "qian"}).status_code == 403
    assert post(wang, f"/tasks/{task}/signers/add", {"signer": "qian", "place": "after"}).status_code == 302
    assert "步骤 countersign 不允许加签" in wang.get(f"/tasks/{task}").get_data(as_text=True)  # the flashed refusal
    assert _signers(sessions, task) == ["wang", "zhao"] and _open(sessions, started.instance_id)[0][1] == "wang"

    assert post(wang, f"/tasks/{task}/return", {"to": "previous", "comment": "请补充"}).status_code == 302
    assert [(e, a) for e, a, _t in _open(sessions, started.instance_id)] == [("check", "boss")]
