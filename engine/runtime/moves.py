"""Moving the token of an open task: return (退回), admin jump (跳转), take back (拿回); who may move
it where is decided here (the engine side of the move is `engine.bpmn.token_moves`).
"""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn import token_moves
from engine.bpmn import workflow as wfa
from engine.caching import scoped
from engine.data import store
from engine.errors import (
    InvalidTaskDataError,
    NotPermittedError,
    TaskConflictError,
    Username,
    msg,
)
from engine.people import org
from engine.results import element_label, element_names
from engine.runtime import assignment
from engine.runtime.node_rules import check_return_target, node_rules_of
from engine.runtime.signers import own_item, signer_items
from engine.runtime.step import (
    LIVE_WORKFLOWS,
    StepResult,
    cache_key,
    check_may_complete,
    db_engine,
    history_table,
    open_task,
    restore,
    retry_when_locked,
    save_step,
    step_connection,
    step_on,
    task_table,
)
from engine.runtime.versions import approval_mode, version_package
from engine.runtime.waits import waits_of

MOVE_ACTIONS = {"return": "returned", "jump": "jumped", "take_back": "taken_back"}


_TASK_HISTORY = (select(history_table.c.actor, history_table.c.action, history_table.c.element_id,
                        history_table.c.task_id)
                 .where(history_table.c.instance_id == bindparam("b_instance"))
                 .order_by(history_table.c.id))


def _task_history(conn, instance_id: int) -> list[tuple]:
    """`(actor, action, element id, task id)` of the instance's history, in order (once per read scope)."""
    return scoped(("task_history", instance_id),
                  lambda: [tuple(r) for r in conn.execute(_TASK_HISTORY, {"b_instance": instance_id})])


def move_task(sessions: sessionmaker[Session], task_id: str, actor: str, kind: str, target: str | None = None,
              comment: str | None = None, groups: tuple[str, ...] = ()) -> StepResult:
    """Move the token of an open task (one engine step, like a completion):

    - `return`: the task's holder sends it back to `target`: "previous" (the last person's node),
      "initiator" (the process's `liaison:resubmit` node) or the id of a node already passed; a
      comment is required;
    - `jump`: a super admin or one of the package's `admins` moves it to any node (a reason is required);
    - `take_back`: whoever completed the previous node pulls it back while nobody acted on this one.

    The task's row is cancelled, the target's new row is assigned like any new task, the history
    says who moved what where; a return notifies the initiator.
    """
    if kind not in MOVE_ACTIONS:
        raise InvalidTaskDataError(f"a token move is one of {', '.join(MOVE_ACTIONS)}, not `{kind}`")
    if kind in ("return", "jump") and not (comment or "").strip():
        raise InvalidTaskDataError(msg("a return needs a comment saying why") if kind == "return"
                                   else msg("a jump needs a comment saying why"))
    return retry_when_locked(lambda: _move_once(sessions, task_id, actor, kind, target, comment, tuple(groups)),
                              f"moving task {task_id}")


def _move_once(sessions, task_id, actor, kind, target, comment, groups) -> StepResult:
    with step_connection(sessions) as conn:
        handle = open_task(conn, task_id)
        history = _task_history(conn, handle.instance_id)
        workflow = restore(sessions, conn, handle)
        path = [element for _actor, action, element, _task in history if action in ("step", "task_completed")]
        targets = {t["id"]: t for t in token_moves.movable_targets(workflow, task_id, path)}
        element = _move_target(conn, handle, kind, target, targets, actor, groups, history, workflow)
        before, waits = wfa.ready_task_ids(workflow), waits_of(workflow)
        token_moves.move_token(workflow, task_id, element, reason=kind)
        records = wfa.run_engine(workflow)
        step = step_on(handle, history=[{"actor": actor, "action": MOVE_ACTIONS[kind],
                                          "element_id": handle.element_id, "task_id": task_id, "comment": comment,
                                          "data": {"from": handle.element_id, "to": element}}])
        result = save_step(conn, step, workflow, records, actor, before=before, waits=waits,
                       version=(handle.version_id, handle.checksum))
    LIVE_WORKFLOWS.put(cache_key(sessions, handle.instance_id, step.state_key), workflow)
    return result


def _move_target(conn, handle, kind, target, targets: dict, actor, groups, history, workflow) -> str:
    """Check who may move the token where; the target element's id."""
    previous = next((t for t in targets.values() if t.get("previous")), None)
    if kind == "jump":
        return _jump_target(conn, handle, target, actor)
    if kind == "take_back":
        return _take_back_target(conn, handle, previous, actor, history)
    return _return_target(conn, handle, target, targets, previous, actor, groups, workflow)


def _may_jump(conn, handle, actor: str) -> bool:
    """The one rule for who moves a request to any node: a super admin or one of the package's `admins`."""
    meta = version_package(conn, handle.version_id, handle.checksum).get("meta") or {}
    return org.is_super_admin(conn, actor) or actor in assignment.process_admins_of(meta)


def may_jump(sessions: sessionmaker[Session], task_id: str, actor: str) -> bool:
    """Whether `actor` may jump open task `task_id` (for showing the form; `move_task` checks again)."""
    with db_engine(sessions).connect() as conn:
        handle = store.task_handle(conn, task_id)
        return handle is not None and handle.status == "open" and _may_jump(conn, handle, actor)


