"""Moving a token (return, jump, take back, resubmit): pure engine tests, no database.

Every step goes through what the runtime does: complete the user task, run the engine
(which compacts), dump the state with Liaison's converter and load it again.
"""

from __future__ import annotations

from uuid import UUID

import pytest
from lxml import etree

from engine.bpmn import token_moves
from engine.bpmn import workflow as wfa
from engine.bpmn.parser import parse_documents
from engine.bpmn.serialization import compact, dump_state, load_state, new_workflow, tree_depth
from engine.bpmn.token_moves import TokenMoveError
from engine.errors import LiaisonError, NotFoundError, TaskConflictError
from tests.engine.conftest import HEADER, flow


class Instance:
    """One workflow driven like the runtime drives it, with the path it took."""

    def __init__(self, body: str, data: dict | None = None):
        xml = HEADER.format(key="proc") + (
            f'<bpmn:process id="proc" isExecutable="true">\n{body}\n</bpmn:process>\n</bpmn:definitions>\n')
        parsed, problems = parse_documents({"proc.bpmn": etree.fromstring(xml.encode())})
        assert not problems, problems
        self.spec, self.subs = parsed.specs["proc"], parsed.subprocess_specs["proc"]
        self.wf = new_workflow(self.spec, self.subs, wfa.script_engine())
        self.path: list[str] = []
        wfa.set_start_data(self.wf, dict(data or {}))
        self._run()

    def _run(self) -> None:
        self.path += [r.element_id for r in wfa.run_engine(self.wf)]
        self.wf = load_state(dump_state(self.wf), self.spec, self.subs, wfa.script_engine())

    def ready(self) -> dict[str, str]:
        """READY user tasks: element id -> task id."""
        return {t.task_spec.bpmn_id: str(t.id) for t in wfa.ready_user_tasks(self.wf)}

    def complete(self, element: str, data: dict | None = None) -> None:
        record = wfa.complete_user_task(self.wf, self.ready()[element], data or {})
        self.path.append(record.element_id)
        self._run()

    def move(self, element: str, target: str, data: dict | None = None, reason: str = "move") -> str:
        new_id = token_moves.move_token(self.wf, self.ready()[element], target, data, reason)
        self.path.append(f"{element}=>{target}")
        self._run()
        return new_id

    def targets(self, element: str, with_path: bool = True) -> dict[str, dict]:
        found = token_moves.movable_targets(self.wf, self.ready()[element], self.path if with_path else None)
        return {t["id"]: t for t in found}

    def data(self) -> dict:
        return wfa.current_data(self.wf)

    def task(self, task_id: str):
        return self.wf.get_task_from_id(UUID(task_id))


def _line(*elements: str) -> str:
    parts = ['<bpmn:startEvent id="start"/>']
    previous = "start"
    for element in elements:
        parts += [flow(previous, element), f'<bpmn:userTask id="{element}" name="Node {element}"/>']
        previous = element
    parts += [flow(previous, "end"), '<bpmn:endEvent id="end"/>']
    return "\n".join(parts)


# --- 1. linear process ---------------------------------------------------------------------------

def test_linear_return_to_first_and_previous_node_then_run_to_end():
    inst = Instance(_line("A", "B", "C"))
    inst.complete("A", {"amount": 10})
    inst.complete("B", {"checked": True})
    targets = inst.targets("C")
    assert list(targets) == ["A", "B", "C"]
    assert targets["A"]["passed"] and targets["B"]["previous"] and targets["C"]["current"]
    assert targets["A"]["name"] == "Node A"

    new_id = inst.move("C", "A", {"remark": "amount too low"}, reason="return")
    assert list(inst.ready()) == ["A"] and inst.ready()["A"] == new_id
    # the earlier form data stay for the person to edit, plus what the move added
    assert inst.task(new_id).data | {} == {"amount": 10, "checked": True, "remark": "amount too low"}
    assert token_moves.moved_from(inst.wf, new_id)["element"] == "C"

    inst.complete("A", {"amount": 20})
    inst.move("B", "B")  # restart the node itself
    inst.complete("B", {"checked": False})
    inst.move("C", "B", reason="return")
    inst.complete("B", {"checked": True})
    inst.complete("C")
    assert wfa.is_completed(inst.wf)
    assert inst.path == ["start", "A", "B", "C=>A", "A", "B=>B", "B", "C=>B", "B", "C", "end"]
    assert inst.data() == {"amount": 20, "checked": True, "remark": "amount too low"}


