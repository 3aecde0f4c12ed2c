"""Migration of one running instance from a version of its package to another (issue 14, item 5).

`plan_instance` says whether an instance can move and why not; `migrate_instance` moves it in one
transaction through the step machinery (`restore`, `save_step` with the revision check, retries):
waiting user tasks keep their ids, so their inbox rows, assignees and approval items stay; their
reminder, escalation and timeout timers are re-created with the new version's settings (counted from
when the task was created); event timers keep their due time; the instance's history says who moved
it from which version to which. The permission check and the loop over instances are the package
layer's (`engine.packages.migration`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, update

from engine.bpmn import migration as bpmn_migration
from engine.bpmn import workflow as wfa
from engine.bpmn.serialization import load_state
from engine.data import store
from engine.data.calendar import LazyCalendar
from engine.data.models import ApprovalItem, ProcessInstance, Timer, WorkTask
from engine.errors import Message, msg
from engine.runtime.step import (
    STORED_DATA,
    db_engine,
    retry_when_locked,
    running_instance,
    save_step,
    step_on,
)
from engine.runtime.versions import version_specs
from engine.runtime.waits import _task_timers, waits_of


@dataclass(frozen=True)
class VersionRef:
    """A deployed version as the migration needs it."""

    id: int
    number: int
    checksum: str


@dataclass
class InstancePlan:
    """Whether one instance can move, where it waits, and why it cannot (translatable messages)."""

    instance_id: int
    business_key: str | None
    initiator: str | None
    waiting: list[dict] = field(default_factory=list)  # {"element_id", "name", "task_id"}
    reasons: list[Message] = field(default_factory=list)
    moved: bool = False

    @property
    def movable(self) -> bool:
        return not self.reasons


def _reason(code: str, element: str, target: str, version: int) -> Message:
    """The words for a `bpmn_migration.blockers` code."""
    if code == "mapped_missing":
        return msg("%(element)s is mapped to %(target)s, which version %(version)s does not have",
                   element=element, target=target, version=version)
    if code == "passed_missing":
        return msg("it keeps the state of %(element)s, which version %(version)s does not have",
                   element=element, version=version)
    if code == "multi_instance":
        return msg("it waits at the multi-instance node %(element)s, whose instances cannot be moved", element=element)
    return msg("it waits at %(element)s, which version %(version)s does not have (map it to an element of that "
               "version)", element=element, version=version)


def running_instance_ids(conn, version_id: int) -> list[int]:
    """The running instances of a version, oldest first."""
    query = (select(ProcessInstance.id).where(ProcessInstance.version_id == version_id,
                                              ProcessInstance.status == "running").order_by(ProcessInstance.id))
    return list(conn.execute(query).scalars())


def plan_instance(conn, instance_id: int, source: VersionRef, target: VersionRef,
                  mapping: dict[str, str]) -> InstancePlan:
    """Whether the instance can move from `source` to `target` with `mapping` (nothing is changed)."""
    plan, _workflow = _plan(conn, instance_id, source, target, mapping)
    return plan


def _plan(conn, instance_id, source, target, mapping):
    handle = running_instance(conn, instance_id)
    plan = InstancePlan(instance_id, handle.business_key, handle.initiator)
    if handle.version_id != source.id:
        plan.reasons.append(msg("it is no longer on version %(version)s", version=source.number))
        return plan, None
    workflow = _load(conn, handle)
    plan.waiting = [{"element_id": p.element_id, "name": p.name, "task_id": p.task_id}
                    for p in bpmn_migration.waiting_points(workflow) if p.element_type != "BoundaryEventSplit"]
    new_spec, new_subspecs = version_specs(conn, target.id, target.checksum)
    for element, code in bpmn_migration.blockers(workflow, new_spec, new_subspecs, mapping):
        plan.reasons.append(_reason(code, element, mapping.get(element, element), target.number))
    plan.reasons += _approval_reasons(conn, instance_id, workflow, new_spec, new_subspecs, mapping)
    return plan, workflow


def _load(conn, handle):
    """The instance's workflow from its stored state (the live-workflow cache is left alone)."""
    spec, subspecs = version_specs(conn, handle.version_id, handle.checksum)
    state, data, _revision = store.instance_state(conn, handle.instance_id)
    workflow = load_state(state, spec, subspecs, wfa.script_engine(), data)
    setattr(workflow, STORED_DATA, store.saved_data(data))
    return workflow


