"""Uploaded files as the engine knows them: who uploaded what, and which instance it belongs to.

The bytes live in a `forms.files.FileStore` (the web app owns it); the `upload` row records the
uploader and the stored reference. An upload is its owner's alone until something attaches it to an
instance: a form submission (its file fields) or a decision or operation (its attachments). From
then on whoever may view that instance may download it.

Decisions and operations (`runtime.complete_task`, `runtime.delegate_task`, `runtime.cancel_instance`,
the functions of `engine.operations`) take `attachments`: upload ids. `claim` checks them (the actor's
own, not attached to another instance), marks them attached in the caller's transaction and returns
`[{id, name, size}]`, which the history entry keeps in its data under `HISTORY_KEY`.

No Flask: the web calls `record` after storing the bytes, `usable` to tell a person which ids they may
not use, and `attach` after a submission whose file fields reference new uploads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, or_, select, update
from sqlalchemy.orm import Session

from engine.data.models import Upload, utcnow
from engine.errors import InvalidTaskDataError, NotPermittedError, Username, msg

# A history entry's data key for its attachments. The underscore keeps it apart from form fields
# (which cannot start with `_`), as `_on_behalf_of` is: a completion's data is the form's answers.
HISTORY_KEY = "_attachments"
MAX_ATTACHMENTS = 20  # per decision or operation
_ID = re.compile(r"^[a-f0-9]{32}$")
_upload = Upload.__table__


class UploadNotYoursError(NotPermittedError):
    """An upload id that is unknown, someone else's, or already attached to another instance."""

    def __init__(self, message: str, ids: list[str]):
        super().__init__(message)
        self.ids = ids


@dataclass(frozen=True)
class UploadInfo:
    """One upload row."""

    id: str
    owner: str
    name: str
    size: int
    sha256: str
    content_type: str
    created_at: datetime
    instance_id: int | None

    def ref(self) -> dict:
        """The reference a form's file field holds."""
        return {"id": self.id, "name": self.name, "size": self.size, "sha256": self.sha256,
                "content_type": self.content_type}

    def attachment(self) -> dict:
        """What a history entry keeps about an attachment."""
        return {"id": self.id, "name": self.name, "size": self.size}


def _info(row) -> UploadInfo:
    return UploadInfo(row.id, row.owner, row.name, row.size, row.sha256, row.content_type, row.created_at,
                      row.instance_id)


def clean_ids(ids: Iterable | None) -> list[str]:
    """Distinct upload ids in their order; InvalidTaskDataError for anything that is not one."""
    result: list[str] = []
    for value in ids or ():
        if not isinstance(value, str) or not _ID.fullmatch(value):
            raise InvalidTaskDataError(msg("`%(value)s` is not an upload id", value=str(value)[:40]))
        if value not in result:
            result.append(value)
    if len(result) > MAX_ATTACHMENTS:
        raise InvalidTaskDataError(msg("at most %(limit)s attachments, not %(count)s", limit=MAX_ATTACHMENTS,
                                       count=len(result)))
    return result


def record(session: Session | Connection, ref: dict, owner: str, now: datetime | None = None) -> UploadInfo:
    """Remember a stored file (`FileStore.put`'s reference) as `owner`'s unattached upload."""
    row = {"id": ref["id"], "owner": owner, "name": ref["name"], "size": ref["size"], "sha256": ref["sha256"],
           "content_type": ref["content_type"], "created_at": now or utcnow(), "instance_id": None}
    session.execute(insert(_upload).values(**row))
    return UploadInfo(**row)


def get(session: Session | Connection, upload_id: str) -> UploadInfo | None:
    """The upload with this id, or None (also for anything that is not an id)."""
    if not isinstance(upload_id, str) or not _ID.fullmatch(upload_id):
        return None
    row = session.execute(select(_upload).where(_upload.c.id == upload_id)).first()
    return _info(row) if row is not None else None


def find(session: Session | Connection, ids: Iterable[str]) -> dict[str, UploadInfo]:
    """The uploads among `ids` that exist, by id (one query)."""
    wanted = [i for i in ids if isinstance(i, str) and _ID.fullmatch(i)]
    if not wanted:
        return {}
    return {row.id: _info(row) for row in session.execute(select(_upload).where(_upload.c.id.in_(wanted)))}


def usable(session: Session | Connection, ids: Iterable[str], owner: str,
           instance_id: int | None = None) -> tuple[list[UploadInfo], list[str]]:
    """`(the uploads owner may attach, the ids they may not)`: theirs and unattached (or already
    attached to `instance_id`); an unknown id counts as not theirs."""
    ids = list(dict.fromkeys(ids))
    found = find(session, ids)
    good, refused = [], []
    for upload_id in ids:
        upload = found.get(upload_id)
        if upload is None or upload.owner != owner or upload.instance_id not in (None, instance_id):
            refused.append(upload_id)
        else:
            good.append(upload)
    return good, refused


def claim(conn: Connection, ids: Iterable[str] | None, owner: str, instance_id: int) -> list[dict]:
    """Attach `owner`'s uploads `ids` to the instance inside the caller's transaction and return what
    the history entry keeps (`[{id, name, size}]`, in order); UploadNotYoursError changes nothing.

    Claiming again for the same instance is allowed (a step re-applied after a concurrent save).
    """
    ids = clean_ids(ids)
    if not ids:
        return []
    good, refused = usable(conn, ids, owner, instance_id)
    if refused:
        raise UploadNotYoursError(msg("attachment %(ids)s is not an upload of %(person)s that can be attached here",
                                      ids=", ".join(refused), person=Username(owner)), refused)
    changed = conn.execute(update(_upload)
                           .where(_upload.c.id.in_(ids), _upload.c.owner == owner,
                                  or_(_upload.c.instance_id.is_(None), _upload.c.instance_id == instance_id))
                           .values(instance_id=instance_id)).rowcount
    if changed != len(ids):  # attached elsewhere between the read and the update
        raise UploadNotYoursError(msg("an attachment of %(person)s was attached elsewhere meanwhile",
                                      person=Username(owner)), ids)
    return [u.attachment() for u in good]


def attach(session: Session | Connection, ids: Iterable[str], owner: str, instance_id: int) -> int:
    """Mark `owner`'s unattached uploads `ids` as the instance's (after a submission referencing them
    was saved); returns how many rows changed. Others' uploads and attached ones are left alone."""
    ids = [i for i in dict.fromkeys(ids) if isinstance(i, str) and _ID.fullmatch(i)]
    if not ids:
        return 0
    return session.execute(update(_upload)
                      .where(_upload.c.id.in_(ids), _upload.c.owner == owner, _upload.c.instance_id.is_(None))
                      .values(instance_id=instance_id)).rowcount


def attachments_of(data) -> list[dict]:
    """The attachments a history entry's data names (`[]` when none)."""
    if not isinstance(data, dict):
        return []
    items = data.get(HISTORY_KEY)
    return [a for a in items if isinstance(a, dict) and isinstance(a.get("id"), str)] if isinstance(items, list) \
        else []


def with_attachments(data: dict | None, attached: list[dict]) -> dict | None:
    """A history entry's data with its attachments (unchanged without any)."""
    if not attached:
        return data
    return {**(data or {}), HISTORY_KEY: attached}