def test_jump_forward_and_to_the_end_event():
    inst = Instance(_line("A", "B", "C"))
    inst.move("A", "C", reason="jump")
    assert list(inst.ready()) == ["C"]
    inst.move("C", "end", reason="jump")
    assert wfa.is_completed(inst.wf) and inst.path[-1] == "end"


# --- 2. embedded subprocess ----------------------------------------------------------------------

_SUB = "\n".join([
    '<bpmn:startEvent id="start"/>', flow("start", "before"), '<bpmn:userTask id="before"/>', flow("before", "sub"),
    '<bpmn:subProcess id="sub">', '<bpmn:startEvent id="sub_start"/>', flow("sub_start", "inner1"),
    '<bpmn:userTask id="inner1"/>', flow("inner1", "inner2"), '<bpmn:userTask id="inner2"/>',
    flow("inner2", "sub_end"), '<bpmn:endEvent id="sub_end"/>', "</bpmn:subProcess>",
    flow("sub", "after"), '<bpmn:userTask id="after"/>', flow("after", "end"), '<bpmn:endEvent id="end"/>'])


def test_move_inside_an_embedded_subprocess():
    inst = Instance(_SUB)
    inst.complete("before", {"x": 1})
    inst.complete("inner1", {"y": 1})
    assert list(inst.targets("inner2")) == ["inner1", "inner2"]  # only the subprocess's own tasks
    inst.move("inner2", "inner1", reason="return")
    assert list(inst.ready()) == ["inner1"]
    inst.complete("inner1", {"y": 2})
    inst.complete("inner2", {"z": 3})
    inst.complete("after")
    assert wfa.is_completed(inst.wf)
    assert inst.path == ["start", "before", "sub_start", "inner1", "inner2=>inner1", "inner1", "inner2",
                         "sub_end", "sub", "after", "end"]
    assert inst.data() == {"x": 1, "y": 2, "z": 3}


def test_a_token_never_crosses_a_subprocess_boundary():
    inst = Instance(_SUB)
    inst.complete("before")
    with pytest.raises(TokenMoveError, match="`before` is in process `proc`"):
        token_moves.move_token(inst.wf, inst.ready()["inner1"], "before")
    inst.complete("inner1")
    inst.complete("inner2")
    with pytest.raises(TokenMoveError, match="is in process `sub`"):
        token_moves.move_token(inst.wf, inst.ready()["after"], "inner1")
    assert "inner1" not in inst.targets("after")
    # moving to the subprocess itself runs it again from its start
    inst.move("after", "sub", reason="jump")
    assert list(inst.ready()) == ["inner1"]
    inst.complete("inner1")
    inst.complete("inner2")
    inst.complete("after")
    assert wfa.is_completed(inst.wf)


# --- 3. compacted, serialized, restored, moved ---------------------------------------------------

def test_move_after_compaction_and_restore_then_serialize_and_finish():
    inst = Instance(_line(*[f"T{i}" for i in range(8)]))
    for i in range(7):
        inst.complete(f"T{i}", {f"f{i}": i})
    compact(inst.wf)
    state = dump_state(inst.wf, shared=inst.data())
    restored = load_state(state, inst.spec, inst.subs, wfa.script_engine(), shared=inst.data())
    passed = {t.task_spec.bpmn_id for t in restored.get_tasks() if t.task_spec.bpmn_id in {"T1", "T2"}}
    assert not passed  # compaction removed the tasks T1 and T2 ran as: reset_from_task_id is impossible
    inst.wf = restored
    new_id = inst.move("T7", "T2", reason="return")
    state = dump_state(inst.wf, shared=inst.data())
    inst.wf = load_state(state, inst.spec, inst.subs, wfa.script_engine(), shared=inst.data())
    assert inst.ready() == {"T2": new_id}
    assert token_moves.moved_from(inst.wf, new_id) == {"element": "T7", "task": token_moves.moved_from(
        inst.wf, new_id)["task"], "reason": "return"}
    for i in range(2, 8):
        inst.complete(f"T{i}", {f"f{i}": i * 10})
    assert wfa.is_completed(inst.wf)
    assert inst.data() == {"f0": 0, "f1": 1, **{f"f{i}": i * 10 for i in range(2, 8)}}


