"""Migration of running instances from version 1 to version 2 of a package: the dry run says which
instances can move and why the others cannot; the run moves each in its own transaction, keeps the
waiting tasks (rows, assignees), re-creates their reminders, records it in the history, and the moved
instance then follows version 2's path."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import runtime
from engine.data.models import HistoryEntry, ProcessInstance, ProcessVersion, Timer, WorkTask
from engine.errors import NotPermittedError
from engine.packages.migration import migrate_instances, plan_migration
from tests.conftest import add_people
from tests.engine.versioned_package import deploy_two_versions


@pytest.fixture
def three(sessions, tmp_path):
    """Instances on version 1 waiting at a kept task (review), a renamed one (draft) and a removed one."""
    add_people(sessions, "ann", "owner")

    def start():
        return {where: runtime.start_instance(sessions, "trip", {"where": where, "amount": 70}, user="ann").instance_id
                for where in ("keep", "rename", "old")}

    return deploy_two_versions(sessions, tmp_path, v2_meta={"admins": ["owner"]}, between=start)


def _plans(sessions, mapping=None):
    with sessions() as session:
        return {p.instance_id: p for p in plan_migration(session, "trip", 1, 2, mapping, actor="owner")}


def _open_tasks(sessions, instance_id):
    with sessions() as session:
        return session.execute(select(WorkTask.id, WorkTask.element_id, WorkTask.assignee)
                               .where(WorkTask.instance_id == instance_id, WorkTask.status == "open")).all()


def _version_of(sessions, instance_id):
    with sessions() as session:
        return session.scalar(select(ProcessVersion.number).join(ProcessInstance)
                              .where(ProcessInstance.id == instance_id))


def test_dry_run_names_what_moves_and_why_the_others_cannot(sessions, three):
    plans = _plans(sessions)
    assert plans[three["keep"]].movable
    assert [w["element_id"] for w in plans[three["keep"]].waiting] == ["review"]
    assert not plans[three["rename"]].movable
    assert "draft" in plans[three["rename"]].reasons[0] and "version 2" in plans[three["rename"]].reasons[0]
    assert not plans[three["old"]].movable and "old_check" in plans[three["old"]].reasons[0]
    mapped = _plans(sessions, {"draft": "draft2"})
    assert mapped[three["rename"]].movable and not mapped[three["old"]].movable
    wrong = _plans(sessions, {"draft": "nowhere"})
    assert "nowhere" in wrong[three["rename"]].reasons[0]
    assert _version_of(sessions, three["keep"]) == 1  # a dry run changes nothing


def test_only_who_may_migrate_plans_or_migrates(sessions, three):
    with sessions() as session, pytest.raises(NotPermittedError):
        plan_migration(session, "trip", 1, 2, actor="ann")
    with pytest.raises(NotPermittedError):
        migrate_instances(sessions, "ann", "trip", 1, 2)
    assert _version_of(sessions, three["keep"]) == 1


def test_run_moves_the_movable_keeps_tasks_and_the_moved_follows_the_new_path(sessions, three):
    keep_task = _open_tasks(sessions, three["keep"])
    rename_task = _open_tasks(sessions, three["rename"])
    old_task = _open_tasks(sessions, three["old"])
    outcome = {p.instance_id: p for p in migrate_instances(sessions, "owner", "trip", 1, 2, {"draft": "draft2"})}
    assert outcome[three["keep"]].moved and outcome[three["rename"]].moved and not outcome[three["old"]].moved
    assert [_version_of(sessions, three[w]) for w in ("keep", "rename", "old")] == [2, 2, 1]
    # the waiting tasks are the same rows, with the same assignee; the renamed one names its new element
    assert _open_tasks(sessions, three["keep"]) == keep_task
    assert _open_tasks(sessions, three["rename"]) == [(rename_task[0][0], "draft2", "ann")]
    assert _open_tasks(sessions, three["old"]) == old_task
    with sessions() as session:
        entry = session.scalars(select(HistoryEntry).where(HistoryEntry.instance_id == three["rename"],
                                                           HistoryEntry.action == "migrated")).one()
        assert entry.actor == "owner" and entry.data == {"from": 1, "to": 2, "mapping": {"draft": "draft2"}}
        assert not session.scalars(select(HistoryEntry).where(HistoryEntry.instance_id == three["old"],
                                                              HistoryEntry.action == "migrated")).all()
        reminders = session.execute(select(Timer.status).where(Timer.task_id == keep_task[0][0],
                                                               Timer.kind == "remind")).scalars().all()
        assert sorted(reminders) == ["cancelled", "pending"]  # re-created with version 2's reminder
    # amount 70: version 1 would end here; version 2 (amount > 50) goes to boss, then to the new archive task
    runtime.complete_task(sessions, keep_task[0][0], "ann", {})
    boss = _open_tasks(sessions, three["keep"])
    assert [t[1] for t in boss] == ["boss"]
    runtime.complete_task(sessions, boss[0][0], "ann", {})
    archive = _open_tasks(sessions, three["keep"])
    assert [t[1] for t in archive] == ["archive"]
    result = runtime.complete_task(sessions, archive[0][0], "ann", {})
    assert result.status == "completed"
    renamed = runtime.complete_task(sessions, rename_task[0][0], "ann", {})
    assert renamed.status == "completed"


def test_only_the_chosen_instances_move(sessions, three):
    outcome = migrate_instances(sessions, "owner", "trip", 1, 2, {"draft": "draft2"}, instance_ids=[three["rename"]])
    assert [p.instance_id for p in outcome] == [three["rename"]]
    assert [_version_of(sessions, three[w]) for w in ("keep", "rename")] == [1, 2]


SIGN_V1 = ('<bpmn:startEvent id="start"/><bpmn:userTask id="node" name="Sign" liaison:mode="{mode}" '
           'liaison:candidateUsers="ann,owner"/><bpmn:endEvent id="end"/>'
           '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="node"/>'
           '<bpmn:sequenceFlow id="f2" sourceRef="node" targetRef="end"/>')


def test_an_approval_node_keeps_its_signers_only_if_its_mode_stays(sessions, tmp_path):
    from engine.data.models import ApprovalItem
    from engine.packages import deployment as packages
    from tests.engine.conftest import write_package

    add_people(sessions, "ann", "owner")
    for number, mode in ((1, "all"), (2, "any"), (3, "all")):
        folder = write_package(tmp_path / str(number), "sign", {"sign": SIGN_V1.format(mode=mode)},
                               meta={"admins": ["owner"], "notes": str(number)})
        with sessions() as session, session.begin():
            packages.deploy(session, packages.load_package(folder), "admin")
        if number == 1:
            iid = runtime.start_instance(sessions, "sign", {}, user="ann").instance_id
    with sessions() as session:
        [plan] = plan_migration(session, "sign", 1, 2, actor="owner")
        assert not plan.movable and "changes its mode (all -> any)" in plan.reasons[0]
        items = sorted(session.execute(select(ApprovalItem.signer, ApprovalItem.status)
                                       .where(ApprovalItem.instance_id == iid)).all())
    [outcome] = migrate_instances(sessions, "owner", "sign", 1, 3)
    assert outcome.moved
    with sessions() as session:
        assert sorted(session.execute(select(ApprovalItem.signer, ApprovalItem.status)
                                      .where(ApprovalItem.instance_id == iid)).all()) == items
    task = _open_tasks(sessions, iid)[0][0]
    runtime.complete_task(sessions, task, "ann", {"approved": True})
    assert runtime.complete_task(sessions, task, "owner", {"approved": True}).status == "completed"


def test_an_instance_that_finished_meanwhile_stays_and_the_others_move(sessions, three, monkeypatch):
    from engine.packages import migration as package_migration
    from engine.runtime import migration as runtime_migration

    listed = runtime_migration.running_instance_ids
    runtime.cancel_instance(sessions, three["old"], "ann")
    # listed as running, then cancelled before its turn
    monkeypatch.setattr(runtime_migration, "running_instance_ids",
                        lambda conn, version_id: sorted([*listed(conn, version_id), three["old"]]))
    outcome = {p.instance_id: p for p in package_migration.migrate_instances(sessions, "owner", "trip", 1, 2,
                                                                             {"draft": "draft2"})}
    assert outcome[three["keep"]].moved and outcome[three["rename"]].moved
    assert not outcome[three["old"]].moved and "not running" in outcome[three["old"]].reasons[0]
