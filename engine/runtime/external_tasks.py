"""External tasks (issue 17): user tasks a supplier, customer or visitor does in the portal.

A user task with `liaison:external="supplier|customer|visitor"` (or in a lane with it, see
`engine.bpmn.parser.lane_attribute`) gets no assignee: it is offered to the group `ext:KIND`
(`offer_external`, called where the step resolves its new tasks), which no employee has.

After the step that made such a task commits (`issue_links`, an `AFTER_COMMIT` hook of the step),
for each open external task of the instance without a grant, in one transaction per task:
the instance's `external_case` row is created if missing (the party from the process data field
package.yaml `portal.party_field` names, an active `external_party.key` of that kind; a visitor's
address and name from `portal.email_field` / `portal.name_field`), a link grant is issued
(scopes view, fill, upload; bound to the instance and the task; `external_grant.task_id` is
unique, so a second run, or a concurrent one, issues nothing), and the `external_link`
notification is written to the outbox: an e-mail to each active contact of the party in their
language (or to the case's address), plus the package's webhook channels for that event.

When no link can be issued (the party key matches no active party of that kind, no address to
send it to), the instance's history says why once (action `external_link_problem`), and nothing is
issued; `sweep` (the dispatcher, about once a minute) issues what a crash between the commit and
the issue missed, and what became possible since (a contact added, a party reactivated).
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import and_, exists, insert, select
from sqlalchemy.exc import IntegrityError

from engine.bpmn import workflow as wfa
from engine.config import Settings, load_settings
from engine.data import store
from engine.data.calendar import LazyCalendar
from engine.data.external_models import ExternalCase, ExternalContact, ExternalGrant, ExternalParty
from engine.data.models import HistoryEntry, ProcessInstance, ProcessVersion, TaskCandidate, WorkTask, utcnow
from engine.errors import msg
from engine.external.grants import issue_link, link_url
from engine.external.identity import KINDS, PARTY_KINDS, PREFIX, external_group
from engine.notify.recipients import Directory
from engine.notify.render import LANGUAGES, Event, StepFacts, render_step
from engine.runtime.versions import version_package

log = logging.getLogger(__name__)
_KIND_WORDS = {"supplier": msg("supplier"), "customer": msg("customer")}  # in the reader's language

LINK_SCOPES = ("view", "fill", "upload")
DEFAULT_LINK_DAYS = 14
PROBLEM_ACTION = "external_link_problem"
ISSUED_ACTION = "external_link_issued"
SWEEP_BATCH = 200
EXTERNAL_GROUPS = tuple(external_group(kind) for kind in KINDS)
PORTAL_PATH = "/portal/"  # where a contact signs in (the portal's pages, stage 2)


# -- at assignment ---------------------------------------------------------------------------------

def external_kind(attributes: dict) -> str | None:
    """The node's `liaison:external` kind (supplier, customer, visitor), or None for an employee's task."""
    kind = str(attributes.get("external") or "").strip()
    return kind if kind in KINDS else None


def offer_external(conn, ready: list) -> None:
    """Give each READY external user task that was not described yet its people: no assignee, the
    candidate group `ext:KIND` (kept with the task, never re-resolved)."""
    for task in ready:
        kind = external_kind(wfa.task_attributes(task))
        if kind and wfa.is_undescribed(task):
            wfa.set_assignment(task, [], [external_group(kind)], LazyCalendar(conn))


def offered(new_tasks: list[dict]) -> bool:
    """Whether a step's new task rows include an external task (the step then calls `issue_links`)."""
    return any(str(g).startswith(PREFIX) for t in new_tasks for g in t.get("candidate_groups") or ())


# -- after the commit ------------------------------------------------------------------------------

def _engine(sessions):
    return sessions.kw["bind"]


_task, _cand, _grant, _case = WorkTask.__table__, TaskCandidate.__table__, ExternalGrant.__table__, ExternalCase.__table__


def _pending_query():
    """Open tasks offered to an `ext:` group that have no grant yet: (task id, instance id, element, name,
    due, group)."""
    return (select(_task.c.id, _task.c.instance_id, _task.c.element_id, _task.c.name, _task.c.due_at,
                   _cand.c.value)
            .join(_cand, and_(_cand.c.task_id == _task.c.id, _cand.c.kind == "group",
                              _cand.c.value.in_(EXTERNAL_GROUPS)))  # equality: the candidate index serves it
            .where(_task.c.status == "open", ~exists().where(_grant.c.task_id == _task.c.id)))


