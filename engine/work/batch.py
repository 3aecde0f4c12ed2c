"""Batch approval: complete several approval tasks at once with `{"approved": true}`.

A task qualifies only when its form has a radio or select field `approved` offering `true`; each
task is its own step (one transaction each), so a refused or failed task never stops the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from engine import runtime
from engine.errors import (
    FormInvalidError,
    NotFoundError,
    NotPermittedError,
    ProcessRuntimeError,
    TaskConflictError,
)
from engine.work import pages as work
from forms.schema import FormSchema

MAX_BATCH = 100
APPROVAL = {"approved": True}


@dataclass(frozen=True)
class BatchOutcome:
    """What happened to one selected task; `reason` is a code the caller words for people."""

    task_id: str
    name: str
    ok: bool
    reason: str = ""   # not_found | no_approval | invalid | conflict | failed | too_many
    detail: str = ""


def offers_approval(schema: FormSchema | None) -> bool:
    """True when the form has a radio or select field `approved` with the option `true`."""
    for field in (schema.fields if schema is not None else ()):
        if field.get("name") == "approved" and field.get("type") in ("radio", "select") and \
                any(option.get("value") is True for option in field.get("options") or ()):
            return True
    return False


def _refusal(session: Session, task_id: str, user: str, groups: tuple[str, ...],
             lang: str | None = None) -> BatchOutcome | str:
    """Why `user` cannot approve the task in a batch, or (when they can) the task's name (in `lang`)."""
    try:
        task_form = work.task_form(session, task_id, lang)
    except NotFoundError:
        return BatchOutcome(task_id, "", False, "not_found")
    task = task_form.task
    if task.status != "open" or not work.may_act_on_task(task, user, groups):
        return BatchOutcome(task_id, "", False, "not_found")  # not theirs: say no more than for a missing id
    name = task.name or task.element_id
    if not offers_approval(task_form.schema):
        return BatchOutcome(task_id, name, False, "no_approval")
    return name


def approve_tasks(sessions: sessionmaker[Session], task_ids: list[str], user: str,
                  groups: tuple[str, ...] = (), lang: str = "en") -> list[BatchOutcome]:
    """Approve each task `user` may act on whose form offers `approved: true`; one outcome per task."""
    outcomes = []
    for index, task_id in enumerate(dict.fromkeys(task_ids)):
        if index >= MAX_BATCH:
            outcomes.append(BatchOutcome(task_id, "", False, "too_many"))
            continue
        with sessions() as session:
            checked = _refusal(session, task_id, user, groups, lang)
        if isinstance(checked, BatchOutcome):
            outcomes.append(checked)
        else:
            outcomes.append(_approve(sessions, task_id, checked, user, groups, lang))
    return outcomes


def _approve(sessions, task_id: str, name: str, user: str, groups: tuple[str, ...], lang: str) -> BatchOutcome:
    try:
        runtime.complete_task(sessions, task_id, user, dict(APPROVAL), groups=groups, lang=lang)
    except FormInvalidError as exc:
        detail = "; ".join(" ".join(messages) for messages in exc.errors.values())
        return BatchOutcome(task_id, name, False, "invalid", detail)
    except TaskConflictError as exc:
        return BatchOutcome(task_id, name, False, "conflict", str(exc))
    except (NotPermittedError, NotFoundError):
        return BatchOutcome(task_id, name, False, "not_found")
    except ProcessRuntimeError as exc:
        return BatchOutcome(task_id, name, False, "failed", str(exc))
    return BatchOutcome(task_id, name, True)
