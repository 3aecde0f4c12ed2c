"""Uploaded files: stored outside the database under their SHA-256, checked against a field's limits.

A form value holds references {id, name, size, sha256, content_type}; the bytes live in a folder
(`instance/files` by default). `put` streams an upload to disk, refusing it as soon as it passes the
size limit, and `verify` checks that a reference still matches the stored bytes.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import secrets
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 64 * 1024
_ID = re.compile(r"^[a-f0-9]{32}$")


class UploadRefused(ValueError):
    """An upload over the size limit or of a type the field does not accept."""


@dataclass(frozen=True)
class FileRef:
    id: str
    name: str
    size: int
    sha256: str
    content_type: str

    def to_dict(self) -> dict:
        return asdict(self)


def human_size(size: int) -> str:
    for unit, scale in (("GB", 1024 ** 3), ("MB", 1024 ** 2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:g}{unit}"
    return f"{size}B"


def accepts(accept: list[str], name: str, content_type: str | None) -> bool:
    """True when the file's extension or content type is in `accept` (".pdf", "image/*", "text/csv")."""
    suffix = Path(name).suffix.lower()
    kind = (content_type or mimetypes.guess_type(name)[0] or "").lower()
    for item in accept:
        item = item.lower()
        if item.startswith(".") and suffix == item:
            return True
        if item.endswith("/*") and kind.startswith(item[:-1]):
            return True
        if item == kind:
            return True
    return False


def safe_name(name: str) -> str:
    """A display name without directories or control characters."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:200] if name not in ("", ".", "..") else "file"


class FileStore:
    """Files in a folder: `<root>/<id[:2]>/<id>`, content-addressed by a random id, checked by SHA-256."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, file_id: str) -> Path:
        if not isinstance(file_id, str) or not _ID.fullmatch(file_id):
            raise KeyError(file_id)
        return self.root / file_id[:2] / file_id

    def put(self, stream: BinaryIO, name: str, content_type: str | None = None, *,
            max_size: int | None = None, accept: list[str] | None = None) -> FileRef:
        name = safe_name(name)
        content_type = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        if accept and not accepts(accept, name, content_type):
            raise UploadRefused(f"`{name}` is not an accepted type ({', '.join(accept)})")
        file_id = secrets.token_hex(16)
        target = self._path(file_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if max_size is not None and size > max_size:
                        raise UploadRefused(f"`{name}` is larger than {human_size(max_size)}")
                    digest.update(chunk)
                    out.write(chunk)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return FileRef(file_id, name, size, digest.hexdigest(), content_type)

    def open(self, ref: dict | FileRef) -> BinaryIO:
        file_id = ref.id if isinstance(ref, FileRef) else ref["id"]
        return self._path(file_id).open("rb")

    def verify(self, ref: dict) -> str | None:
        """None when the stored bytes match the reference, else a message key of forms.messages."""
        try:
            path = self._path(str(ref.get("id")))
        except KeyError:
            return "file_missing"
        if not path.is_file():
            return "file_missing"
        if path.stat().st_size != ref.get("size"):
            return "file_checksum"
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        return None if digest.hexdigest() == ref.get("sha256") else "file_checksum"
