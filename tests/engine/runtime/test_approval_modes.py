"""Approval modes of one node: sequential (依次), all (会签), any (或签), weighted vote (票签)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from engine import runtime
from engine.data import db
from engine.data.models import ApprovalItem, HistoryEntry, Notification, WorkTask
from engine.errors import InvalidPackageError, NotPermittedError, TaskConflictError
from engine.packages import deployment as packages
from engine.work import queries
from tests.engine.conftest import flow, write_package


def _node(mode: str, signers: str, extra: str = "") -> str:
    return f"""
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="node" name="Sign" liaison:mode="{mode}" liaison:candidateUsers="{signers}" {extra}/>
    <bpmn:exclusiveGateway id="ok" default="f_no"/>
    <bpmn:endEvent id="yes"/>
    <bpmn:endEvent id="no"/>
    {flow("start", "node")}{flow("node", "ok")}{flow("ok", "yes", "approved == True")}
    <bpmn:sequenceFlow id="f_no" sourceRef="ok" targetRef="no"/>
    """


def _start(sessions, deploy_package, tmp_path, mode, signers, extra=""):
    deploy_package(write_package(tmp_path, "sign", {"sign": _node(mode, signers, extra)}))
    started = runtime.start_instance(sessions, "sign", {}, user="ann")
    return started.instance_id, started.open_tasks[0]["id"]


def _items(sessions, task_id):
    with sessions() as session:
        rows = session.scalars(select(ApprovalItem).where(ApprovalItem.task_id == task_id)
                               .order_by(ApprovalItem.position))
        return [(i.signer, i.status) for i in rows]


def _task(sessions, task_id):
    with sessions() as session:
        return session.get(WorkTask, task_id)


def _actions(sessions, instance_id):
    with sessions() as session:
        rows = session.scalars(select(HistoryEntry).where(HistoryEntry.instance_id == instance_id,
                                                          HistoryEntry.action.in_(["signed", "task_completed"]))
                               .order_by(HistoryEntry.id))
        return [(h.actor, h.action, (h.data or {}).get("approved")) for h in rows]


def _end(sessions, instance_id):
    with sessions() as session:
        view = queries.instance_view(session, instance_id)
        return view["status"], view["data"]


def _approve(sessions, task_id, user, approved=True):
    return runtime.complete_task(sessions, task_id, user, {"approved": approved}, comment=f"{user} says {approved}")


def test_sequential_goes_signer_by_signer(sessions, deploy_package, tmp_path):
    instance, task = _start(sessions, deploy_package, tmp_path, "sequential", "a,b,c")
    assert _items(sessions, task) == [("a", "open"), ("b", "waiting"), ("c", "waiting")]
    assert _task(sessions, task).assignee == "a"
    with pytest.raises(NotPermittedError, match="not your turn yet"):
        _approve(sessions, task, "b")
    _approve(sessions, task, "a")
    assert _items(sessions, task) == [("a", "approved"), ("b", "open"), ("c", "waiting")]
    assert (_task(sessions, task).assignee, _task(sessions, task).status) == ("b", "open")
    with sessions() as session:
        assert [n.recipient for n in session.scalars(select(Notification).where(Notification.task_id == task))] \
            == ["a", "b"]  # assigned at start, then handed on
    _approve(sessions, task, "b", approved=False)  # one rejection ends a sequential node
    assert _items(sessions, task) == [("a", "approved"), ("b", "rejected"), ("c", "cancelled")]
    status, data = _end(sessions, instance)
    assert status == "completed" and data["approved"] is False
    assert data["votes"] == {"approved": ["a"], "rejected": ["b"], "undecided": ["c"]}
    assert _actions(sessions, instance) == [("a", "signed", True), ("b", "task_completed", False)]


def test_all_must_approve(sessions, deploy_package, tmp_path):
    instance, task = _start(sessions, deploy_package, tmp_path, "all", "a,b,c")
    assert _items(sessions, task) == [("a", "open"), ("b", "open"), ("c", "open")]
    assert _task(sessions, task).candidate_users == ["a", "b", "c"]
    _approve(sessions, task, "b")
    assert _task(sessions, task).candidate_users == ["a", "c"]  # gone from b's inbox
    with pytest.raises(TaskConflictError, match="already decided"):
        _approve(sessions, task, "b")
    _approve(sessions, task, "a")
    assert _end(sessions, instance)[0] == "running"
    _approve(sessions, task, "c")
    status, data = _end(sessions, instance)
    assert (status, data["approved"]) == ("completed", True)
    assert data["votes"]["approved"] == ["a", "b", "c"]


def test_all_is_rejected_by_one(sessions, deploy_package, tmp_path):
    instance, task = _start(sessions, deploy_package, tmp_path, "all", "a,b,c")
    _approve(sessions, task, "a")
    _approve(sessions, task, "c", approved=False)
    assert _items(sessions, task) == [("a", "approved"), ("b", "cancelled"), ("c", "rejected")]
    assert _end(sessions, instance)[1]["approved"] is False


def test_any_one_decides_and_the_next_is_told(sessions, deploy_package, tmp_path):
    instance, task = _start(sessions, deploy_package, tmp_path, "any", "a,b")
    _approve(sessions, task, "b")
    assert _end(sessions, instance)[1]["approved"] is True
    with pytest.raises(TaskConflictError, match="already decided"):
        _approve(sessions, task, "a")


@pytest.mark.parametrize("decisions, expected, cancelled", [
    ([("cfo", True)], True, 2),                          # 3 of 5 reaches 0.6 at once
    ([("a", True), ("b", True), ("cfo", False)], False, 0),  # 2 of 5 approved, 3 against: cannot reach 3
    ([("cfo", False)], False, 2),                         # 2 left can never reach 3
    ([("a", True), ("cfo", True)], True, 1),
])
def test_weighted_vote_over_a_threshold(sessions, deploy_package, tmp_path, decisions, expected, cancelled):
    instance, task = _start(sessions, deploy_package, tmp_path, "vote", "a,b,cfo",
                            'liaison:voteThreshold="0.6" liaison:voteWeights="cfo:3"')
    for user, approved in decisions:
        _approve(sessions, task, user, approved)
    assert _end(sessions, instance)[1]["approved"] is expected
    assert [s for _u, s in _items(sessions, task)].count("cancelled") == cancelled


def test_a_mode_node_needs_a_decision_and_cannot_be_claimed(sessions, deploy_package, tmp_path):
    _instance, task = _start(sessions, deploy_package, tmp_path, "all", "a,b")
    with pytest.raises(Exception, match="needs a decision: `approved` true or false"):
        runtime.complete_task(sessions, task, "a", {})
    with pytest.raises(NotPermittedError, match="nobody claims it"):
        runtime.claim_task(sessions, task, "a")
    with pytest.raises(NotPermittedError, match="no open signature for zed"):
        _approve(sessions, task, "zed")


def test_mode_attributes_are_checked_at_deploy(tmp_path):
    body = _node("majority", "a,b") .replace('liaison:mode="majority"',
                                             'liaison:mode="majority" liaison:voteWeights="cfo:x"')
    with pytest.raises(InvalidPackageError) as caught:
        packages.load_package(write_package(tmp_path, "bad", {"bad": body}))
    assert "node: liaison:mode `majority` must be one of sequential, all, any, vote" in str(caught.value)
    body = _node("vote", "a,b", 'liaison:voteThreshold="1.5"')
    with pytest.raises(InvalidPackageError) as caught:
        packages.load_package(write_package(tmp_path, "bad2", {"bad2": body}))
    assert "liaison:voteThreshold `1.5` must be a number between 0 and 1" in str(caught.value)


def _race(url, task_id, users):
    barrier, outcomes = threading.Barrier(len(users)), {}

    def sign(user):
        engine = db.make_engine(url)
        sessions = db.make_session_factory(engine)
        barrier.wait()
        try:
            _approve(sessions, task_id, user)
            outcomes[user] = "ok"
        except TaskConflictError as exc:
            outcomes[user] = str(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=sign, args=(u,)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_twenty_signers_approving_at_once_complete_the_node_once(postgres_url, tmp_path):
    signers = [f"s{n:02d}" for n in range(20)]
    sessions = db.make_session_factory(db.make_engine(postgres_url))
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(
            write_package(tmp_path, "sign", {"sign": _node("all", ",".join(signers))})), "admin")
    started = runtime.start_instance(sessions, "sign", {}, user="ann")
    task = started.open_tasks[0]["id"]
    outcomes = _race(postgres_url, task, signers)
    assert outcomes == {s: "ok" for s in signers}  # no decision lost, none refused
    assert _items(sessions, task) == [(s, "approved") for s in signers]
    actions = _actions(sessions, started.instance_id)
    assert sorted(a for _u, a, _d in actions) == ["signed"] * 19 + ["task_completed"]
    status, data = _end(sessions, started.instance_id)
    assert (status, data["approved"], sorted(data["votes"]["approved"])) == ("completed", True, signers)


def test_two_simultaneous_approvals_of_an_any_node(postgres_url, tmp_path):
    sessions = db.make_session_factory(db.make_engine(postgres_url))
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(
            write_package(tmp_path, "sign", {"sign": _node("any", "a,b")})), "admin")
    started = runtime.start_instance(sessions, "sign", {}, user="ann")
    task = started.open_tasks[0]["id"]
    outcomes = _race(postgres_url, task, ["a", "b"])
    assert sorted(outcomes.values())[0].endswith("already decided; your decision was not recorded")
    assert sorted(outcomes.values())[1] == "ok"
    assert [a for _u, a, _d in _actions(sessions, started.instance_id)] == ["task_completed"]


# -- 加签 / 减签 -------------------------------------------------------------------------------------------

@pytest.fixture
def signers(sessions):
    from engine.data.models import AdminGrant, Person

    with sessions() as session, session.begin():
        for name in ("a", "b", "c", "d", "root"):
            session.add(Person(username=name, name=name.upper()))
        session.flush()
        root = session.scalar(select(Person.id).where(Person.username == "root"))
        session.add(AdminGrant(person_id=root, department_id=None))
    return sessions


def test_add_signer_before_me_signs_first_then_it_comes_back(signers, deploy_package, tmp_path):
    sessions = signers
    instance, task = _start(sessions, deploy_package, tmp_path, "sequential", "a,b")
    runtime.add_signer(sessions, task, "a", "d", "before", comment="please check first")
    assert _items(sessions, task) == [("d", "open"), ("a", "waiting"), ("b", "waiting")]
    assert _task(sessions, task).assignee == "d"
    _approve(sessions, task, "d")
    assert _task(sessions, task).assignee == "a"
    _approve(sessions, task, "a")
    _approve(sessions, task, "b")
    assert _end(sessions, instance)[1]["votes"]["approved"] == ["d", "a", "b"]


def test_add_signer_after_me_and_alongside(signers, deploy_package, tmp_path):
    sessions = signers
    _instance, task = _start(sessions, deploy_package, tmp_path, "sequential", "a,b")
    runtime.add_signer(sessions, task, "a", "d", "after")
    assert _items(sessions, task) == [("a", "open"), ("d", "waiting"), ("b", "waiting")]
    with pytest.raises(NotPermittedError, match="a sequential node takes signers before or after you"):
        runtime.add_signer(sessions, task, "a", "c", "alongside")
    with pytest.raises(NotPermittedError, match="not your turn yet"):
        runtime.add_signer(sessions, task, "b", "c", "after")
    with pytest.raises(TaskConflictError, match="b already signs"):
        runtime.add_signer(sessions, task, "a", "b", "after")


def test_add_alongside_then_remove_settles_an_all_node(signers, deploy_package, tmp_path):
    sessions = signers
    instance, task = _start(sessions, deploy_package, tmp_path, "all", "a,b")
    runtime.add_signer(sessions, task, "a", "c", "alongside")
    assert _task(sessions, task).candidate_users == ["a", "b", "c"]
    _approve(sessions, task, "a")
    _approve(sessions, task, "b")
    assert _end(sessions, instance)[0] == "running"  # c has not signed
    with pytest.raises(NotPermittedError, match="only whoever added c, or a super admin, may remove them"):
        runtime.remove_signer(sessions, task, "b", "c")
    result = runtime.remove_signer(sessions, task, "a", "c", comment="not needed")
    assert result.status == "completed"
    status, data = _end(sessions, instance)
    assert (status, data["approved"]) == ("completed", True)
    assert _items(sessions, task) == [("a", "approved"), ("b", "approved"), ("c", "cancelled")]


def test_super_admin_removes_a_signer_and_the_turn_moves_on(signers, deploy_package, tmp_path):
    sessions = signers
    _instance, task = _start(sessions, deploy_package, tmp_path, "sequential", "a,b,c")
    assert runtime.remove_signer(sessions, task, "root", "a") is None
    assert _items(sessions, task) == [("a", "cancelled"), ("b", "open"), ("c", "waiting")]
    assert _task(sessions, task).assignee == "b"
    plain = _plain_task(sessions, deploy_package, tmp_path)
    with pytest.raises(NotPermittedError, match="has one approver"):
        runtime.add_signer(sessions, plain, "a", "d", "before")


def _plain_task(sessions, deploy_package, tmp_path):
    body = f"""
    <bpmn:startEvent id="start"/><bpmn:userTask id="one" liaison:assignee="a"/><bpmn:endEvent id="done"/>
    {flow("start", "one")}{flow("one", "done")}
    """
    deploy_package(write_package(tmp_path, "plain", {"plain": body}))
    return runtime.start_instance(sessions, "plain", {}, user="ann").open_tasks[0]["id"]


def test_same_approver_in_a_row_is_approved_automatically(sessions, deploy_package, tmp_path):
    body = f"""
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="first" liaison:assignee="boss"/>
    <bpmn:userTask id="second" liaison:assignee="boss"/>
    <bpmn:userTask id="third" liaison:assignee="hr"/>
    <bpmn:endEvent id="done"/>
    {flow("start", "first")}{flow("first", "second")}{flow("second", "third")}{flow("third", "done")}
    """
    deploy_package(write_package(tmp_path, "twice", {"twice": body}, meta={"auto_approve": True}))
    started = runtime.start_instance(sessions, "twice", {}, user="ann")
    result = runtime.complete_task(sessions, started.open_tasks[0]["id"], "boss", {"approved": True})
    assert [t["element_id"] for t in result.open_tasks] == ["third"]
    with sessions() as session:
        auto = session.scalars(select(HistoryEntry).where(HistoryEntry.action == "auto_approved")).all()
    assert [(h.actor, h.element_id) for h in auto] == [("boss", "second")]
    # a rejection is never repeated automatically
    started = runtime.start_instance(sessions, "twice", {}, user="ann")
    result = runtime.complete_task(sessions, started.open_tasks[0]["id"], "boss", {"approved": False})
    assert [t["element_id"] for t in result.open_tasks] == ["second"]


# -- 委派 ------------------------------------------------------------------------------------------------------

def test_delegated_task_comes_back_to_the_delegator(signers, deploy_package, tmp_path):
    sessions = signers
    task = _plain_task(sessions, deploy_package, tmp_path)  # assigned to a
    with pytest.raises(NotPermittedError, match="only the task's assignee delegates it"):
        runtime.delegate_task(sessions, task, "b", "c")
    runtime.delegate_task(sessions, task, "a", "d", comment="please look at the numbers")
    assert (_task(sessions, task).assignee, _task(sessions, task).delegated_by) == ("d", "a")
    with pytest.raises(NotPermittedError):
        _approve(sessions, task, "a")  # the delegator waits for the delegate
    with pytest.raises(TaskConflictError, match="already delegated by a to d"):
        runtime.delegate_task(sessions, task, "d", "b")
    result = runtime.complete_task(sessions, task, "d", {"approved": True}, comment="looks fine")
    assert result.status == "running"
    assert (_task(sessions, task).assignee, _task(sessions, task).delegated_by, _task(sessions, task).status) \
        == ("a", None, "open")
    with sessions() as session:
        done = session.scalars(select(HistoryEntry).where(HistoryEntry.action == "delegation_done")).one()
    assert (done.actor, done.comment, done.data) == ("d", "looks fine", {"approved": True})
    assert _approve(sessions, task, "a").status == "completed"


def test_a_mode_node_is_not_delegated(signers, deploy_package, tmp_path):
    _instance, task = _start(signers, deploy_package, tmp_path, "sequential", "a,b")
    with pytest.raises(NotPermittedError, match="add a signer or transfer it instead"):
        runtime.delegate_task(signers, task, "a", "d")


def test_mode_and_operations_write_their_notifications_to_the_outbox(sessions, deploy_package, tmp_path):
    from engine.data.models import OutboxMessage, Person

    with sessions() as session, session.begin():
        for name in ("a", "b", "c", "ann"):
            session.add(Person(username=name, name=name.upper(), email=f"{name}@example.com", locale="en"))
    instance, task = _start(sessions, deploy_package, tmp_path, "sequential", "a,b")
    runtime.add_signer(sessions, task, "a", "c", "after")
    _approve(sessions, task, "a")      # c's turn: c is told
    _approve(sessions, task, "c")      # b's turn: b is told
    _approve(sessions, task, "b")      # settled and ended approved: the initiator hears it once
    with sessions() as session:
        mails = [(o.recipient, o.event) for o in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]
    assert mails == [("a@example.com", "task_assigned"), ("c@example.com", "task_assigned"),
                     ("b@example.com", "task_assigned"), ("ann@example.com", "approved")]
    assert _actions(sessions, instance) == [("a", "signed", True), ("c", "signed", True),
                                            ("b", "task_completed", True)]


def test_a_mode_node_inside_a_subprocess(sessions, deploy_package, tmp_path):
    body = f"""
    <bpmn:startEvent id="start"/>
    <bpmn:subProcess id="review">
      <bpmn:startEvent id="inner_start"/>
      <bpmn:userTask id="node" liaison:mode="all" liaison:candidateUsers="a,b"/>
      <bpmn:endEvent id="inner_end"/>
      {flow("inner_start", "node")}{flow("node", "inner_end")}
    </bpmn:subProcess>
    <bpmn:endEvent id="done"/>
    {flow("start", "review")}{flow("review", "done")}
    """
    deploy_package(write_package(tmp_path, "nested", {"nested": body}))
    started = runtime.start_instance(sessions, "nested", {}, user="ann")
    task = started.open_tasks[0]["id"]
    _approve(sessions, task, "a")
    assert _end(sessions, started.instance_id)[0] == "running"  # b has not signed
    _approve(sessions, task, "b")
    assert _end(sessions, started.instance_id)[0] == "completed"
