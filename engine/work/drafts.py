"""Drafts: a start form saved unfinished and resumed later by the same person.

A draft holds the raw post (field name -> list of posted strings), never validated: it is checked
only when the request is finally submitted. Every reader and writer here is scoped to the owner;
someone else's draft is a NotFoundError, so nobody learns which ids exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from engine.data.models import Draft, utcnow
from engine.errors import InvalidTaskDataError, NotFoundError, msg

MAX_DRAFT_BYTES = 256 * 1024   # the JSON of one draft's fields
MAX_DRAFTS_PER_PERSON = 200
IGNORED_FIELDS = {"csrf_token", "action"}


class DraftTooLargeError(InvalidTaskDataError):
    """The draft is over the size cap (or the person has too many); nothing was saved."""


@dataclass(frozen=True)
class DraftItem:
    id: int
    process_key: str
    data: dict[str, list[str]]
    created_at: datetime
    updated_at: datetime


def _item(draft: Draft) -> DraftItem:
    return DraftItem(draft.id, draft.process_key, dict(draft.data or {}), draft.created_at, draft.updated_at)


def clean_post(data: dict) -> dict[str, list[str]]:
    """The posted fields as {name: [strings]}, without the CSRF token and the button pressed."""
    cleaned = {}
    for name, values in data.items():
        if name in IGNORED_FIELDS:
            continue
        values = values if isinstance(values, list) else [values]
        cleaned[str(name)] = [str(v) for v in values if isinstance(v, (str, int, float, bool))]
    return cleaned


def save_draft(session: Session, username: str, process_key: str, data: dict,
               draft_id: int | None = None) -> DraftItem:
    """Create a draft, or replace the fields of the owner's draft `draft_id`; DraftTooLargeError."""
    fields = clean_post(data)
    if len(json.dumps(fields, ensure_ascii=False).encode()) > MAX_DRAFT_BYTES:
        raise DraftTooLargeError(msg("a draft may hold at most %(size)s KB", size=MAX_DRAFT_BYTES // 1024))
    if draft_id is not None:
        draft = _owned(session, username, draft_id)
        draft.process_key, draft.data, draft.updated_at = process_key, fields, utcnow()
    else:
        count = session.scalar(select(func.count()).select_from(Draft).where(Draft.username == username))
        if count >= MAX_DRAFTS_PER_PERSON:
            raise DraftTooLargeError(msg("you have %(count)s drafts already; delete some first", count=count))
        draft = Draft(username=username, process_key=process_key, data=fields)
        session.add(draft)
    session.flush()
    return _item(draft)


def list_drafts(session: Session, username: str, limit: int = MAX_DRAFTS_PER_PERSON) -> list[DraftItem]:
    """The person's drafts, most recently saved first."""
    rows = session.scalars(select(Draft).where(Draft.username == username)
                           .order_by(Draft.updated_at.desc(), Draft.id.desc()).limit(limit))
    return [_item(draft) for draft in rows]


def get_draft(session: Session, username: str, draft_id: int) -> DraftItem:
    """The owner's draft `draft_id`; NotFoundError when it is missing or someone else's."""
    return _item(_owned(session, username, draft_id))


def delete_draft(session: Session, username: str, draft_id: int) -> None:
    """Delete the owner's draft; NotFoundError when it is missing or someone else's."""
    deleted = session.execute(delete(Draft).where(Draft.id == draft_id, Draft.username == username))
    if deleted.rowcount != 1:
        raise NotFoundError(msg("no draft %(id)s", id=draft_id))


def _owned(session: Session, username: str, draft_id: int) -> Draft:
    draft = session.get(Draft, draft_id)
    if draft is None or draft.username != username:
        raise NotFoundError(msg("no draft %(id)s", id=draft_id))
    return draft
