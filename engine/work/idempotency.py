"""`Idempotency-Key` on the REST API's POSTs that create or complete (issue 13).

The first response to a key is kept per token for 24 hours with a digest of the request (method, path
and body). A retry with the same key and request gets that response again without running anything; the
same key with another request is refused (`IdempotencyKeyReusedError`, 422). Two requests racing with one
key both run at most until the second insert hits the unique key, which keeps the first one's answer;
callers that need strict once-only semantics rely on the engine's own conflict checks (a task is
completed once), which the retry then reports as the first response.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.data.api_models import ApiIdempotency
from engine.data.models import utcnow
from engine.errors import LiaisonError, msg

KEEP = timedelta(hours=24)
MAX_KEY = 200


class IdempotencyKeyReusedError(LiaisonError):
    """The key was used before with another request."""


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


def recall(session: Session, token_id: int, key: str, request_hash: str,
           now: datetime | None = None) -> KeptResponse | None:
    """The kept response of an earlier request with this key (None: first use, or older than 24 h)."""
    row = session.scalar(select(ApiIdempotency).where(ApiIdempotency.token_id == token_id,
                                                      ApiIdempotency.key == key))
    if row is None or row.created_at <= (now or utcnow()) - KEEP:
        return None
    if row.request_hash != request_hash:
        raise IdempotencyKeyReusedError(msg("this Idempotency-Key was used with another request"))
    return KeptResponse(row.status, row.response)


def remember(session: Session, token_id: int, key: str, request_hash: str, status: int, body: str,
             now: datetime | None = None) -> None:
    """Keep a response for its key (an expired row of the key is replaced; rows past 24 h of this token are
    deleted on the way); a concurrent first use of the same key keeps its own row. Commits."""
    now = now or utcnow()
    session.execute(delete(ApiIdempotency).where(ApiIdempotency.token_id == token_id,
                                                 ApiIdempotency.created_at <= now - KEEP))
    session.add(ApiIdempotency(token_id=token_id, key=key, request_hash=request_hash, status=status,
                               response=body, created_at=now))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
