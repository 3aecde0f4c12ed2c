"""Who may edit, deploy and migrate a package in the designer (one owner of the rule).

Super admins may do everything; a package's process admins (package.yaml `admins`) may edit, deploy
and migrate that package. (Per-category grants for process owners: issue 14, item 6.)
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.data.models import ProcessDefinition, ProcessVersion
from engine.errors import NotPermittedError, msg
from engine.people import org
from engine.runtime.assignment import process_admins_of

ACTIONS = ("edit", "deploy", "migrate")


def may(session: Session, username: str | None, key: str, action: str) -> bool:
    """Whether `username` may `action` (edit / deploy / migrate) the package `key`."""
    if action not in ACTIONS:
        raise ValueError(f"unknown designer action {action!r}")
    if not username:
        return False
    if org.is_super_admin(session, username):
        return True
    return username in process_admins_of(_latest_meta(session, key))


def require(session: Session, username: str | None, key: str, action: str) -> None:
    """Raise NotPermittedError unless `username` may `action` the package `key`."""
    if not may(session, username, key, action):
        raise NotPermittedError(msg("you may not change the process %(key)s in the designer", key=key))


def _latest_meta(session: Session, key: str) -> dict:
    query = (select(ProcessVersion.package).join(ProcessDefinition, ProcessDefinition.id == ProcessVersion.definition_id)
             .where(ProcessDefinition.key == key).order_by(ProcessVersion.number.desc()).limit(1))
    package = session.scalar(query)
    return (package or {}).get("meta") or {}
