"""Drafts of process packages in the designer: create, open, save, export, and their audit list.

A draft is a package's files (relative path -> text) with a revision that every save raises; a save
naming an older revision is refused with who saved in between (`DraftConflictError`), never a silent
overwrite. Checking and deploying a draft: `engine.packages.draft_checks`; importing a zip or a lone
`.bpmn`: `engine.packages.draft_import`. Permissions: `engine.packages.designer_access`.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath

import yaml
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.bpmn.parser import BPMN_NS
from engine.bpmn.xmlsafe import parse_xml_bytes
from engine.data.models import DesignerAudit, PackageDraft, ProcessDefinition, ProcessVersion, utcnow
from engine.errors import LiaisonError, NotFoundError, NotPermittedError, TaskConflictError, Username, msg
from engine.packages import designer_access as access
from engine.packages.element_names import MAX_ELEMENT_NAME
from engine.packages.limits import MAX_FILES, MAX_PACKAGE_BYTES, file_too_large, megabytes
from engine.packages.templates import template_files

KEY_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
FOLDERS = ("forms", "notifications", "tests")
SUFFIXES = (".bpmn", ".dmn", ".form", ".yaml", ".yml", ".json", ".md")
SAVE_COALESCE = timedelta(minutes=10)  # one audit row for a person's run of autosaves
NAME_LANGUAGES = ("zh", "en")
UNSAVED = 0  # the revision of a draft nobody saved yet (`current_draft`); the first save stores revision 1
MAX_NAMED_ELEMENTS = 5000
# package.yaml `portal` (issue 17) as the modeler's form edits it; other keys of the section are kept
PORTAL_KEYS = ("party", "party_field", "email_field", "name_field", "visible_fields", "start", "link_days",
               "invite")


class DraftConflictError(TaskConflictError):
    """The draft was saved by someone else since the revision the caller edited; `revision` is the current."""

    def __init__(self, message, revision: int):
        super().__init__(message)
        self.revision = revision


class DraftTooLargeError(LiaisonError):
    """A draft's file, or the whole draft, is over the package limits; nothing was saved."""


class DraftFileError(LiaisonError):
    """A draft's file is refused (an unsafe path, unreadable XML); nothing was saved."""


@dataclass
class DesignableRow:
    """One line of the designer's list: a deployed package, a draft, or both."""

    key: str
    name: dict
    category: str | None
    latest_version: int | None = None
    deployed_by: str | None = None
    deployed_at: datetime | None = None
    has_draft: bool = False
    draft_revision: int | None = None
    draft_updated_by: str | None = None
    draft_updated_at: datetime | None = None
    based_on_version: int | None = None


def designable(session: Session, username: str | None) -> list[DesignableRow]:
    """The packages `username` may edit: deployed definitions and drafts, by key (a few queries)."""
    rights = access.access_of(session, username)
    administered = access.administered_keys(session, username) if username else set()
    rows: dict[str, DesignableRow] = {}
    latest = (select(ProcessVersion.definition_id, func.max(ProcessVersion.number).label("number"))
              .group_by(ProcessVersion.definition_id).subquery())
    query = (select(ProcessDefinition, ProcessVersion)
             .join(latest, latest.c.definition_id == ProcessDefinition.id)
             .join(ProcessVersion, (ProcessVersion.definition_id == ProcessDefinition.id)
                   & (ProcessVersion.number == latest.c.number)))
    for definition, version in session.execute(query):
        rows[definition.key] = DesignableRow(definition.key, definition.name or {}, definition.category,
                                             version.number, version.deployed_by, version.deployed_at)
    categories = {key: {row.category} - {None} for key, row in rows.items()}
    for draft in session.scalars(select(PackageDraft)):
        row = rows.setdefault(draft.key, DesignableRow(draft.key, draft.name or {}, draft.category))
        row.name = draft.name or row.name
        row.category = draft.category or row.category
        row.has_draft, row.draft_revision, row.based_on_version = True, draft.revision, draft.based_on_version
        row.draft_updated_by, row.draft_updated_at = draft.updated_by, draft.updated_at
        categories.setdefault(draft.key, set()).update({draft.category} - {None})

    def allowed(key: str) -> bool:
        wanted = categories.get(key) or set()
        return rights.super_admin or key in administered or (
            bool(wanted) and all(rights.category_allows(c, "edit") for c in wanted))

    return sorted((row for key, row in rows.items() if allowed(key)), key=lambda r: (r.category or "", r.key))


