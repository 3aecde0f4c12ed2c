"""Start an instance, complete a task, cancel an instance: one transaction each (see `step`).

A completion that loses the optimistic-lock race is re-applied on the newer state if its task is
still open, and refused with TaskConflictError if someone completed that very task. A step that
raises saves nothing; the failure alone is appended to the history, in its own transaction.
"""

from __future__ import annotations

import copy

from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn import workflow as wfa
from engine.bpmn.serialization import new_workflow
from engine.data import store
from engine.data.calendar import FormCalendar
from engine.data.models import utcnow
from engine.errors import (
    NotFoundError,
    ProcessRuntimeError,
    TaskConflictError,
    already_closed,
    msg,
    status_text,
)
from engine.notices import process_link
from engine.runtime import external_tasks, room_sync, uploads, visit_passes
from engine.runtime.delegation import hand_back
from engine.runtime.form_people import people_for
from engine.runtime.messages import take_buffered_messages
from engine.runtime.serials import assign_serials
from engine.runtime.signers import decide_once
from engine.runtime.step import (
    LIVE_WORKFLOWS,
    StepResult,
    cache_key,
    check_may_complete,
    checked_data,
    completion,
    record_failure,
    restore,
    retry_when_locked,
    save_step,
    step_connection,
)
from engine.runtime.submissions import checked_submission
from engine.runtime.versions import approval_mode, version_forms, version_specs
from engine.runtime.waits import NO_WAITS


def start_instance(sessions: sessionmaker[Session], key: str, data: dict | None = None,
                   user: str | None = None, business_key: str | None = None, lang: str = "en",
                   version: tuple[int, str] | None = None, directory_version: int | None = None) -> StepResult:
    """Start the latest version of process `key` with start-form `data`, run it until it waits.

    When the start event names a form, `data` must satisfy it (FormInvalidError lists each field's
    messages in `lang`) and the form's cleaned data is what the process receives.
    `version`: `(version id, checksum)` of `key`'s version the caller read (the start page validated the form of
    that version): it is started, not read again. `directory_version`: the people directory's version the
    caller read (with the signed-in person): the step's look-up of the people it notifies may come from cache.
    """
    data = checked_data(data)
    return retry_when_locked(lambda: _start_once(sessions, key, data, user, business_key, lang, version,
                                                 directory_version), f"starting `{key}`")


def _start_once(sessions, key, data, user, business_key, lang="en", version=None,
                directory_version=None) -> StepResult:
    with step_connection(sessions) as conn:
        version = version or store.latest_version(conn, key)
        if version is None:
            raise NotFoundError(f"no process `{key}` is deployed")
        version_id, checksum = version
        spec, subspecs = version_specs(conn, version_id, checksum)
        forms, start_form = version_forms(conn, version_id, checksum), wfa.start_form(spec)
        now = wfa.company_now()
        data = checked_submission(forms, start_form, None, data, {}, lang, now.date(),
                                  people=people_for(conn, version_id, checksum, user),
                                  calendar=FormCalendar.of_connection(conn, now.date()))
        data = assign_serials(conn, forms.get(start_form), key, data, {}, now)
        workflow = new_workflow(spec, subspecs, wfa.script_engine())
        wfa.set_start_data(workflow, copy.deepcopy(data))
        records = wfa.run_engine(workflow)
        step = store.StepWrite(instance_id=None, revision=0, now=utcnow(), state="", data={}, status="",
                               state_key="", version_id=version_id, process_key=key, initiator=user,
                               business_key=business_key, directory_version=directory_version,
                               history=[{"actor": user, "action": "started", "data": data}])
        result = save_step(conn, step, workflow, records, None, before=set(), waits=NO_WAITS, version=(version_id, checksum))
    LIVE_WORKFLOWS.put(cache_key(sessions, result.instance_id, step.state_key), workflow)
    take_buffered_messages(sessions, result)
    visit_passes.after_step(sessions, result, (version_id, checksum))  # a ready check-in task gets its visitor pass
    room_sync.after_step(sessions, result.instance_id, (version_id, checksum))  # room bookings follow the process
    external_tasks.open_case(sessions, result.instance_id, (version_id, checksum))  # a party's case from its start
    process_link.after_step(sessions, result, (version_id, checksum))  # a composed notice is sent at the end
    return result


