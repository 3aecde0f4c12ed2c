"""Who may see which process analytics (issue 19), the one rule: super admins everything; a process's
admins and the holders of a designer grant on its category (`designer_access.analysable_keys`) that whole
process; a department admin (`org.admin_departments`, with their subtrees) the instances and tasks of their
departments in every process. The dashboards' reads take the `Scope` this returns."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.packages.designer_access import analysable_keys
from engine.people import org
from engine.work.analytics import Scope


def scope_of(session: Session, username: str | None) -> Scope:
    """What `username` may analyse; `Scope(frozenset(), ())` (nothing) for whoever may analyse none."""
    keys = analysable_keys(session, username)
    if keys is None:
        return Scope(None, ())
    departments = sorted({d for root in org.admin_departments(session, username or "")
                          for d in org.subtree_ids(session, root)}) if username else []
    return Scope(frozenset(keys), tuple(departments))


def may_analyse_any(scope: Scope) -> bool:
    """Whether the scope holds anything (the dashboards are for this person)."""
    return scope.keys is None or bool(scope.keys) or bool(scope.departments)
