"""The portal's read side and actions (issue 17): what a supplier, customer or visitor sees and does.

The portal's pages call only these. Every function takes the `Principal` the portal's cookie stands
for and checks it with `engine.external.scope` (the one owner of "may this outsider touch this
instance") before it reads or does anything. An outsider sees of an instance only: the process name,
the business key, the outcome, the milestone timeline (elements with `liaison:milestone="true"`), the
fields package.yaml `portal.visible_fields` names, and the open external task waiting for them;
never the rest of the data, the history or the people.

An instance the principal may not see is "not found", exactly like one that does not exist.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import and_, exists, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine import runtime
from engine.bpmn.xmlsafe import parse_xml_bytes
from engine.caching import BoundedCache
from engine.data import store
from engine.data.external_models import ExternalCase, ExternalParty
from engine.data.models import (
    HistoryEntry,
    InstanceData,
    ProcessDefinition,
    ProcessInstance,
    ProcessVersion,
    TaskCandidate,
    WorkTask,
)
from engine.errors import NotFoundError, NotPermittedError, msg
from engine.external import grants, scope
from engine.external.identity import Principal
from engine.people import org
from engine.results import Page, element_label, element_names, jsonable, localized
from engine.runtime import uploads
from engine.runtime.outcome import outcomes
from engine.runtime.versions import version_forms, version_package
from engine.work.pages import TaskForm, instance_start_form, task_form
from forms.schema import FormSchema

PER_PAGE = 20
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
LIAISON_NS = "https://liaison.dev/schema/bpmn/1.0"
DI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"


def _not_found(what: int | str):
    return NotFoundError(msg("nothing found for %(what)s", what=what))


# -- lists -----------------------------------------------------------------------------------------

@dataclass
class CaseItem:
    """One row of the outsider's list of cases."""

    id: int
    process_key: str
    process_name: str
    business_key: str | None
    outcome: str
    created_at: datetime
    waiting: bool  # an open task waits for the principal

    def to_dict(self) -> dict:
        return jsonable(asdict(self))


def _offered_to(principal: Principal):
    """Open tasks offered to the principal's groups (the external tasks of its kind)."""
    return and_(WorkTask.status == "open",
                exists().where(TaskCandidate.task_id == WorkTask.id, TaskCandidate.kind == "group",
                               TaskCandidate.value.in_(principal.groups)))


