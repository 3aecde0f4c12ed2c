"""Importing a package zip or a lone `.bpmn` (Camunda Modeler, bpmn.io, Signavio, Bizagi: BPMN 2.0 XML)
as a designer draft.

The upload is untrusted: a zip goes through `archive.unpacked` (names, sizes, ratio), XML through
`xmlsafe` (no DTD, no entities). What reads is stored as a draft even when it does not validate:
its problems show in the editor.
"""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePosixPath

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bpmn.parser import BPMN_NS
from engine.bpmn.xmlsafe import parse_xml_bytes
from engine.data.models import PackageDraft, ProcessDefinition
from engine.errors import NotPermittedError, msg
from engine.packages import designer_access as access
from engine.packages.archive import unpacked
from engine.packages.drafts import KEY_PATTERN, DraftFileError, store_draft
from engine.packages.limits import MAX_ZIP_BYTES, megabytes


def import_draft(session: Session, username: str, filename: str, data: bytes,
                 category: str | None = None) -> PackageDraft:
    """A draft from an uploaded package zip or lone `.bpmn`; `category` is used when the package names
    none. A key already in use is the next revision of that package's draft (edit right needed)."""
    suffix = PurePosixPath(filename or "").suffix.lower()
    if suffix == ".zip":
        files = _zip_files(data)
    elif suffix in (".bpmn", ".xml"):
        files = _lone_bpmn_files(data, filename)
    else:
        raise DraftFileError(msg("upload a package .zip or a .bpmn file"))
    meta = yaml.safe_load(files["package.yaml"]) if "package.yaml" in files else {}
    meta = meta if isinstance(meta, dict) else {}
    key = str(meta.get("id") or "")
    if not KEY_PATTERN.match(key):
        raise DraftFileError(msg("the key %(key)s must start with a letter and hold only letters, digits and _",
                                 key=key))
    if category and not meta.get("category"):
        meta["category"] = category
        files["package.yaml"] = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
    _require_import(session, username, key, meta.get("category"))
    return store_draft(session, username, key, files, "import", {"filename": PurePosixPath(filename).name})


def _require_import(session: Session, username: str, key: str, category) -> None:
    exists = session.scalar(select(PackageDraft.id).where(PackageDraft.key == key)) or session.scalar(
        select(ProcessDefinition.id).where(ProcessDefinition.key == key))
    if exists:
        access.require(session, username, key, "edit")
        if not category or category in access.package_categories(session, key):
            return
    if not access.may_create(session, username, str(category) if category else None):
        raise NotPermittedError(msg("you may not create processes in the category %(category)s",
                                    category=category or "-"))


def _zip_files(data: bytes) -> dict[str, str]:
    if len(data) > MAX_ZIP_BYTES:
        raise DraftFileError(msg("the file is larger than %(size)s", size=megabytes(MAX_ZIP_BYTES)))
    with tempfile.TemporaryDirectory(prefix="liaison-import-") as scratch:
        path = Path(scratch) / "upload.zip"
        path.write_bytes(data)
        with unpacked(path) as folder:
            files = {}
            for file in sorted(folder.rglob("*")):
                if file.is_file():
                    relative = file.relative_to(folder).as_posix()
                    try:
                        files[relative] = file.read_text(encoding="utf-8")
                    except UnicodeDecodeError:
                        raise DraftFileError(msg("%(path)s is not UTF-8 text", path=relative)) from None
    if "package.yaml" not in files:
        bpmn = [p for p in files if p.endswith(".bpmn") and "/" not in p]
        if len(bpmn) != 1:
            raise DraftFileError(msg("the zip has no package.yaml"))
        files.update(_lone_bpmn_files(files[bpmn[0]].encode("utf-8"), bpmn[0]))
    return files


def _lone_bpmn_files(data: bytes, filename: str) -> dict[str, str]:
    """The lone BPMN and a package.yaml made for it: key = its main process's id, names = its name."""
    root = parse_xml_bytes(data, PurePosixPath(filename).name).getroot()  # hostile XML: UnreadableFileError
    processes = [p for p in root.iter(f"{{{BPMN_NS}}}process") if p.get("id")]
    called = {c.get("calledElement") for c in root.iter(f"{{{BPMN_NS}}}callActivity")}
    main = ([p for p in processes if p.get("id") not in called and p.get("isExecutable") != "false"]
            or [p for p in processes if p.get("id") not in called] or processes)
    if not main:
        raise DraftFileError(msg("the file holds no BPMN process"))
    process = main[0]
    key = process.get("id")
    name = (process.get("name") or key).strip()
    meta = {"id": key, "name": {"zh": name, "en": name}, "process": key}
    return {"package.yaml": yaml.safe_dump(meta, allow_unicode=True, sort_keys=False),
            f"{key}.bpmn": data.decode("utf-8")}
