"""Reading an org chart file (CSV in UTF-8 or GBK, XLSX) into an `OrgTable` of rows by field.

Hostile or oversized files are refused with one line before anything is parsed: size, row and
column caps; for XLSX the zip's declared sizes, member count and compression ratio, and no DTD.
Headers are matched in English and Chinese (`COLUMNS`). Planning and applying: `org_import`.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import warnings
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import UnreadableFileError, msg

# field -> accepted headers, English and Chinese; matching ignores case, spaces, "_", "-", "*"
# and anything in brackets ("用户名（必填）").
COLUMNS: dict[str, tuple[str, ...]] = {
    "username": ("username", "user", "login", "用户名", "账号", "帐号"),
    "name": ("name", "full name", "姓名"),
    "name_en": ("name_en", "english name", "英文名"),
    "email": ("email", "e-mail", "mail", "邮箱", "电子邮箱", "邮件"),
    "employee_no": ("employee_no", "employee number", "工号", "员工编号"),
    "department": ("department", "dept", "部门"),
    "department_head": ("department_head", "head", "部门负责人", "负责人"),
    "position": ("position", "title", "job title", "岗位", "职位"),
    "manager": ("manager", "direct manager", "直属上级", "上级", "直属领导"),
    "roles": ("roles", "role", "角色"),
    "active": ("active", "在职", "是否在职", "状态"),
}
REQUIRED = ("username", "name")
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
MAX_COLUMNS = 64
MAX_XLSX_UNPACKED = 200 * 1024 * 1024  # all members of the workbook, as declared by the zip
MAX_XLSX_MEMBERS = 2_000
MAX_XLSX_RATIO = 500  # unpacked / packed size of one member larger than 1 MB


def _normalize_header(text: str) -> str:
    text = re.sub(r"[(（\[【].*?[)）\]】]", "", text.replace("\ufeff", ""))
    return re.sub(r"[\s_\-*.:：]", "", text).lower()


HEADERS: dict[str, str] = {_normalize_header(h): f for f, names in COLUMNS.items() for h in names}


@dataclass(frozen=True)
class Columns:
    """The fields of a kind of file: field -> accepted headers (English and Chinese), and the required ones.
    The org chart's are `ORG_COLUMNS`; other imports (external parties) read files with their own."""

    names: Mapping[str, tuple[str, ...]]
    required: tuple[str, ...]

    @property
    def headers(self) -> dict[str, str]:
        return {_normalize_header(h): f for f, names in self.names.items() for h in names}


ORG_COLUMNS = Columns(COLUMNS, REQUIRED)


class UnreadableOrgFileError(UnreadableFileError):
    """The org chart file cannot be read at all (too large, not CSV or XLSX, a hostile archive)."""


@dataclass(frozen=True)
class RowError:
    """A problem with one row of the file (row 1 is the header row of a sheet)."""

    row: int
    message: str

    def __str__(self) -> str:
        return f"{self.row}: {self.message}"


@dataclass
class OrgTable:
    """The rows of a file: `columns` are the fields found, each row is `(row number, {field: text})`."""

    source: str
    columns: tuple[str, ...]
    rows: list[tuple[int, dict[str, str]]]
    header_row: int = 1
    problems: list[RowError] = field(default_factory=list)  # header problems
    ignored_headers: tuple[str, ...] = ()

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, object]], source: str = "",
                     columns: Columns | None = None) -> OrgTable:
        """A table from dicts keyed by headers (English or Chinese); the first record is row 2."""
        records = list(records)
        headers = list(dict.fromkeys(h for r in records for h in r))
        return _table(source, headers, ((n, [r.get(h) for h in headers]) for n, r in enumerate(records, 2)), 1,
                      columns)