def check_key(session: Session, key: str) -> None:
    """Refuse a new package key that is not an identifier or is taken by a draft or a deployed package."""
    if not KEY_PATTERN.match(key or ""):
        raise DraftFileError(msg("the key %(key)s must start with a letter and hold only letters, digits and _",
                                 key=key))
    taken = session.scalar(select(PackageDraft.id).where(PackageDraft.key == key)) or session.scalar(
        select(ProcessDefinition.id).where(ProcessDefinition.key == key))
    if taken:
        raise TaskConflictError(msg("there is already a process with the key %(key)s", key=key))


def create_draft(session: Session, username: str, key: str, names: dict[str, str], category: str | None,
                 template: str = "blank") -> PackageDraft:
    """A new draft from `template`, named `names` (zh/en) in `category` (one the user may create in)."""
    category = (category or "").strip() or None
    if not access.may_create(session, username, category):
        raise NotPermittedError(msg("you may not create processes in the category %(category)s",
                                    category=category or "-"))
    check_key(session, key)
    files = template_files(template, key, {k: v for k, v in (names or {}).items() if v})
    if category:
        files["package.yaml"] = _with_meta(files["package.yaml"], category=category)
    draft = _new_draft(session, username, key, files)
    record(session, username, key, "create", {"template": template, "category": category})
    return draft


def open_draft(session: Session, username: str, key: str) -> PackageDraft:
    """The package's draft as the designer shows it (`current_draft`), for a person who may edit it. Opening
    stores nothing: a process nobody changed keeps no draft (and no "draft" badge) until the first save."""
    access.require(session, username, key, "edit")
    return current_draft(session, key)


def current_draft(session: Session, key: str) -> PackageDraft:
    """The stored draft of `key`; before anyone saved one, an unsaved draft (revision UNSAVED, in no session)
    holding its latest deployed version's files. NotFoundError when there is neither."""
    draft = session.scalar(select(PackageDraft).where(PackageDraft.key == key))
    if draft is not None:
        return draft
    version = _latest(session, key)
    if version is None:
        raise NotFoundError(msg("there is no process %(key)s", key=key))
    files = version_files(version)
    draft = PackageDraft(key=key, files=files, revision=UNSAVED, based_on_version=version.number)
    draft.name, draft.category = _names_and_category(files, draft)
    return draft


def get_draft(session: Session, key: str) -> PackageDraft:
    """The stored draft of `key`, or NotFoundError."""
    draft = session.scalar(select(PackageDraft).where(PackageDraft.key == key))
    if draft is None:
        raise NotFoundError(msg("there is no draft of %(key)s", key=key))
    return draft


def save_draft(session: Session, username: str, key: str, revision: int, files_or_xml: str | dict,
               names: dict | None = None, portal: dict | None = None) -> PackageDraft:
    """Store a new revision: the main BPMN's XML (a str) or every file (a dict), and with `names` the
    elements' zh/en names (`with_element_names`), with `portal` package.yaml's `portal` (`with_portal`). Refused with DraftConflictError when `revision` is not
    the stored one; too large or unreadable: nothing changes. The first save of an unsaved draft stores it."""
    access.require(session, username, key, "edit")
    draft = current_draft(session, key)
    if draft.revision != revision:
        raise conflict(draft)
    files = dict(files_or_xml) if isinstance(files_or_xml, dict) else {
        **draft.files, main_bpmn_name(draft.files, key): files_or_xml}
    check_files(files)
    if names is not None:
        files = with_element_names(files, names)
    if portal is not None:
        files = with_portal(files, portal)
    name, category = _names_and_category(files, draft)
    if category != draft.category and not access.may_create(session, username, category):
        raise NotPermittedError(msg("you may not create processes in the category %(category)s",
                                    category=category or "-"))
    if revision == UNSAVED:
        return _first_save(session, username, key, files, draft.based_on_version)
    changed = session.execute(
        update(PackageDraft).where(PackageDraft.id == draft.id, PackageDraft.revision == revision)
        .values(files=files, revision=revision + 1, name=name, category=category, updated_by=username,
                updated_at=utcnow()).execution_options(synchronize_session=False))
    session.expire(draft)
    if changed.rowcount != 1:
        raise conflict(draft)  # someone saved between the read and the write
    _record_save(session, username, key, revision + 1)
    return draft


