"""Who gets the tasks a step creates: the node's approver rule (`assignment`), the signers of a node
with an approval mode (`approvals`), out-of-office deputies, skipped nodes and the same approver
approved again automatically (package.yaml `auto_approve`).
"""

from __future__ import annotations

from engine.bpmn import sandbox
from engine.bpmn import workflow as wfa
from engine.data import store
from engine.data.calendar import LazyCalendar
from engine.errors import (
    ProcessRuntimeError,
    msg,
)
from engine.people import org
from engine.runtime import approvals, assignment
from engine.runtime.external_tasks import offer_external
from engine.runtime.versions import version_package

MAX_SKIPPED_NODES = 100


def assign_new_tasks(conn, step: store.StepWrite, workflow, version: tuple[int, str]) -> tuple[list, list]:
    """Resolve the `liaison:approvers` rule of every user task that just became ready (once per task,
    kept with it). A node whose rule says skip is completed without a person and the process runs on;
    returns the elements passed meanwhile and the READY user tasks at the end (found once, reused by
    the step). A rule that must fail raises ProcessRuntimeError (nothing of the step is saved; the
    history says why)."""
    records: list = []
    meta = version_package(conn, *version).get("meta") or {}
    repeat_approver = _approver_who_may_repeat(step, meta)
    for _round in range(MAX_SKIPPED_NODES):
        ready = wfa.ready_user_tasks(workflow)
        offer_external(conn, ready)  # supplier / customer / visitor tasks: the group ext:KIND, nobody else
        pending = [t for t in ready if wfa.needs_assignment(t) or (repeat_approver and wfa.is_undescribed(t))]
        if not pending:
            return records, ready
        data = wfa.current_data(workflow, ready)
        skipped = False
        for task in pending:
            element = wfa.element_of(task)
            resolution = resolve_node(conn, wfa.task_attributes(task), initiator=step.initiator, data=data,
                                      meta=meta, element_id=element)
            if resolution is not None and resolution.skipped:
                record = wfa.complete_user_task(workflow, str(task.id), {})
                step.history.append({"actor": None, "action": "skipped", "element_id": element,
                                     "task_id": str(task.id), "comment": resolution.note,
                                     "data": {"skip_reason": resolution.skip_reason}})
                records.append(record)
                records += wfa.run_engine(workflow)
                skipped = True
                break  # the process moved on: look at the ready tasks again
            _plan_signers(conn, step, task, element, resolution)
            if resolution is not None and resolution.note:
                step.history.append({"actor": None, "action": "assigned", "element_id": element,
                                     "task_id": str(task.id), "comment": resolution.note})
            view = wfa.describe_user_task(task, LazyCalendar(conn))[0]
            if repeat_approver and view.assignee == repeat_approver and not view.attributes.get("mode"):
                # the same person approved the node just before: approved again without asking (configured)
                records.append(wfa.complete_user_task(workflow, str(task.id), {"approved": True}))
                step.history.append({"actor": repeat_approver, "action": "auto_approved", "element_id": element,
                                     "task_id": str(task.id), "data": {"approved": True},
                                     "comment": "approved before by the same person"})
                records += wfa.run_engine(workflow)
                skipped = True
                break
        if not skipped:
            return records, ready
    raise ProcessRuntimeError(f"more than {MAX_SKIPPED_NODES} approval nodes in a row were skipped: "
                              "check the approvers rules", reason=msg("too many approval steps in a row were skipped"))


def resolve_node(conn, attributes: dict, *, initiator: str | None, data: dict, meta: dict,
                 element_id: str) -> assignment.Resolution | None:
    """A node's `liaison:approvers` rule resolved for this initiator and data (None: the node has no rule):
    what a new task gets, and what the start page's approval chain shows (`engine.work.preview`)."""
    return assignment.resolve_task(conn, attributes, initiator=initiator, data=data, evaluate=sandbox.evaluate,
                                   process_admins=assignment.process_admins_of(meta), element_id=element_id)


def signers_of(conn, resolution: assignment.Resolution | None, candidate_users: list[str]) -> list[str]:
    """The signers of a node with an approval mode: its resolved approvers with roles expanded to their
    members, or its `candidateUsers` when it has no rule; in order, once each."""
    if resolution is None:
        signers = list(candidate_users)
    else:
        signers = resolution.users + assignment.role_members(conn, resolution.groups)
    return list(dict.fromkeys(signers))


def _approver_who_may_repeat(step: store.StepWrite, meta: dict) -> str | None:
    """With package.yaml `auto_approve: true`, the person whose approval this step records: a next
    node assigned to them alone is approved automatically (DingTalk's "same approver in a row")."""
    if meta.get("auto_approve") is not True or not step.user:
        return None
    completed = next((h for h in step.history if h.get("action") == "task_completed"), None)
    if completed is None or (completed.get("data") or {}).get("approved") is not True:
        return None
    return step.user


def _plan_signers(conn, step: store.StepWrite, task, element: str, resolution) -> None:
    """Give a node that just became ready its people: the resolved approvers, or, with an approval
    mode, one `approval_item` per signer (roles expanded to their members)."""
    attributes = wfa.task_attributes(task)
    mode = attributes.get("mode")
    if not mode:
        if resolution is not None:
            wfa.set_assignment(task, resolution.users, resolution.groups, LazyCalendar(conn))
        return
    signers = signers_of(conn, resolution,
                         wfa.describe_user_task(task, LazyCalendar(conn))[0].candidate_users
                         if resolution is None else [])
    if not signers:
        raise ProcessRuntimeError(f"element `{element}`: the approval node ({mode}) has no signers", element,
                                  reason=assignment.NOBODY)
    items = approvals.new_items(str(task.id), mode, signers, attributes)
    step.approval_items += items
    wfa.set_assignment(task, [signers[0]] if mode == "sequential" else signers, [], LazyCalendar(conn))


def assignees(step: store.StepWrite) -> list[str]:
    """Who the step's new tasks are assigned to (the people `redirect_to_deputies` asks about)."""
    return [t["assignee"] for t in step.new_tasks if t["assignee"]]


def redirect_to_deputies(conn, step: store.StepWrite, anyone_away: bool | None = None) -> dict[str, str]:
    """New tasks assigned to someone out of office go to their deputy (`on_behalf_of` keeps who was
    meant); returns `{task id: deputy}`. Tasks already open when a window starts stay where they are.

    No query when the step creates no assigned task or `anyone_away` (asked along with the step's
    recipients, `recipients.look_up`) is False; else `org.deputies_of`.
    """
    assigned = [t for t in step.new_tasks if t["assignee"]]
    if not assigned or anyone_away is False:
        return {}
    deputies = org.deputies_of(conn, (t["assignee"] for t in assigned), step.now)
    moved = {}
    for task in assigned:
        deputy = deputies.get(task["assignee"])
        if deputy is not None:
            task["on_behalf_of"], task["assignee"] = task["assignee"], deputy
            moved[task["id"]] = deputy
    return moved
