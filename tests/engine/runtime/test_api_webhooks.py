"""The API's webhook subscriptions at the engine level, on SQLite and PostgreSQL (`liaison_save_step`):
the outbox rows a step writes for the subscriptions that want its events, in the step's own write (a
refused step writes none), scoped to the owner's instances and tasks, and seen by the next step once
made (the per-directory-version cache); `task.assigned` of the operations that change who holds a task
without a step (claim, transfer, delegate, ...), in the operation's own transaction."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from engine import runtime
from engine.data.models import OutboxMessage, Person, PersonRole, Role
from engine.errors import FormInvalidError, NotFoundError, NotPermittedError, TaskConflictError
from engine.runtime import api_webhooks, operations
from tests.conftest import add_people
from tests.engine.conftest import flow, write_package

PROCESSES = Path(__file__).resolve().parents[3] / "processes"
START = {"leave_type": "annual", "days": 2, "manager": "li"}


def _rows(sessions) -> list[tuple[str, str]]:
    """(owner's endpoint URL path, event) of the API subscriptions' outbox rows, in order."""
    from engine.data.models import WebhookEndpoint
    with sessions() as session:
        return [(url.rsplit("/", 1)[1], event) for url, event in session.execute(
            select(WebhookEndpoint.url, OutboxMessage.event)
            .join(WebhookEndpoint, WebhookEndpoint.name == OutboxMessage.recipient)
            .where(OutboxMessage.recipient.like("api-webhook-%")).order_by(OutboxMessage.id))]


def test_steps_write_the_rows_their_subscriptions_want(sessions, deploy_package):
    deploy_package(PROCESSES / "leave_request")
    add_people(sessions, "zhang", "li", "wang", "root")
    with sessions() as session:
        zhang, secret = api_webhooks.create_subscription(
            session, "zhang", "http://127.0.0.1:9/zhang", ["instance.started", "task.completed",
                                                          "instance.withdrawn"], "leave_request")
        api_webhooks.create_subscription(session, "li", "http://127.0.0.1:9/li", ["task.created"])
        api_webhooks.create_subscription(session, "wang", "http://127.0.0.1:9/wang", list(api_webhooks.EVENTS))
        api_webhooks.create_subscription(session, "root", "http://127.0.0.1:9/root", ["instance.withdrawn"],
                                         "other_process", all_instances=True)
    assert secret.startswith("whsec_") and zhang.events == ("instance.started", "instance.withdrawn",
                                                            "task.completed")
    started = runtime.start_instance(sessions, "leave_request", START, user="zhang")
    assert _rows(sessions) == [("zhang", "instance.started"), ("li", "task.created")]
    task_id = started.open_tasks[0]["id"]
    with pytest.raises(FormInvalidError):  # a refused step writes nothing, rows included
        runtime.complete_task(sessions, task_id, "li", {"approved": "perhaps"})
    assert len(_rows(sessions)) == 2

    # made after li's task was read (and the subscriptions kept): the next step sees it
    with sessions() as session:
        api_webhooks.create_subscription(session, "li", "http://127.0.0.1:9/li2", ["task.completed"])
    runtime.complete_task(sessions, task_id, "li", {"approved": False})
    assert _rows(sessions)[2:] == [("zhang", "task.completed"), ("li2", "task.completed")]

    again = runtime.start_instance(sessions, "leave_request", START, user="zhang")
    operations.withdraw(sessions, again.instance_id, actor="zhang", comment="not needed")
    assert [event for who, event in _rows(sessions)[4:]] == ["instance.started", "task.created",
                                                               "instance.withdrawn"]
    with sessions() as session:
        assert [s.owner for s in api_webhooks.list_subscriptions(session, "li")] == ["li", "li"]
        assert len(api_webhooks.list_subscriptions(session, None)) == 5
        with pytest.raises(NotFoundError):
            api_webhooks.delete_subscription(session, "wang", zhang.id)
        api_webhooks.delete_subscription(session, "zhang", zhang.id)
        assert [s.owner for s in api_webhooks.list_subscriptions(session, None)].count("zhang") == 0
    runtime.start_instance(sessions, "leave_request", START, user="zhang")
    assert [who for who, _event in _rows(sessions)[7:]] == ["li"]


def test_a_bad_subscription_is_refused(sessions):
    add_people(sessions, "zhang")
    with sessions() as session:
        for url, events in (("ftp://x", ["task.created"]), ("http://127.0.0.1:9/", []),
                            ("http://127.0.0.1:9/", ["task.deleted"])):
            with pytest.raises(api_webhooks.InvalidWebhookError):
                api_webhooks.create_subscription(session, "zhang", url, events)
        assert api_webhooks.list_subscriptions(session, None) == []


# -- task.assigned: who holds a task, changed outside a step ---------------------------------------------

def _held(tmp_path, deploy_package, sessions, task: str) -> tuple[int, str]:
    """ann starts a one-task process whose task has the attributes `task`; (instance id, task id)."""
    body = (f'<bpmn:startEvent id="start"/>{flow("start", "review")}'
            f'<bpmn:userTask id="review" name="Review" {task}/>{flow("review", "end")}<bpmn:endEvent id="end"/>')
    deploy_package(write_package(tmp_path, "hold", {"hold": body}))
    started = runtime.start_instance(sessions, "hold", {}, user="ann")
    return started.instance_id, started.open_tasks[0]["id"]


def _subscribe(sessions, *owners: str, events=("task.assigned",)) -> None:
    with sessions() as session:
        for owner in owners:
            api_webhooks.create_subscription(session, owner, f"http://127.0.0.1:9/{owner}", list(events))


def _assigned(sessions) -> list[tuple[str, dict]]:
    """(subscription owner, payload) of the `task.assigned` rows, in order."""
    from engine.data.models import WebhookEndpoint
    with sessions() as session:
        return [(url.rsplit("/", 1)[1], payload) for url, payload in session.execute(
            select(WebhookEndpoint.url, OutboxMessage.payload)
            .join(WebhookEndpoint, WebhookEndpoint.name == OutboxMessage.recipient)
            .where(OutboxMessage.event == "task.assigned").order_by(OutboxMessage.id))]


OPERATIONS = {  # operation: (the task's attributes, what changes its holder, the holder before)
    "claim": ('liaison:candidateGroups="hr"', lambda s, t: runtime.claim_task(s, t, "wang", ("hr",)), None),
    "transfer": ('liaison:assignee="li"', lambda s, t: operations.transfer(s, t, "wang", actor="li"), "li"),
    "delegate": ('liaison:assignee="li"', lambda s, t: runtime.delegate_task(s, t, "li", "wang"), "li"),
}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_the_new_holder_hears_task_assigned_once(sessions, deploy_package, tmp_path, operation):
    attributes, change, before = OPERATIONS[operation]
    add_people(sessions, "ann", "li", "wang", "zhao")
    _subscribe(sessions, "wang", "ann", "zhao")  # the new holder, the initiator, someone else
    _subscribe(sessions, "zhao", events=api_webhooks.EVENTS)
    instance_id, task_id = _held(tmp_path, deploy_package, sessions, attributes)
    change(sessions, task_id)
    rows = _assigned(sessions)
    assert [owner for owner, _payload in rows] == ["wang", "ann"]
    payload = rows[0][1]
    assert payload.pop("delivery") and payload.pop("at")
    assert payload == {
        "event": "task.assigned", "process": "hold", "instance_id": instance_id, "business_key": None,
        "status": "running", "title": "task.assigned", "text": "",
        "task": {"id": task_id, "element_id": "review", "name": "Review", "assignee": "wang",
                 "candidate_users": [], "candidate_groups": ["hr"] if operation == "claim" else []},
        "previous_assignee": before, "actor": "li" if before else "wang", "operation": operation}


def test_a_refused_operation_writes_no_task_assigned(sessions, deploy_package, tmp_path):
    add_people(sessions, "ann", "li", "wang")
    _subscribe(sessions, "ann", "li", "wang")
    _instance, pool_task = _held(tmp_path, deploy_package, sessions, 'liaison:candidateGroups="hr"')
    with pytest.raises(NotPermittedError):  # not offered to wang
        runtime.claim_task(sessions, pool_task, "wang", ("finance",))
    runtime.claim_task(sessions, pool_task, "li", ("hr",))
    assert [owner for owner, _payload in _assigned(sessions)] == ["ann", "li"]
    with pytest.raises(TaskConflictError):  # claimed by li already
        runtime.claim_task(sessions, pool_task, "wang", ("hr",))
    with pytest.raises(NotPermittedError):  # nobody called nobody
        operations.transfer(sessions, pool_task, "nobody", actor="li")
    with pytest.raises(NotPermittedError):  # only the assignee transfers
        operations.transfer(sessions, pool_task, "ann", actor="wang")
    with pytest.raises(NotPermittedError):  # only the assignee delegates
        runtime.delegate_task(sessions, pool_task, "wang", "ann")
    assert len(_assigned(sessions)) == 2


def test_a_pool_hears_its_task_claimed_and_given_back(sessions, deploy_package, tmp_path):
    add_people(sessions, "ann", "li", "qian", "zhao")
    with sessions() as session, session.begin():
        hr = Role(key="hr", name="hr")
        session.add(hr)
        session.flush()
        session.add(PersonRole(person_id=session.scalar(select(Person.id).where(Person.username == "qian")),
                               role_id=hr.id))
    _subscribe(sessions, "qian", "zhao")  # a member of the pool's group; someone else
    _instance, task_id = _held(tmp_path, deploy_package, sessions, 'liaison:candidateGroups="hr"')
    runtime.claim_task(sessions, task_id, "li", ("hr",))
    runtime.unclaim_task(sessions, task_id, "li")
    assert [(owner, payload["operation"], payload["previous_assignee"], payload["task"]["assignee"])
            for owner, payload in _assigned(sessions)] == [("qian", "claim", None, "li"),
                                                           ("qian", "unclaim", "li", None)]


def test_the_next_signer_of_a_sequential_node_hears_their_turn(sessions, deploy_package, tmp_path):
    add_people(sessions, "ann", "li", "wang")
    _subscribe(sessions, "wang")
    _instance, task_id = _held(tmp_path, deploy_package, sessions,
                               'liaison:mode="sequential" liaison:candidateUsers="li,wang"')
    runtime.complete_task(sessions, task_id, "li", {"approved": True})
    [(owner, payload)] = _assigned(sessions)
    assert (owner, payload["operation"], payload["actor"], payload["previous_assignee"],
            payload["task"]["assignee"]) == ("wang", "sign", "li", "li", "wang")


def test_the_delegator_hears_the_task_come_back(sessions, deploy_package, tmp_path):
    add_people(sessions, "ann", "li", "wang")
    _subscribe(sessions, "li")
    _instance, task_id = _held(tmp_path, deploy_package, sessions, 'liaison:assignee="li"')
    runtime.delegate_task(sessions, task_id, "li", "wang")
    runtime.complete_task(sessions, task_id, "wang", {})
    assert [(payload["operation"], payload["previous_assignee"], payload["task"]["assignee"])
            for _owner, payload in _assigned(sessions)] == [("delegate", "li", "wang"), ("hand_back", "wang", "li")]


def test_a_signer_added_or_removed_alongside_hears_it(sessions, deploy_package, tmp_path):
    add_people(sessions, "ann", "li", "wang", "zhao")
    _subscribe(sessions, "zhao", "wang")
    _instance, task_id = _held(tmp_path, deploy_package, sessions, 'liaison:mode="all" liaison:candidateUsers="li,wang"')
    runtime.add_signer(sessions, task_id, "li", "zhao", "alongside")
    runtime.remove_signer(sessions, task_id, "li", "zhao")
    assert [(owner, payload["operation"], payload.get("signer"), payload["task"]["candidate_users"])
            for owner, payload in _assigned(sessions)] == [
        ("zhao", "add_signer", "zhao", ["li", "wang", "zhao"]), ("wang", "add_signer", "zhao", ["li", "wang", "zhao"]),
        ("zhao", "remove_signer", "zhao", ["li", "wang"]), ("wang", "remove_signer", "zhao", ["li", "wang"])]
