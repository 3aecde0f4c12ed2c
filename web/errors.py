"""How engine refusals reach a browser: one status per kind of `LiaisonError`, decided here only."""

from __future__ import annotations

from flask_babel import gettext
from flask_babel import gettext as _

from engine.errors import (
    InstanceDataTooLargeError,
    LiaisonError,
    Message,
    NotFoundError,
    NotPermittedError,
    TaskConflictError,
    TaskDataTooLargeError,
)
from forms.files import human_size

TOO_LARGE = (TaskDataTooLargeError, InstanceDataTooLargeError)  # refused with 413 and `too_large_message`


def status_for(exc: LiaisonError) -> int:
    """The HTTP status of an engine refusal, decided once for every page and route."""
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, NotPermittedError):
        return 403
    if isinstance(exc, TaskConflictError):
        return 409
    if isinstance(exc, TOO_LARGE):
        return 413
    return 422


def too_large_message(exc: TaskDataTooLargeError | InstanceDataTooLargeError) -> str:
    """What a person is told when a submission, or the request's data with it, is over its limit."""
    if isinstance(exc, TaskDataTooLargeError):
        return _("The form is too large: at most %(size)s can be submitted at once. Nothing was saved.",
                 size=human_size(exc.limit))
    return _("This request would hold more than %(size)s of data, the most one request may hold. Nothing was "
             "saved.", size=human_size(exc.limit))


def form_too_large_message() -> str:
    """The page of a form post whose body is over the limit of a page's form (413 before reading it)."""
    return _("The form is too large to be sent. Shorten the text, or attach long documents as files.")


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