def _first_save(session: Session, username: str, key: str, files: dict[str, str], based_on: int | None) -> PackageDraft:
    """Store the draft an editor saved for the first time (revision 1, from version `based_on`)."""
    try:
        with session.begin_nested():
            draft = _new_draft(session, username, key, files, based_on=based_on)
    except IntegrityError:  # someone else's first save came in between
        raise conflict(get_draft(session, key)) from None
    record(session, username, key, "create", {"from_version": based_on})
    _record_save(session, username, key, draft.revision)
    return draft


def element_names(files: dict[str, str]) -> dict[str, dict[str, str]]:
    """package.yaml's `names` (element id -> {zh, en}) as the modeler edits them; malformed entries left out."""
    names = _meta(files).get("names")
    found = {}
    for element_id, entry in (names.items() if isinstance(names, dict) else ()):
        if isinstance(entry, dict):
            kept = {lang: entry[lang] for lang in NAME_LANGUAGES if isinstance(entry.get(lang), str)}
            if kept:
                found[str(element_id)] = kept
    return found


def with_element_names(files: dict[str, str], names) -> dict[str, str]:
    """`files` with package.yaml's `names` replaced by `names` (id -> {zh, en}; blank names dropped, and
    ids no BPMN file has), its other keys kept in order; unchanged names leave the file as it was.
    DraftFileError for a malformed map or a package.yaml that is not a mapping."""
    wanted = _clean_names(names)
    ids = _element_ids(files)
    wanted = {element_id: entry for element_id, entry in wanted.items() if element_id in ids}
    meta = _meta(files)
    if wanted == (meta.get("names") or {}):
        return files
    if not meta and (files.get("package.yaml") or "").strip():
        raise DraftFileError(msg("package.yaml is not readable, so the names were not saved"))
    if wanted:
        meta["names"] = wanted
    else:
        meta.pop("names", None)
    return {**files, "package.yaml": yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)}


def portal_settings(files: dict[str, str]) -> dict:
    """package.yaml's `portal` keys the modeler edits (PORTAL_KEYS); {} when there is none."""
    portal = _meta(files).get("portal")
    return {k: v for k, v in portal.items() if k in PORTAL_KEYS} if isinstance(portal, dict) else {}


def with_portal(files: dict[str, str], portal: dict) -> dict[str, str]:
    """`files` with package.yaml's `portal` keys (PORTAL_KEYS) set from `portal`: blank values, an empty
    field list and `start` false are left out, a section left empty goes; the section's other keys and
    package.yaml's other keys are kept. Whether the values make sense is checked at deploy
    (engine/packages/portal_checks.py), not here. DraftFileError when package.yaml is not a mapping."""
    meta = _meta(files)
    old = meta.get("portal") if isinstance(meta.get("portal"), dict) else {}
    section = {k: v for k, v in old.items() if k not in PORTAL_KEYS}
    for k in PORTAL_KEYS:
        value = _portal_value(k, portal.get(k))
        if value not in (None, "", [], False):
            section[k] = value
    if section == (meta.get("portal") or {}):
        return files
    if not meta and (files.get("package.yaml") or "").strip():
        raise DraftFileError(msg("package.yaml is not readable, so the portal settings were not saved"))
    if section:
        meta["portal"] = section
    else:
        meta.pop("portal", None)
    return {**files, "package.yaml": yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)}


def _portal_value(k: str, value):
    if k == "start":
        return value is True or (isinstance(value, str) and value.strip().lower() == "true")
    if k == "visible_fields":
        items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else []
        return [str(item).strip() for item in items if str(item).strip()]
    if k == "link_days":
        text = str(value).strip() if value is not None and not isinstance(value, bool) else ""
        return int(text) if text.isdigit() else text  # not a number: kept as typed, the deploy check says so
    return str(value).strip() if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""