def issue_links(sessions, instance_ids: list[int], now: datetime | None = None) -> int:
    """Issue the links of the open external tasks of these instances that have none; returns how many
    were issued. Never raises: what fails now is left to the sweep."""
    issued = 0
    for instance_id in dict.fromkeys(instance_ids):
        try:
            with _engine(sessions).connect() as conn:
                pending = conn.execute(_pending_query().where(_task.c.instance_id == instance_id)
                                       .order_by(_task.c.created_at, _task.c.id)).all()
            for row in pending:
                issued += _issue_task(sessions, row, now or utcnow())
        except Exception:  # noqa: BLE001 - the step has committed; the sweep retries
            log.exception("external links of instance %s: not issued now; the sweep retries", instance_id)
    return issued


def open_case(sessions, instance_id: int, version: tuple[int, str]) -> None:
    """After a start committed: a request of a portal process for a party (package.yaml `portal.party`
    supplier or customer) is that party's case from its start, also when an employee started it, so the
    party's contacts follow it before any step waits for them. Processes without a portal cost one
    cached look-up; a party field that names no active party is left to the link issue, which says so in
    the history. Never raises: the start has committed."""
    try:
        with _engine(sessions).connect() as conn:  # cached per version: no transaction for most processes
            portal = (version_package(conn, *version).get("meta") or {}).get("portal") or {}
        if portal.get("party") not in PARTY_KINDS or not portal.get("party_field"):
            return
        with _engine(sessions).begin() as conn:
            if conn.execute(select(_case.c.instance_id).where(_case.c.instance_id == instance_id)).first():
                return
            _case_for(conn, instance_id, portal["party"], portal, store.read_process_data(conn, instance_id),
                      utcnow())
    except IntegrityError:
        return  # the link issue made the case first
    except Exception:  # noqa: BLE001 - the start has committed; the link issue makes the case later
        log.exception("external case of instance %s: not made at the start", instance_id)


def sweep(sessions, now: datetime | None = None, batch: int = SWEEP_BATCH) -> int:
    """Issue the links a crash between a step's commit and `issue_links` missed; returns how many."""
    with _engine(sessions).connect() as conn:
        pending = _pending_query().subquery()
        instances = [r[0] for r in conn.execute(  # newest first: stuck old ones never starve new ones
            select(pending.c.instance_id).distinct().order_by(pending.c.instance_id.desc()).limit(batch))]
    issued = issue_links(sessions, instances, now) if instances else 0
    if issued:
        log.info("external links: %s issued by the sweep", issued)
    return issued


def _issue_task(sessions, row, now: datetime) -> int:
    """One external task: case, grant, notification, history in one transaction; 1 when issued."""
    try:
        with _engine(sessions).begin() as conn:
            return _issue_in(conn, row, now)
    except IntegrityError:
        return 0  # another run issued this task's grant (or created the case) first: nothing to do


def _issue_in(conn, row, now: datetime) -> int:
    task_id, instance_id, element_id, name, due_at, group = row
    instance = conn.execute(select(ProcessInstance.process_key, ProcessInstance.business_key,
                                   ProcessInstance.initiator, ProcessInstance.status,
                                   ProcessInstance.version_id, ProcessVersion.checksum)
                            .join(ProcessVersion, ProcessVersion.id == ProcessInstance.version_id)
                            .where(ProcessInstance.id == instance_id)).one()
    if instance.status != "running":
        return 0
    package = version_package(conn, instance.version_id, instance.checksum)
    portal = (package.get("meta") or {}).get("portal") or {}
    data = store.read_process_data(conn, instance_id)
    kind = group[len(PREFIX):]
    case, problem = _case_for(conn, instance_id, kind, portal, data, now)
    recipients: list[tuple[str, str]] = []
    if problem is None:
        recipients = _recipients(conn, case, portal, data)
        if not recipients:
            problem = msg("no active contact or address to send the link to")
    if problem is not None:
        _note_problem(conn, instance_id, task_id, element_id, problem, now)
        return 0
    days = portal.get("link_days") or DEFAULT_LINK_DAYS
    grant_id, token = issue_link(conn, scopes=list(LINK_SCOPES), valid_until=now + timedelta(days=days),
                                 instance_id=instance_id, task_id=task_id, party_id=case.party_id,
                                 label=name, recipient=", ".join(a for a, _ in recipients)[:254], now=now)
    settings = _settings()
    link = link_url(settings.base_url, token)
    facts_base = dict(process_key=instance.process_key, package=package, instance_id=instance_id,
                      initiator=instance.initiator, business_key=instance.business_key, data=data)
    task = {"id": task_id, "element_id": element_id, "name": name, "due_at": due_at}
    outbox: list[dict] = []
    for position, lang in enumerate(_languages(recipients)):
        emails = [address for address, locale in recipients if locale == lang]
        event = Event("external_link", task=task, extra={"emails": emails, "link": link})
        rows, _ = render_step(conn, StepFacts(events=[event], **facts_base), now,
                              settings=dataclasses.replace(settings, locale=lang), directory=Directory())
        outbox += [r for r in rows if r["channel"] == "email" or position == 0]  # webhooks once
    store.write_effects(conn, instance_id, now, outbox, [])
    store.append_history(conn, [{"instance_id": instance_id, "at": now, "action": ISSUED_ACTION,
                                 "element_id": element_id, "task_id": task_id,
                                 "data": {"grant_id": grant_id, "to": [a for a, _ in recipients]}}])
    return 1


