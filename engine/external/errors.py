"""Why an outsider was refused: one exception with a reason code and a bilingual message."""

from __future__ import annotations

from engine.errors import LiaisonError, Message, msg

_MESSAGES = {
    "unknown": lambda **_: msg("This link or code is not valid."),
    "expired": lambda **_: msg("This link or code has expired."),
    "not_yet": lambda **_: msg("This link or code is not valid yet."),
    "revoked": lambda **_: msg("This link or code was withdrawn."),
    "throttled": lambda wait=60, **_: msg("Too many attempts: try again in %(seconds)s seconds.", seconds=wait),
}


class ExternalAccessError(LiaisonError):
    """A link, code, sign-in code or session cannot be used: `reason` is unknown, expired, not_yet, revoked or
    throttled (then `wait_seconds` says how long). The message never tells which part (party, contact, grant)
    was the cause."""

    def __init__(self, reason: str, wait_seconds: int | None = None, message: Message | None = None):
        super().__init__(message or _MESSAGES[reason](wait=wait_seconds))
        self.reason = reason
        self.wait_seconds = wait_seconds
