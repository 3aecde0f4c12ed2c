"""Issue 11 items 11 and 14: the decision first on the task page, decisions in the timeline and on the
instance page, one outcome (approved / rejected / withdrawn / ...) everywhere, a returned task without the
previous answer preselected, CSV with a decision and an outcome column."""

from __future__ import annotations

import csv
import io
import re

import pytest
import yaml
from sqlalchemy import select

from engine import runtime
from engine.data.models import WorkTask
from engine.errors import FormInvalidError
from engine.packages import deployment as packages
from engine.people import accounts
from engine.runtime import operations
from engine.runtime.outcome import outcome, outcomes
from engine.work import pages
from tests.engine.conftest import flow, write_package

from .conftest import PASSWORD, post, sign_in

BODY = f"""
<bpmn:startEvent id="start" liaison:form="ask"/>
<bpmn:userTask id="manager" name="Manager" liaison:assignee="boss" liaison:form="decide_why"/>
<bpmn:exclusiveGateway id="ok" default="no"/>
<bpmn:userTask id="director" name="Director" liaison:assignee="big" liaison:form="decide"/>
<bpmn:exclusiveGateway id="ok2" default="no2"/>
<bpmn:endEvent id="yes"/>
<bpmn:endEvent id="rejected"/>
{flow("start", "manager")}{flow("manager", "ok")}{flow("ok", "director", "approved == True")}
{flow("ok", "rejected", flow_id="no")}{flow("director", "ok2")}{flow("ok2", "yes", "approved == True")}
{flow("ok2", "rejected", flow_id="no2")}
"""
ASK = {"title": {"zh": "申请", "en": "Request"}, "fields": [
    {"name": "amount", "type": "number", "required": True, "label": {"zh": "金额", "en": "Amount"}},
    {"name": "reason", "type": "text", "label": {"zh": "事由", "en": "Reason"}}]}
DECIDE = {"title": {"zh": "审批", "en": "Decide"}, "fields": [
    {"name": "approved", "type": "radio", "required": True, "label": {"zh": "审批结果", "en": "Decision"},
     "options": [{"value": True, "label": {"zh": "同意", "en": "Approve"}},
                 {"value": False, "label": {"zh": "驳回", "en": "Reject"}}]}]}

DECIDE_WHY = {"title": {"zh": "审批", "en": "Decide"}, "fields": [
    *DECIDE["fields"], {"name": "why", "type": "text", "label": {"zh": "驳回原因", "en": "Why not"},
                        "visible_if": "approved == False"}]}  # reads the decision: the radio stays


@pytest.fixture
def deployed(sessions, people, tmp_path):
    with sessions() as session, session.begin():
        for name in ("boss", "big"):
            accounts.create_person_account(session, name, name.title(), PASSWORD)
    folder = write_package(tmp_path, "req", {"req": BODY})
    (folder / "forms" / "ask.yaml").write_text(yaml.safe_dump(ASK, allow_unicode=True))
    (folder / "forms" / "decide.yaml").write_text(yaml.safe_dump(DECIDE, allow_unicode=True))
    (folder / "forms" / "decide_why.yaml").write_text(yaml.safe_dump(DECIDE_WHY, allow_unicode=True))
    packages.deploy_package(sessions, packages.load_package(folder), "admin")


def _open(sessions, instance_id):
    with sessions() as session:
        return [(t.element_id, t.id) for t in session.scalars(
            select(WorkTask).where(WorkTask.instance_id == instance_id, WorkTask.status == "open"))]


def _client(app, name):
    client = app.test_client()
    assert sign_in(client, name).status_code == 302
    return client


def test_the_outcome_rule():
    assert outcome("running") == "running"
    assert outcome("completed", True) == "approved"
    assert outcome("completed", False) == "rejected"
    assert outcome("completed", None) == "finished"
    assert outcome("completed", "yes") == "finished"
    assert outcome("cancelled", None, "withdrawn") == "withdrawn"
    assert outcome("cancelled", None, "terminated") == "terminated"
    assert outcome("cancelled") == "cancelled"
    assert outcome("error") == "failed"


