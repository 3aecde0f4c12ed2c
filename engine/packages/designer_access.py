"""Who may edit, deploy and migrate a package in the designer (one owner of the rule).

Super admins may do everything; a package's process admins (package.yaml `admins`) may edit, deploy
and migrate that package; process owners of a category (a `designer_grant` to a person or to a role)
may do what their grant says with the packages of that category, and create new ones in it. Super
admins manage the grants (`grant`, `revoke`); every grant change is in the designer's audit list.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.data.models import (
    DesignerAudit,
    DesignerGrant,
    PackageDraft,
    Person,
    ProcessDefinition,
    ProcessVersion,
    Role,
)
from engine.errors import NotFoundError, NotPermittedError, msg
from engine.people import org
from engine.runtime.assignment import process_admins_of

ACTIONS = ("edit", "deploy", "migrate")


@dataclass(frozen=True)
class Access:
    """What one person may do in the designer, read once: super admin, and per action the categories."""

    username: str | None
    super_admin: bool
    categories: dict[str, frozenset[str]]  # action -> categories granted

    def category_allows(self, category: str | None, action: str) -> bool:
        """Whether a grant covers `action` on packages of `category`."""
        return self.super_admin or (category is not None and category in self.categories.get(action, ()))

    @property
    def has_grants(self) -> bool:
        return any(self.categories.values())


def access_of(session: Session, username: str | None) -> Access:
    """The person's grants and super admin flag (two queries)."""
    if not username:
        return Access(None, False, {action: frozenset() for action in ACTIONS})
    groups = org.groups_of(session, username)
    person_id = session.scalar(select(Person.id).where(Person.username == username))
    holders = [DesignerGrant.person_id == person_id] if person_id is not None else []
    if groups:
        holders.append(DesignerGrant.role_key.in_(groups))
    rows = session.scalars(select(DesignerGrant).where(or_(*holders))).all() if holders else []
    categories = {action: frozenset(g.category for g in rows if getattr(g, f"can_{action}")) for action in ACTIONS}
    return Access(username, org.is_super_admin(session, username), categories)


def may(session: Session, username: str | None, key: str, action: str) -> bool:
    """Whether `username` may `action` (edit / deploy / migrate) the package `key`."""
    if action not in ACTIONS:
        raise ValueError(f"unknown designer action {action!r}")
    if not username:
        return False
    access = access_of(session, username)
    if access.super_admin:
        return True
    meta = _latest_meta(session, key)
    if username in process_admins_of(meta):
        return True
    categories = package_categories(session, key)
    return bool(categories) and all(access.category_allows(c, action) for c in categories)


def require(session: Session, username: str | None, key: str, action: str) -> None:
    """Raise NotPermittedError unless `username` may `action` the package `key`."""
    if not may(session, username, key, action):
        raise NotPermittedError(msg("you may not change the process %(key)s in the designer", key=key))


def may_deploy(session: Session, username: str | None, key: str, category: str | None) -> bool:
    """Whether `username` may deploy package `key` from outside the designer (the REST API): as `may`
    for a deployed package; a new one needs a deploy grant on its `category` (super admins: any)."""
    if session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == key)) is not None:
        return may(session, username, key, "deploy")
    return access_of(session, username).category_allows(category, "deploy")


def may_create(session: Session, username: str | None, category: str | None) -> bool:
    """Whether `username` may create a new package in `category` (super admins: in any, or none)."""
    return access_of(session, username).category_allows(category, "edit")


def may_design(session: Session, username: str | None) -> bool:
    """Whether the designer is for this person at all: a super admin, a granted process owner or the
    process admin of some package (the header's "Designer" link; a few small queries)."""
    if not username:
        return False
    access = access_of(session, username)
    return access.super_admin or access.has_grants or bool(administered_keys(session, username))


def administered_keys(session: Session, username: str) -> set[str]:
    """Keys of the packages whose latest version names `username` among its process admins (one query)."""
    latest = (select(ProcessVersion.definition_id, func.max(ProcessVersion.number).label("number"))
              .group_by(ProcessVersion.definition_id).subquery())
    rows = session.execute(select(ProcessDefinition.key, ProcessVersion.package["meta"]["admins"])
                           .join(latest, latest.c.definition_id == ProcessDefinition.id)
                           .join(ProcessVersion, (ProcessVersion.definition_id == ProcessDefinition.id)
                                 & (ProcessVersion.number == latest.c.number)))
    return {key for key, admins in rows if username in process_admins_of({"admins": admins})}


