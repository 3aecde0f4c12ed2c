"""Invitation codes issued by employees: who may invite an outsider to a process's start form, and
the codes each issuer holds (DingTalk's 访客邀约: the host invites the visitor).

`may_issue_code` is the one rule; the admin page, the employees' page and any other way in ask it:
- a process takes codes only when its latest version's package.yaml has a `portal` section;
- a super admin may issue them for every such process, the process's admins (package.yaml `admins`)
  for theirs;
- any active employee may when the package says `portal.invite: employees`;
- the reception (role `reception`) may for a visitor process (`portal.party: visitor`).
The issuer of a code is the host of the visit it starts (`portal.host_field`), and may withdraw it; `may_name_host`
says who may issue one on behalf of another employee, the host (reception at the front desk, the super admin
and the process's admins): the issuer stays on record as `created_by`, the host is the grant's `host`; both
hold the code, each sees it and may withdraw it (`codes_held_by`, `withdraw_code`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.data.external_models import ExternalGrant
from engine.data.models import ProcessDefinition, ProcessVersion
from engine.errors import LiaisonError, NotFoundError, NotPermittedError, msg
from engine.external import grants, parties, scope
from engine.people import org
from engine.runtime.assignment import process_admins_of
from engine.runtime.versions import version_package
from engine.work.reception import RECEPTION_GROUP

MAX_CODE_DAYS = 365
CODE_SCOPES = ("view", "submit")  # a start-form code: fill the start form, follow what it started
INVITE_OPTIONS = ("admins", "employees")  # package.yaml `portal.invite`; "admins" is the default
MAX_LABEL = 200


class InvalidInvitationError(LiaisonError):
    """The invitation asked for cannot be issued as given (its validity); nothing was stored."""


@dataclass(frozen=True)
class IssuedCode:
    """A code just issued: shown once, stored nowhere but as its digest."""

    grant_id: int
    code: str
    valid_until: datetime


def _latest_metas(session: Session, key: str | None = None) -> dict[str, dict]:
    """{process key: package.yaml meta of its latest version}: one query, each package read once per checksum."""
    newest = (select(ProcessVersion.definition_id, func.max(ProcessVersion.number).label("number"))
              .group_by(ProcessVersion.definition_id).subquery())
    query = (select(ProcessDefinition.key, ProcessVersion.id, ProcessVersion.checksum)
             .join(ProcessVersion, ProcessVersion.definition_id == ProcessDefinition.id)
             .join(newest, (newest.c.definition_id == ProcessVersion.definition_id)
                   & (newest.c.number == ProcessVersion.number)))
    if key is not None:
        query = query.where(ProcessDefinition.key == key)
    conn = session.connection()
    return {row.key: version_package(conn, row.id, row.checksum).get("meta") or {}
            for row in session.execute(query)}


@dataclass(frozen=True)
class _Issuer:
    """What the rule needs to know of the person asking: read once per call (three small queries)."""

    username: str
    active: bool
    super_admin: bool
    groups: tuple[str, ...]


def _issuer(session: Session, username: str) -> _Issuer:
    person = org.person_by_username(session, username)
    if person is None or not person.active:
        return _Issuer(username, False, False, ())
    return _Issuer(username, True, org.is_super_admin(session, username), org.groups_of(session, username))


def _allowed(issuer: _Issuer, meta: dict) -> bool:
    portal = scope.portal_settings({"meta": meta})
    if not portal or not issuer.active:
        return False
    if issuer.super_admin or issuer.username in process_admins_of(meta) or portal.get("invite") == "employees":
        return True
    return portal.get("party") == "visitor" and RECEPTION_GROUP in issuer.groups


def may_issue_code(session: Session, username: str, process_key: str) -> bool:
    """Whether `username` may issue invitation codes for the start form of `process_key` (see the module)."""
    meta = _latest_metas(session, process_key).get(process_key)
    return meta is not None and _allowed(_issuer(session, username), meta)


def _names_host(issuer: _Issuer, meta: dict) -> bool:
    portal = scope.portal_settings({"meta": meta})
    if not portal.get("host_field") or not _allowed(issuer, meta):
        return False
    return issuer.super_admin or issuer.username in process_admins_of(meta) or (
        portal.get("party") == "visitor" and RECEPTION_GROUP in issuer.groups)


def may_name_host(session: Session, username: str, process_key: str) -> bool:
    """Whether `username` may issue a code of `process_key` on behalf of another employee, its host: the
    process names a host (`portal.host_field`) and they are reception (a visitor process), a process admin or
    the super admin. Anybody else who may issue codes is the host of what their codes start."""
    meta = _latest_metas(session, process_key).get(process_key)
    return meta is not None and _names_host(_issuer(session, username), meta)


def invitable_processes(session: Session, username: str) -> list[dict]:
    """The processes `username` may issue codes for: `{"key", "name" (zh/en dict), "party", "names_host" (they
    may name another host), "needs_party" (a code names the company)}`, by key."""
    metas = {key: meta for key, meta in _latest_metas(session).items() if scope.portal_settings({"meta": meta})}
    if not metas:
        return []
    issuer = _issuer(session, username)
    return [{"key": key, "name": meta.get("name") if isinstance(meta.get("name"), dict) else {},
             "party": scope.portal_settings({"meta": meta}).get("party"), "names_host": _names_host(issuer, meta),
             "needs_party": bool(scope.portal_settings({"meta": meta}).get("party_field"))}
            for key, meta in sorted(metas.items()) if _allowed(issuer, meta)]


def issue_invitation(session: Session, username: str, process_key: str, *, days, label: str | None,
                     now: datetime, host: str | None = None, party: str | None = None) -> IssuedCode:
    """Issue a start-form code for `process_key` valid for `days` (1 to MAX_CODE_DAYS), `label` saying who it
    is for; `username` is its issuer, and the visit's host unless `host` names another employee (only for
    whom `may_name_host` allows). A process that files requests under a company (`portal.party_field`: a
    customer's, a supplier's) takes codes for one active party of its kind, `party` (its key): the portal fills
    the company in and its holder sees what they started. NotPermittedError when the rule says no;
    InvalidInvitationError for a validity out of range, a host who is no active employee, or a missing or
    wrong party. The caller commits."""
    if not may_issue_code(session, username, process_key):
        raise NotPermittedError(msg("You may not issue invitation codes for this process."))
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_CODE_DAYS:
        raise InvalidInvitationError(msg("Choose a validity of 1 to %(n)s days.", n=MAX_CODE_DAYS))
    host = (host or "").strip() or None
    if host is not None and host != username:
        if not may_name_host(session, username, process_key):
            raise NotPermittedError(msg("You may not issue invitation codes on behalf of somebody else."))
        person = org.person_by_username(session, host)
        if person is None or not person.active:
            raise InvalidInvitationError(msg("Choose the host from the list of employees."))
    party_id = party_of_code(session, process_key, (party or "").strip() or None)
    valid_until = now + timedelta(days=days)
    grant_id, code = grants.issue_code(session.connection(), scopes=list(CODE_SCOPES), valid_until=valid_until,
                                       process_key=process_key, label=(label or "").strip()[:MAX_LABEL] or None,
                                       created_by=username, host=host, party_id=party_id, now=now)
    return IssuedCode(grant_id, code, valid_until)


def needs_party(session: Session, process_key: str) -> str | None:
    """The party kind a code of `process_key` must name (`portal.party` where `portal.party_field` files the
    request under a company), or None."""
    portal = scope.portal_settings({"meta": _latest_metas(session, process_key).get(process_key) or {}})
    return portal.get("party") if portal.get("party_field") else None


def party_of_code(session: Session, process_key: str, party: str | None) -> int | None:
    """The id of the party (its key `party`) a start-form code of `process_key` names: required, active and of
    the process's kind where the process files requests under a company (`needs_party`), refused elsewhere
    (InvalidInvitationError); None when the process takes none."""
    kind = needs_party(session, process_key)
    if kind is None:
        if party is not None:
            raise InvalidInvitationError(msg("This process does not take a company for its codes."))
        return None
    found = parties.party_by_key(session.connection(), party) if party else None
    if found is None or not found.active or found.kind != kind:
        raise InvalidInvitationError(msg("Choose the company the code is for."))
    return found.id


def codes_held_by(session: Session, username: str) -> list[grants.GrantInfo]:
    """The start-form codes `username` holds, newest first (withdrawn ones too): those they issued and those
    issued on their behalf (reception inviting their visitor: they are the host, and may see and withdraw it)."""
    return grants.grants_of(session.connection(), held_by=username, kind="code", bound_to_process=True)


def withdraw_code(session: Session, username: str, grant_id: int, now: datetime) -> bool:
    """Withdraw a start-form code `username` holds (`codes_held_by`: its issuer, or the host it was issued for)
    and end its portal sessions; False when it was already withdrawn. NotFoundError for anybody else's code (or
    none): nobody learns it exists."""
    issued = session.scalar(select(ExternalGrant.id).where(
        ExternalGrant.id == grant_id, or_(ExternalGrant.created_by == username, ExternalGrant.host == username),
        ExternalGrant.kind == "code", ExternalGrant.process_key.is_not(None)))
    if issued is None:
        raise NotFoundError(msg("No invitation code of yours has this number."))
    return grants.revoke_grant(session.connection(), grant_id, username, now)