def test_rejected_and_approved_requests_look_different_everywhere(app, sessions, deployed):
    approved = runtime.start_instance(sessions, "req", {"amount": 1}, user="zhang").instance_id
    rejected = runtime.start_instance(sessions, "req", {"amount": 2}, user="zhang").instance_id
    withdrawn = runtime.start_instance(sessions, "req", {"amount": 3}, user="zhang").instance_id
    [(_e, task)] = _open(sessions, approved)
    runtime.complete_task(sessions, task, "boss", {"approved": True}, comment="fine")
    [(_e, task)] = _open(sessions, approved)
    runtime.complete_task(sessions, task, "big", {"approved": True}, comment="ok by me")
    [(_e, task)] = _open(sessions, rejected)
    runtime.complete_task(sessions, task, "boss", {"approved": False}, comment="too much")
    operations.withdraw(sessions, withdrawn, actor="zhang")
    with sessions() as session:
        assert outcomes(session, [approved, rejected, withdrawn]) == {
            approved: "approved", rejected: "rejected", withdrawn: "withdrawn"}

    zhang = _client(app, "zhang")
    page = zhang.get(f"/instances/{rejected}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'data-outcome="rejected"' in page and ">Rejected<" in page
    decisions = page[page.index('id="decisions"'):]
    assert "Boss" in decisions and "too much" in decisions and "outcome rejected" in decisions
    page = zhang.get(f"/instances/{approved}").get_data(as_text=True)
    assert 'data-outcome="approved"' in page
    decisions = page[page.index('id="decisions"'):page.index('id="timeline-title"')]
    assert decisions.index("fine") < decisions.index("ok by me")  # each approver, in order
    # the timeline says each decision too
    timeline = page[page.index('id="timeline-title"'):]
    assert timeline.count("outcome approved") == 2

    listing = zhang.get("/requests/").get_data(as_text=True)
    for instance_id, kind in ((approved, "approved"), (rejected, "rejected"), (withdrawn, "withdrawn")):
        row = re.search(rf'data-instance="{instance_id}">(.*?)</tr>', listing, re.S).group(1)
        assert f"outcome {kind}" in row

    response = zhang.get("/requests/?format=csv", headers={"Accept-Language": "zh"})
    assert response.mimetype == "text/csv" and response.mimetype_params["charset"] == "utf-8"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    column = rows[0].index("审批结果")
    by_id = {row[-1]: row[column] for row in rows[1:]}
    assert by_id == {str(approved): "已同意", str(rejected): "已拒绝", str(withdrawn): "已撤回"}

    boss = _client(app, "boss")
    done = boss.get("/inbox/?view=done&format=csv", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert done.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(done[1:])))
    decision, result = rows[0].index("Decision"), rows[0].index("Outcome")
    assert sorted((row[decision], row[result]) for row in rows[1:]) == [
        ("Approved", "Approved"), ("Rejected", "Rejected")]
    page = boss.get("/inbox/?view=done", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "outcome rejected" in page and "outcome approved" in page


def test_an_empty_requests_export_has_the_requests_headers(app, sessions, deployed):
    text = _client(app, "zhang").get("/requests/?format=csv", headers={"Accept-Language": "en"}).get_data(
        as_text=True)
    assert text.startswith("\ufeff") and next(csv.reader(io.StringIO(text[1:])))[:3] == [
        "Process", "Business key", "Status"]


def test_the_decision_comes_first_and_the_operations_behind_more(app, sessions, deployed):
    instance = runtime.start_instance(sessions, "req", {"amount": 5, "reason": "trip"}, user="zhang").instance_id
    [(_e, task)] = _open(sessions, instance)
    page = _client(app, "boss").get(f"/tasks/{task}").get_data(as_text=True)
    body = page[page.index("<main"):]
    request, decision, submit = body.index('id="request"'), body.index('id="decision"'), body.index('id="submit-task"')
    more = body.index('id="more-actions"')
    assert request < decision < submit < more
    assert body.index('id="transfer-form"') > more and body.index('id="delegate-form"') > more
    assert re.search(r'<details class="card more no-print" id="more-actions">\s*<summary>', body)
    assert "trip" in body[request:decision]  # the request's data, before the decision
    assert 'data-picker="people"' in body[body.index('id="transfer-form"'):]
    runtime.complete_task(sessions, task, "boss", {"approved": True})
    [(_e, director)] = _open(sessions, instance)
    body = _client(app, "big").get(f"/tasks/{director}").get_data(as_text=True)
    assert body.index('id="reject-task"') < body.index('id="more-actions"') < body.index('id="return-form"')
    body = _client(app, "root").get(f"/tasks/{director}").get_data(as_text=True)
    more = body.index('id="more-actions"')
    assert body.index('id="cc-form"') > more and body.index('id="jump-form"') > more
    body = _client(app, "boss").get(f"/tasks/{director}").get_data(as_text=True)  # boss may take it back
    assert body.index('id="take-back-form"') > body.index('id="more-actions"')


def test_a_returned_task_comes_back_without_the_previous_decision(app, sessions, deployed):
    instance = runtime.start_instance(sessions, "req", {"amount": 5}, user="zhang").instance_id
    [(_e, task)] = _open(sessions, instance)
    runtime.complete_task(sessions, task, "boss", {"approved": True})
    [(_e, director)] = _open(sessions, instance)
    big = _client(app, "big")
    assert post(big, f"/tasks/{director}/return", {"to": "previous", "comment": "check again"}).status_code == 302
    [(element, manager)] = _open(sessions, instance)
    assert element == "manager"
    page = _client(app, "boss").get(f"/tasks/{manager}").get_data(as_text=True)
    radios = re.findall(r'<input[^>]*name="approved"[^>]*>', page)
    assert radios and not any("checked" in radio for radio in radios)
    with pytest.raises(FormInvalidError):  # nor is the old decision kept when none is given
        runtime.complete_task(sessions, manager, "boss", {})


def test_a_plain_decision_is_made_with_approve_and_reject_buttons(app, sessions, deployed):
    instance = runtime.start_instance(sessions, "req", {"amount": 5}, user="zhang").instance_id
    [(_e, task)] = _open(sessions, instance)
    boss_page = _client(app, "boss").get(f"/tasks/{task}").get_data(as_text=True)
    assert 'id="approve-task"' not in boss_page and 'name="approved"' in boss_page  # `why` reads the decision
    runtime.complete_task(sessions, task, "boss", {"approved": True})
    [(_e, director)] = _open(sessions, instance)
    big = _client(app, "big")
    page = big.get(f"/tasks/{director}", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    approve = re.search(r'<button type="submit" name="approved" value="true"[^>]*id="approve-task">([^<]*)<', page)
    reject = re.search(r'<button type="submit" name="approved" value="false"[^>]*id="reject-task">([^<]*)<', page)
    assert approve.group(1) == "同意" and reject.group(1) == "驳回"  # the form's own option labels
    assert not re.search(r'<input[^>]*name="approved"', page)  # no radio besides the buttons
    implicit = page.index('class="implicit-submit"')  # Enter in a text box presses a disabled button
    assert implicit < approve.start() and "disabled" in page[page.rindex("<button", 0, implicit):implicit]
    response = post(big, f"/tasks/{director}", {"approved": "false", "task-comment": "no budget"},
                    token_from=f"/tasks/{director}")
    assert response.status_code == 302
    with sessions() as session:
        assert outcomes(session, [instance]) == {instance: "rejected"}


def test_a_later_step_that_only_shows_the_decision_still_shows_it(sessions, people, tmp_path):
    body = f"""
<bpmn:startEvent id="start"/>
<bpmn:userTask id="manager" liaison:assignee="boss" liaison:form="decide"/>
<bpmn:userTask id="hr" liaison:assignee="big" liaison:form="record"/>
<bpmn:endEvent id="end"/>
{flow("start", "manager")}{flow("manager", "hr")}{flow("hr", "end")}
"""
    record = {"fields": [{**DECIDE["fields"][0], "readonly": True}, {"name": "note", "type": "text"}]}
    folder = write_package(tmp_path, "rec", {"rec": body})
    (folder / "forms" / "decide.yaml").write_text(yaml.safe_dump(DECIDE, allow_unicode=True))
    (folder / "forms" / "record.yaml").write_text(yaml.safe_dump(record, allow_unicode=True))
    packages.deploy_package(sessions, packages.load_package(folder), "admin")
    instance = runtime.start_instance(sessions, "rec", {}, user="zhang").instance_id
    [(_e, task)] = _open(sessions, instance)
    runtime.complete_task(sessions, task, "boss", {"approved": True})
    [(_e, hr)] = _open(sessions, instance)
    with sessions() as session:
        assert pages.task_form(session, hr).values["approved"] is True  # shown, not decided here
    runtime.complete_task(sessions, hr, "big", {"note": "filed"})  # nor asked for again
    with sessions() as session:
        assert outcomes(session, [instance]) == {instance: "approved"}
