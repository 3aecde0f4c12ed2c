"""engine.xmlsafe: hostile, oversized and broken XML is refused with a one-line message."""

from __future__ import annotations

import builtins
from pathlib import Path

import pytest
from lxml import etree

from engine.bpmn import xmlsafe
from engine.bpmn.xmlsafe import MAX_XML_BYTES, parse_xml_bytes, read_xml_file
from engine.errors import UnreadableFileError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bpmn"


def _refusal(path: Path) -> str:
    """Read `path`, expect a refusal, and return its (one-line) reason."""
    with pytest.raises(UnreadableFileError) as info:
        read_xml_file(str(path))
    reason = info.value.reason
    assert "\n" not in reason and "\n" not in str(info.value)
    assert info.value.path == str(path)
    return reason


def _passwd_lines() -> list[str]:
    """Lines of /etc/passwd long enough to recognise if they leaked."""
    try:
        return [line for line in Path("/etc/passwd").read_text().splitlines() if len(line) > 8]
    except OSError:
        return ["root:x:0:0"]


def test_billion_laughs_is_refused_as_a_doctype_without_expanding_entities() -> None:
    reason = _refusal(FIXTURES / "billion_laughs.bpmn")
    assert reason == xmlsafe.DOCTYPE_REFUSED
    assert "lol" not in reason


def test_external_file_entity_is_refused_and_leaks_nothing_from_etc_passwd() -> None:
    reason = _refusal(FIXTURES / "xxe_file.bpmn")
    assert "DOCTYPE declarations are not allowed" in reason
    assert "root:" not in reason
    for line in _passwd_lines():
        assert line not in reason


def test_external_network_entity_is_refused() -> None:
    reason = _refusal(FIXTURES / "xxe_network.bpmn")
    assert reason == xmlsafe.DOCTYPE_REFUSED


def test_doctype_without_internal_subset_after_comments_is_refused() -> None:
    data = b'<?xml version="1.0"?>\n<!-- c -->\n<?pi x?>\n<!DOCTYPE definitions SYSTEM "http://127.0.0.1:9/x">\n<a/>'
    with pytest.raises(UnreadableFileError) as info:
        parse_xml_bytes(data, "remote.bpmn")
    assert info.value.reason == xmlsafe.DOCTYPE_REFUSED


def test_truncated_bpmn_reports_malformed_xml_with_its_line() -> None:
    reason = _refusal(FIXTURES / "truncated.bpmn")
    assert reason.startswith("malformed XML at line 30: ")


def test_unclosed_tag_reports_the_parser_message_and_line() -> None:
    with pytest.raises(UnreadableFileError) as info:
        parse_xml_bytes(b"<a>\n<b>\n", "cut.bpmn")
    assert info.value.reason == "malformed XML at line 3: Premature end of data in tag b line 2"
    assert str(info.value) == "cut.bpmn: malformed XML at line 3: Premature end of data in tag b line 2"


@pytest.mark.parametrize("data", [b"", b"   \n\t ", b"\xef\xbb\xbf"])
def test_empty_file_is_refused(data: bytes) -> None:
    with pytest.raises(UnreadableFileError) as info:
        parse_xml_bytes(data, "empty.bpmn")
    assert info.value.reason == "file is empty"


def test_non_utf8_garbage_is_refused_with_the_line_of_the_bad_byte() -> None:
    with pytest.raises(UnreadableFileError) as info:
        parse_xml_bytes(b"<a>\nok\n\xff\xfe\x00\x9c garbage</a>", "garbage.bpmn")
    assert info.value.reason.startswith("file is not UTF-8 text: invalid byte at line 3")
    assert "\n" not in info.value.reason


def test_binary_file_is_refused_with_one_line() -> None:
    with pytest.raises(UnreadableFileError) as info:
        parse_xml_bytes(bytes(range(256)) * 4, "image.png")
    assert "\n" not in info.value.reason


def test_excessive_nesting_is_refused_as_malformed() -> None:
    with pytest.raises(UnreadableFileError) as info:
        parse_xml_bytes(b"<a>" * 1000 + b"</a>" * 1000, "deep.bpmn")
    assert info.value.reason.startswith("malformed XML at line 1: ")


def test_fifty_megabyte_file_is_refused_without_reading_it_all(tmp_path: Path, monkeypatch) -> None:
    big = tmp_path / "big.bpmn"
    chunk = b"x" * (1024 * 1024)
    with open(big, "wb") as handle:
        handle.write(b"<a>")
        for _ in range(50):
            handle.write(chunk)
        handle.write(b"</a>")
    read_sizes: list[int] = []
    real_open = builtins.open

    class _Spy:
        def __init__(self, handle):
            self._handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._handle.close()

        def read(self, size: int = -1) -> bytes:
            read_sizes.append(size)
            return self._handle.read(size)

    monkeypatch.setattr(xmlsafe, "open", lambda *a, **k: _Spy(real_open(*a, **k)), raising=False)
    reason = _refusal(big)
    assert "10 MB limit" in reason and str(MAX_XML_BYTES) in reason
    assert read_sizes and all(0 < size <= MAX_XML_BYTES + 1 for size in read_sizes)


def test_parse_xml_bytes_enforces_the_size_limit_it_is_given() -> None:
    with pytest.raises(UnreadableFileError) as info:
        parse_xml_bytes(b"<a>" + b"x" * 100 + b"</a>", "small.bpmn", max_bytes=50)
    assert info.value.reason == "file is larger than the limit of 50 bytes"


def test_file_of_exactly_the_limit_is_accepted(tmp_path: Path) -> None:
    data = b"<a>" + b"x" * 93 + b"</a>"
    target = tmp_path / "exact.bpmn"
    target.write_bytes(data)
    assert read_xml_file(str(target), max_bytes=len(data)).getroot().text == "x" * 93


def test_missing_file_is_refused_with_one_line(tmp_path: Path) -> None:
    reason = _refusal(tmp_path / "absent.bpmn")
    assert reason.startswith("cannot read file: ")


def test_directory_is_refused_with_one_line(tmp_path: Path) -> None:
    assert _refusal(tmp_path).startswith("cannot read file: ")


def test_well_formed_bpmn_parses_to_an_element_tree() -> None:
    tree = read_xml_file(str(FIXTURES / "camunda_leave_request.bpmn"))
    assert isinstance(tree, etree._ElementTree)
    assert tree.getroot().tag == "{http://www.omg.org/spec/BPMN/20100524/MODEL}definitions"
    assert tree.getroot().sourceline == 2


def test_utf8_bom_and_non_ascii_text_are_accepted() -> None:
    tree = parse_xml_bytes("\ufeff<a>Congé payé</a>".encode())
    assert tree.getroot().text == "Congé payé"


def test_predefined_entities_still_work_without_a_dtd() -> None:
    assert parse_xml_bytes(b"<a>x &gt;= 2 &amp;&#65;</a>").getroot().text == "x >= 2 &A"


def test_undefined_entity_is_refused_as_malformed() -> None:
    with pytest.raises(UnreadableFileError) as info:
        parse_xml_bytes(b"<a>&xxe;</a>", "entity.bpmn")
    assert info.value.reason == "malformed XML at line 1: Entity 'xxe' not defined"