def _approval_reasons(conn, instance_id, workflow, new_spec, new_subspecs, mapping) -> list[Message]:
    """An approval node whose mode (依次/会签/或签/票签) differs in the new version cannot keep its signers."""
    with_items = set(conn.execute(select(ApprovalItem.task_id).where(ApprovalItem.instance_id == instance_id,
                                                                     ApprovalItem.status.in_(["open", "waiting"])))
                     .scalars())
    reasons = []
    for task in wfa.ready_user_tasks(workflow):
        element = wfa.element_of(task)
        new = bpmn_migration.element_attributes_of(new_spec, new_subspecs, mapping.get(element, element))
        if new is None:
            continue  # named by `blockers`
        old_mode, new_mode = wfa.task_attributes(task).get("mode"), new.get("mode")
        if old_mode != new_mode and (old_mode or str(task.id) in with_items or new_mode):
            reasons.append(msg("the approval node %(element)s changes its mode (%(old)s -> %(new)s): its signers "
                               "cannot be kept", element=element, old=old_mode or "-", new=new_mode or "-"))
    return reasons


def migrate_instance(sessions, instance_id: int, source: VersionRef, target: VersionRef,
                     mapping: dict[str, str], actor: str | None) -> InstancePlan:
    """Move one instance from `source` to `target` in one transaction (when `plan_instance` allows it);
    the returned plan says whether it moved and, if not, why."""
    return retry_when_locked(lambda: _migrate_once(sessions, instance_id, source, target, mapping, actor),
                             f"migrating instance {instance_id}")


def _migrate_once(sessions, instance_id, source, target, mapping, actor) -> InstancePlan:
    with db_engine(sessions).begin() as conn:
        plan, workflow = _plan(conn, instance_id, source, target, mapping)
        if not plan.movable:
            return plan
        handle = running_instance(conn, instance_id)
        before, waits = wfa.ready_task_ids(workflow), waits_of(workflow)
        used = {old: new for old, new in mapping.items() if any(w["element_id"] == old for w in plan.waiting)}
        new_spec, new_subspecs = version_specs(conn, target.id, target.checksum)
        bpmn_migration.migrate(workflow, new_spec, new_subspecs, mapping)
        records = wfa.run_engine(workflow)
        step = step_on(handle, history=[{
            "actor": actor, "action": "migrated", "comment": f"v{source.number} → v{target.number}",
            "data": {"from": source.number, "to": target.number, "mapping": used}}])
        kept = _kept_tasks(conn, instance_id, workflow, before)
        _renew_task_timers(conn, step, kept)
        save_step(conn, step, workflow, records, actor, before=before, waits=waits,
                  version=(target.id, target.checksum))
        _update_rows(conn, instance_id, step.revision + 1, target, kept)
    plan.moved = True
    return plan


def _kept_tasks(conn, instance_id, workflow, before: set[str]) -> list:
    """`(view, created_at)` of the user tasks that waited before the move and still wait after it."""
    created = dict(conn.execute(select(WorkTask.id, WorkTask.created_at)
                                .where(WorkTask.instance_id == instance_id, WorkTask.status == "open")).all())
    workdays = LazyCalendar(conn)
    kept = []
    for task in wfa.ready_user_tasks(workflow):
        if str(task.id) in before and str(task.id) in created:
            kept.append((wfa.describe_user_task(task, workdays)[0], created[str(task.id)]))
    return kept


def _renew_task_timers(conn, step, kept) -> None:
    """The reminders, escalation, overdue and timeout timers of the kept tasks, as the new version sets them."""
    workdays = LazyCalendar(conn)
    for view, created_at in kept:
        step.timers_cancel.append(view.id)
        step.timers_new += _task_timers(view, created_at, workdays)


def _update_rows(conn, instance_id: int, revision: int, target: VersionRef, kept) -> None:
    """The instance's version, and the element, name and form of its kept inbox rows and their timers."""
    conn.execute(update(ProcessInstance).where(ProcessInstance.id == instance_id, ProcessInstance.revision == revision)
                 .values(version_id=target.id))
    for view, _created in kept:
        conn.execute(update(WorkTask).where(WorkTask.id == view.id)
                     .values(element_id=view.element_id, name=view.name, form=view.form))
        conn.execute(update(Timer).where(Timer.task_id == view.id, Timer.status == "pending")
                     .values(element_id=view.element_id))
