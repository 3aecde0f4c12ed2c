"""What thrown messages and thrown signals share after a step's commit: route the throwing instances one at
a time, and those the routing itself makes throw, without recursion (a call from inside a routing only
queues) and at most `MAX_ROUNDS` of them; what is left waits for the scheduler's sweep."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar

log = logging.getLogger(__name__)

MAX_ROUNDS = 100


def route_queued(queue_var: ContextVar, throwers: list[int], route_one: Callable[[int], None], what: str) -> None:
    """Route each instance of `throwers` with `route_one`; `queue_var` holds the queue of the routing under way."""
    queue = queue_var.get()
    if queue is not None:
        queue.extend(throwers)  # inside a delivery a router runs: it takes them next
        return
    queue = list(throwers)
    token = queue_var.set(queue)
    try:
        for _round in range(MAX_ROUNDS):
            if not queue:
                return
            route_one(queue.pop(0))
        log.warning("thrown %s: %s instances still to route after %s rounds; the sweep delivers them",
                    what, len(queue), MAX_ROUNDS)
    finally:
        queue_var.reset(token)
