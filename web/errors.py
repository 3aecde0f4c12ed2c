"""How engine refusals reach a browser: one status per kind of `LiaisonError`, decided here only."""

from __future__ import annotations

from flask_babel import gettext

from engine.errors import LiaisonError, Message, NotFoundError, NotPermittedError, TaskConflictError


def status_for(exc: LiaisonError) -> int:
    """The HTTP status of an engine refusal, decided once for every page and route."""
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, NotPermittedError):
        return 403
    if isinstance(exc, TaskConflictError):
        return 409
    return 422


def translated(value) -> str:
    """An engine message (or refusal) in the page's language: a `Message` through the catalog, with its
    params translated too; anything else as its text."""
    if isinstance(value, LiaisonError):
        value = value.args[0] if len(value.args) == 1 else str(value)
    if isinstance(value, Message):
        params = {name: translated(param) if isinstance(param, Message) else param
                  for name, param in value.params.items()}
        return gettext(value.msgid, **params) if params else gettext(value.msgid)
    return str(value)
