"""How engine refusals reach a browser: one status per kind of `LiaisonError`, decided here only."""

from __future__ import annotations

from flask import current_app, has_app_context
from flask_babel import gettext
from flask_babel import gettext as _

from engine.errors import (
    InstanceDataTooLargeError,
    LiaisonError,
    Message,
    NotFoundError,
    NotPermittedError,
    ProcessRuntimeError,
    TaskConflictError,
    TaskDataTooLargeError,
    Username,
)
from engine.people.org import display_names
from forms.files import human_size

from .i18n import current_language

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


def failed_message(exc: ProcessRuntimeError) -> str:
    """What a person is told when a step of the process failed: nothing was saved, and why in their words
    (`exc.reason`: which limit, which error type, no approver). The technical text (the element, the
    script, Python's message) is for the process owner: it is logged here and kept in the instance's
    history (the CLI shows it), not shown to the person filling in a form."""
    current_app.logger.warning("a step failed (element %s): %s", exc.element_id or "-", exc)
    if exc.reason is None:
        return _("A step of the process failed, so nothing was saved. Try again later or tell the process owner.")
    return _("A step of the process failed, so nothing was saved. Try again later or tell the process owner. "
             "The step failed because %(reason)s.", reason=translated(exc.reason))


def translated(value) -> str:
    """An engine message (or refusal) in the page's language: a `Message` through the catalog, with its
    params translated too (nested `Message`s through the catalog, `Username`s by display name, looked up in
    one query per message); anything else as its text."""
    if isinstance(value, TOO_LARGE):
        return too_large_message(value)
    if isinstance(value, ProcessRuntimeError):
        return failed_message(value)
    if isinstance(value, LiaisonError):
        value = value.args[0] if len(value.args) == 1 else str(value)
    if not isinstance(value, Message):
        return str(value)
    return _render(value, _names(_people_in(value)))


def _people_in(message: Message) -> set[str]:
    found = set()
    for param in message.params.values():
        if isinstance(param, Username):
            found.add(str(param))
        elif isinstance(param, Message):
            found |= _people_in(param)
    return found


def _names(usernames: set[str]) -> dict[str, str]:
    """Display names in the page's language; usernames as they are outside a request or without a database."""
    if not usernames or not has_app_context() or "liaison_sessions" not in current_app.extensions:
        return {u: u for u in usernames}
    with current_app.extensions["liaison_sessions"]() as session:
        return display_names(session, usernames, current_language())


def _render(message: Message, names: dict[str, str]) -> str:
    params = {}
    for name, param in message.params.items():
        if isinstance(param, Username):
            param = names.get(str(param), str(param))
        elif isinstance(param, Message):
            param = _render(param, names)
        params[name] = param
    return gettext(message.msgid, **params) if params else gettext(message.msgid)


def form_errors(exc) -> dict[str, list[str]]:
    """A `FormInvalidError`'s field errors in the page's language (the engine's own, such as "the package
    has no form", are `Message`s; the forms layer's are already in the page's language)."""
    return {path: [translated(message) for message in messages] for path, messages in exc.errors.items()}
