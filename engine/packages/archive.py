"""Process packages as zip files: export a deployed version, import (deploy) an uploaded zip.

An uploaded zip is untrusted: names are checked before anything is written (no absolute paths,
no `..`, no links, only the package's own kinds of files), and the total size, the file count
and the compression ratio are capped so a zip bomb is refused, not unpacked.
"""

from __future__ import annotations

import io
import json
import stat
import tempfile
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.data.models import ProcessDefinition, ProcessVersion
from engine.errors import InvalidPackageError, NotFoundError, Problem
from engine.packages.deployment import Package, load_package
from engine.packages.limits import (
    MAX_FILES,
    MAX_PACKAGE_BYTES,
    MAX_RATIO,
    MAX_ZIP_BYTES,
    file_too_large,
    megabytes,
)

MAX_UNPACKED_BYTES = MAX_PACKAGE_BYTES
_ALLOWED_FOLDERS = {"forms", "notifications", "tests"}
_ALLOWED_SUFFIXES = {".bpmn", ".dmn", ".form", ".yaml", ".yml", ".json", ".md"}


def export_version(session: Session, key: str, number: int | None = None) -> bytes:
    """The files of a deployed version (the newest if `number` is None) as a zip."""
    query = (select(ProcessVersion).join(ProcessDefinition, ProcessDefinition.id == ProcessVersion.definition_id)
             .where(ProcessDefinition.key == key))
    query = query.where(ProcessVersion.number == number) if number else query.order_by(
        ProcessVersion.number.desc()).limit(1)
    version = session.scalar(query)
    if version is None:
        raise NotFoundError(f"no deployed version {number or 'at all'} of `{key}`")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{key}/package.yaml", yaml.safe_dump(version.package["meta"], allow_unicode=True))
        for name, xml in sorted({**version.bpmn, **(version.package.get("dmn") or {})}.items()):
            archive.writestr(f"{key}/{name}", xml)
        for folder in ("forms", "notifications", "tests"):
            for name, content in sorted(version.package.get(folder, {}).items()):
                archive.writestr(f"{key}/{folder}/{name}.json", json.dumps(content, ensure_ascii=False, indent=2))
    return buffer.getvalue()


@contextmanager
def unpacked(path: str | Path):
    """Check a package zip and unpack it into a temporary folder; yields the package folder."""
    path = Path(path)
    problems = _check_archive(path)
    if problems:
        raise InvalidPackageError(problems)
    with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory(prefix="liaison-zip-") as scratch:
        names = [PurePosixPath(info.filename) for info in archive.infolist() if not info.is_dir()]
        prefix = _common_folder(names)
        for info in archive.infolist():
            if info.is_dir():
                continue
            relative = PurePosixPath(info.filename).relative_to(prefix) if prefix else PurePosixPath(info.filename)
            target = Path(scratch, *relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_read_member(archive, info, str(path)))
        yield Path(scratch)


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> bytes:
    """A member's bytes; never more than its header says (zipfile stops there), and a member whose
    data does not match its header (size, CRC, compression) is a refusal, not a crash."""
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
        raise InvalidPackageError([Problem(where, None, info.filename, f"cannot be unpacked: {exc}")]) from None


def _check_archive(path: Path) -> list[Problem]:
    where = str(path)
    size = path.stat().st_size
    if size > MAX_ZIP_BYTES:
        return [Problem(where, None, None, f"zip is {size:,} bytes; the limit is {megabytes(MAX_ZIP_BYTES)}")]
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        return [Problem(where, None, None, f"not a readable zip file: {exc}")]
    if len(infos) > MAX_FILES:
        return [Problem(where, None, None, f"zip holds {len(infos):,} entries; the limit is {MAX_FILES}")]
    problems = [p for info in infos for p in _check_member(where, info)]
    total = sum(info.file_size for info in infos)
    if total > MAX_UNPACKED_BYTES:
        problems.append(Problem(where, None, None,
                                f"zip unpacks to {total:,} bytes; the limit is {megabytes(MAX_UNPACKED_BYTES)}"))
    return problems


def _check_member(where: str, info: zipfile.ZipInfo) -> list[Problem]:
    name = PurePosixPath(info.filename)
    if name.is_absolute() or ".." in name.parts or "\\" in info.filename or ":" in info.filename:
        return [Problem(where, None, info.filename, "unsafe path in zip")]
    if stat.S_ISLNK(info.external_attr >> 16):
        return [Problem(where, None, info.filename, "symbolic links are not allowed in a package zip")]
    if info.is_dir():
        return []
    if name.suffix not in _ALLOWED_SUFFIXES:
        return [Problem(where, None, info.filename, f"unexpected file type (allowed: {sorted(_ALLOWED_SUFFIXES)})")]
    if len(name.parts) > 3 or (len(name.parts) == 3 and name.parts[1] not in _ALLOWED_FOLDERS):
        return [Problem(where, None, info.filename, "unexpected folder in a package zip")]
    if info.flag_bits & 0x1:
        return [Problem(where, None, info.filename, "encrypted files are not allowed in a package zip")]
    too_large = file_too_large(name, info.file_size)
    if too_large:
        return [Problem(where, None, info.filename, too_large)]
    if info.file_size > MAX_RATIO * max(info.compress_size, 1):
        return [Problem(where, None, info.filename,
                        f"compression ratio too high ({info.file_size:,} bytes from {info.compress_size:,};"
                        f" the limit is {MAX_RATIO}:1): a zip bomb?")]
    return []


def _common_folder(names: list[PurePosixPath]) -> PurePosixPath | None:
    """The single top folder everything sits in (`key/...`), if the zip has one."""
    tops = {n.parts[0] for n in names if len(n.parts) > 1}
    if len(tops) == 1 and all(len(n.parts) > 1 for n in names):
        return PurePosixPath(tops.pop())
    return None


def load_package_file(path: str | Path) -> Package:
    """A package from one uploaded file: a lone `.bpmn` (a package of one process) or a package zip,
    checked before unpacking (`deployment.load_package` validates either; InvalidPackageError)."""
    path = Path(path)
    if path.suffix.lower() == ".bpmn":
        return load_package(path)
    with unpacked(path) as folder:
        return load_package(folder)
