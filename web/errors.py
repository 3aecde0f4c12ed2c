"""How engine refusals reach a browser: one status per kind of `LiaisonError`, decided here only."""

from __future__ import annotations

from engine.errors import LiaisonError, NotFoundError, NotPermittedError, TaskConflictError


def status_for(exc: LiaisonError) -> int:
    """The HTTP status of an engine refusal, decided once for every page and route."""
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, NotPermittedError):
        return 403
    if isinstance(exc, TaskConflictError):
        return 409
    return 422
