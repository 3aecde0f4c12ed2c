"""`liaison:allow` / `liaison:returnTo` (issue 16): the operations a node allows, refused on every engine path.

ann starts; boss holds `check` (allow="return,transfer": no delegation), then `countersign`
(sequential carl, dora; allow="return", returnTo="previous"). root is a super admin.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import runtime
from engine.data.models import AdminGrant, Person, WorkTask
from engine.errors import InvalidPackageError, NotPermittedError
from engine.packages import deployment as packages
from engine.runtime import operations
from engine.runtime.node_rules import EVERYTHING, allow_problems, rules_of
from tests.engine.conftest import flow, write_package

BODY = f"""
<bpmn:startEvent id="start"/>
<bpmn:userTask id="check" name="Check" liaison:assignee="boss" liaison:allow="return,transfer"/>
<bpmn:userTask id="countersign" name="Countersign" liaison:mode="sequential" liaison:candidateUsers="carl,dora"
               liaison:allow="return" liaison:returnTo="previous"/>
<bpmn:endEvent id="done"/>
{flow("start", "check")}{flow("check", "countersign")}{flow("countersign", "done")}
"""


@pytest.fixture
def world(sessions, deploy_package, tmp_path):
    with sessions() as session, session.begin():
        for name in ("ann", "boss", "carl", "dora", "eve", "root"):
            session.add(Person(username=name, name=name.title()))
        session.flush()
        session.add(AdminGrant(person_id=session.scalar(select(Person.id).where(Person.username == "root")),
                               department_id=None))
    deploy_package(write_package(tmp_path, "req", {"req": BODY}))
    started = runtime.start_instance(sessions, "req", {}, user="ann")
    return {"instance": started.instance_id, "check": started.open_tasks[0]["id"]}


def _open(sessions, instance_id):
    with sessions() as session:
        return [(t.element_id, t.assignee, t.id) for t in session.scalars(
            select(WorkTask).where(WorkTask.instance_id == instance_id, WorkTask.status == "open"))]


def test_the_attribute_values():
    assert rules_of({}) == EVERYTHING
    assert rules_of({"allow": ""}).operations == frozenset()
    assert rules_of({"allow": "return, transfer"}).operations == {"return", "transfer"}
    assert rules_of({"allow": ["delegate"]}).operations == {"delegate"}
    assert rules_of({"returnTo": "previous"}).may_return_to("previous")
    assert not rules_of({"returnTo": "previous"}).may_return_to("any")
    assert not rules_of({"allow": "transfer"}).may_return_to("previous")  # no returns at all
    assert allow_problems({"allow": "return,approve", "returnTo": "nowhere"}) == [
        "liaison:allow `return,approve`: unknown operation approve "
        "(known: return, transfer, delegate, addSigner, removeSigner)",
        "liaison:returnTo `nowhere`: unknown target nowhere (known: initiator, previous, any)"]
    assert allow_problems({"allow": "return"}, "serviceTask") == ["liaison:allow is for user tasks, not a serviceTask"]
    assert allow_problems({"allow": "", "returnTo": "any"}) == []


def test_deploy_refuses_unknown_names_with_the_element_id(tmp_path):
    body = BODY.replace('liaison:allow="return,transfer"', 'liaison:allow="return,forward"')
    with pytest.raises(InvalidPackageError) as refused:
        packages.load_package(write_package(tmp_path, "req", {"req": body}))
    [problem] = [p for p in refused.value.problems if "liaison:allow" in str(p)]
    assert problem.element_id == "check" and "unknown operation forward" in str(problem)


def test_a_node_refuses_the_operations_it_does_not_allow(sessions, world):
    check = world["check"]
    # check allows transfer and return, not delegation
    assert not runtime.may_delegate(sessions, check, "boss")
    with pytest.raises(NotPermittedError, match="step check does not allow delegation"):
        runtime.delegate_task(sessions, check, "boss", "eve")
    with sessions() as session:
        assert operations.may_transfer(session, check, "boss")
    runtime.complete_task(sessions, check, "boss", {})
    [(element, holder, task)] = _open(sessions, world["instance"])
    assert (element, holder) == ("countersign", "carl")

    # countersign allows returning to the previous step only: no transfer (not even for a super admin),
    # no signers added or removed, no return to the initiator or to a node of one's choice
    with sessions() as session:
        assert not operations.may_transfer(session, task, "carl")
        assert not operations.may_transfer(session, task, "root")
    for actor in ("carl", "root"):
        with pytest.raises(NotPermittedError, match="step countersign does not allow transfer"):
            operations.transfer(sessions, task, "eve", actor=actor)
    with pytest.raises(NotPermittedError, match="step countersign does not allow adding signers"):
        runtime.add_signer(sessions, task, "carl", "eve", "after")
    with pytest.raises(NotPermittedError, match="step countersign does not allow removing signers"):
        runtime.remove_signer(sessions, task, "root", "dora")
    with pytest.raises(NotPermittedError, match="does not allow returning the request to the initiator"):
        runtime.move_task(sessions, task, "carl", "return", "initiator", comment="x")
    options = runtime.move_options(sessions, task)
    assert options["previous"]["id"] == "check" and not options["initiator"] and options["passed"] == []
    assert [o["id"] for o in options["all"]] == ["check"]  # an admin's jump is not a node operation
    assert _open(sessions, world["instance"]) == [("countersign", "carl", task)]  # nothing changed

    runtime.move_task(sessions, task, "carl", "return", "check", comment="look again")  # the previous node by id
    assert [(e, a) for e, a, _t in _open(sessions, world["instance"])] == [("check", "boss")]


def test_an_empty_allow_offers_no_return(sessions, deploy_package, tmp_path, world):
    body = BODY.replace('liaison:allow="return" liaison:returnTo="previous"', 'liaison:allow=""')
    deploy_package(write_package(tmp_path / "v2", "req", {"req": body}))
    started = runtime.start_instance(sessions, "req", {}, user="ann")
    runtime.complete_task(sessions, started.open_tasks[0]["id"], "boss", {})
    [(_e, _a, task)] = _open(sessions, started.instance_id)
    options = runtime.move_options(sessions, task)
    assert options["previous"] is None and options["passed"] == [] and not options["initiator"]
    with pytest.raises(NotPermittedError, match="step countersign does not allow returning the request$"):
        runtime.move_task(sessions, task, "carl", "return", "previous", comment="x")