def cases(session: Session, principal: Principal, lang: str, page: int = 1) -> Page:
    """The principal's instances, newest first: process name, business key, outcome, created, whether
    something waits for them. Empty when the principal is no longer good (revoked, expired)."""
    page = max(1, int(page))
    if not principal.allows("view"):
        return Page([], 0, page, PER_PAGE)
    ids = scope.case_ids(principal)
    where = ProcessInstance.id.in_(ids)
    total = session.execute(select(func.count()).select_from(ProcessInstance).where(where)).scalar_one()
    waiting = exists().where(WorkTask.instance_id == ProcessInstance.id, _offered_to(principal))
    rows = session.execute(
        select(ProcessInstance.id, ProcessInstance.process_key, ProcessInstance.business_key,
               ProcessInstance.created_at, ProcessDefinition.name, waiting.label("waiting"))
        .join(ProcessDefinition, ProcessDefinition.key == ProcessInstance.process_key)
        .where(where).order_by(ProcessInstance.created_at.desc(), ProcessInstance.id.desc())
        .limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    found = outcomes(session, [r.id for r in rows])
    keys = _reference_values(session, [r.id for r in rows if not r.business_key])
    items = [CaseItem(r.id, r.process_key, localized(r.name, lang, r.process_key), r.business_key or keys.get(r.id),
                      found[r.id], r.created_at, bool(r.waiting) and principal.allows("fill")) for r in rows]
    return Page(items, total, page, PER_PAGE)


def _reference_values(session: Session, instance_ids: list[int]) -> dict[int, str]:
    """For instances without a business key, what the outsider can tell them apart by: the first of the
    package's portal.visible_fields when it holds a short text or number (a request or order number).
    Visible fields only: nothing else of the data reaches the list. Two queries."""
    if not instance_ids:
        return {}
    first: dict[int, str] = {}
    for instance_id, version_id, checksum in session.execute(
            select(ProcessInstance.id, ProcessVersion.id, ProcessVersion.checksum)
            .join(ProcessVersion, ProcessVersion.id == ProcessInstance.version_id)
            .where(ProcessInstance.id.in_(instance_ids))):
        names = scope.portal_settings(version_package(session.connection(), version_id, checksum)).get("visible_fields")
        if names:
            first[instance_id] = names[0]
    if not first:
        return {}
    values = {}
    for instance_id, key, value in session.execute(
            select(InstanceData.instance_id, InstanceData.key, InstanceData.value)
            .where(InstanceData.instance_id.in_(first), InstanceData.key.in_(set(first.values())))):
        if first.get(instance_id) == key and (text := _reference_text(json.loads(value))) is not None:
            values[instance_id] = text
    return values


def _reference_text(value) -> str | None:
    """A value that can stand for a business key: a short text or number (not a flag, a list, a table)."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool) and 0 < len(str(value)) <= 60:
        return str(value)
    return None


# -- one case --------------------------------------------------------------------------------------

@dataclass
class Milestone:
    element_id: str
    name: str
    status: str  # done | current | upcoming
    at: datetime | None  # when it was reached (the last time), for done ones


@dataclass
class VisibleField:
    name: str
    label: str
    value: object
    type: str | None = None


@dataclass
class CaseView:
    """What an outsider sees of one instance."""

    id: int
    process_key: str
    process_name: str
    business_key: str | None
    outcome: str
    created_at: datetime
    milestones: list[Milestone] = field(default_factory=list)
    fields: list[VisibleField] = field(default_factory=list)
    task: dict | None = None  # the open external task for them: {"id", "name", "due_at"}
    with_us: list[str] = field(default_factory=list)  # running, nothing for them, no milestone now: our steps

    def to_dict(self) -> dict:
        return jsonable(asdict(self))


def case_view(session: Session, principal: Principal, instance_id: int, lang: str) -> CaseView:
    """The progress page of one case; NotFoundError when the principal may not see it (or it does not exist)."""
    if not scope.may_view_case(session, principal, instance_id):
        raise _not_found(instance_id)
    instance = session.get(ProcessInstance, instance_id)
    version = session.get(ProcessVersion, instance.version_id)
    definition = session.get(ProcessDefinition, version.definition_id)
    package = version_package(session.connection(), version.id, version.checksum)
    view = CaseView(instance.id, instance.process_key, localized(definition.name, lang, instance.process_key),
                    instance.business_key, outcomes(session, [instance.id])[instance.id], instance.created_at)
    view.milestones = _milestones(session, instance, version, package, lang)
    view.fields = _visible_fields(session, instance, package, lang)
    if not view.business_key:  # as the list of cases tells them apart: the first visible field
        first = (scope.portal_settings(package).get("visible_fields") or [None])[0]
        view.business_key = _reference_text(next((f.value for f in view.fields if f.name == first), None))
    task = session.execute(select(WorkTask.id, WorkTask.element_id, WorkTask.name, WorkTask.due_at)
                           .where(WorkTask.instance_id == instance_id, _offered_to(principal))
                           .order_by(WorkTask.created_at, WorkTask.id).limit(1)).first()
    if task is not None and principal.allows("fill"):
        view.task = {"id": task.id, "name": element_label(element_names(package), task.element_id, lang, task.name),
                     "due_at": task.due_at}
    if instance.status == "running" and view.task is None and not any(m.status == "current" for m in view.milestones):
        view.with_us = _with_us(session, instance_id, package, lang)
    return view


def _with_us(session: Session, instance_id: int, package: dict, lang: str) -> list[str]:
    """The names of the instance's open steps (the company's: a host's approval, a buyer's review), so an
    outsider whose timeline shows nothing now still learns whose move it is; by name only, never who."""
    names = element_names(package)
    shown: list[str] = []
    for element_id, name in session.execute(select(WorkTask.element_id, WorkTask.name).where(
            WorkTask.instance_id == instance_id, WorkTask.status == "open").order_by(WorkTask.created_at, WorkTask.id)):
        label = element_label(names, element_id, lang, name)
        if label not in shown:
            shown.append(label)
    return shown


_MILESTONES: BoundedCache[list] = BoundedCache(256)  # version checksum -> [(element id, BPMN name, end event?)]


def milestone_elements(version: ProcessVersion) -> list[tuple[str, str | None, bool]]:
    """The elements with `liaison:milestone="true"` of a version, in diagram order (left to right,
    then top to bottom; document order for elements the diagram does not draw), each saying whether it
    is an end event."""
    def compute() -> list:
        found = []
        for text in (version.bpmn or {}).values():
            root = parse_xml_bytes(text.encode("utf-8"))
            bounds = {}
            for shape in root.iter(f"{{{DI_NS}}}BPMNShape"):
                box = shape.find(f"{{{DC_NS}}}Bounds")
                if box is not None:
                    bounds[shape.get("bpmnElement")] = (float(box.get("x", 0)), float(box.get("y", 0)))
            for position, node in enumerate(root.iter()):
                if isinstance(node.tag, str) and node.get(f"{{{LIAISON_NS}}}milestone") == "true" and node.get("id"):
                    x, y = bounds.get(node.get("id"), (float("inf"), float(position)))
                    found.append((x, y, position, node.get("id"), node.get("name"), node.tag.endswith("}endEvent")))
        return [(element_id, name, end) for *_order, element_id, name, end in sorted(found)]

    return _MILESTONES.get(version.checksum, compute)


def _milestones(session: Session, instance, version, package: dict, lang: str) -> list[Milestone]:
    elements = milestone_elements(version)
    if not elements:
        return []
    ids = [e for e, *_ in elements]
    reached = dict(session.execute(
        select(HistoryEntry.element_id, func.max(HistoryEntry.at)).where(
            HistoryEntry.instance_id == instance.id, HistoryEntry.element_id.in_(ids),
            HistoryEntry.action.in_(["step", "task_completed"])).group_by(HistoryEntry.element_id)).all())
    waiting = set(session.scalars(select(WorkTask.element_id).where(
        WorkTask.instance_id == instance.id, WorkTask.status == "open", WorkTask.element_id.in_(ids))))
    names = element_names(package)
    result = []
    for element_id, bpmn_name, end in elements:
        status = "current" if element_id in waiting else "done" if element_id in reached else "upcoming"
        if end and status == "upcoming" and element_id != ids[-1]:
            continue  # another way it may end (declined, no-show): an outcome once reached, not a step ahead
        if status == "upcoming" and instance.status != "running":
            continue  # it ended (declined, cancelled): what was never reached is no step ahead any more
        result.append(Milestone(element_id, element_label(names, element_id, lang, bpmn_name or element_id), status,
                                reached.get(element_id) if status == "done" else None))
    return result


def _visible_fields(session: Session, instance, package: dict, lang: str) -> list[VisibleField]:
    result = []
    for schema, shown, data in _visible_sources(session, instance, package):
        for name in shown:
            spec = schema.field(name) or {}
            label = spec.get("label")
            text = localized(label, lang, name) if isinstance(label, dict) else str(label or name)
            result.append(VisibleField(name, text, data.get(name), spec.get("type")))
    return result


def _visible_sources(session: Session, instance, package: dict) -> list[tuple[FormSchema, list[str], dict]]:
    """The forms that define portal.visible_fields (the start form first), each with the visible fields it
    defines (each field once, from the first form that has it), and the instance's data."""
    names = scope.portal_settings(package).get("visible_fields") or []
    if not names:
        return []
    start, _ = instance_start_form(session, instance.id)
    data = store.read_process_data(session, instance.id)
    version = session.get(ProcessVersion, instance.version_id)
    others = [f for f in version_forms(session.connection(), version.id, version.checksum).values()
              if isinstance(f, FormSchema) and f is not start]
    sources, placed = [], set()
    for schema in ([start] if start else []) + others:
        shown = [n for n in names if n not in placed and schema.field(n)]
        if shown:
            sources.append((schema, shown, data))
            placed.update(shown)
    return sources


