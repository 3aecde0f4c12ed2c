"""The notifications a step causes (task assigned, approved / rejected, returned, finished), rendered
into the step's own write: the outbox and in-app rows commit with it or not at all.
"""

from __future__ import annotations

from engine.data import store
from engine.notify import render as notifications
from engine.notify.recipients import Directory
from engine.runtime.outcome import DECISION_KEY, decision, outcome
from engine.runtime.versions import version_package


def step_events(step: store.StepWrite, actor: str | None) -> list[notifications.Event]:
    """What the step notifies: task assigned (to the new tasks' assignees or candidates), returned and
    the request's outcome (to the initiator): rejected when rejected, approved when it ends approved,
    finished when it ends without a decision; one message each."""
    events = []
    for task in step.new_tasks:
        assigned = [task["assignee"]] if task["assignee"] else list(task["candidate_users"])
        events.append(notifications.Event(
            "task_assigned", recipients=assigned, groups=[] if task["assignee"] else list(task["candidate_groups"]),
            task={"id": task["id"], "element_id": task["element_id"], "name": task["name"],
                  "due_at": task["due_at"]}))
    # The initiator hears the request's outcome once: a rejection when it is made (the process may
    # send the request back for rework), an approval only when the request ends approved (not while a
    # later step is still open), and "finished" only for an ending without a decision.
    completed = next((h for h in step.history if h.get("action") == "task_completed"), None)
    made = decision((completed.get("data") or {}).get(DECISION_KEY)) if completed is not None else None
    if step.initiator and (made == "rejected" or step.status == "completed"):
        ended = outcome(step.status, (step.data or {}).get(DECISION_KEY)) if step.status == "completed" else None
        kind = made if made == "rejected" else ended
        if kind in ("approved", "rejected"):
            task = completed if completed is not None and made == kind else {}
            events.append(notifications.Event(
                kind, recipients=[step.initiator], actor=actor if task else None, comment=task.get("comment"),
                task={"id": task.get("task_id"), "element_id": task.get("element_id"), "name": None,
                      "due_at": None}))
        elif ended is not None:
            events.append(notifications.Event("instance_finished", recipients=[step.initiator]))
    returned = next((h for h in step.history if h.get("action") == "returned"), None)
    if returned is not None and step.initiator:
        events.append(notifications.Event("returned", recipients=[step.initiator], actor=actor,
                                          comment=returned.get("comment")))
    return events


def notify_step(conn, step: store.StepWrite, version: tuple[int, str], events: list,
                directory: Directory | None = None) -> None:
    """The step's `events` (`step_events`), rendered into the step's own write: the outbox and in-app
    rows commit with it or not at all. `directory`: their people, if looked up already."""
    if not events:
        return
    facts = notifications.StepFacts(
        process_key=step.process_key, package=version_package(conn, *version), instance_id=step.instance_id,
        initiator=step.initiator, business_key=step.business_key, data=step.data, events=events)
    outbox, inapp = notifications.render_step(conn, facts, step.now, directory=directory)
    step.outbox += outbox
    step.notifications += inapp


def notify_signers(conn, handle, signers: list[str], now) -> None:
    event = notifications.Event("task_assigned", recipients=signers,
                                task={"id": handle.task_id, "element_id": handle.element_id, "name": None,
                                      "due_at": None})
    instance = store.instance_handle(conn, handle.instance_id)
    facts = notifications.StepFacts(process_key=handle.process_key,
                                    package=version_package(conn, handle.version_id, handle.checksum),
                                    instance_id=handle.instance_id, initiator=handle.initiator,
                                    business_key=handle.business_key, data=instance.data, events=[event])
    store.write_effects(conn, handle.instance_id, now, *notifications.render_step(conn, facts, now))
