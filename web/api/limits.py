"""Rate limiting per token on /api/v1 with Flask-Limiter: `LIAISON_API_RATE` requests per token
(default 600 per minute; e.g. "100/minute;2000/hour"), a moving window, kept in
`LIAISON_API_RATE_STORAGE` (default `memory://`: per web process, so with N workers a token gets up to N
times the limit; a `redis://` URL shares the count). Over the limit: 429 with `Retry-After` and the
API's JSON error; every limited answer carries `X-RateLimit-*` headers. The document and docs page are
not limited. The key is the token itself (its SHA-256), so a token's budget is its own; a request
without any token is not counted (it is a 401 that reads nothing).
"""

from __future__ import annotations

import hashlib
import os

from flask import current_app, request
from flask_limiter import Limiter

from .core import OPEN_ENDPOINTS, bp

DEFAULT_RATE = "600/minute"


def _token_key() -> str:
    return "token:" + hashlib.sha256(request.headers.get("Authorization", "").encode("utf-8", "replace")).hexdigest()


def _exempt() -> bool:
    """The document, its page, unknown paths, and requests with no token at all (a 401 that reads nothing)."""
    return request.endpoint in OPEN_ENDPOINTS or request.endpoint == "api.unknown" or \
        not request.headers.get("Authorization")


def _rate() -> str:
    return current_app.config.get("LIAISON_API_RATE") or os.environ.get("LIAISON_API_RATE") or DEFAULT_RATE


limiter = Limiter(key_func=_token_key, headers_enabled=True, strategy="moving-window",
                  storage_uri=os.environ.get("LIAISON_API_RATE_STORAGE", "memory://"), key_prefix="liaison-api")
limiter.limit(_rate, exempt_when=_exempt)(bp)
bp.record_once(lambda state: limiter.init_app(state.app))
