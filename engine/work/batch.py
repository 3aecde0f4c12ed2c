"""Batch approval: complete several approval tasks at once with `{"approved": true}`.

A task qualifies only when its form has a radio or select field `approved` offering `true`; each
task is its own step (one transaction each), so a refused or failed task never stops the others.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import runtime
from engine.data.models import ProcessDefinition, ProcessInstance
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
    instance_id: int | None = None  # the request the task belongs to (None when not the person's to see)
    process_key: str = ""


def offers_approval(schema: FormSchema | None) -> bool:
    """True when the form has a radio or select field `approved` with the option `true`."""
    for field in (schema.fields if schema is not None else ()):
        if field.get("name") == "approved" and field.get("type") in ("radio", "select") and \
                any(option.get("value") is True for option in field.get("options") or ()):
            return True
    return False


def _refusal(session: Session, task_id: str, user: str, groups: tuple[str, ...],
             lang: str | None = None) -> BatchOutcome:
    """Why `user` cannot approve the task in a batch (`ok` False), or the task they may approve (`ok`); the
    task's name in `lang`."""
    try:
        task_form = work.task_form(session, task_id, lang)
    except NotFoundError:
        return BatchOutcome(task_id, "", False, "not_found")
    task = task_form.task
    if task.status != "open" or not work.may_act_on_task(task, user, groups):
        return BatchOutcome(task_id, "", False, "not_found")  # not theirs: say no more than for a missing id
    name = task.name or task.element_id
    if not offers_approval(task_form.schema):
        return BatchOutcome(task_id, name, False, "no_approval", instance_id=task.instance_id,
                            process_key=task.process_key)
    return BatchOutcome(task_id, name, True, instance_id=task.instance_id, process_key=task.process_key)


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
        outcomes.append(_approve(sessions, checked, user, groups, lang) if checked.ok else checked)
    return outcomes


def check_tasks(sessions: sessionmaker[Session], task_ids: list[str], user: str,
                groups: tuple[str, ...] = (), lang: str | None = None) -> list[BatchOutcome]:
    """What `approve_tasks` would do, without doing it (for the confirmation): `ok` for each task it would
    approve, the reason for the others."""
    with sessions() as session:
        return [_refusal(session, task_id, user, groups, lang) if index < MAX_BATCH
                else BatchOutcome(task_id, "", False, "too_many")
                for index, task_id in enumerate(dict.fromkeys(task_ids))]


def requests_of(session: Session, outcomes: list[BatchOutcome]) -> dict[int, dict]:
    """The requests behind the outcomes, to name them: `{instance id: {process_name, process_key,
    initiator}}` in one query."""
    ids = sorted({o.instance_id for o in outcomes if o.instance_id is not None})
    if not ids:
        return {}
    rows = session.execute(select(ProcessInstance.id, ProcessInstance.process_key, ProcessInstance.initiator,
                                  ProcessDefinition.name)
                           .outerjoin(ProcessDefinition, ProcessDefinition.key == ProcessInstance.process_key)
                           .where(ProcessInstance.id.in_(ids)))
    return {r.id: {"process_key": r.process_key, "process_name": r.name or {}, "initiator": r.initiator}
            for r in rows}


def _approve(sessions, checked: BatchOutcome, user: str, groups: tuple[str, ...], lang: str) -> BatchOutcome:
    def refused(reason: str, detail: str = "") -> BatchOutcome:
        return replace(checked, ok=False, reason=reason, detail=detail)

    try:
        runtime.complete_task(sessions, checked.task_id, user, dict(APPROVAL), groups=groups, lang=lang)
    except FormInvalidError as exc:
        return refused("invalid", "; ".join(" ".join(messages) for messages in exc.errors.values()))
    except TaskConflictError as exc:
        return refused("conflict", str(exc))
    except (NotPermittedError, NotFoundError):
        return BatchOutcome(checked.task_id, "", False, "not_found")
    except ProcessRuntimeError as exc:
        return refused("failed", str(exc))
    return checked
