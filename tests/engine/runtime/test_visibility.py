"""Who may see an instance, for the people whose only tie to it is what they did: `visibility.ACTED`.

ann starts two requests, each waiting for boss; carl and dora are candidates of a later step only, eve is
involved in nothing. On SQLite and PostgreSQL (the `sessions` fixture).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import runtime
from engine.data.models import HistoryEntry, Person, ProcessInstance
from engine.runtime import operations
from engine.runtime.visibility import may_view_instance, visible_instances
from tests.engine.conftest import write_package
from tests.engine.runtime.test_operations import BODY  # boss approves, then carl or dora executes


@pytest.fixture
def requests(sessions, deploy_package, tmp_path):
    """Two of ann's requests, each with boss's open task: `[(instance, task), (instance, task)]`."""
    with sessions() as session, session.begin():
        for name in ("ann", "boss", "carl", "dora", "eve", "system"):
            session.add(Person(username=name, name=name.title(), email=f"{name}@example.com", locale="en"))
    deploy_package(write_package(tmp_path, "purchase", {"purchase": BODY}))
    started = [runtime.start_instance(sessions, "purchase", {"item": item}, user="ann") for item in ("pen", "ink")]
    return [(s.instance_id, s.open_tasks[0]["id"]) for s in started]


def _sees(sessions, username: str, instance_id: int) -> bool:
    with sessions() as session:
        return may_view_instance(session, instance_id, username)


def _listed(sessions, username: str) -> set[int]:
    with sessions() as session:
        return set(session.scalars(select(ProcessInstance.id).where(visible_instances(session, username))))


def test_whoever_transferred_a_task_still_sees_the_instance_and_finds_it_in_lists(sessions, requests):
    (first, task), _ = requests
    assert not _sees(sessions, "eve", first)
    operations.transfer(sessions, task, "carl", actor="boss")
    operations.transfer(sessions, task, "dora", actor="carl")  # carl held it, passed it on: history is all he has
    assert _sees(sessions, "carl", first) and _sees(sessions, "boss", first) and _sees(sessions, "dora", first)
    assert _listed(sessions, "carl") == {first}
    assert not _sees(sessions, "eve", first) and _listed(sessions, "eve") == set()


def test_a_delegation_keeps_both_sides_seeing_the_instance(sessions, requests):
    (first, task), _ = requests
    runtime.delegate_task(sessions, task, "boss", "carl")  # the task is carl's until he answers
    assert _sees(sessions, "boss", first)
    runtime.complete_task(sessions, task, "carl", {})  # the answer goes back to boss; carl keeps his view
    assert _sees(sessions, "carl", first) and _listed(sessions, "carl") == {first}
    assert not _sees(sessions, "eve", first)


def test_acting_on_one_instance_shows_no_other(sessions, requests):
    (first, task), (second, _) = requests
    operations.transfer(sessions, task, "carl", actor="boss")
    operations.transfer(sessions, task, "dora", actor="carl")
    assert not _sees(sessions, "carl", second)
    assert second not in _listed(sessions, "carl")


def test_rows_written_for_a_person_by_a_signal_or_for_the_system_show_nothing(sessions, requests):
    """A signal's step names its sender on every instance it reached; a timer completes tasks as
    "system": neither makes the instance visible (not even to a person whose username is "system")."""
    (first, _), _ = requests
    with sessions() as session, session.begin():
        session.add_all([HistoryEntry(instance_id=first, actor="eve", action="signal_received"),
                         HistoryEntry(instance_id=first, actor="eve", action="step"),
                         HistoryEntry(instance_id=first, actor="system", action="task_completed")])
    for username in ("eve", "system"):
        assert not _sees(sessions, username, first)
        assert _listed(sessions, username) == set()
