"""Issue 11 item 12, the engine side: `preview.approval_chain` names the people the runtime's own assignment
resolution gives each upcoming node, following gateways the form data decides and saying where it cannot."""

from __future__ import annotations

import yaml

from engine import runtime
from engine.work import preview
from forms.build import FormContext, preview_data
from forms.schema import load_schema
from tests.conftest import add_people
from tests.engine.conftest import flow, write_package
from tests.engine.portal.support import ORDER, deploy_supplier_order

PURCHASE = (
    '<bpmn:startEvent id="start" liaison:form="request"/>' + flow("start", "lead") +
    '<bpmn:userTask id="lead" name="Lead" liaison:approvers="picked:lead" liaison:selfApproval="skip"/>'
    + flow("lead", "big") +
    '<bpmn:exclusiveGateway id="big" name="Large?" default="f_small"/>'
    + flow("big", "board", "amount > 1000") + flow("big", "fin", flow_id="f_small") +
    '<bpmn:userTask id="board" name="Board" liaison:mode="all" liaison:approvers="users:cfo,ceo"/>'
    + flow("board", "fin") +
    '<bpmn:userTask id="fin" name="Finance" liaison:candidateGroups="finance"/>' + flow("fin", "split") +
    '<bpmn:parallelGateway id="split"/>' + flow("split", "a") + flow("split", "b") +
    '<bpmn:userTask id="a" name="Archive" liaison:assignee="${lead}"/>' + flow("a", "join") +
    '<bpmn:userTask id="b" name="Notify" liaison:candidateUsers="cfo,ceo"/>' + flow("b", "join") +
    '<bpmn:parallelGateway id="join"/>' + flow("join", "ask") +
    '<bpmn:exclusiveGateway id="ask" name="Again?"/>'
    + flow("ask", "again", "approved == True") + flow("ask", "final", "approved == False") +
    '<bpmn:userTask id="again" liaison:approvers="initiator"/>' + flow("again", "end") +
    '<bpmn:userTask id="final" liaison:approvers="initiator"/>' + flow("final", "end") +
    '<bpmn:endEvent id="end"/>')


NAMES = {"lead": {"zh": "组长审批", "en": "Lead approval"}, "big": {"zh": "金额大？", "en": "Large amount?"},
         "board": {"zh": "董事会"}}


def _deploy(sessions, deploy_package, tmp_path, meta=None):
    folder = write_package(tmp_path, "purchase", {"purchase": PURCHASE}, meta=meta)
    (folder / "forms" / "request.yaml").write_text(yaml.safe_dump({"fields": [
        {"name": "lead", "type": "user"}, {"name": "amount", "type": "number"}]}))
    deploy_package(folder)
    add_people(sessions, "dev", "lead", "cfo", "ceo")


def _steps(chain):
    return [(s.element_id, [p["username"] for p in s.people], s.mode, bool(s.conditional), s.skipped)
            for s in chain.steps]


def test_the_chain_follows_the_gateways_the_data_decides(sessions, deploy_package, tmp_path):
    _deploy(sessions, deploy_package, tmp_path)
    with sessions() as session:
        large = preview.approval_chain(session, "purchase", "dev", {"lead": "lead", "amount": 5000})
        small = preview.approval_chain(session, "purchase", "dev", {"lead": "lead", "amount": 10})
        unknown = preview.approval_chain(session, "purchase", "dev", {"lead": "lead"})
    assert _steps(large) == [("lead", ["lead"], None, False, False), ("board", ["cfo", "ceo"], "all", False, False),
                             ("fin", [], None, False, False), ("a", ["lead"], None, False, False),
                             ("b", ["cfo", "ceo"], None, False, False)]
    assert large.steps[2].groups == [{"key": "finance", "label": "finance"}]
    assert large.undecided == [{"id": "ask", "name": "Again?"}]  # both branches have approvers: stop there
    assert [s.element_id for s in small.steps] == ["lead", "fin", "a", "b"]
    assert [s.element_id for s in unknown.steps] == ["lead"] and unknown.undecided == [{"id": "big", "name": "Large?"}]


def test_the_chain_applies_the_self_approval_policy_as_the_runtime_does(sessions, deploy_package, tmp_path):
    _deploy(sessions, deploy_package, tmp_path)
    with sessions() as session:
        itself = preview.approval_chain(session, "purchase", "lead", {"lead": "lead", "amount": 10})
        nobody = preview.approval_chain(session, "purchase", "dev", {"amount": 10})
    assert itself.steps[0].skipped
    assert nobody.steps[0].problem and not nobody.steps[0].people  # approversEmpty=fail: the start would fail
    started = runtime.start_instance(sessions, "purchase", {"lead": "cfo", "amount": 5000}, user="dev")
    with sessions() as session:
        shown = preview.approval_chain(session, "purchase", "dev", {"lead": "cfo", "amount": 5000})
    assert [t["assignee"] for t in started.open_tasks] == [p["username"] for p in shown.steps[0].people]


def test_the_chain_names_steps_and_gateways_as_the_package_does(sessions, deploy_package, tmp_path):
    _deploy(sessions, deploy_package, tmp_path, meta={"names": NAMES})
    with sessions() as session:
        zh = preview.approval_chain(session, "purchase", "dev", {"lead": "lead", "amount": 5000}, "zh")
        en = preview.approval_chain(session, "purchase", "dev", {"lead": "lead", "amount": 5000}, "en")
        undecided = preview.approval_chain(session, "purchase", "dev", {"lead": "lead"}, "en")
    assert [s.name for s in zh.steps[:3]] == ["组长审批", "董事会", "Finance"]  # no package name: the BPMN's
    assert [s.name for s in en.steps[:3]] == ["Lead approval", "董事会", "Finance"]  # zh when en is missing
    assert undecided.undecided == [{"id": "big", "name": "Large amount?"}]


def test_initiator_defaults_and_preview_data():
    schema = load_schema({"fields": [
        {"name": "manager", "type": "user", "required": True, "default_from": "initiator.manager"},
        {"name": "days", "type": "number", "required": True}]})
    from forms.build import form_class
    context = FormContext(lang="en", initiator={"username": "dev", "manager": "lead"})
    assert form_class(schema, None, "en")(None, context).manager.data == "lead"
    assert form_class(schema, None, "en")(None, FormContext(lang="en")).manager.data is None
    from werkzeug.datastructures import MultiDict
    assert preview_data(schema, MultiDict({"manager": "x", "days": "two"}), context) == {"manager": "x"}


def test_the_chain_says_an_outsider_does_an_external_step(sessions):
    deploy_supplier_order(sessions)
    with sessions() as session:
        chain = preview.approval_chain(session, "supplier_order", "zhang", ORDER)
    assert [(s.element_id, s.external, s.people, s.groups) for s in chain.steps] == [
        ("confirm_order", "supplier", [], [])]