def test_tree_stays_bounded_after_100_returns():
    inst = Instance(_line("A", "B", "C"))
    inst.complete("A")
    inst.complete("B")
    depths = []
    for round_ in range(100):
        inst.move("C", "A" if round_ % 2 else "B", {"round": round_}, reason="return")
        if round_ % 2:
            inst.complete("A")
        inst.complete("B")
        depths.append((tree_depth(inst.wf), len(inst.wf.tasks)))
    assert max(depths) == depths[0] and max(d for d, _ in depths) < 10
    inst.complete("C")
    assert wfa.is_completed(inst.wf) and inst.data()["round"] == 99


# --- 4. exclusive gateways -----------------------------------------------------------------------

_CHOICE = "\n".join([
    '<bpmn:startEvent id="start"/>', flow("start", "apply"), '<bpmn:userTask id="apply"/>', flow("apply", "gw"),
    '<bpmn:exclusiveGateway id="gw" default="f_small"/>',
    flow("gw", "director", "amount > 100", "f_big"), flow("gw", "lead", flow_id="f_small"),
    '<bpmn:userTask id="director"/>', '<bpmn:userTask id="lead"/>',
    flow("director", "merge"), flow("lead", "merge"), '<bpmn:exclusiveGateway id="merge"/>',
    flow("merge", "pay"), '<bpmn:userTask id="pay"/>', flow("pay", "end"), '<bpmn:endEvent id="end"/>'])


def test_return_across_exclusive_gateways_takes_the_new_branch():
    inst = Instance(_CHOICE)
    inst.complete("apply", {"amount": 50})
    inst.complete("lead")
    targets = inst.targets("pay")
    assert set(targets) == {"apply", "director", "lead", "pay"}
    assert targets["lead"]["passed"] and not targets["director"]["passed"] and targets["lead"]["previous"]
    inst.move("pay", "apply", reason="return")
    inst.complete("apply", {"amount": 500})
    assert list(inst.ready()) == ["director"]
    inst.complete("director")
    inst.move("pay", "lead", reason="jump")  # a branch not passed this time: allowed, no parallel join
    inst.complete("lead")
    inst.complete("pay")
    assert wfa.is_completed(inst.wf)
    assert inst.path == ["start", "apply", "gw", "lead", "merge", "pay=>apply", "apply", "gw", "director", "merge",
                         "pay=>lead", "lead", "merge", "pay", "end"]


def test_refusals_name_the_reason():
    inst = Instance(_CHOICE)
    task_id = inst.ready()["apply"]
    with pytest.raises(TokenMoveError, match="has no element `nope`"):
        token_moves.move_token(inst.wf, task_id, "nope")
    with pytest.raises(TokenMoveError, match="`gw` is a gateway"):
        token_moves.move_token(inst.wf, task_id, "gw")
    with pytest.raises(TokenMoveError, match="start event"):
        token_moves.move_token(inst.wf, task_id, "start")
    with pytest.raises(TokenMoveError, match="unknown move reason"):
        token_moves.move_token(inst.wf, task_id, "pay", reason="teleport")
    with pytest.raises(NotFoundError):
        token_moves.move_token(inst.wf, "00000000-0000-0000-0000-000000000000", "pay")
    inst.complete("apply", {"amount": 1})
    with pytest.raises((TaskConflictError, NotFoundError)):  # not waiting any more (or compacted away)
        token_moves.move_token(inst.wf, task_id, "pay")
    lead = inst.task(inst.ready()["lead"])
    lead.data["x"] = 1
    lead.run()  # completed, still in the tree, not waiting
    with pytest.raises(TaskConflictError, match="completed, not waiting"):
        token_moves.move_token(inst.wf, str(lead.id), "apply")
    assert issubclass(TokenMoveError, LiaisonError)  # a refusal every way in shows as one line / a 4xx


# --- 5. parallel branches ------------------------------------------------------------------------

