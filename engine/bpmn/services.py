"""Registry of named Python operations that BPMN service tasks call.

A service task names its operation (`spiffworkflow:serviceTaskOperator id="echo"`) and passes parameters;
the script engine looks the operation up here and calls it with the evaluated parameter values as keyword
arguments. Operations take plain JSON values and return a JSON-serialisable value.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from numbers import Number
from typing import Any

from engine.errors import ExpressionError

Operation = Callable[..., Any]

_REGISTRY: dict[str, Operation] = {}
_LOCK = threading.Lock()


def register_service(name: str, fn: Operation, *, replace: bool = False) -> None:
    """Register fn under name; a different function already registered there is refused unless replace."""
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise ValueError(f"service operation name must be a non-blank string without outer spaces: {name!r}")
    if not callable(fn):
        raise TypeError(f"service operation `{name}` must be callable")
    with _LOCK:
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not fn and not replace:
            raise ValueError(f"service operation `{name}` is already registered")
        _REGISTRY[name] = fn


def unregister_service(name: str) -> None:
    """Forget the operation registered under name (no error if there is none)."""
    with _LOCK:
        _REGISTRY.pop(name, None)


def service(name: str) -> Callable[[Operation], Operation]:
    """Decorator registering the function as the service operation `name`; returns it unchanged."""

    def decorate(fn: Operation) -> Operation:
        register_service(name, fn)
        return fn

    return decorate


def get_service(name: str) -> Operation:
    """The operation registered under name; ExpressionError listing the known names if there is none."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        known = ", ".join(service_names()) or "none"
        raise ExpressionError(f"unknown service operation `{name}` (known: {known})") from None


def service_names() -> list[str]:
    """Names of every registered operation, sorted."""
    return sorted(_REGISTRY)


def check_service(name: str) -> str | None:
    """Deploy-time check: None if the operation exists, else the message get_service would raise."""
    try:
        get_service(name)
    except ExpressionError as err:
        return str(err)
    return None


@service("echo")
def echo(**kwargs: Any) -> dict[str, Any]:
    """Return the parameters it was called with (a network-free operation for tests and demos)."""
    return dict(kwargs)


@service("sum_values")
def sum_values(values: list[Any]) -> int | float:
    """Sum a list of numbers; ValueError if values is not a list of numbers."""
    if not isinstance(values, list | tuple):
        raise ValueError(f"values must be a list of numbers, not {type(values).__name__}")
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, Number)]
    if bad:
        raise ValueError(f"values must be numbers, got {bad[0]!r}")
    return sum(values)


# -- side effects of operations ----------------------------------------------------------------------
# An operation that makes a side effect (a webhook call) must not make it while the engine runs: a step
# that fails or loses a race saves nothing and runs again. It leaves the effect here instead; the engine
# step (`engine.runtime.triggers`) writes it with the step's own write, so it happens once or not at all.

_EFFECTS: ContextVar[list | None] = ContextVar("liaison_service_effects", default=None)
EVENT_NAME_LIMIT = 40  # the outbox's `event` column


@contextmanager
def collecting_effects() -> Iterator[list[dict]]:
    """Collect the effects operations leave while the engine runs (a list the caller takes them from)."""
    effects: list[dict] = []
    token = _EFFECTS.set(effects)
    try:
        yield effects
    finally:
        _EFFECTS.reset(token)


@service("webhook")
def webhook(endpoint: str, event: str | None = None, payload: Any = None) -> str:
    """Call the configured webhook endpoint `endpoint` with `payload` through the outbox (signed, retried);
    returns the delivery id the receiver sees (payload `delivery`)."""
    effects = _EFFECTS.get()
    if effects is None:
        raise RuntimeError("the webhook operation runs only inside an engine step")
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise ValueError("endpoint must be the name of a configured webhook endpoint")
    if event is not None and (not isinstance(event, str) or not event.strip() or len(event) > EVENT_NAME_LIMIT):
        raise ValueError(f"event must be a name of 1 to {EVENT_NAME_LIMIT} characters")
    try:
        payload = json.loads(json.dumps(payload))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"payload must be plain JSON: {exc}") from exc
    delivery = uuid.uuid4().hex
    effects.append({"kind": "webhook", "endpoint": endpoint.strip(), "event": event, "payload": payload,
                    "delivery": delivery})
    return delivery
