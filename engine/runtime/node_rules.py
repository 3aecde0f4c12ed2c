"""Which approval operations a user task's node allows (issue 16): `liaison:allow` and `liaison:returnTo`.

- `liaison:allow="return,transfer,delegate,addSigner,removeSigner"`: the operations a holder may start
  on the node (absent: all of them, as before; an empty value: none of them);
- `liaison:returnTo="initiator,previous,any"`: where a return may go (absent: everywhere the engine
  supports): the initiator's rework node, the previous node, any node the request passed (`any`
  includes the other two).

The one owner of these rules: every operation (transfer, delegate, return, add / remove signer) calls
`check_allowed` / `check_return_target`, and the pages ask `node_rules` (through `may_transfer`,
`may_delegate`, `move_options`), so web, CLI and a REST API agree. Jump (an admin's move) and take
back are not node operations and stay as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from engine.data import store
from engine.errors import NotPermittedError, msg
from engine.runtime.step import db_engine
from engine.runtime.versions import node_attributes

NODE_OPERATIONS = ("return", "transfer", "delegate", "addSigner", "removeSigner")
RETURN_TARGETS = ("initiator", "previous", "any")

_REFUSALS = {
    "return": msg("step %(step)s does not allow returning the request"),
    "transfer": msg("step %(step)s does not allow transfer"),
    "delegate": msg("step %(step)s does not allow delegation"),
    "addSigner": msg("step %(step)s does not allow adding signers"),
    "removeSigner": msg("step %(step)s does not allow removing signers"),
}
_TARGET_REFUSALS = {
    "initiator": msg("step %(step)s does not allow returning the request to the initiator"),
    "previous": msg("step %(step)s does not allow returning the request to the previous step"),
    "any": msg("step %(step)s does not allow returning the request to an earlier step of your choice"),
}


def names_of(value) -> list[str]:
    """`"a, b c"` or `["a", "b"]` as a list of names (an empty value: none)."""
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    return [part for part in str(value or "").replace(",", " ").split() if part]


@dataclass(frozen=True)
class NodeRules:
    """What a node allows: its operations and where a return may go."""

    operations: frozenset[str]
    return_to: frozenset[str]

    def allows(self, operation: str) -> bool:
        """Whether the node allows `operation` (one of `NODE_OPERATIONS`)."""
        return operation in self.operations

    def may_return_to(self, target: str) -> bool:
        """Whether a return may go to `target` (initiator, previous or any); `any` includes the other two;
        never when returns are off."""
        return "return" in self.operations and (target in self.return_to or "any" in self.return_to)


EVERYTHING = NodeRules(frozenset(NODE_OPERATIONS), frozenset(RETURN_TARGETS))


def rules_of(attributes: Mapping) -> NodeRules:
    """The rules a node's Liaison attributes say (unknown names are ignored: the deploy refused them)."""
    allow = attributes.get("allow")
    operations = frozenset(NODE_OPERATIONS) if allow is None else frozenset(names_of(allow)) & set(NODE_OPERATIONS)
    targets = attributes.get("returnTo")
    return_to = frozenset(RETURN_TARGETS) if targets is None else frozenset(names_of(targets)) & set(RETURN_TARGETS)
    return NodeRules(operations, return_to)


def allow_problems(attributes: Mapping, tag: str = "userTask") -> list[str]:
    """Deploy-time findings about `liaison:allow` / `liaison:returnTo` of an element (`tag`: its local name)."""
    problems = []
    for name, known in (("allow", NODE_OPERATIONS), ("returnTo", RETURN_TARGETS)):
        value = attributes.get(name)
        if value is None:
            continue
        if tag != "userTask":
            problems.append(msg("liaison:%(attribute)s is for user tasks, not a %(tag)s", attribute=name, tag=tag))
            continue
        unknown = [n for n in names_of(value) if n not in known]
        if unknown:
            unknown_text = msg("liaison:allow `%(value)s`: unknown operation %(unknown)s (known: %(known)s)"
                               ) if name == "allow" else msg(
                "liaison:returnTo `%(value)s`: unknown target %(unknown)s (known: %(known)s)")
            problems.append(msg(unknown_text.msgid, value=value, unknown=", ".join(unknown),
                                known=", ".join(known)))
    return problems


def node_rules_of(conn, handle) -> NodeRules:
    """The rules of a task's node (`handle`: anything with version_id, checksum, element_id)."""
    return rules_of(node_attributes(conn, handle))


def check_allowed(conn, handle, operation: str) -> None:
    """NotPermittedError when the task's node does not allow `operation` (one of `NODE_OPERATIONS`)."""
    if not node_rules_of(conn, handle).allows(operation):
        raise NotPermittedError(msg(_REFUSALS[operation].msgid, step=handle.element_id))


def check_return_target(conn, handle, target: str) -> None:
    """NotPermittedError when the node allows no return, or none to `target` (initiator, previous, any)."""
    rules = node_rules_of(conn, handle)
    if not rules.allows("return"):
        raise NotPermittedError(msg(_REFUSALS["return"].msgid, step=handle.element_id))
    if not rules.may_return_to(target):
        raise NotPermittedError(msg(_TARGET_REFUSALS[target].msgid, step=handle.element_id))


def node_rules(sessions: sessionmaker[Session], task_id: str) -> NodeRules:
    """The rules of task `task_id`'s node, for showing what a page offers (everything for no such task)."""
    with db_engine(sessions).connect() as conn:
        handle = store.task_handle(conn, task_id)
        return EVERYTHING if handle is None else node_rules_of(conn, handle)
