"""External tasks at runtime: the ext:KIND group, the link issued once after the commit with its e-mails,
the sweep, and what happens when the party cannot be reached."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, update

from engine import runtime
from engine.data.external_models import ExternalCase, ExternalContact, ExternalParty
from engine.errors import NotPermittedError
from engine.external.grants import token_hash
from engine.runtime import external_tasks, step
from tests.engine.portal.support import (
    add_party,
    deploy_supplier_order,
    emails,
    grants,
    history,
    open_task,
    start_order,
)


@pytest.fixture
def order_process(sessions):
    deploy_supplier_order(sessions)
    return sessions


@pytest.fixture
def without_after_commit_issue(monkeypatch):
    """A crash between the step's commit and the link issue: the hook does not run."""
    monkeypatch.setattr(step, "AFTER_COMMIT", [h for h in step.AFTER_COMMIT if h is not external_tasks.issue_links])


def test_the_external_task_is_offered_to_the_group_and_a_link_goes_to_each_active_contact(order_process):
    sessions = order_process
    party_id = add_party(sessions, contacts=(("Wu", "wu@acme.example", "zh"), ("Ann", "ann@acme.example", "en"),
                                             ("Gone", "gone@acme.example", "zh")))
    with sessions() as session, session.begin():
        session.execute(update(ExternalContact).where(ExternalContact.email == "gone@acme.example").values(active=False))
    instance_id = start_order(sessions)
    task_id = open_task(sessions, instance_id, "confirm_order")
    with sessions() as session:
        case = session.get(ExternalCase, instance_id)
        from engine.data.models import WorkTask
        task = session.get(WorkTask, task_id)
    assert task.assignee is None and task.candidate_groups == ["ext:supplier"]
    assert case.party_id == party_id and case.kind == "supplier"
    [grant] = grants(sessions, instance_id)
    assert grant.task_id == task_id and grant.kind == "link" and sorted(grant.scopes) == ["fill", "upload", "view"]
    assert grant.party_id == party_id and grant.revoked_at is None
    assert (grant.valid_until - grant.valid_from).days == 14  # package.yaml portal.link_days
    rows = {row.recipient: row for row in emails(sessions, instance_id)}
    assert sorted(rows) == ["ann@acme.example", "wu@acme.example"]  # not the inactive contact
    assert rows["wu@acme.example"].payload["lang"] == "zh" and "采购订单 PO-1" in rows["wu@acme.example"].payload["subject"]
    assert rows["ann@acme.example"].payload["lang"] == "en"
    assert rows["ann@acme.example"].payload["subject"].startswith("Purchase order PO-1")
    links = {row.payload["text"].split("/portal/s/")[1].split()[0] for row in rows.values()}
    assert len(links) == 1 and token_hash(links.pop()) == grant.token_hash  # the token itself is stored nowhere
    assert len(history(sessions, instance_id, "external_link_issued")) == 1
    with pytest.raises(NotPermittedError):  # an employee is not in ext:supplier
        runtime.complete_task(sessions, task_id, "zhang", {"answer": "confirm"}, groups=("managers",))


def test_a_second_run_and_the_sweep_issue_nothing_more(order_process):
    sessions = order_process
    add_party(sessions)
    instance_id = start_order(sessions)
    assert external_tasks.issue_links(sessions, [instance_id]) == 0
    assert external_tasks.sweep(sessions) == 0
    assert len(grants(sessions, instance_id)) == 1 and len(emails(sessions, instance_id)) == 2


def test_the_sweep_issues_what_a_crash_missed_exactly_once(order_process, without_after_commit_issue):
    sessions = order_process
    add_party(sessions)
    instance_id = start_order(sessions)
    assert grants(sessions, instance_id) == [] and emails(sessions, instance_id) == []
    results, barrier = [], threading.Barrier(3)

    def run():
        barrier.wait()
        results.append(external_tasks.issue_links(sessions, [instance_id]))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    barrier.wait()
    for thread in threads:
        thread.join()
    results.append(external_tasks.sweep(sessions))
    assert sum(results) == 1
    assert len(grants(sessions, instance_id)) == 1 and len(emails(sessions, instance_id)) == 2
    assert len(history(sessions, instance_id, "external_link_issued")) == 1


