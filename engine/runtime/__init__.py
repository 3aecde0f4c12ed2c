"""The runtime: everything that changes a running instance, one transaction each.

Every way in (web, CLI, REST API, jobs) calls these functions. The package's face keeps the names
the callers use (`runtime.start_instance`, `runtime.complete_task`, ...); the modules behind it:

- `step`: one engine step (lock fields, restore, run, save with the optimistic-lock check, retries);
- `versions`: what never changes for a deployed version (spec, forms, package, node attributes), cached;
- `instances`: start, complete, cancel;
- `new_tasks`: who gets the tasks a step creates (approver rules, signers, deputies, auto-approve);
- `waits`: the timer rows, message and signal subscriptions a step adds and ends;
- `effects`: the notifications a step writes in its own transaction;
- `node_rules`: which of those operations a node allows (`liaison:allow`, `liaison:returnTo`);
- `claims`, `signers`, `delegation`, `moves`, `operations`: approval operations (认领, 加签/减签 and
  the decisions of a node with a mode, 委派, 退回/跳转/拿回, 转办/催办/抄送/撤回/终止);
- `timers`, `messages`, `signals`: firing timers, correlating messages, routing signals across instances
  (the scheduler's side included);
- `worker_rows`, `worker_tasks`: external service tasks done by outside workers (fetch-and-lock);
- `assignment`, `approvals`, `submissions`, `serials`, `uploads`: the rules the steps apply.

Imports run one way: runtime -> notify, people, bpmn -> data.
"""

from engine.runtime.claims import claim_task, unclaim_task
from engine.runtime.delegation import delegate_task, may_delegate
from engine.runtime.instances import cancel_instance, complete_task, start_instance
from engine.runtime.messages import deliver_message, message_starts, start_by_message
from engine.runtime.moves import MOVE_ACTIONS, may_jump, move_options, move_task, take_back_candidate
from engine.runtime.node_rules import NODE_OPERATIONS, RETURN_TARGETS, NodeRules, node_rules
from engine.runtime.signals import send_signal  # also registers the router of thrown signals
from engine.runtime.signers import SIGNER_PLACES, add_signer, node_mode, remove_signer
from engine.runtime.step import LIVE_WORKFLOWS, StepResult
from engine.runtime.thrown import route_thrown  # also registers the router of thrown messages
from engine.runtime.timers import decide_on_timeout, fire_event_timer
from engine.runtime.versions import PACKAGE_CACHE

__all__ = [
    "LIVE_WORKFLOWS", "MOVE_ACTIONS", "NODE_OPERATIONS", "PACKAGE_CACHE", "RETURN_TARGETS", "NodeRules", "SIGNER_PLACES", "StepResult", "add_signer", "cancel_instance",
    "claim_task", "complete_task", "decide_on_timeout", "delegate_task", "deliver_message", "fire_event_timer", "may_delegate", "may_jump",
    "message_starts", "move_options", "move_task", "node_mode", "node_rules", "remove_signer", "route_thrown", "send_signal",
    "start_by_message",
    "start_instance", "take_back_candidate", "unclaim_task",
]
