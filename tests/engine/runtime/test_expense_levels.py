"""processes/expense_approval, the engine side: the decision table's amount bands at their edges, and a
node whose approvers join two rules (`role:finance;department_head`, the 会签 of finance and the head)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine import runtime
from engine.data import db, store
from engine.data.models import Department, Person, PersonRole, Role
from engine.errors import ProcessRuntimeError
from engine.packages import deployment as packages
from engine.runtime import assignment
from engine.runtime.signers import signer_items
from engine.work import queries

PACKAGE = Path(__file__).resolve().parents[3] / "processes" / "expense_approval"


@pytest.fixture
def sessions(tmp_path, sqlite_template):
    """SQLite only; an org where zhang's manager li heads RD, qian holds finance, zhao is general manager."""
    path = tmp_path / "liaison.db"
    shutil.copy(sqlite_template, path)
    engine = db.make_engine(f"sqlite:///{path}")
    factory = db.make_session_factory(engine)
    with factory() as session, session.begin():
        packages.deploy(session, packages.load_package(PACKAGE), "admin")
        people = {name: Person(username=name, name=name) for name in ("zhang", "li", "qian", "zhao")}
        session.add_all(people.values())
        session.flush()
        rd = Department(code="RD", name="RD", path="")
        session.add(rd)
        session.flush()
        rd.path, rd.head_id = f"/{rd.id}/", people["li"].id
        people["zhang"].department_id = people["li"].department_id = rd.id
        people["zhang"].manager_id = people["li"].id
        finance = Role(key="finance", name="finance")
        session.add(finance)
        session.flush()
        session.add(PersonRole(person_id=people["qian"].id, role_id=finance.id))
    yield factory
    engine.dispose()


def _start(sessions, unit_price, quantity=1):
    data = {"kind": "expense", "purpose": "p", "manager": "li",
            "items": [{"description": "x", "quantity": quantity, "unit_price": unit_price}]}
    return runtime.start_instance(sessions, "expense_approval", data, "zhang").instance_id


@pytest.mark.parametrize(("unit_price", "quantity", "level"), [
    ("4999.99", 1, 1), ("2500", 2, 2), ("50000", 1, 2), ("50000.01", 1, 3), ("0.5", 1, 1)])
def test_amount_bands_at_their_edges(sessions, unit_price, quantity, level):
    instance_id = _start(sessions, unit_price, quantity)
    with sessions() as session:
        data = store.read_process_data(session, instance_id)
    assert (data["level"], data["needs_countersign"], data["needs_gm"]) == (level, level >= 2, level == 3)


def test_countersign_goes_to_finance_and_the_department_head_together(sessions):
    instance_id = _start(sessions, "12000", 2)
    with sessions() as session:
        manager_task = next(t for t in queries.instance_view(session, instance_id)["tasks"] if t["status"] == "open")
    runtime.complete_task(sessions, manager_task["id"], "li", {"approved": True})
    with sessions() as session:
        task = next(t for t in queries.instance_view(session, instance_id)["tasks"] if t["status"] == "open")
        signers = [(i.signer, i.status) for i in signer_items(session.connection(), task["id"])]
    assert task["element_id"] == "countersign"
    assert sorted(signers) == [("li", "open"), ("qian", "open")]  # 会签: both at once


def test_joined_rules_that_find_nobody_name_both(sessions):
    attributes = {"approvers": "role:audit;department_head:NOPE"}
    with sessions() as session, pytest.raises(ProcessRuntimeError) as failed:
        assignment.resolve_task(session.connection(), attributes, initiator="zhang", data={},
                                evaluate=lambda e, d: None, element_id="cs")
    assert "rules `role:audit; department_head:NOPE` yielded nobody" in str(failed.value)
    assert assignment.rule_texts("expr:'a;b'") == ["expr:'a;b'"]


def test_each_joined_rule_is_checked_at_deploy(sessions):
    from engine.runtime.assignment_checks import rule_problems
    with sessions() as session:
        found = rule_problems(session.connection(), {"approvers": "role:finance;bogus:x;role:audit"})
    assert [severity for severity, _ in found] == ["error", "warning"]
    assert "unknown rule kind `bogus`" in found[0][1] and "no role `audit`" in found[1][1]


@pytest.mark.parametrize(("amount", "steps"), [
    (3000, ["manager_approval"]),
    (12000, ["manager_approval", "countersign"]),
    (80000, ["manager_approval", "countersign", "gm_approval"])])
def test_the_start_page_chain_follows_the_decision_table(sessions, amount, steps):
    from engine.work import preview
    with sessions() as session:
        chain = preview.approval_chain(session, "expense_approval", "zhang", {"amount": amount, "manager": "li"})
    assert [s.element_id for s in chain.steps] == steps
    # only the approvers' own decisions are left open, never the amount's gateways
    assert {(s.conditional or {}).get("id") for s in chain.steps} <= {None, "manager_gw", "countersign_gw"}
    with sessions() as session:  # before an amount is known, the table decides nothing
        unknown = preview.approval_chain(session, "expense_approval", "zhang", {"manager": "li"})
    assert [s.element_id for s in unknown.steps][:1] == ["manager_approval"]