def visible_forms(session: Session, principal: Principal, instance_id: int) -> list[tuple[FormSchema, list[str], dict]]:
    """For showing the visible fields with the forms' own read-only display (option labels, tables,
    ratings, money): `[(form, [its visible fields], data)]`; the caller hides every other field of the
    form. NotFoundError when the principal may not see the instance."""
    if not scope.may_view_case(session, principal, instance_id):
        raise _not_found(instance_id)
    instance = session.get(ProcessInstance, instance_id)
    version = session.get(ProcessVersion, instance.version_id)
    return _visible_sources(session, instance, version_package(session.connection(), version.id, version.checksum))


# -- the external task ---------------------------------------------------------------------------

def _check_fill(session: Session, principal: Principal, task_id: str) -> None:
    """NotFoundError unless the principal sees the task's instance; NotPermittedError unless it may fill it."""
    instance_id = session.execute(select(WorkTask.instance_id).where(WorkTask.id == task_id)).scalar()
    may_fill = instance_id is not None and scope.may_fill_task(session, principal, task_id)
    if not may_fill and (instance_id is None or not scope.may_view_case(session, principal, instance_id)):
        raise _not_found(task_id)
    if not may_fill:
        raise NotPermittedError(msg("this task is not open for you (it was done already, or it is not yours)"))