def conflict(draft: PackageDraft) -> DraftConflictError:
    """The refusal of a save or deploy naming a stale revision: who saved the draft last, and when."""
    when = draft.updated_at.strftime("%Y-%m-%d %H:%M UTC") if draft.updated_at else "-"
    return DraftConflictError(msg("%(person)s saved this draft at %(time)s, after the version you are editing; "
                                  "reload it to see their changes", person=Username(draft.updated_by or "-"),
                                  time=when), draft.revision)


def check_files(files: dict[str, str]) -> None:
    """Refuse a set of draft files: unsafe names, over the size limits, or BPMN/DMN that is not readable XML."""
    if len(files) > MAX_FILES:
        raise DraftTooLargeError(msg("a package holds at most %(n)s files", n=MAX_FILES))
    total = 0
    for path, text in files.items():
        if not isinstance(text, str) or not _safe_path(path):
            raise DraftFileError(msg("%(path)s is not a file a package may hold", path=str(path)))
        data = text.encode("utf-8")
        total += len(data)
        too_large = file_too_large(path, len(data))
        if too_large:
            raise DraftTooLargeError(f"{path}: {too_large}")
        if path.endswith((".bpmn", ".dmn")):
            parse_xml_bytes(data, path)  # UnreadableFileError names the reason
    if total > MAX_PACKAGE_BYTES:
        raise DraftTooLargeError(msg("the package is larger than %(size)s", size=megabytes(MAX_PACKAGE_BYTES)))


def main_bpmn_name(files: dict[str, str], key: str) -> str:
    """The draft's BPMN file the modeler edits: the one named for the package's process, else the first."""
    names = sorted(p for p in files if p.endswith(".bpmn") and "/" not in p)
    process = str(_meta(files).get("process") or key)
    for wanted in (f"{process}.bpmn", f"{key}.bpmn"):
        if wanted in names:
            return wanted
    for name in names:
        if f'id="{process}"' in files[name]:
            return name
    return names[0] if names else f"{key}.bpmn"


def export_draft(session: Session, key: str) -> bytes:
    """The draft's files as a package zip (`KEY/...`); before the first save, the latest version's."""
    draft = current_draft(session, key)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, text in sorted(draft.files.items()):
            archive.writestr(f"{key}/{path}", text)
    return buffer.getvalue()


def version_files(version: ProcessVersion) -> dict[str, str]:
    """A deployed version's files as a draft holds them (package.yaml, BPMN, DMN, forms, notifications, tests)."""
    package = version.package or {}
    files = {"package.yaml": yaml.safe_dump(package.get("meta") or {}, allow_unicode=True, sort_keys=False)}
    files.update(version.bpmn or {})
    files.update(package.get("dmn") or {})
    for folder in FOLDERS:
        for name, content in sorted((package.get(folder) or {}).items()):
            files[f"{folder}/{name}.yaml"] = yaml.safe_dump(content, allow_unicode=True, sort_keys=False)
    return files


def record(session: Session, username: str | None, key: str | None, action: str, detail: dict | None = None) -> None:
    """Add a row to the designer's audit list."""
    session.add(DesignerAudit(username=username, key=key, action=action, detail=detail or {}, at=utcnow()))
    session.flush()


def audit(session: Session, key: str | None = None, limit: int = 200) -> list[DesignerAudit]:
    """The audit list, newest first: of one package, or of everything (grants included)."""
    query = select(DesignerAudit).order_by(DesignerAudit.at.desc(), DesignerAudit.id.desc()).limit(limit)
    if key is not None:
        query = query.where(DesignerAudit.key == key)
    return list(session.scalars(query))


def store_draft(session: Session, username: str, key: str, files: dict[str, str], action: str,
                detail: dict | None = None) -> PackageDraft:
    """Put `files` in the draft of `key` (a new draft, or the next revision of the stored one) and record it."""
    check_files(files)
    draft = session.scalar(select(PackageDraft).where(PackageDraft.key == key))
    if draft is None:
        draft = _new_draft(session, username, key, files, based_on=None)
        version = _latest(session, key)
        draft.based_on_version = version.number if version else None
    else:
        draft.files, draft.revision = files, draft.revision + 1
        draft.name, draft.category = _names_and_category(files, draft)
        draft.updated_by, draft.updated_at = username, utcnow()
    record(session, username, key, action, detail)
    return draft