_PARALLEL = "\n".join([
    '<bpmn:startEvent id="start"/>', flow("start", "A"), '<bpmn:userTask id="A"/>', flow("A", "split"),
    '<bpmn:parallelGateway id="split"/>', flow("split", "X1"), flow("split", "B2"),
    '<bpmn:userTask id="X1"/>', flow("X1", "B1"), '<bpmn:userTask id="B1"/>', '<bpmn:userTask id="B2"/>',
    flow("B1", "join"), flow("B2", "join"), '<bpmn:parallelGateway id="join"/>', flow("join", "C"),
    '<bpmn:userTask id="C"/>', flow("C", "end"), '<bpmn:endEvent id="end"/>'])


def test_move_within_one_parallel_branch_while_the_other_waits():
    inst = Instance(_PARALLEL)
    inst.complete("A")
    inst.complete("X1", {"x1": 1})
    assert set(inst.ready()) == {"B1", "B2"}
    assert set(inst.targets("B1")) == {"X1", "B1"}
    for _ in range(3):
        inst.move("B1", "X1", reason="return")
        assert set(inst.ready()) == {"X1", "B2"}
        inst.complete("X1", {"x1": 1})
    inst.move("B1", "X1", reason="return")
    inst.complete("B2", {"b2": 2})
    assert set(inst.ready()) == {"X1"}  # the join still waits for the moved branch
    inst.complete("X1", {"x1": 11})
    inst.complete("B1", {"b1": 1})
    assert list(inst.ready()) == ["C"]
    inst.complete("C")
    assert wfa.is_completed(inst.wf)
    assert inst.path.count("join") == 1 and inst.path.count("C") == 1
    assert inst.data() == {"x1": 11, "b1": 1, "b2": 2}


def test_moves_out_of_a_running_parallel_branch_are_refused():
    inst = Instance(_PARALLEL)
    inst.complete("A")
    for target in ("A", "B2", "C", "end"):
        with pytest.raises(TokenMoveError, match="only move within its own branch"):
            token_moves.move_token(inst.wf, inst.ready()["X1"], target)
    with pytest.raises(TokenMoveError, match="only move within its own branch"):
        token_moves.move_token(inst.wf, inst.ready()["B2"], "X1")
    assert set(inst.ready()) == {"X1", "B2"}  # a refusal changes nothing


def test_reentering_a_parallel_branch_from_after_the_join_is_refused():
    inst = Instance(_PARALLEL)
    inst.complete("A")
    inst.complete("X1")
    inst.complete("B1")
    inst.complete("B2")
    assert set(inst.targets("C")) == {"A", "C"}
    for target in ("X1", "B1", "B2"):
        with pytest.raises(TokenMoveError, match="inside a parallel branch"):
            token_moves.move_token(inst.wf, inst.ready()["C"], target)
    # moving before the split runs the whole parallel block again, and the join waits for both
    inst.move("C", "A", reason="return")
    inst.complete("A")
    inst.complete("X1")
    inst.complete("B1")
    assert set(inst.ready()) == {"B2"}
    inst.complete("B2")
    inst.complete("C")
    assert wfa.is_completed(inst.wf) and inst.path.count("join") == 2


# --- boundary events, resubmission -------------------------------------------------------------

def test_boundary_timer_of_the_cut_branch_goes_and_the_targets_timer_comes():
    body = "\n".join([
        '<bpmn:startEvent id="start"/>', flow("start", "A"), '<bpmn:userTask id="A"/>', flow("A", "B"),
        '<bpmn:userTask id="B"/>', flow("B", "end"), '<bpmn:endEvent id="end"/>',
        '<bpmn:boundaryEvent id="late" attachedToRef="A"><bpmn:timerEventDefinition>'
        '<bpmn:timeDuration>"P3D"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>',
        flow("late", "end2"), '<bpmn:endEvent id="end2"/>'])
    inst = Instance(body)
    assert [w.element_id for w in wfa.waiting_timers(inst.wf)] == ["late"]
    inst.complete("A")
    assert wfa.waiting_timers(inst.wf) == []
    new_id = inst.move("B", "A", reason="return")
    assert [w.element_id for w in wfa.waiting_timers(inst.wf)] == ["late"]
    assert token_moves.moved_from(inst.wf, inst.ready()["A"])["element"] == "B"
    assert inst.ready()["A"] != new_id  # the new token started at A's boundary-event split
    inst.move("A", "B", reason="jump")
    assert wfa.waiting_timers(inst.wf) == [] and list(inst.ready()) == ["B"]
    inst.complete("B")
    assert wfa.is_completed(inst.wf) and inst.path[-1] == "end"