def package_categories(session: Session, key: str) -> set[str]:
    """The categories a package is in: its deployed definition's and its draft's (when they differ, a
    grant must cover both: nobody moves a package into or out of a category they do not own)."""
    deployed = session.scalar(select(ProcessDefinition.category).where(ProcessDefinition.key == key))
    drafted = session.scalar(select(PackageDraft.category).where(PackageDraft.key == key))
    return {c for c in (deployed, drafted) if c}


def grant(session: Session, actor: str, category: str, holder: str, edit: bool = True, deploy: bool = False,
          migrate: bool = False, role: bool = False) -> DesignerGrant:
    """Make `holder` (a username, or a role key when `role`) a process owner of `category` with these
    rights, replacing an earlier grant of the same holder and category. Super admins only."""
    _require_super_admin(session, actor)
    category = (category or "").strip()
    if not category:
        raise NotFoundError(msg("a category is required"))
    person_id, role_key = _holder(session, holder, role)
    row = session.scalar(select(DesignerGrant).where(DesignerGrant.category == category,
                                                     DesignerGrant.person_id == person_id if person_id else
                                                     DesignerGrant.role_key == role_key))
    if row is None:
        row = DesignerGrant(category=category, person_id=person_id, role_key=role_key, created_by=actor)
        session.add(row)
    row.can_edit, row.can_deploy, row.can_migrate = edit or deploy or migrate, deploy, migrate
    session.add(DesignerAudit(username=actor, key=None, action="grant",
                              detail={"category": category, "holder": holder, "role": role,
                                      "edit": row.can_edit, "deploy": deploy, "migrate": migrate}))
    session.flush()
    return row


def revoke(session: Session, actor: str, category: str, holder: str, role: bool = False) -> bool:
    """Remove `holder`'s grant on `category`; False when there was none. Super admins only."""
    _require_super_admin(session, actor)
    person_id, role_key = _holder(session, holder, role)
    row = session.scalar(select(DesignerGrant).where(DesignerGrant.category == category,
                                                     DesignerGrant.person_id == person_id if person_id else
                                                     DesignerGrant.role_key == role_key))
    if row is None:
        return False
    session.delete(row)
    session.add(DesignerAudit(username=actor, key=None, action="revoke",
                              detail={"category": category, "holder": holder, "role": role}))
    session.flush()
    return True


def grants(session: Session) -> list[DesignerGrant]:
    """Every grant, by category."""
    return list(session.scalars(select(DesignerGrant).order_by(DesignerGrant.category, DesignerGrant.id)))


def grant_holders(session: Session, rows: list[DesignerGrant]) -> dict[int, str]:
    """Usernames of the people the grants name, by person id."""
    ids = {row.person_id for row in rows if row.person_id is not None}
    if not ids:
        return {}
    rows = session.execute(select(Person.id, Person.username).where(Person.id.in_(ids)))
    return {person_id: username for person_id, username in rows}


def _holder(session: Session, holder: str, role: bool) -> tuple[int | None, str | None]:
    if role:
        if session.scalar(select(Role.id).where(Role.key == holder)) is None:
            raise NotFoundError(msg("there is no role %(role)s", role=holder))
        return None, holder
    person_id = session.scalar(select(Person.id).where(Person.username == holder))
    if person_id is None:
        raise NotFoundError(msg("Nobody has the username %(username)s.", username=holder))
    return person_id, None


def _require_super_admin(session: Session, actor: str) -> None:
    if not org.is_super_admin(session, actor):
        raise NotPermittedError(msg("only super admins may grant designer rights"))


def _latest_meta(session: Session, key: str) -> dict:
    query = (select(ProcessVersion.package).join(ProcessDefinition, ProcessDefinition.id == ProcessVersion.definition_id)
             .where(ProcessDefinition.key == key).order_by(ProcessVersion.number.desc()).limit(1))
    package = session.scalar(query)
    return (package or {}).get("meta") or {}


def analysable_keys(session: Session, username: str | None) -> set[str] | None:
    """The process keys whose analytics `username` may see: None for every process (a super admin), else
    the packages they administer or whose category they hold a designer grant on (empty: none)."""
    if not username:
        return set()
    access = access_of(session, username)
    if access.super_admin:
        return None
    keys = administered_keys(session, username)
    granted = frozenset().union(*access.categories.values())
    if granted:
        keys |= set(session.scalars(select(ProcessDefinition.key).where(ProcessDefinition.category.in_(granted))))
    return keys