def _clean_names(names) -> dict[str, dict[str, str]]:
    """The names map the modeler sent, stripped; DraftFileError when it is not {id: {zh?, en?}} of text."""
    refused = DraftFileError(msg("names must map element ids to a zh and an en name of at most %(n)s characters",
                                 n=MAX_ELEMENT_NAME))
    if not isinstance(names, dict) or len(names) > MAX_NAMED_ELEMENTS:
        raise refused
    cleaned = {}
    for element_id, entry in names.items():
        if not isinstance(element_id, str) or not isinstance(entry, dict) or set(entry) - set(NAME_LANGUAGES):
            raise refused
        kept = {}
        for lang in NAME_LANGUAGES:
            value = entry.get(lang)
            if value is not None and (not isinstance(value, str) or len(value.strip()) > MAX_ELEMENT_NAME):
                raise refused
            if value and value.strip():
                kept[lang] = value.strip()
        if kept:
            cleaned[element_id] = kept
    return cleaned


def _element_ids(files: dict[str, str]) -> set[str]:
    """The ids of every BPMN element (not diagram shapes) in the draft's BPMN files."""
    ids = set()
    for path, text in files.items():
        if path.endswith(".bpmn"):
            root = parse_xml_bytes(text.encode("utf-8"), path).getroot()
            ids.update(node.get("id") for node in root.iter()
                       if isinstance(node.tag, str) and node.tag.startswith(f"{{{BPMN_NS}}}") and node.get("id"))
    return ids


def _new_draft(session: Session, username: str, key: str, files: dict[str, str],
               based_on: int | None = None) -> PackageDraft:
    check_files(files)
    draft = PackageDraft(key=key, files=files, revision=1, based_on_version=based_on, created_by=username,
                         updated_by=username, updated_at=utcnow())
    draft.name, draft.category = _names_and_category(files, draft)
    session.add(draft)
    session.flush()
    return draft


def _record_save(session: Session, username: str, key: str, revision: int) -> None:
    """A run of autosaves by one person is one audit row (its revision range), not one row a second."""
    last = session.scalar(select(DesignerAudit).where(DesignerAudit.key == key)
                          .order_by(DesignerAudit.at.desc(), DesignerAudit.id.desc()).limit(1))
    if (last is not None and last.action == "save" and last.username == username
            and utcnow() - last.at < SAVE_COALESCE):
        last.detail = {**(last.detail or {}), "revision": revision}
        last.at = utcnow()
        session.flush()
        return
    record(session, username, key, "save", {"from_revision": revision - 1, "revision": revision})


def latest_number(session: Session, key: str) -> int | None:
    """The number of the newest deployed version of `key`, or None before the first deploy."""
    version = _latest(session, key)
    return version.number if version is not None else None


def _latest(session: Session, key: str) -> ProcessVersion | None:
    return session.scalar(select(ProcessVersion).join(ProcessDefinition)
                          .where(ProcessDefinition.key == key).order_by(ProcessVersion.number.desc()).limit(1))


def _safe_path(path: str) -> bool:
    name = PurePosixPath(path)
    if not path or name.is_absolute() or ".." in name.parts or "\\" in path or ":" in path:
        return False
    if name.suffix.lower() not in SUFFIXES or len(name.parts) > 2:
        return False
    return len(name.parts) == 1 or name.parts[0] in FOLDERS


def _meta(files: dict[str, str]) -> dict:
    try:
        meta = yaml.safe_load(files.get("package.yaml") or "")
    except yaml.YAMLError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _with_meta(text: str, **values) -> str:
    meta = yaml.safe_load(text) or {}
    meta.update(values)
    return yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)


def _names_and_category(files: dict[str, str], draft: PackageDraft) -> tuple[dict, str | None]:
    """package.yaml's names and category, for the list; the draft's earlier ones when it does not parse."""
    meta = _meta(files)
    if not meta:
        return draft.name or {}, draft.category
    name = meta.get("name")
    names = {str(k): str(v) for k, v in name.items()} if isinstance(name, dict) else (
        {"zh": str(name), "en": str(name)} if name else {"zh": draft.key, "en": draft.key})
    category = meta.get("category")
    return names, str(category) if category else None