def _resubmit_process(after_return: str) -> str:
    return "\n".join([
        f'<bpmn:startEvent id="start" liaison:form="request" liaison:resubmit="resubmit" '
        f'liaison:afterReturn="{after_return}"/>',
        flow("start", "lead"), '<bpmn:userTask id="lead"/>', flow("lead", "gw"),
        '<bpmn:exclusiveGateway id="gw" default="f_ok"/>',
        flow("gw", "resubmit", "lead_ok == False", "f_rework"), flow("gw", "finance", flow_id="f_ok"),
        '<bpmn:userTask id="finance"/>', flow("finance", "end"), '<bpmn:endEvent id="end"/>',
        # the initiator's rework node: the diagram's own "rejected" loop, and where a return to the
        # initiator from any later node lands (SpiffWorkflow drops nodes no flow reaches)
        '<bpmn:userTask id="resubmit" liaison:form="request" liaison:approvers="initiator"/>',
        flow("resubmit", "lead")])


def test_return_to_initiator_and_resubmit_direct():
    inst = Instance(_resubmit_process("direct"), {"amount": 5})
    inst.complete("lead", {"lead_ok": True})
    assert token_moves.return_settings(inst.wf, inst.ready()["finance"]) == {
        "resubmit": "resubmit", "after_return": "direct"}
    targets = inst.targets("finance")
    assert targets["resubmit"]["resubmit"] and not targets["resubmit"]["passed"]
    inst.move("finance", "resubmit", reason="return")
    back = inst.ready()["resubmit"]
    assert inst.task(back).data["amount"] == 5  # the initiator edits the data they sent
    came_from = token_moves.moved_from(inst.wf, back)
    assert came_from["element"] == "finance" and came_from["reason"] == "return"
    # direct: the runtime sends the resubmission straight back to the node that returned it
    inst.move("resubmit", came_from["element"], {"amount": 7}, reason="resubmit")
    assert list(inst.ready()) == ["finance"]
    inst.complete("finance")
    assert wfa.is_completed(inst.wf)
    assert inst.path == ["start", "lead", "gw", "finance=>resubmit", "resubmit=>finance", "finance", "end"]
    assert inst.data() == {"amount": 7, "lead_ok": True}


def test_return_to_initiator_and_resubmit_rerun():
    inst = Instance(_resubmit_process("rerun"), {"amount": 5})
    inst.complete("lead", {"lead_ok": True})
    inst.move("finance", "resubmit", reason="return")
    assert token_moves.return_settings(inst.wf)["after_return"] == "rerun"
    inst.complete("resubmit", {"amount": 9})
    inst.complete("lead", {"lead_ok": True})
    inst.complete("finance")
    assert wfa.is_completed(inst.wf) and inst.data()["amount"] == 9
    assert inst.path == ["start", "lead", "gw", "finance=>resubmit", "resubmit", "lead", "gw", "finance", "end"]


def test_unknown_after_return_value_is_refused():
    inst = Instance(_resubmit_process("sometimes"))
    with pytest.raises(TokenMoveError, match="afterReturn"):
        token_moves.return_settings(inst.wf)


def test_passed_without_history_means_upstream_in_the_diagram():
    inst = Instance(_line("A", "B", "C"))
    inst.complete("A")
    targets = inst.targets("B", with_path=False)
    assert targets["A"]["passed"] and not targets["C"]["passed"] and not targets["A"]["previous"]


def test_move_within_a_branch_after_the_other_branch_reached_the_join():
    inst = Instance(_PARALLEL)
    inst.complete("A")
    inst.complete("X1")
    inst.complete("B2", {"b2": 2})  # its token now waits in the join
    assert set(inst.targets("B1")) == {"X1", "B1"}
    inst.move("B1", "X1", reason="take_back")
    inst.complete("X1")
    inst.complete("B1", {"b1": 1})
    inst.complete("C")
    assert wfa.is_completed(inst.wf) and inst.path.count("join") == 1
    assert inst.data() == {"b1": 1, "b2": 2}