def read_org_file(path: str | Path, columns: Columns | None = None) -> OrgTable:
    """Read a CSV (UTF-8 with or without BOM, UTF-16, GBK/GB18030) or XLSX file into a table; `columns`
    names the fields and their headers when the file is not an org chart (default: `ORG_COLUMNS`)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UnreadableOrgFileError(str(path), msg("file is larger than %(limit)d MB", limit=MAX_FILE_BYTES // 2**20))
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableOrgFileError(str(path), exc.strerror or str(exc)) from None
    return read_org_bytes(data, str(path), columns)


def read_org_bytes(data: bytes, source: str, columns: Columns | None = None) -> OrgTable:
    """Like `read_org_file`, for an upload's content; `source` names it in messages (and its suffix
    tells an XLSX that is not a zip archive from a CSV)."""
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableOrgFileError(source, msg("file is larger than %(limit)d MB", limit=MAX_FILE_BYTES // 2**20))
    suffix = Path(source).suffix.lower()
    if data.startswith(b"PK\x03\x04") or suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(data, source, columns or ORG_COLUMNS)
    if data.startswith(b"\xd0\xcf\x11\xe0") or suffix == ".xls":
        raise UnreadableOrgFileError(source, msg("old Excel .xls format: save it as .xlsx or CSV"))
    return _read_csv(data, source, columns or ORG_COLUMNS)


def _decode(data: bytes, source: str) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="strict")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    if b"\x00" in data:
        raise UnreadableOrgFileError(source, msg("not a text file: save it as CSV (UTF-8) or XLSX"))
    for encoding in ("utf-8", "gb18030"):  # GB18030 includes GBK, as Excel in China saves CSV
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableOrgFileError(source, msg("neither UTF-8 nor GBK/GB18030 text: save it as CSV (UTF-8)"))


def _read_csv(data: bytes, source: str, columns: Columns) -> OrgTable:
    try:
        text = _decode(data, source)
    except UnicodeDecodeError as exc:
        raise UnreadableOrgFileError(source, f"undecodable text ({exc.reason})") from None
    first_line = text.split("\n", 1)[0]
    delimiter = max(",\t;，", key=first_line.count)
    delimiter = "," if delimiter == "，" else delimiter  # a full-width comma header is not a CSV
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        records = [(n, row) for n, row in _capped(enumerate(reader, 1), source)]
    except csv.Error as exc:
        raise UnreadableOrgFileError(source, f"not a readable CSV file: {exc}") from None
    return _from_sheet(source, records, columns)


def _capped(rows, source: str):
    """Yield non-blank rows, refusing a file with more than MAX_ROWS of them."""
    count = 0
    for number, row in rows:
        if any(v not in (None, "") for v in row):
            count += 1
            if count > MAX_ROWS + 1:
                raise UnreadableOrgFileError(source, msg("more than %(limit)s rows", limit=format(MAX_ROWS, ",")))
            yield number, row


def _check_archive(data: bytes, source: str) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError):
        raise UnreadableOrgFileError(source, "not an XLSX file (not a zip archive)") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_XLSX_MEMBERS:
            raise UnreadableOrgFileError(source, f"refused: more than {MAX_XLSX_MEMBERS} parts in the workbook")
        if sum(i.file_size for i in infos) > MAX_XLSX_UNPACKED:
            raise UnreadableOrgFileError(source, f"refused: unpacks to more than {MAX_XLSX_UNPACKED // 2**20} MB")
        for info in infos:
            if info.file_size > 2**20 and info.file_size > MAX_XLSX_RATIO * max(info.compress_size, 1):
                raise UnreadableOrgFileError(source, f"refused: `{info.filename}` is compressed suspiciously well "
                                             "(a zip bomb?)")
            if info.filename.endswith((".xml", ".rels")) and _declares_doctype(archive, info):
                raise UnreadableOrgFileError(source, f"refused: `{info.filename}` declares a DTD or entities")


def _declares_doctype(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Whether an XML part holds `<!DOCTYPE` or `<!ENTITY`: no Office file does; entity bombs do."""
    tail = b""
    with archive.open(info) as stream:  # zipfile stops at the declared size: the bound checked above
        while chunk := stream.read(1 << 20):
            window = tail + chunk
            if b"<!DOCTYPE" in window or b"<!ENTITY" in window:
                return True
            tail = window[-16:]
    return False


def _read_xlsx(data: bytes, source: str, columns: Columns) -> OrgTable:
    import openpyxl  # imported here: reading CSV or planning needs no openpyxl

    _check_archive(data, source)
    try:
        # read_only streams the sheet; data_only gives what Excel last computed (nothing is evaluated)
        with warnings.catch_warnings():  # "no default style" and the like: not the user's concern
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises anything from KeyError to XML errors on a broken file
        raise UnreadableOrgFileError(source, f"not a readable XLSX workbook ({type(exc).__name__})") from None
    try:
        if not workbook.worksheets:
            raise UnreadableOrgFileError(source, "the workbook has no sheet")
        sheet = workbook.worksheets[0]
        rows = enumerate(sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS), 1)
        try:
            records = list(_capped(rows, source))
        except UnreadableOrgFileError:
            raise
        except Exception as exc:
            raise UnreadableOrgFileError(source, f"not a readable XLSX sheet ({type(exc).__name__})") from None
    finally:
        workbook.close()
    return _from_sheet(source, records, columns)


def _from_sheet(source: str, records: list[tuple[int, list]], columns: Columns) -> OrgTable:
    if not records:
        return OrgTable(source, (), [], 1, [RowError(1, msg("the file is empty: expected a header row"))])
    header_row, headers = records[0]
    return _table(source, [_cell_text(h) for h in headers], records[1:], header_row, columns)


def _table(source: str, headers: list[str], records, header_row: int, spec: Columns | None = None) -> OrgTable:
    spec = spec or ORG_COLUMNS
    header_fields = spec.headers
    fields: list[str | None] = []
    problems, ignored = [], []
    for header in headers:
        name = header_fields.get(_normalize_header(str(header)))
        if name is not None and name in fields:
            problems.append(RowError(header_row, msg("column `%(column)s` appears twice", column=header)))
            name = None
        elif name is None and str(header).strip():
            ignored.append(str(header))
        fields.append(name)
    for required in spec.required:
        if required not in fields:
            names = " / ".join(spec.names[required][i] for i in (0, -1))
            problems.append(RowError(header_row, msg("missing required column `%(column)s`", column=names)))
    rows = []
    for number, cells in records:
        row = {f: _cell_text(v) for f, v in zip(fields, cells, strict=False) if f}
        if any(row.values()):
            rows.append((number, row))
    columns = tuple(f for f in fields if f)
    return OrgTable(source, columns, rows, header_row, problems, tuple(ignored))


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # employee numbers typed as numbers
    return str(value).replace("\u3000", " ").strip()
