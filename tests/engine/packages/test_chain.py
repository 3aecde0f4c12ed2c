"""The approval chain (issue 16) as data: chain -> BPMN -> a package that validates, deploys and routes to the
right people -> the identical chain; BPMN the chain cannot show is refused naming the element; checks as data."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select

from engine import runtime
from engine.bpmn.check import BPMN_NS, BPMNDI_NS, DC_NS, DI_NS
from engine.bpmn.parser import LIAISON_NS
from engine.bpmn.sandbox import check_expression
from engine.data.models import ApprovalItem, Department, Person, PersonRole, Role, Timer, WorkTask
from engine.packages import deployment as packages
from engine.packages.chain import (
    ChainShapeError,
    bpmn_to_chain,
    chain_from_package,
    chain_package_files,
    chain_problems,
    chain_to_bpmn,
    condition_to_python,
    python_to_condition,
)
from engine.packages.chain.templates import (
    CHAIN_TEMPLATES,
    DECISION_FORM,
    HANDLING_FORM,
    chain_template,
    chain_template_files,
)
from engine.runtime import timers
from engine.work import queries

REQUEST_FORM = {"fields": [
    {"name": "title", "type": "text", "required": True, "label": {"zh": "标题", "en": "Title"}},
    {"name": "amount", "type": "money", "required": True, "label": {"zh": "金额", "en": "Amount"}},
    {"name": "start_day", "type": "date", "label": {"zh": "日期", "en": "Day"}},
    {"name": "tags", "type": "checkboxes", "options": ["urgent", "travel"]},
    {"name": "kind", "type": "select", "options": ["goods", "service"]}]}
FORMS = {"request": REQUEST_FORM, "decision": DECISION_FORM, "handling": HANDLING_FORM}


def _approver(node_id, rule, **extra):
    return {"kind": "approver", "id": node_id, "approvers": rule, "form": "decision", **extra}


# The example: start -> department head -> amount > 5000: finance 会签 of two; otherwise 或签 of two
# admins -> CC to HR -> end.
EXAMPLE = {
    "start": {"id": "submit", "name": {"zh": "发起", "en": "Submit"}, "form": "request",
              "starters": {"departments": ["SALES"]}},
    "nodes": [
        _approver("head", "department_head", name={"zh": "部门负责人", "en": "Department head"}),
        {"kind": "condition", "id": "by_amount", "name": {"zh": "金额", "en": "Amount"}, "branches": [
            {"id": "large", "name": {"zh": "大于 5000", "en": "Over 5000"},
             "condition": {"field": "amount", "op": ">", "value": 5000},
             "nodes": [_approver("finance", "users:fin1,fin2", mode="all",
                                 fields={"approved": "editable", "opinion": "readonly", "amount": "readonly",
                                         "kind": "hidden"})]},
            {"id": "other_cases", "name": {"zh": "其他情况", "en": "Other cases"}, "condition": None,
             "nodes": [_approver("admins", "users:adm1,adm2", mode="any")]}]},
        {"kind": "cc", "id": "cc_hr", "name": {"zh": "抄送人事", "en": "Copy HR"}, "to": ["role:hr"]},
    ]}

# Every node kind once.
EVERY_KIND = {
    "start": {"id": "start", "form": "request"},
    "nodes": [
        {"kind": "handler", "id": "prepare", "approvers": "initiator", "form": "handling", "dueDate": "P1D"},
        {"kind": "parallel", "id": "both", "branches": [
            {"id": "to_legal", "nodes": [_approver("legal", "users:adm1", timeoutAfter="P5D", timeoutAction="reject",
                                                   remindAfter="P1D", escalateAfter="P2D", approversEmpty="admin",
                                                   selfApproval="skip")]},
            {"id": "to_finance", "nodes": [{"kind": "cc", "id": "cc_finance", "to": ["role:finance", "users:adm2"],
                                            "when": "reach"}]},
            {"id": "nothing", "nodes": []}]},
        {"kind": "inclusive", "id": "extras", "branches": [
            {"id": "big", "condition": {"all": [{"field": "amount", "op": ">=", "value": 1000},
                                                {"any": [{"field": "title", "op": "not_empty"},
                                                         {"field": "kind", "op": "in", "value": ["goods"]}]}]},
             "nodes": [_approver("vote", "users:fin1,fin2", mode="vote", voteWeights="fin1:2", voteThreshold="0.6")]},
            {"id": "urgent", "condition": {"field": "tags", "op": "contains", "value": "urgent"},
             "nodes": [{"kind": "handler", "id": "rush", "approvers": "users:adm2", "form": "handling"}]},
            {"id": "plain", "condition": None, "nodes": []}]},
        {"kind": "delay", "id": "wait_hour", "duration": "PT1H"},
        {"kind": "trigger", "id": "notify", "operation": "echo", "parameters": {"amount": "amount * 2"},
         "result": "echoed"},
        {"kind": "trigger", "id": "announce", "message": "expense_done"},
        {"kind": "delay", "id": "until_day", "date_field": "start_day"},
    ]}

# username, department code, manager, roles; department heads below
PEOPLE = [("ceo", "HQ", None, ()), ("boss", "SALES", "ceo", ()), ("emp", "SALES", "boss", ()),
          ("fin1", "FIN", "ceo", ("finance",)), ("fin2", "FIN", "ceo", ("finance",)), ("adm1", "HQ", "ceo", ()),
          ("adm2", "HQ", "ceo", ()), ("hr1", "HQ", "ceo", ("hr",))]
HEADS = {"HQ": "ceo", "SALES": "boss", "FIN": "ceo"}


@pytest.fixture
def org(sessions):
    """A small org chart: emp works in SALES under boss (its head); two finance people, two admins, HR."""
    with sessions() as session, session.begin():
        departments = {"HQ": Department(code="HQ", name="HQ", path="/1/")}
        session.add(departments["HQ"])
        session.flush()
        for code in ("SALES", "FIN"):
            departments[code] = Department(code=code, name=code, parent_id=departments["HQ"].id, path="")
            session.add(departments[code])
            session.flush()
            departments[code].path = f"/1/{departments[code].id}/"
        people = {u: Person(username=u, name=u.title(), department_id=departments[d].id) for u, d, _m, _r in PEOPLE}
        session.add_all(people.values())
        session.flush()
        roles = {key: Role(key=key, name=key) for key in ("finance", "hr")}
        session.add_all(roles.values())
        session.flush()
        for username, _dept, manager, keys in PEOPLE:
            people[username].manager_id = people[manager].id if manager else None
            session.add_all(PersonRole(person_id=people[username].id, role_id=roles[k].id) for k in keys)
        for code, head in HEADS.items():
            departments[code].head_id = people[head].id
    return sessions


def _write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")
    return root


def _package(tmp_path, chain, key, forms=FORMS):
    return packages.load_package(_write(tmp_path / key, chain_package_files(chain, key, {"zh": key, "en": key},
                                                                            forms)))


def _open(sessions, instance_id):
    with sessions() as session:
        rows = session.scalars(select(WorkTask).where(WorkTask.instance_id == instance_id, WorkTask.status == "open")
                               .order_by(WorkTask.id))
        return {t.element_id: t for t in rows}


def _signers(sessions, task_id):
    with sessions() as session:
        return [i.signer for i in session.scalars(select(ApprovalItem).where(ApprovalItem.task_id == task_id)
                                                  .order_by(ApprovalItem.position))]


def _view(sessions, instance_id):
    with sessions() as session:
        return queries.instance_view(session, instance_id)


# -- round trip, validation ------------------------------------------------------------------------------------

@pytest.mark.parametrize("chain", [EXAMPLE, EVERY_KIND], ids=["example", "every_kind"])
def test_a_chain_becomes_a_package_that_validates_and_reads_back_as_the_same_chain(chain, tmp_path):
    package = _package(tmp_path, chain, "chained")
    assert not [n for n in package.notes if n.severity != "info"], package.notes
    assert chain_from_package(package.meta, package.bpmn["chained.bpmn"], package.forms) == chain
    assert chain_problems(chain, FORMS) == []


def test_allowed_operations_round_trip_as_liaison_attributes_and_unknown_names_are_problems(tmp_path):
    chain = copy.deepcopy(EXAMPLE)
    chain["nodes"][0].update(allow="return,transfer", returnTo="previous")
    chain["nodes"][1]["branches"][0]["nodes"][0]["allow"] = ""  # nothing: a 会签 without return, transfer, signers
    chain["nodes"].append({"kind": "handler", "id": "pay", "approvers": "users:fin1", "form": "handling",
                           "allow": "return,delegate", "returnTo": "initiator,previous"})
    package = _package(tmp_path, chain, "chained")
    assert not [n for n in package.notes if n.severity != "info"], package.notes
    xml = package.bpmn["chained.bpmn"]
    assert 'liaison:allow="return,transfer"' in xml and 'liaison:allow=""' in xml
    assert chain_from_package(package.meta, xml, package.forms) == chain
    assert chain_problems(chain, FORMS) == []
    chain["nodes"][0].update(allow="return,approve", returnTo="start")
    found = [(node, str(message)) for node, message in chain_problems(chain, FORMS)]
    assert found == [
        ("head", "unknown operation approve (known: return, transfer, delegate, addSigner, removeSigner)"),
        ("head", "unknown return target start (known: initiator, previous, any)")]


def test_field_permissions_live_in_the_form_s_access_and_starters_in_package_yaml(tmp_path):
    package = _package(tmp_path, EXAMPLE, "perm")
    assert package.forms["decision"]["access"] == {"finance": {"editable": ["approved"], "readonly": ["opinion"]}}
    assert package.forms["request"]["access"] == {"finance": {"readonly": ["amount"], "hidden": ["kind"]}}
    assert package.meta["starters"] == {"departments": ["SALES"]}
    assert package.meta["names"]["head"] == {"zh": "部门负责人", "en": "Department head"}
    assert package.meta["names"]["head_decided"]["en"] == "Approved?"


def test_bpmn_alone_gives_the_chain_with_bpmn_names_and_no_package_settings():
    xml, _names = chain_to_bpmn(EXAMPLE, "alone")
    chain = bpmn_to_chain(xml)
    assert chain["start"] == {"id": "submit", "name": "发起", "form": "request"}
    assert chain["nodes"][0] == {"kind": "approver", "id": "head", "name": "部门负责人", "form": "decision",
                                 "approvers": "department_head"}
    assert chain["nodes"][1]["branches"][0]["condition"] == {"field": "amount", "op": ">", "value": 5000}


# -- running -------------------------------------------------------------------------------------------------

def _deploy(sessions, package):
    with sessions() as session, session.begin():
        return packages.deploy(session, package, "owner")


def test_the_example_routes_an_8000_request_to_the_head_then_the_two_finance_signers(org, tmp_path):
    _deploy(org, _package(tmp_path, EXAMPLE, "expense"))
    started = runtime.start_instance(org, "expense", {"title": "Laptop", "amount": 8000}, user="emp")
    head = _open(org, started.instance_id)["head"]
    assert head.assignee == "boss"
    runtime.complete_task(org, head.id, "boss", {"approved": True})
    finance = _open(org, started.instance_id)["finance"]
    assert _signers(org, finance.id) == ["fin1", "fin2"]
    runtime.complete_task(org, finance.id, "fin1", {"approved": True})
    runtime.complete_task(org, finance.id, "fin2", {"approved": True})
    view = _view(org, started.instance_id)
    assert (view["status"], view["end_event"], view["outcome"]) == ("completed", "end", "approved")


def test_the_example_sends_a_small_request_to_either_admin_and_a_rejection_ends_it(org, tmp_path):
    _deploy(org, _package(tmp_path, EXAMPLE, "expense"))
    small = runtime.start_instance(org, "expense", {"title": "Pens", "amount": 30}, user="emp")
    runtime.complete_task(org, _open(org, small.instance_id)["head"].id, "boss", {"approved": True})
    admins = _open(org, small.instance_id)
    assert list(admins) == ["admins"] and _signers(org, admins["admins"].id) == ["adm1", "adm2"]
    runtime.complete_task(org, admins["admins"].id, "adm2", {"approved": True})
    assert _view(org, small.instance_id)["outcome"] == "approved"

    refused = runtime.start_instance(org, "expense", {"title": "Car", "amount": 90000}, user="emp")
    runtime.complete_task(org, _open(org, refused.instance_id)["head"].id, "boss", {"approved": False})
    view = _view(org, refused.instance_id)
    assert (view["status"], view["end_event"], view["outcome"]) == ("completed", "head_rejected", "rejected")
    assert _open(org, refused.instance_id) == {}


def test_every_kind_of_node_runs_to_the_end(org, tmp_path):
    _deploy(org, _package(tmp_path, EVERY_KIND, "every"))
    data = {"title": "Trip", "amount": 2000, "tags": ["urgent"], "start_day": "2020-01-02", "kind": "service"}
    started = runtime.start_instance(org, "every", data, user="emp")
    prepare = _open(org, started.instance_id)["prepare"]
    assert prepare.assignee == "emp"
    runtime.complete_task(org, prepare.id, "emp", {"handling_note": "booked"})
    legal = _open(org, started.instance_id)["legal"]
    assert legal.assignee == "adm1"
    runtime.complete_task(org, legal.id, "adm1", {"approved": True})
    both = _open(org, started.instance_id)
    assert set(both) == {"vote", "rush"}  # both inclusive branches whose conditions hold
    assert _signers(org, both["vote"].id) == ["fin1", "fin2"]
    runtime.complete_task(org, both["vote"].id, "fin1", {"approved": True})  # weight 2 of 3 passes 0.6
    runtime.complete_task(org, both["rush"].id, "adm2", {"handling_note": "done"})
    with org() as session:
        [waiting] = session.scalars(select(Timer).where(Timer.instance_id == started.instance_id,
                                                        Timer.status == "pending", Timer.kind == "event")).all()
    assert waiting.element_id == "wait_hour"
    timers.fire_due(org, now=datetime(2100, 1, 1, tzinfo=UTC))  # then the day from the form has passed already
    view = _view(org, started.instance_id)
    assert (view["status"], view["end_event"]) == ("completed", "end")
    assert view["data"]["echoed"] == {"amount": 4000}


# -- what does not fit ---------------------------------------------------------------------------------------

def _with(xml: str, after_id: str, snippet: str) -> str:
    root = etree.fromstring(xml.encode("utf-8"))
    process = root.find(f"{{{BPMN_NS}}}process")
    anchor = process.find(f"*[@id='{after_id}']")
    for element in etree.fromstring(f'<x xmlns:bpmn="{BPMN_NS}">{snippet}</x>'):
        anchor.addnext(element)
    return etree.tostring(root, encoding="unicode")


def test_a_boundary_timer_is_refused_naming_the_element():
    xml, _ = chain_to_bpmn(EXAMPLE, "timed")
    xml = _with(xml, "head", '<bpmn:boundaryEvent id="too_slow" attachedToRef="head"><bpmn:timerEventDefinition>'
                             '<bpmn:timeDuration>"P1D"</bpmn:timeDuration></bpmn:timerEventDefinition>'
                             '</bpmn:boundaryEvent>')
    with pytest.raises(ChainShapeError) as caught:
        bpmn_to_chain(xml)
    assert caught.value.element_id == "too_slow"
    assert "too_slow" in str(caught.value) and "boundary event" in str(caught.value)


@pytest.mark.parametrize("snippet, after, element", [
    ('<bpmn:subProcess id="sub"/>', "head", "sub"),
    ('<bpmn:sequenceFlow id="back" sourceRef="head_decided" targetRef="head">'
     '<bpmn:conditionExpression>approved is None</bpmn:conditionExpression></bpmn:sequenceFlow>', "head", "head"),
], ids=["subprocess", "loop"])
def test_other_shapes_are_refused_naming_the_element(snippet, after, element):
    xml, _ = chain_to_bpmn(EXAMPLE, "odd")
    with pytest.raises(ChainShapeError) as caught:
        bpmn_to_chain(_with(xml, after, snippet))
    assert caught.value.element_id == element


def test_branches_that_do_not_join_are_refused_naming_the_gateway():
    xml, _ = chain_to_bpmn(EXAMPLE, "split")
    root = etree.fromstring(xml.encode("utf-8"))
    onward = root.find(f".//{{{BPMN_NS}}}sequenceFlow[@id='finance_on']")
    onward.set("targetRef", "end")  # the large branch ends on its own
    with pytest.raises(ChainShapeError) as caught:
        bpmn_to_chain(etree.tostring(root, encoding="unicode"))
    assert caught.value.element_id == "by_amount"


def _with_lanes(xml: str, lanes: str) -> str:
    root = etree.fromstring(xml.encode("utf-8"))
    process = root.find(f"{{{BPMN_NS}}}process")
    wrapper = etree.fromstring(f'<x xmlns:bpmn="{BPMN_NS}" xmlns:liaison="{LIAISON_NS}">{lanes}</x>')
    process.insert(0, wrapper[0])
    return etree.tostring(root, encoding="unicode")


def test_a_lane_with_a_liaison_setting_is_refused_naming_the_lane():
    xml, _ = chain_to_bpmn(EXAMPLE, "laned")
    plain = _with_lanes(xml, '<bpmn:laneSet id="ls"><bpmn:lane id="staff" name="Staff">'
                             '<bpmn:flowNodeRef>head</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>')
    assert bpmn_to_chain(plain) == bpmn_to_chain(xml)  # a lane that holds no setting loses nothing
    nested = _with_lanes(xml, '<bpmn:laneSet id="ls"><bpmn:lane id="outer"><bpmn:childLaneSet id="inner_set">'
                              '<bpmn:lane id="suppliers" liaison:external="supplier">'
                              '<bpmn:flowNodeRef>head</bpmn:flowNodeRef></bpmn:lane></bpmn:childLaneSet>'
                              '</bpmn:lane></bpmn:laneSet>')
    with pytest.raises(ChainShapeError) as caught:
        bpmn_to_chain(nested)
    assert caught.value.element_id == "suppliers"
    assert "liaison:external" in str(caught.value) and "suppliers" in str(caught.value)


def test_the_supplier_order_lanes_are_named_before_its_pool_is_refused():
    shipped = Path(__file__).resolve().parents[3] / "processes" / "supplier_order" / "supplier_order.bpmn"
    with pytest.raises(ChainShapeError) as caught:
        bpmn_to_chain(shipped.read_text(encoding="utf-8"))
    assert caught.value.element_id == "supplier_lane"


# -- checks as data --------------------------------------------------------------------------------------------

def test_problems_of_a_chain_name_the_node():
    bad = copy.deepcopy(EXAMPLE)
    bad["nodes"][0].pop("approvers")
    branches = bad["nodes"][1]["branches"]
    branches[0]["condition"] = None
    branches.insert(1, {"id": "gone", "condition": {"field": "amout", "op": ">", "value": 1}, "nodes": []})
    bad["nodes"].append({"kind": "parallel", "id": "lonely", "branches": []})
    bad["nodes"].append({"kind": "cc", "id": "cc_nobody", "to": []})
    bad["nodes"].append({"kind": "approver", "id": "head", "approvers": "manager:x"})
    bad["nodes"].append({"kind": "condition", "id": "typed", "branches": [
        {"id": "t1", "condition": {"field": "title", "op": ">", "value": "a"}, "nodes": []},
        {"id": "t2", "condition": None, "nodes": []}]})
    bad["nodes"].append(_approver("grid", "manager", fields={"amount": "editable", "nope": "hidden",
                                                             "opinion": "maybe"}))
    found = [(node, str(message)) for node, message in chain_problems(bad, FORMS)]
    assert ("grid", "field amount is on the start form only: this node's form cannot edit it") in found
    assert ("grid", "neither the node's form nor the start form has a field nope") in found
    assert ("grid", "field opinion: maybe is not editable, readonly or hidden") in found
    assert ("head", "no approver rule: say who handles this node") in found
    assert ("by_amount", "branch large has no condition (only the last branch, other cases, has none)") in found
    assert ("by_amount", "branch gone: the start form has no field amout") in found
    assert ("lonely", "a branch node needs at least two branches") in found
    assert ("cc_nobody", "a CC node names nobody") in found
    assert ("head", "the id head is used twice") in found
    assert any(node == "head" and "manager:x" in text for node, text in found)
    assert ("typed", "branch t1: > cannot compare field title") in found
    assert all(node is not None for node, _ in found)


# -- conditions ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("condition, expression", [
    ({"field": "amount", "op": ">", "value": 5000}, "amount > 5000"),
    ({"field": "amount", "op": "<=", "value": 0.5}, "amount <= 0.5"),
    ({"field": "title", "op": "==", "value": "采购"}, "title == '采购'"),
    ({"field": "kind", "op": "in", "value": ["goods", "service"]}, "kind in ['goods', 'service']"),
    ({"field": "kind", "op": "not_in", "value": ["goods"]}, "kind not in ['goods']"),
    ({"field": "tags", "op": "contains", "value": "urgent"}, "'urgent' in (tags or [])"),
    ({"field": "title", "op": "empty"}, "title in (None, '', [])"),
    ({"field": "title", "op": "not_empty"}, "title not in (None, '', [])"),
    ({"any": [{"all": [{"field": "a", "op": "==", "value": True}, {"field": "b", "op": "!=", "value": None}]},
              {"field": "c", "op": ">=", "value": -3}]}, "(a == True and b != None) or c >= -3"),
])
def test_conditions_are_python_the_sandbox_accepts_and_read_back(condition, expression):
    assert condition_to_python(condition) == expression
    assert check_expression(expression, "condition") is None
    assert python_to_condition(expression) == condition


def test_an_expression_of_another_shape_is_not_a_chain_condition():
    from engine.packages.chain.conditions import ConditionShapeError

    for expression in ("len(title) > 3", "amount > other", "amount + 1 > 2", "1 < amount < 3"):
        with pytest.raises(ConditionShapeError):
            python_to_condition(expression)


# -- diagram ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("chain", [EXAMPLE, EVERY_KIND, chain_template("purchase")["chain"]],
                         ids=["example", "every_kind", "purchase"])
def test_the_diagram_draws_every_element_top_to_bottom_without_overlaps(chain):
    xml, _ = chain_to_bpmn(chain, "drawn")
    root = etree.fromstring(xml.encode("utf-8"))
    process = root.find(f"{{{BPMN_NS}}}process")
    nodes = [e.get("id") for e in process if etree.QName(e).localname != "sequenceFlow"]
    flows = [e.get("id") for e in process if etree.QName(e).localname == "sequenceFlow"]
    shapes = {}
    for shape in root.iter(f"{{{BPMNDI_NS}}}BPMNShape"):
        bounds = shape.find(f"{{{DC_NS}}}Bounds")
        shapes[shape.get("bpmnElement")] = tuple(float(bounds.get(k)) for k in ("x", "y", "width", "height"))
    edges = {e.get("bpmnElement"): e.findall(f"{{{DI_NS}}}waypoint") for e in root.iter(f"{{{BPMNDI_NS}}}BPMNEdge")}
    assert sorted(shapes) == sorted(nodes) and sorted(edges) == sorted(flows)
    assert all(len(points) >= 2 for points in edges.values())
    boxes = list(shapes.items())
    for i, (a, (ax, ay, aw, ah)) in enumerate(boxes):
        assert ax >= 0 and ay >= 0
        for b, (bx, by, bw, bh) in boxes[i + 1:]:
            assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay, f"{a} overlaps {b}"
    start_y, end_y = shapes[chain["start"]["id"]][1], shapes["end"][1]
    assert all(start_y <= y <= end_y for _x, y, _w, _h in shapes.values())


# -- templates -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(CHAIN_TEMPLATES))
def test_a_chain_template_makes_a_package_that_validates_and_reads_back(name, tmp_path):
    template = chain_template(name)
    assert template["name"]["zh"] and template["name"]["en"]
    assert chain_problems(template["chain"], template["forms"]) == []
    package = packages.load_package(_write(tmp_path / name, chain_template_files(name, f"c_{name}")))
    assert package.notes == []
    assert chain_from_package(package.meta, package.bpmn[f"c_{name}.bpmn"], package.forms) == template["chain"]


def test_a_bpmn_approval_template_whose_branches_end_apart_is_refused_naming_its_gateway():
    from engine.packages.templates import template_files

    xml = template_files("approval", "plain")["plain.bpmn"]
    with pytest.raises(ChainShapeError) as caught:
        bpmn_to_chain(xml)
    assert caught.value.element_id == "decision"


def test_every_chain_message_has_a_chinese_translation():
    import ast

    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[3]
    with (root / "web/translations/zh/LC_MESSAGES/messages.po").open("rb") as po:
        catalog = read_po(po)
    ids = {node.args[0].value for path in (root / "engine/packages/chain").glob("*.py")
           for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
           if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "msg"}
    assert ids and not [i for i in sorted(ids) if not (catalog.get(i) and catalog.get(i).string)]