def _jump_target(conn, handle, target, actor) -> str:
    if not _may_jump(conn, handle, actor):
        raise NotPermittedError(msg("only a super admin or the process's admins move a request to any node"))
    if not target:
        raise InvalidTaskDataError(msg("a jump needs the node to go to"))
    return target


_ACTED = ("claimed", "signed", "delegated", "transferred", "signer_added", "signer_removed")


def _take_back_target(conn, handle, previous, actor, history) -> str:
    task_id = handle.task_id
    if previous is None:
        raise NotPermittedError(msg("task %(task)s has no previous node to take back", task=task_id))
    last = next((a for a, action, element, _t in reversed(history)
                 if action == "task_completed" and element == previous["id"]), None)
    if last != actor:
        raise NotPermittedError(msg("only %(person)s may take it back", person=Username(last)) if last else
                                msg("only whoever completed the previous node may take it back"))
    if any(t == task_id and action in _ACTED for _a, action, _e, t in history):
        raise TaskConflictError(msg("someone already acted on task %(task)s: it cannot be taken back", task=task_id))
    return previous["id"]


def _return_target(conn, handle, target, targets, previous, actor, groups, workflow) -> str:
    task_id = handle.task_id
    if approval_mode(conn, handle):
        own_item(signer_items(conn, task_id), actor, handle)
    else:
        check_may_complete(handle, actor, groups)
    resubmit = token_moves.return_settings(workflow, task_id)["resubmit"]
    check_return_target(conn, handle, _target_kind(conn, handle, target, previous, resubmit))
    if target in (None, "previous"):
        if previous is None:
            raise NotPermittedError(msg("task %(task)s has no previous node to return to", task=task_id))
        return previous["id"]
    if target == "initiator":
        if not resubmit:
            raise NotPermittedError(msg("the process names no node for the initiator's rework "
                                        "(liaison:resubmit on its start event)"))
        return resubmit
    found = targets.get(target)
    if found is None or not (found.get("passed") or found.get("resubmit")):
        allowed = ", ".join(t for t, v in targets.items() if v.get("passed") or v.get("resubmit")) or "none"
        raise NotPermittedError(msg("`%(node)s` is not a node this request already passed (possible: %(allowed)s)",
                                    node=target, allowed=allowed))
    return target


def _target_kind(conn, handle, target, previous, resubmit) -> str:
    """Which `liaison:returnTo` target a return to `target` is: the previous node and the initiator's
    rework node named by their ids count as such when the node allows that, else as `any`."""
    if target in (None, "previous", "initiator"):
        return target or "previous"
    rules = node_rules_of(conn, handle)
    if previous is not None and target == previous["id"] and rules.may_return_to("previous"):
        return "previous"
    if resubmit and target == resubmit and rules.may_return_to("initiator"):
        return "initiator"
    return "any"


def move_options(sessions: sessionmaker[Session], task_id: str, lang: str | None = None) -> dict:
    """Where an open task can be returned to, for the task page: `{"previous": {id, name} | None,
    "initiator": bool, "passed": [{id, name}], "all": [{id, name}] (where an admin may jump)}`
    (nothing is changed); the return targets only as far as the node allows them (`liaison:allow`,
    `liaison:returnTo`: `node_rules`); with `lang`, the names in that language (`results.element_label`)."""
    with db_engine(sessions).connect() as conn:
        handle = open_task(conn, task_id)
        history = _task_history(conn, handle.instance_id)
        workflow = restore(sessions, conn, handle)
        try:
            path = [element for _a, action, element, _t in history if action in ("step", "task_completed")]
            targets = token_moves.movable_targets(workflow, task_id, path)
            resubmit = token_moves.return_settings(workflow, task_id)["resubmit"]
        finally:
            LIVE_WORKFLOWS.put(cache_key(sessions, handle.instance_id, handle.state_key), workflow)
        names = element_names(version_package(conn, handle.version_id, handle.checksum)) if lang else None
        rules = node_rules_of(conn, handle)
    targets = [{**t, "name": element_label(names, t["id"], lang, t.get("name"))} for t in targets]
    previous = next(({"id": t["id"], "name": t["name"]} for t in targets if t.get("previous")), None)
    passed = [{"id": t["id"], "name": t["name"]} for t in targets
              if t.get("passed") and not t.get("current") and t["id"] != resubmit]
    return {"previous": previous if rules.may_return_to("previous") else None,
            "initiator": bool(resubmit) and rules.may_return_to("initiator"),
            "passed": passed if rules.may_return_to("any") else [],
            "all": [{"id": t["id"], "name": t["name"]} for t in targets if not t.get("current")]}


def take_back_candidate(sessions: sessionmaker[Session], instance_id: int, user: str) -> str | None:
    """The open task `user` may take back now (they completed the node before it and nobody acted
    on it), or None: for showing the button; `move_task` checks again."""
    with db_engine(sessions).connect() as conn:
        open_tasks = conn.execute(select(task_table.c.id).where(task_table.c.instance_id == instance_id,
                                                                 task_table.c.status == "open")).scalars().all()
        history = _task_history(conn, instance_id)
    if len(open_tasks) != 1:
        return None
    last = next(((a, element) for a, action, element, _t in reversed(history) if action == "task_completed"), None)
    if last is None or last[0] != user or any(t == open_tasks[0] and action in _ACTED for _a, action, _e, t in history):
        return None
    return open_tasks[0]
