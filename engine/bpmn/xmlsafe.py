"""The only way Liaison reads XML: size-capped, no DTD, no entities, no network.

Every failure raises `UnreadableFileError` with a one-line message a user can act on.
"""

from __future__ import annotations

import io
import re

from lxml import etree

from engine.errors import UnreadableFileError

MAX_XML_BYTES = 10 * 1024 * 1024
_BPMN_TAG = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"

DOCTYPE_REFUSED = "DOCTYPE declarations are not allowed: entity expansion and external references are refused"

_UTF8_BOM = b"\xef\xbb\xbf"
_POSITION_SUFFIX = re.compile(r",\s*line \d+, column \d+\s*$")
# The prolog may hold the XML declaration, comments, processing instructions and blanks.
_PROLOG_ITEM = re.compile(rb"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)


def _one_line(text: str) -> str:
    """Collapse whitespace (newlines included) so the message fits on one line."""
    return " ".join(str(text).split())


def _limit_text(max_bytes: int) -> str:
    """Describe the size limit for people: '10 MB limit (10485760 bytes)'."""
    if max_bytes >= 1024 * 1024 and max_bytes % (1024 * 1024) == 0:
        return f"{max_bytes // (1024 * 1024)} MB limit ({max_bytes} bytes)"
    return f"limit of {max_bytes} bytes"


def _too_large(path: str, max_bytes: int) -> UnreadableFileError:
    """Build the error for a file over the size limit."""
    return UnreadableFileError(path, f"file is larger than the {_limit_text(max_bytes)}")


def read_xml_file(path: str, max_bytes: int = MAX_XML_BYTES) -> etree._ElementTree:
    """Read and parse the XML file at `path`, reading at most `max_bytes` + 1 bytes.

    Raises UnreadableFileError when the file is missing, too large, hostile or malformed.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise UnreadableFileError(path, _one_line(f"cannot read file: {reason}")) from None
    if len(data) > max_bytes:
        raise _too_large(path, max_bytes)
    return parse_xml_bytes(data, path=path, max_bytes=max_bytes)


def _check_utf8(data: bytes, path: str) -> None:
    """Refuse bytes that are not UTF-8 text, naming the line of the first bad byte."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UnreadableFileError(
            path, f"file is not UTF-8 text: invalid byte at line {line} (offset {exc.start})"
        ) from None


def _has_doctype_in_prolog(data: bytes) -> bool:
    """Tell whether a DOCTYPE declaration comes before the root element."""
    pos = 0
    while True:
        match = _PROLOG_ITEM.match(data, pos)
        if match is None or match.end() == pos:
            break
        pos = match.end()
    return data[pos : pos + 9].upper() == b"<!DOCTYPE"


def _syntax_message(exc: etree.XMLSyntaxError) -> str:
    """Turn lxml's syntax error into 'malformed XML at line N: reason'."""
    reason = _POSITION_SUFFIX.sub("", _one_line(exc.msg or str(exc))) or "unknown parser error"
    line = exc.lineno if exc.lineno else 1
    return f"malformed XML at line {line}: {reason}"


def _make_parser() -> etree.XMLParser:
    """Build the parser: no entity resolution, no network, no DTD, default size limits."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
    )


def parse_xml_bytes(data: bytes, path: str = "<string>", max_bytes: int = MAX_XML_BYTES) -> etree._ElementTree:
    """Parse `data` as XML safely and return the tree.

    Raises UnreadableFileError (one-line message) for oversize, empty, non-UTF-8, DOCTYPE or malformed input.
    """
    if len(data) > max_bytes:
        raise _too_large(path, max_bytes)
    body = data[len(_UTF8_BOM) :] if data.startswith(_UTF8_BOM) else data
    if not body.strip():
        raise UnreadableFileError(path, "file is empty")
    _check_utf8(body, path)
    if _has_doctype_in_prolog(body):
        raise UnreadableFileError(path, DOCTYPE_REFUSED)
    try:
        tree = etree.parse(io.BytesIO(data), _make_parser())
    except etree.XMLSyntaxError as exc:
        raise UnreadableFileError(path, _syntax_message(exc)) from None
    except (etree.LxmlError, ValueError) as exc:
        raise UnreadableFileError(path, _one_line(f"malformed XML: {exc}")) from None
    # Second line of defence: the prolog scan above should already have caught any DOCTYPE.
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
        raise UnreadableFileError(path, DOCTYPE_REFUSED)
    if tree.getroot() is None:
        raise UnreadableFileError(path, "file has no root element")
    return tree


def relabel(xml: str, labels: dict[str, str]) -> str:
    """The BPMN `xml` with the `name` of each element whose id `labels` has set to its label (a diagram's
    labels in the reader's language); the text unchanged when it cannot be read."""
    try:
        tree = parse_xml_bytes(xml.encode("utf-8"))
    except UnreadableFileError:
        return xml
    changed = False
    for node in tree.getroot().iter():
        if isinstance(node.tag, str) and node.tag.startswith(_BPMN_TAG) and node.get("id") in labels:
            node.set("name", labels[node.get("id")])
            changed = True
    return etree.tostring(tree, encoding="unicode") if changed else xml
