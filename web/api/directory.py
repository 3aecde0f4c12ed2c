"""People, departments, messages and signals over the API: the pickers' directory look-ups
(`engine.people.directory`), `runtime.messages.send_message` (what `liaison message send` calls) and
`runtime.signals.send_signal` (what `liaison signal send` calls)."""

from __future__ import annotations

from engine.people import directory
from engine.runtime import messages, signals

from ..i18n import current_language
from . import schemas as s
from .core import endpoint, identity, sessions

SEARCH_LIMIT = directory.MAX_LIMIT


def _search_page(hits: list, limit: int) -> dict:
    """A directory search answers its best `limit` matches; there is no next page (narrow `q` instead)."""
    return {"items": hits[:limit], "next_cursor": None}


@endpoint("GET", "/people", scope="read", query=s.PeopleQuery, response=s.page_schema(s.PersonHit, "PersonPage"),
          tags=["directory"])
def people(args: dict):
    """Active people matching `q` (name, pinyin initials, username), at most 50; no e-mail is answered."""
    lang = current_language()
    with sessions()() as session:
        hits = directory.search_people(session, args["q"], limit=min(args["limit"], SEARCH_LIMIT))
    return _search_page([{"username": h.username, "name": h.label(lang), "department": h.department_label(lang) or None}
                         for h in hits], args["limit"])


@endpoint("GET", "/departments", scope="read", query=s.PeopleQuery,
          response=s.page_schema(s.DepartmentHit, "DepartmentPage"), tags=["directory"])
def departments(args: dict):
    """Departments matching `q`, at most 50."""
    lang = current_language()
    with sessions()() as session:
        hits = directory.search_departments(session, args["q"], limit=min(args["limit"], SEARCH_LIMIT))
    return _search_page([{"code": h.code, "name": h.label(lang), "parent": h.parent_label(lang) or None}
                         for h in hits], args["limit"])


@endpoint("POST", "/messages", scope="start", body=s.MessageBody, response=s.MessageResult, idempotent=True,
          tags=["messages"])
def send_message(body: dict):
    """Send a message: delivered to the one instance waiting for it (by `business_key` or `correlation`),
    starts a process with that message start event, or is kept until one waits (`kept`)."""
    key = body["correlation"] if body["correlation"] is not None else body["business_key"]
    result = messages.send_message(sessions(), body["name"], key, body["data"], identity().user.username)
    return {"status": result.status, "instance_id": result.instance_id, "kept_id": result.buffered_id,
            "expires_at": result.expires_at.isoformat() if result.expires_at else None}


@endpoint("POST", "/signals", scope="start", body=s.SignalBody, response=s.SignalResult, idempotent=True,
          tags=["messages"])
def send_signal(body: dict):
    """Broadcast a signal: every instance waiting on it moves on and every deployed process with a signal
    start event of that name starts; answers how many were reached and started (a receiver whose step
    failed is retried by the scheduler and counted as `pending`)."""
    return signals.send_signal(sessions(), body["name"], body["data"], identity().user.username).as_dict()