def complete_task(sessions: sessionmaker[Session], task_id: str, user: str, data: dict | None = None,
                  groups: tuple[str, ...] = (), comment: str | None = None, lang: str = "en",
                  attachments: list[str] | None = None, handle: store.TaskHandle | None = None) -> StepResult:
    """Complete an open user task as `user` with form `data`, then run until the process waits.

    If another task of the same instance was saved meanwhile, the completion is re-applied on
    top of it; if this very task was completed by someone else, TaskConflictError says so and
    nothing of this submission is stored. When the task names a form, `data` must satisfy it at
    this node (read-only and hidden fields per the form's `access`); the cleaned data is stored.
    `attachments`: ids of the user's own uploads, attached to the instance and listed in the history
    entry's data (`uploads.HISTORY_KEY`). `handle`: the task's handle as the caller just read it
    (`store.task_with_data`, the web form's one read); it replaces the step's own read on the first
    attempt only (a retry reads again), and the save's revision check refuses it if stale.
    """
    data = checked_data(data)
    attachments = uploads.clean_ids(attachments)
    prefetched = [handle] if handle is not None and handle.task_id == task_id else []
    try:
        return retry_when_locked(lambda: complete_once(sessions, task_id, user, data, groups, comment, lang,
                                                         attachments=attachments,
                                                         handle=prefetched.pop() if prefetched else None),
                                  f"completing task {task_id}")
    except ProcessRuntimeError as exc:
        record_failure(sessions, task_id, user, exc)
        raise


def complete_once(sessions, task_id, user, data, groups, comment, lang="en", fire_timer=None,
                   attachments=None, handle=None) -> StepResult:
    with step_connection(sessions) as conn:
        handle = handle or store.task_handle(conn, task_id)
        if handle is None:
            raise NotFoundError(msg("no task %(task)s", task=task_id))
        if fire_timer is None and approval_mode(conn, handle):  # an approval node with several signers
            return decide_once(sessions, task_id, user, data, comment, lang, attachments)
        if fire_timer is None:  # a timeout decision is the system's, not a person's
            check_may_complete(handle, user, groups)
        if handle.delegated_by and fire_timer is None and handle.status == "open":
            return hand_back(sessions, conn, handle, user, data, comment, lang, attachments)
        if handle.status != "open" or handle.instance_status != "running":
            raise TaskConflictError(msg("%(closed)s; nothing of this submission was saved",
                                        closed=already_closed(task_id, handle.status, handle.completed_by)))
        result, workflow, state_key = completion(sessions, conn, handle, user, data, comment, lang, fire_timer,
                                                  attachments=attachments)
    LIVE_WORKFLOWS.put(cache_key(sessions, handle.instance_id, state_key), workflow)
    take_buffered_messages(sessions, result)
    visit_passes.after_step(sessions, result, (handle.version_id, handle.checksum))  # a ready check-in task: its pass
    room_sync.after_step(sessions, handle.instance_id, (handle.version_id, handle.checksum))  # bookings follow
    process_link.after_step(sessions, result, (handle.version_id, handle.checksum))  # a composed notice: sent at the end
    return result


def cancel_instance(sessions: sessionmaker[Session], instance_id: int, user: str | None,
                    reason: str | None = None, *, action: str = "cancelled", effects=None,
                    attachments: list[str] | None = None) -> StepResult:
    """Cancel a running instance: every open task is withdrawn and the history says who and why.

    `action` names the history entry (`engine.operations`: withdrawn, terminated); `effects(conn, handle)`
    returns `(outbox rows, in-app rows)` written in the cancelling step's own write. `attachments`:
    the user's upload ids, as for `complete_task`.
    """
    attachments = uploads.clean_ids(attachments)
    result = retry_when_locked(lambda: _cancel_once(sessions, instance_id, user, reason, action, effects,
                                                     attachments),
                               f"cancelling instance {instance_id}")
    room_sync.after_step(sessions, instance_id)  # its room bookings are cancelled
    return result


def _cancel_once(sessions, instance_id: int, user: str | None, reason: str | None, action: str = "cancelled",
                 effects=None, attachments=None) -> StepResult:
    with step_connection(sessions) as conn:
        handle = store.instance_handle(conn, instance_id)
        if handle is None:
            raise NotFoundError(msg("no instance %(instance)s", instance=instance_id))
        if handle.status != "running":
            raise TaskConflictError(msg("instance %(instance)s is already %(status)s", instance=instance_id,
                                        status=status_text(handle.status)))
        outbox, inapp = effects(conn, handle) if effects is not None else ([], [])
        attached = uploads.claim(conn, attachments, user, instance_id) if attachments else []
        workflow = restore(sessions, conn, handle)
        before = wfa.ready_task_ids(workflow)
        wfa.cancel(workflow)
        step = store.StepWrite(instance_id=instance_id, revision=handle.revision, now=utcnow(), state="",
                               data={}, status="cancelled", state_key="",
                               history=[{"actor": user, "action": action, "comment": reason,
                                         "data": uploads.with_attachments(None, attached)}],
                               initiator=handle.initiator, business_key=handle.business_key,
                               process_key=handle.process_key, outbox=list(outbox), notifications=list(inapp))
        return save_step(conn, step, workflow, [], user, before=before, waits=NO_WAITS, version=(handle.version_id, handle.checksum))
