"""Domain exceptions of the engine. Each carries a message a user can act on.

The web, API and CLI layers map these to pages, status codes and exit codes in one place.
"""

from __future__ import annotations

from dataclasses import dataclass


class Message(str):
    """A message the engine shows people, translatable: the English text itself (a `str`, so logs, the CLI
    and `str(exc)` read it as before), plus `msgid` (a gettext template with `%(name)s` placeholders) and
    `params`. Engine code has no Flask: the web layer translates `msgid` with the one catalog it compiles
    (web/translations; `pybabel extract` reads engine/ too, keyword `msg`) and fills in the params,
    translating those that are `Message`s themselves (`web.errors.translated`)."""

    msgid: str
    params: dict

    def __new__(cls, msgid: str, **params):
        text = super().__new__(cls, msgid % params if params else msgid)
        text.msgid, text.params = msgid, params
        return text


class Username(str):
    """A person inside a `Message`'s params: the username (so `str()`, the CLI and logs read it as before),
    shown on a page by the person's display name in the page's language (`web.errors.translated` looks
    every `Username` of a message up in one directory query).

    Why a marker and not a display name resolved where the message is raised: the engine does not know
    the reader's language (a refusal raised for wang may be read on an English page, in the CLI, or in a
    log), and most raising sites hold only the username; resolving at render time is one query per
    message, in the reader's language, and leaves the CLI's and logs' text unchanged."""

    __slots__ = ()


def msg(msgid: str, **params) -> Message:
    """A translatable engine message (see `Message`): `msg("task %(task)s is already %(status)s", ...)`."""
    return Message(msgid, **params)


_STATUS_WORDS = {"open": msg("open"), "completed": msg("completed"), "cancelled": msg("cancelled"),
                 "running": msg("running"), "failed": msg("failed")}


def status_text(status: str | None):
    """A task's or instance's status word for a message (a `Message`, translated on pages)."""
    return _STATUS_WORDS.get(status or "", status or "")


def already_closed(task_id: str, status: str | None, by: str | None = None) -> Message:
    """"task X is already completed (by Y)": the one wording of a task that is no longer open."""
    if by:
        return msg("task %(task)s is already %(status)s by %(person)s", task=task_id, status=status_text(status),
                   person=Username(by))
    return msg("task %(task)s is already %(status)s", task=task_id, status=status_text(status))


class LiaisonError(Exception):
    """Base of every error the engine raises on purpose. Its message may be a `Message` (translatable)."""


@dataclass(frozen=True)
class Problem:
    """One finding about a file: where it is and what is wrong."""

    path: str
    line: int | None
    element_id: str | None
    message: str
    severity: str = "error"  # "error" refuses the file; "warning" is reported only

    def __str__(self) -> str:
        line = self.line if self.line is not None else 0
        element = self.element_id or "-"
        return f"{self.path}:{line}: {element}: {self.message}"


class UnreadableFileError(LiaisonError):
    """The file cannot be read as XML at all (too large, malformed, hostile)."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.reason = message


class InvalidPackageError(LiaisonError):
    """A process package or BPMN file was refused; `problems` lists every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems) or "invalid package")


class ExpressionError(LiaisonError):
    """An expression or script was refused (unsafe or not valid Python) or failed to run.

    The message is the technical text for the process owner (it quotes the script); `reason`, when set, is
    the short `Message` a person filling in a form is shown instead (which limit, which error type)."""

    def __init__(self, message: str, reason: Message | None = None):
        super().__init__(message)
        self.reason = reason


class NotFoundError(LiaisonError):
    """The named process, instance or task does not exist (or is not visible to the caller)."""


class NotPermittedError(LiaisonError):
    """The caller may not do this."""


class TaskConflictError(LiaisonError):
    """The task or instance changed since it was read: someone else completed or moved it."""


class InvalidTaskDataError(LiaisonError):
    """The submitted data was refused; nothing was saved."""


class TaskDataTooLargeError(InvalidTaskDataError):
    """The submitted data is larger than a step accepts (`limit` bytes of JSON); nothing was saved."""

    def __init__(self, message: str, limit: int):
        super().__init__(message)
        self.limit = limit


class FormInvalidError(InvalidTaskDataError):
    """The submission does not satisfy its form; `errors` maps field paths to messages."""

    def __init__(self, form: str, errors: dict[str, list[str]]):
        self.form = form
        self.errors = errors
        listed = "; ".join(f"`{path}`: {' '.join(messages)}" if path else " ".join(messages)
                           for path, messages in errors.items())
        super().__init__(f"form `{form}` refused the submission: {listed}")


class QueueUnavailableError(LiaisonError):
    """The job queue (Redis) cannot be reached; the work stays in the database and is retried."""


class ProcessRuntimeError(LiaisonError):
    """Running the process failed (a script raised, a service failed, a loop ran too deep).

    The stored instance is left exactly as it was before the failing step. The message is the technical
    text for the process owner, the CLI and the logs (English, quoting scripts and rules); `reason` is
    what a person on a page is told about it (a translatable `Message` without code), None when there is
    nothing more to say than "a step failed"; `element_id` names the step.
    """

    def __init__(self, message: str, element_id: str | None = None, cause: BaseException | None = None,
                 reason: Message | None = None):
        super().__init__(message)
        self.element_id = element_id
        self.cause = cause
        self.reason = reason


class InstanceDataTooLargeError(ProcessRuntimeError):
    """The step would store more process data than `LIAISON_MAX_INSTANCE_DATA` (`limit` bytes) allows;
    nothing was saved."""

    def __init__(self, message: str, limit: int):
        super().__init__(message)
        self.limit = limit


# What a person is told about a failed step (`ProcessRuntimeError.reason`), one wording per kind of failure.

def reason_time(limit) -> Message:
    return msg("its script or condition ran longer than the time limit of %(limit)s s", limit=limit)


def reason_memory(limit) -> Message:
    return msg("its script or condition needed more than %(limit)s MB of memory", limit=limit)


def reason_size() -> Message:
    return msg("its script built a value larger than allowed")


def reason_refused() -> Message:
    return msg("its script or condition is not allowed here or is not valid")


def reason_failed(error: BaseException, line: int | None = None) -> Message:
    """A script or condition raised `error`: its type name only (the text may quote data or code)."""
    if line:
        return msg("its script failed on line %(line)s (%(error)s)", line=line, error=type(error).__name__)
    return msg("its script or condition failed (%(error)s)", error=type(error).__name__)
