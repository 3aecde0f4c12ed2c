"""`Idempotency-Key` on the REST API's POSTs that create or complete (issue 13).

The first request with a key reserves it (a row without a response, committed before the work runs),
then keeps its response for 24 hours with a digest of the request (method, path and body). A retry with
the same key and request gets that response again without running anything; the same key with another
request is refused (`IdempotencyKeyReusedError`, 422); a retry while the first is still running is
`IdempotencyInProgressError` (409, try again). The reservation is one unique-key insert, so two requests
racing with one key never both run. A failed attempt (5xx, 429) gives the key back; a reservation left
by a crashed process is taken over after `ABANDONED`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.data.api_models import ApiIdempotency
from engine.data.models import utcnow
from engine.errors import LiaisonError, TaskConflictError, msg

KEEP = timedelta(hours=24)
ABANDONED = timedelta(minutes=2)  # a reservation without a response this old: its process died
MAX_KEY = 200
RUNNING = 0  # `status` of a reserved key whose request is still running


class IdempotencyKeyReusedError(LiaisonError):
    """The key was used before with another request, or is not a usable key."""


class IdempotencyInProgressError(TaskConflictError):
    """The first request with this key is still running."""


@dataclass(frozen=True)
class KeptResponse:
    status: int
    body: str


def request_digest(method: str, path: str, body: bytes) -> str:
    """What makes two requests the same for a key."""
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def check_key(key: str) -> str:
    """A usable key (1 to 200 printable characters) or a refusal."""
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise IdempotencyKeyReusedError(msg("the Idempotency-Key must be 1 to %(count)s printable characters",
                                            count=MAX_KEY))
    return key


def reserve(session: Session, token_id: int, key: str, request_hash: str,
            now: datetime | None = None) -> KeptResponse | None:
    """The kept response of an earlier request with this key, or None after reserving the key for this
    request (committed). Rows of this token past 24 hours are deleted on the way."""
    now = now or utcnow()
    session.execute(delete(ApiIdempotency).where(ApiIdempotency.token_id == token_id,
                                                 ApiIdempotency.created_at <= now - KEEP))
    row = session.scalar(select(ApiIdempotency).where(ApiIdempotency.token_id == token_id,
                                                      ApiIdempotency.key == key))
    if row is not None:
        if row.request_hash != request_hash:
            raise IdempotencyKeyReusedError(msg("this Idempotency-Key was used with another request"))
        if row.status != RUNNING:
            return KeptResponse(row.status, row.response)
        if row.created_at > now - ABANDONED:
            raise IdempotencyInProgressError(msg("a request with this Idempotency-Key is still running; "
                                                 "try again shortly"))
        session.delete(row)
        session.flush()
    session.add(ApiIdempotency(token_id=token_id, key=key, request_hash=request_hash, status=RUNNING,
                               response="", created_at=now))
    try:
        session.commit()
    except IntegrityError:  # another request reserved it first
        session.rollback()
        raise IdempotencyInProgressError(msg("a request with this Idempotency-Key is still running; "
                                             "try again shortly")) from None
    return None


def finish(session: Session, token_id: int, key: str, status: int, body: str) -> None:
    """Keep the response of a reserved key; a failure that a retry may cure (5xx, 429) frees the key."""
    where = (ApiIdempotency.token_id == token_id, ApiIdempotency.key == key, ApiIdempotency.status == RUNNING)
    if status >= 500 or status == 429:
        session.execute(delete(ApiIdempotency).where(*where))
    else:
        session.execute(update(ApiIdempotency).where(*where).values(status=status, response=body))
    session.commit()
