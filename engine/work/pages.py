"""What a person needs to do work, for the web pages: a task's form and values, a process's start form,
an instance's diagram with the path taken, and who may see what.

Every reader here is scoped: `may_act_on_task` and `may_view_instance` (owned by `engine.runtime.visibility`,
which the forms' related fields check too) are the one place those rules live.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn import workflow as wfa
from engine.bpmn.serialization import SPEC_CACHE
from engine.bpmn.xmlsafe import relabel
from engine.data import store
from engine.data.models import (
    ApprovalItem,
    HistoryEntry,
    ProcessDefinition,
    ProcessInstance,
    ProcessVersion,
    WorkTask,
)
from engine.errors import NotFoundError
from engine.results import element_label, element_names
from engine.runtime.outcome import DECISION_KEY
from engine.runtime.step import may_complete
from engine.runtime.submissions import FORM_CACHE
from engine.runtime.versions import version_package, versions_element_names
from engine.runtime.visibility import may_view_instance, process_admins  # noqa: F401 - the pages' rule, owned by the runtime
from engine.work.queries import TaskItem, get_task, path_taken
from forms.schema import FormSchema


@dataclass
class TaskForm:
    task: TaskItem
    schema: FormSchema | None
    node: str
    values: dict            # the instance's current data: earlier answers shown read-only (an open task that
                            # decides: without `approved`, which is never preselected, e.g. after a return)
    instance_status: str
    handle: store.TaskHandle | None = None  # read along by `task_form_fast`: the step's first read


def _forms_of_version(session: Session, version: ProcessVersion) -> dict[str, FormSchema]:
    return FORM_CACHE.get(version.checksum, lambda: version.package)


def task_form(session: Session, task_id: str, lang: str | None = None) -> TaskForm:
    """The task (its name in `lang`, see `queries.get_task`), its form schema (None when it names none)
    and the data to show; NotFoundError."""
    task = get_task(session, task_id, lang)
    instance = session.get(ProcessInstance, task.instance_id)
    version = session.get(ProcessVersion, instance.version_id)
    schema = _forms_of_version(session, version).get(task.form) if task.form else None
    values = store.read_process_data(session, instance.id)
    if task.status == "open" and schema is not None and schema.access_for(task.element_id).get(DECISION_KEY) == "editable":
        values.pop(DECISION_KEY, None)  # a decision this task makes is never preselected (e.g. after a return)
    return TaskForm(task, schema, task.element_id, values, instance.status)


task_with_data_read = store.task_with_data_read  # the read `task_form_fast(read=)` takes the row of


def task_form_fast(session: Session, task_id: str, lang: str | None = None, with_state: bool = False,
                   read=None) -> TaskForm:
    """`task_form` in one query: the task, its instance's status, version and data, and the engine's
    handle of it (`store.task_with_data`); the form schema and the element names come from the caches
    kept per version checksum. The handle lets `runtime.complete_task` skip its own read of the task
    (the save's revision check still refuses a step on a state changed since); `with_state`: it also
    carries the engine state, so the step never reads it again (a completion); `read`: the row of
    `store.task_with_data_read(task_id)` when the caller read it already (along with the session, see
    `accounts.signed_in_user_along`). NotFoundError."""
    if read is not None:
        found = store.task_with_data_of(read, with_state=True)
        if found is None or found[0].task_id != task_id:
            found = store.task_with_data(session, task_id, with_state)  # not this task's: read it now
    else:
        found = store.task_with_data(session, task_id, with_state)
    if found is None:
        raise NotFoundError(f"no task {task_id}")
    handle, (name, due_at, created_at, values) = found
    conn = session.connection()
    if lang:
        name = element_label(element_names(version_package(conn, handle.version_id, handle.checksum)),
                             handle.element_id, lang, name)
    task = TaskItem(handle.task_id, handle.instance_id, handle.process_key, handle.element_id, name, handle.form,
                    handle.assignee, list(handle.candidate_users or []), list(handle.candidate_groups or []),
                    handle.status, due_at, created_at, handle.on_behalf_of, handle.delegated_by)
    schema = None
    if task.form:
        schema = FORM_CACHE.get(handle.checksum, lambda: store.version_package(conn, handle.version_id)).get(task.form)
    if task.status == "open" and schema is not None and schema.access_for(task.element_id).get(DECISION_KEY) == "editable":
        values.pop(DECISION_KEY, None)
    return TaskForm(task, schema, task.element_id, values, handle.instance_status, handle)


@dataclass
class StartInfo:
    """What the start page and a start need of a process's latest version, from one query and the caches."""

    version_id: int
    checksum: str
    schema: FormSchema | None   # the start form, None when the start event names none
    names: dict                 # the process's names by language
    starters: dict | None       # package.yaml `starters` (None: everyone), for `starting.may_start`


_START_INFO = (select(ProcessDefinition.name, ProcessVersion.id, ProcessVersion.checksum)
               .join(ProcessVersion, ProcessVersion.definition_id == ProcessDefinition.id)
               .where(ProcessDefinition.key == bindparam("b_key"))
               .order_by(ProcessVersion.number.desc()).limit(1))


def start_info(session: Session, key: str) -> StartInfo:
    """The latest version of process `key`: one query for its id and checksum (no spec, BPMN or package
    columns), the start form and the starters from the caches kept per version checksum. NotFoundError."""
    row = session.execute(_START_INFO, {"b_key": key}).first()
    if row is None:
        raise NotFoundError(f"no process `{key}` is deployed")
    names, version_id, checksum = row
    conn = session.connection()
    spec, _subspecs = SPEC_CACHE.get(checksum, lambda: store.version_spec_json(conn, version_id))
    form = wfa.start_form(spec)
    schema = FORM_CACHE.get(checksum, lambda: store.version_package(conn, version_id)).get(form) if form else None
    package = version_package(conn, version_id, checksum)
    return StartInfo(version_id, checksum, schema, dict(names or {}),
                     ((package or {}).get("meta") or {}).get("starters"))


def start_form(sessions: sessionmaker[Session], key: str) -> tuple[FormSchema | None, dict]:
    """The latest version's start form (None when the start event names none) and the process names."""
    with sessions() as session:
        definition = session.scalar(select(ProcessDefinition).where(ProcessDefinition.key == key))
        if definition is None:
            raise NotFoundError(f"no process `{key}` is deployed")
        version = session.scalar(select(ProcessVersion).where(ProcessVersion.definition_id == definition.id)
                                 .order_by(ProcessVersion.number.desc()).limit(1))
        return _start_form_of_version(session, version), dict(definition.name or {})


def instance_start_form(session: Session, instance_id: int) -> tuple[FormSchema | None, dict]:
    """The start form of the version the instance runs on (not the newest), and the process names."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFoundError(f"no instance {instance_id}")
    version = session.get(ProcessVersion, instance.version_id)
    definition = session.get(ProcessDefinition, version.definition_id)
    return _start_form_of_version(session, version), dict(definition.name or {})


def version_start_form(session: Session, version: ProcessVersion) -> FormSchema | None:
    """The start form of a deployed version (None when its start event names none)."""
    return _start_form_of_version(session, version)


def _start_form_of_version(session: Session, version: ProcessVersion) -> FormSchema | None:
    spec, _subspecs = SPEC_CACHE.get(version.checksum, lambda: version.spec_json)
    form = wfa.start_form(spec)
    return _forms_of_version(session, version).get(form) if form else None


def diagram(session: Session, instance_id: int, lang: str | None = None) -> dict:
    """The main BPMN file of the instance's version, the elements passed and the ones waiting now; with
    `lang`, the labels of the elements the package names (package.yaml `names`) are in that language."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFoundError(f"no instance {instance_id}")
    version = session.get(ProcessVersion, instance.version_id)
    files = version.bpmn or {}
    xml = next((text for text in files.values() if f'id="{version.process_id}"' in text),
               next(iter(files.values()), ""))
    current = list(session.scalars(select(WorkTask.element_id).where(
        WorkTask.instance_id == instance_id, WorkTask.status == "open")))
    names = versions_element_names(session.connection(), [version.id]).get(version.id) if lang else None
    if names and xml:
        xml = relabel(xml, {e: element_label(names, e, lang) for e in names})
    return {"xml": xml, "done": sorted(set(path_taken(session, instance_id)) - set(current)),
            "current": current, "end_event": instance.end_event}


def may_act_on_task(task: TaskItem, username: str, groups: tuple[str, ...]) -> bool:
    """The runtime's rule (`step.may_complete`): the assignee, or — while nobody holds it — a candidate
    user or a member of a candidate group."""
    return may_complete(task.assignee, task.candidate_users, task.candidate_groups, username, groups)


def node_signers(session: Session, task_id: str) -> list[dict]:
    """The signers of an approval node with a mode, in order, with their decisions (empty for a
    plain one-person task): `{signer, status, weight, comment, decided_at}`."""
    rows = session.execute(select(ApprovalItem.signer, ApprovalItem.status, ApprovalItem.weight,
                                  ApprovalItem.comment, ApprovalItem.decided_at)
                           .where(ApprovalItem.task_id == task_id).order_by(ApprovalItem.position))
    return [dict(r._mapping) for r in rows]


def signers_added_by(session: Session, task_id: str, username: str) -> set[str]:
    """The signers of an approval node whom `username` added (they may remove them again)."""
    rows = session.execute(select(HistoryEntry.data).where(HistoryEntry.task_id == task_id,
                                                           HistoryEntry.action == "signer_added",
                                                           HistoryEntry.actor == username))
    return {(data or {}).get("signer") for (data,) in rows} - {None}


def restricted_fields(schema: FormSchema | None) -> set[str]:
    """Fields some step must not see: shown on overview pages (and the API's instance) only to the
    initiator and super admins."""
    rules = (schema.data.get("access") or {}) if schema is not None else {}
    return {name for rule in rules.values() for name in rule.get("hidden", [])}