def external_task(session: Session, principal: Principal, task_id: str, lang: str) -> TaskForm:
    """The open external task's form, with only the values of the fields it shows at this node (the
    node's field permissions apply as for employees: hidden fields are left out)."""
    _check_fill(session, principal, task_id)
    form = task_form(session, task_id, lang)
    if form.schema is None:
        form.values = {}
    else:
        access = form.schema.access_for(form.node)
        form.values = {k: v for k, v in form.values.items() if access.get(k) not in (None, "hidden")}
    return form


def complete(sessions: sessionmaker[Session], principal: Principal, task_id: str, data: dict,
             comment: str | None = None, lang: str = "zh"):
    """Complete the external task as the principal (`runtime.complete_task` with its identity and group)."""
    with sessions() as session:
        _check_fill(session, principal, task_id)
    return runtime.complete_task(sessions, task_id, principal.identity, data, groups=principal.groups,
                                 comment=comment, lang=lang)


# -- new requests ----------------------------------------------------------------------------------

def downloadable(session: Session, principal: Principal, upload_id: str) -> uploads.UploadInfo:
    """The upload an outsider may download: their own upload, or a file shown to them — in a visible
    field of a case in their scope (portal.visible_fields) or in a field their open external task shows
    at its node. A file an employee attached to an internal field is not theirs to fetch, even of their
    own case. NotFoundError otherwise, the same as for a file that does not exist."""
    found = uploads.get(session, upload_id)
    conn = session.connection()
    if found is None or not scope.active(conn, principal):
        raise _not_found(upload_id[:40])
    if found.owner == principal.identity:
        return found
    if found.instance_id is not None and scope.may_view_case(conn, principal, found.instance_id) \
            and upload_id in _files_shown(session, principal, found.instance_id):
        return found
    raise _not_found(upload_id[:40])


def _files_shown(session: Session, principal: Principal, instance_id: int) -> set[str]:
    """The ids of the files the outsider's pages show for one case: its visible fields, and the fields
    their open external tasks show."""
    values: list = [data.get(name) for _schema, shown, data in
                    _visible_sources(session, session.get(ProcessInstance, instance_id),
                                     _package_of(session, instance_id)) for name in shown]
    if principal.allows("fill"):
        for task_id in session.scalars(select(WorkTask.id).where(WorkTask.instance_id == instance_id,
                                                                 _offered_to(principal))):
            values += list(external_task(session, principal, task_id, "en").values.values())
    return {ref["id"] for value in values if isinstance(value, list)
            for ref in value if isinstance(ref, dict) and isinstance(ref.get("id"), str)}


def _package_of(session: Session, instance_id: int) -> dict:
    version = session.get(ProcessVersion, session.get(ProcessInstance, instance_id).version_id)
    return version_package(session.connection(), version.id, version.checksum)


def startable(session: Session, principal: Principal, lang: str) -> list[dict]:
    """The processes the principal may submit a new request of: `{"key", "name"}` by name."""
    conn = session.connection()
    if not principal.allows("submit") or not scope.active(conn, principal):
        return []
    keys = [principal.process_key] if principal.grant_id is not None and principal.process_key else None
    found = []
    for key, version_id, checksum in store.latest_versions(conn):
        if keys is not None and key not in keys:
            continue
        package = version_package(conn, version_id, checksum)
        portal = scope.portal_settings(package)
        if principal.grant_id is None and not (portal.get("start") is True and portal.get("party") == principal.kind):
            continue
        if principal.grant_id is not None and not scope.may_start(conn, principal, key):
            continue
        name = (package.get("meta") or {}).get("name")
        found.append({"key": key, "name": localized(name, lang, key) if isinstance(name, dict) else str(name or key)})
    return sorted(found, key=lambda p: p["name"])


