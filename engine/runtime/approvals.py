"""Approval modes of one approval node: sequential (依次), all must approve (会签), any one (或签),
weighted vote over a threshold (票签).

One BPMN user task is one approval node and one inbox row (`work_task`); with `liaison:mode` its
signers are `approval_item` rows, decided one by one (`runtime.complete_task` routes a mode
node's completion to `runtime` `_decide_once`). This module holds the rules only: which items a
node starts with, and whether the decisions so far settle the node. The node's outcome is what
the process sees as `approved` when the node completes; until then no engine step runs.

Attributes (user task, `liaison:` namespace):
- `mode`: sequential | all | any | vote (absent: an ordinary one-person task);
- `voteThreshold` (vote): the share of the total weight that must approve, 0 < t <= 1, default 0.5
  (approved when the approving weight reaches it; rejected as soon as it can no longer be reached);
- `voteWeights` (vote): `cfo:3,ceo:5`; everyone else weighs 1.
The signers are the node's resolved approvers (`liaison:approvers`, roles expanded to their
members) or its `candidateUsers`, in order (the order matters for sequential).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from fractions import Fraction

from engine.errors import msg

MODES = ("sequential", "all", "any", "vote")
DEFAULT_THRESHOLD = Fraction(1, 2)


@dataclass(frozen=True)
class Item:
    """A signer's item as the rules see it."""

    signer: str
    status: str  # waiting | open | approved | rejected | cancelled
    weight: int = 1


def mode_problems(attributes: dict) -> list[str]:
    """Deploy-time checks of a node's mode attributes."""
    mode = attributes.get("mode")
    problems = []
    if mode is None:
        if "voteThreshold" in attributes or "voteWeights" in attributes:
            problems.append(msg("liaison:voteThreshold / voteWeights need liaison:mode=\"vote\""))
        return problems
    if mode not in MODES:
        return [msg("liaison:mode `%(mode)s` must be one of %(known)s", mode=mode, known=", ".join(MODES))]
    if attributes.get("assignee"):
        problems.append(msg("liaison:mode needs several signers (liaison:approvers or candidateUsers), "
                            "not liaison:assignee"))
    if not attributes.get("approvers") and not attributes.get("candidateUsers"):
        problems.append(msg("liaison:mode needs its signers: liaison:approvers or candidateUsers"))
    try:
        threshold(attributes)
        weights(attributes)
    except ValueError as exc:
        problems.append(str(exc))
    return problems


def threshold(attributes: dict) -> Fraction:
    """The vote threshold as an exact fraction; ValueError when it is not in (0, 1]."""
    text = attributes.get("voteThreshold")
    if text is None:
        return DEFAULT_THRESHOLD
    try:
        value = Fraction(str(text).strip())
    except (ValueError, ZeroDivisionError) as exc:
        raise ValueError(f"liaison:voteThreshold `{text}` must be a number between 0 and 1, e.g. 0.6") from exc
    if not 0 < value <= 1:
        raise ValueError(f"liaison:voteThreshold `{text}` must be a number between 0 and 1, e.g. 0.6")
    return value


def weights(attributes: dict) -> dict[str, int]:
    """`voteWeights` as `{username: weight}`; ValueError naming the bad part."""
    text = attributes.get("voteWeights")
    result: dict[str, int] = {}
    if not text:
        return result
    for part in str(text).split(","):
        name, _, weight = part.strip().partition(":")
        if not name or not weight.strip().isdigit() or int(weight) < 1:
            raise ValueError(f"liaison:voteWeights part `{part.strip()}` must be `username:weight` "
                             "with a whole weight of 1 or more")
        result[name.strip()] = int(weight)
    return result


def new_items(task_id: str, mode: str, signers: list[str], attributes: dict) -> list[dict]:
    """The item rows a node starts with: every signer open, except a sequential node's later ones."""
    weight_of = weights(attributes) if mode == "vote" else {}
    return [{"id": str(uuid.uuid4()), "task_id": task_id, "signer": signer, "position": position,
             "weight": weight_of.get(signer, 1),
             "status": "open" if mode != "sequential" or position == 0 else "waiting"}
            for position, signer in enumerate(dict.fromkeys(signers))]


def outcome(mode: str, items: list[Item], attributes: dict) -> bool | None:
    """True (approved) / False (rejected) once the decisions settle the node, else None."""
    approved = [i for i in items if i.status == "approved"]
    rejected = [i for i in items if i.status == "rejected"]
    live = [i for i in items if i.status != "cancelled"]
    if mode == "any":  # 或签: the first decision decides
        return True if approved else (False if rejected else None)
    if mode in ("all", "sequential"):  # 会签 / 依次: one rejection rejects, everyone must approve
        if rejected:
            return False
        return True if live and len(approved) == len(live) else None
    total = sum(i.weight for i in live)
    needed = threshold(attributes) * total
    yes = sum(i.weight for i in approved)
    no = sum(i.weight for i in rejected)
    if yes >= needed:
        return True
    if total - no < needed:  # the approving weight can no longer reach the threshold
        return False
    return None


def tally(items: list[Item]) -> dict:
    """The decisions for the process data and the history: `{approved: [...], rejected: [...], undecided: [...]}` (undecided: never signed)."""
    return {"approved": [i.signer for i in items if i.status == "approved"],
            "rejected": [i.signer for i in items if i.status == "rejected"],
            "undecided": [i.signer for i in items if i.status in ("open", "waiting")]}