def test_each_new_external_task_gets_its_own_link(order_process):
    sessions = order_process
    add_party(sessions)
    instance_id = start_order(sessions)
    runtime.complete_task(sessions, open_task(sessions, instance_id, "confirm_order"), "ext:contact:1",
                          {"answer": "confirm"}, groups=("ext:supplier",))
    shipped_task = open_task(sessions, instance_id, "report_shipped")
    assert [g.task_id for g in grants(sessions, instance_id)][-1] == shipped_task
    assert len(emails(sessions, instance_id)) == 4


def test_a_deactivated_party_gets_nothing_and_the_history_says_why_once(order_process):
    sessions = order_process
    add_party(sessions, active=False)
    instance_id = start_order(sessions)
    assert external_tasks.sweep(sessions) == 0
    assert grants(sessions, instance_id) == [] and emails(sessions, instance_id) == []
    [problem] = history(sessions, instance_id, "external_link_problem")
    assert "ACME" in problem.comment and problem.element_id == "confirm_order"
    with sessions() as session:
        assert session.get(ExternalCase, instance_id) is None


def test_a_party_revoked_after_the_case_was_made_gets_no_further_link(order_process):
    sessions = order_process
    party_id = add_party(sessions)
    instance_id = start_order(sessions)
    with sessions() as session, session.begin():
        session.execute(update(ExternalParty).where(ExternalParty.id == party_id).values(active=False))
    runtime.complete_task(sessions, open_task(sessions, instance_id, "confirm_order"), "ext:contact:1",
                          {"answer": "confirm"}, groups=("ext:supplier",))
    assert len(grants(sessions, instance_id)) == 1 and len(emails(sessions, instance_id)) == 2
    assert len(history(sessions, instance_id, "external_link_problem")) == 1


def test_an_unknown_party_key_is_a_problem_then_the_sweep_issues_once_the_party_exists(order_process):
    sessions = order_process
    instance_id = start_order(sessions, supplier="NOPE")
    assert grants(sessions, instance_id) == []
    assert "NOPE" in history(sessions, instance_id, "external_link_problem")[0].comment
    add_party(sessions, key="NOPE")
    assert external_tasks.sweep(sessions) == 1
    assert len(grants(sessions, instance_id)) == 1


def test_a_customer_key_does_not_name_a_supplier(order_process):
    sessions = order_process
    add_party(sessions, kind="customer")
    instance_id = start_order(sessions)
    assert grants(sessions, instance_id) == []
    with sessions() as session:
        assert session.scalars(select(ExternalCase)).all() == []


def test_the_reminder_of_an_external_task_is_e_mailed_to_the_supplier(order_process):
    from engine.data.models import OutboxMessage, Timer
    from engine.runtime import timers

    sessions = order_process
    add_party(sessions)
    instance_id = start_order(sessions)
    with sessions() as session:
        remind = session.scalars(select(Timer).where(Timer.instance_id == instance_id, Timer.kind == "remind")).one()
    assert timers.fire(sessions, remind.id, now=remind.due_at) == "fired"
    with sessions() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.instance_id == instance_id,
                                                           OutboxMessage.event == "task_due_soon")).all()
    assert sorted(r.recipient for r in rows) == ["ann@acme.example", "wu@acme.example"]
    assert all("/portal/" in r.payload["text"] and "/tasks/" not in r.payload["text"] for r in rows)
    assert {r.recipient: r.payload["lang"] for r in rows} == {"wu@acme.example": "zh", "ann@acme.example": "en"}


def test_the_dispatcher_runs_the_sweep(order_process, without_after_commit_issue):
    from engine.jobs.dispatch import Dispatcher

    sessions = order_process
    add_party(sessions)
    instance_id = start_order(sessions)
    assert grants(sessions, instance_id) == []
    Dispatcher(sessions, submit=lambda kind, item_id: None).tick()
    assert len(grants(sessions, instance_id)) == 1