def _case_for(conn, instance_id: int, kind: str, portal: dict, data: dict, now: datetime):
    """(the instance's external_case, None) or (None, why no link can be issued); creates the row."""
    case = conn.execute(select(_case).where(_case.c.instance_id == instance_id)).first()
    if case is not None:
        if case.party_id is not None:
            active = conn.execute(select(ExternalParty.active).where(ExternalParty.id == case.party_id)).scalar()
            if not active:
                return None, msg("the party of this case is deactivated; no link is sent")
        return case, None
    values = {"instance_id": instance_id, "kind": kind, "created_at": now}
    if kind in PARTY_KINDS:
        field = portal.get("party_field")
        key = str(data.get(field) or "").strip() if field else ""
        if not key:
            return None, msg("the field %(field)s names no %(kind)s", field=field or "-", kind=_KIND_WORDS[kind])
        party_id = conn.execute(select(ExternalParty.id).where(
            ExternalParty.key == key, ExternalParty.kind == kind, ExternalParty.active.is_(True))).scalar()
        if party_id is None:
            return None, msg("no active %(kind)s has the key %(key)s; no link is sent", kind=_KIND_WORDS[kind],
                             key=key)
        values["party_id"] = party_id
    else:
        email = str(data.get(portal.get("email_field") or "") or "").strip().lower()
        if not email:
            return None, msg("the field %(field)s holds no e-mail address", field=portal.get("email_field") or "-")
        values["email"] = email[:254]
        values["name"] = str(data.get(portal.get("name_field") or "") or "").strip()[:200] or None
    conn.execute(insert(ExternalCase).values(**values))
    return conn.execute(select(_case).where(_case.c.instance_id == instance_id)).one(), None


def _recipients(conn, case, portal: dict, data: dict) -> list[tuple[str, str]]:
    """(address, language) of everyone the link goes to: the active contacts of the party, the case's
    address, and the address in `portal.email_field` (once each)."""
    found: dict[str, str] = {}
    default = _settings().locale if _settings().locale in LANGUAGES else "zh"
    if case.party_id is not None:
        for email, locale in conn.execute(select(ExternalContact.email, ExternalContact.locale).where(
                ExternalContact.party_id == case.party_id, ExternalContact.active.is_(True))
                .order_by(ExternalContact.id)):
            found.setdefault(email.lower(), locale if locale in LANGUAGES else default)
    if case.email:
        found.setdefault(case.email.lower(), default)
    extra = str(data.get(portal.get("email_field") or "") or "").strip().lower()
    if extra and "@" in extra:
        found.setdefault(extra, default)
    return list(found.items())


def _languages(recipients: list[tuple[str, str]]) -> list[str]:
    return list(dict.fromkeys(lang for _, lang in recipients))


def _note_problem(conn, instance_id: int, task_id: str, element_id: str, problem, now: datetime) -> None:
    """The history says once per task why no link was issued (the buyer sees it on the instance page)."""
    noted = conn.execute(select(HistoryEntry.id).where(
        HistoryEntry.instance_id == instance_id, HistoryEntry.task_id == task_id,
        HistoryEntry.action == PROBLEM_ACTION, HistoryEntry.comment == str(problem)).limit(1)).first()
    if noted is None:
        store.append_history(conn, [{"instance_id": instance_id, "at": now, "action": PROBLEM_ACTION,
                                     "element_id": element_id, "task_id": task_id, "comment": str(problem),
                                     "data": {"msgid": problem.msgid, "params": problem.params}}])  # to translate


def remind_outsiders(conn, instance_id: int, groups: list[str], extra: dict) -> None:
    """A reminder (or overdue notice) of an external task reaches the outsiders: the addresses of the
    instance's case in `extra["emails"]` and the portal's sign-in page as the link (the task's own
    link is stored nowhere). No query for an employee's task."""
    if not any(str(g).startswith(PREFIX) for g in groups):
        return
    case = conn.execute(select(_case).where(_case.c.instance_id == instance_id)).first()
    if case is None:
        return
    party_active = case.party_id is None or conn.execute(
        select(ExternalParty.active).where(ExternalParty.id == case.party_id)).scalar()
    if not party_active:
        return
    data = store.read_process_data(conn, instance_id)
    portal = {}  # the case holds the party and the address already
    recipients = _recipients(conn, case, portal, data)
    extra["emails"] = [address for address, _lang in recipients]
    extra["email_langs"] = {address: lang for address, lang in recipients}  # each contact in their language
    extra["link"] = _settings().base_url.rstrip("/") + PORTAL_PATH


@cache
def _settings() -> Settings:
    return load_settings()