def filled_for(principal: Principal, portal: dict) -> list[str]:
    """The start-form fields the portal fills for this principal (the form does not ask them): the
    party field for a party's principal, the host field for a grant's holder."""
    fields = []
    if principal.party_id is not None and portal.get("party_field"):
        fields.append(portal["party_field"])
    if principal.grant_id is not None and portal.get("host_field"):
        fields.append(portal["host_field"])
    return fields


def filled_fields(session: Session, principal: Principal, key: str) -> list[str]:
    """`filled_for` of the latest version of `key` (what the portal's start page leaves out)."""
    return filled_for(principal, scope.portal_settings(scope.latest_package(session.connection(), key)))


def visit_host(session: Session, principal: Principal, key: str, lang: str) -> str | None:
    """The display name of the employee a code's holder asks to visit (the host `start_request` fills in),
    for the start page to say whom they are visiting; None when the process names no host or the
    principal holds no code."""
    if principal.grant_id is None or not scope.portal_settings(scope.latest_package(session.connection(), key)).get(
            "host_field"):
        return None
    host = grants.host_of_code(session.connection(), principal.grant_id)
    return org.display_names(session, [host], lang).get(host) if host else None


def start_problem(session: Session, principal: Principal, key: str):
    """Why a code's holder cannot send `key`'s start form though the code opens it (a message to show
    instead of the form), or None: a code that names no host for a visit (issued by nobody), or none of the
    companies for a customer's or supplier's process (the form would ask them for our internal code of
    their company, and a typed one would file the request under whichever company it names)."""
    if principal.grant_id is None:
        return None
    portal = scope.portal_settings(scope.latest_package(session.connection(), key))
    if portal.get("host_field") and not grants.host_of_code(session.connection(), principal.grant_id):
        return msg("This invitation code does not say whom you are visiting. Ask the person who sent it to you "
                   "for a new code.")
    if portal.get("party_field") and principal.party_id is None:
        return msg("This invitation code does not say which company you are with. Ask the person who sent it to "
                   "you for a new code.")
    return None


def start_request(sessions: sessionmaker[Session], principal: Principal, key: str, data: dict, lang: str) -> int:
    """Start a new request of `key` as the principal; returns the instance id. The fields of `filled_for`
    are set whatever was sent: a party's principal submits for its own party (`data[portal.party_field]`
    is its key); a grant's holder names the code's host (`data[portal.host_field]`: the employee it was
    issued on behalf of, else its issuer). NotPermittedError with `start_problem`'s message."""
    with sessions() as session:
        conn = session.connection()
        if not scope.may_start(conn, principal, key):
            raise _not_found(key)
        problem = start_problem(session, principal, key)
        if problem is not None:
            raise NotPermittedError(problem)
        portal = scope.portal_settings(scope.latest_package(conn, key))
        data = dict(data or {})
        for name in filled_for(principal, portal):
            if name == portal.get("party_field"):
                data[name] = session.execute(
                    select(ExternalParty.key).where(ExternalParty.id == principal.party_id)).scalar_one()
            else:
                data[name] = grants.host_of_code(conn, principal.grant_id)
    result = runtime.start_instance(sessions, key, data, principal.identity, lang=lang)
    _own_case(sessions, result.instance_id, principal, portal, data)
    return result.instance_id


def _own_case(sessions, instance_id: int, principal: Principal, portal: dict, data: dict) -> None:
    """The new instance's external_case: its party and the contact who submitted it (the link issue after
    the start may have made the row already: then the contact is added)."""
    with sessions() as session, session.begin():
        done = session.execute(update(ExternalCase).where(ExternalCase.instance_id == instance_id)
                               .values(contact_id=principal.contact_id)).rowcount
        if not done:
            session.execute(insert(ExternalCase).values(
                instance_id=instance_id, kind=portal.get("party") or principal.kind, party_id=principal.party_id,
                contact_id=principal.contact_id,
                email=str(data.get(portal.get("email_field") or "") or "").strip().lower()[:254] or None,
                name=str(data.get(portal.get("name_field") or "") or "").strip()[:200] or None))


