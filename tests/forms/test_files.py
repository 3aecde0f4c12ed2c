"""Tests for forms.files: the FileStore (put, verify, open), size and type limits, names and ids."""

from __future__ import annotations

import hashlib
import io

import pytest

from forms.files import CHUNK, FileRef, FileStore, UploadRefused, accepts, human_size, safe_name


@pytest.fixture()
def store(tmp_path):
    return FileStore(tmp_path / "files")


class EndlessStream:
    """A read()-able stream of `total` bytes made on demand; counts what was read."""

    def __init__(self, total: int, chunk: bytes = b"x" * 4096):
        self.total, self.chunk, self.read_bytes = total, chunk, 0

    def read(self, size: int = -1) -> bytes:
        size = self.total - self.read_bytes if size < 0 else min(size, self.total - self.read_bytes)
        data = (self.chunk * (size // len(self.chunk) + 1))[:size]
        self.read_bytes += len(data)
        return data


def stored_files(store: FileStore) -> list:
    return sorted(p for p in store.root.rglob("*") if p.is_file())


# -- put / verify / open -----------------------------------------------------------------------------------------

def test_put_verify_open(store):
    data = b"%PDF-1.4\n" + bytes(range(256)) * 1000
    ref = store.put(io.BytesIO(data), "report.pdf")
    assert isinstance(ref, FileRef)
    assert ref.name == "report.pdf" and ref.size == len(data)
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert ref.content_type == "application/pdf"
    assert len(ref.id) == 32 and all(c in "0123456789abcdef" for c in ref.id)
    assert ref.to_dict() == {"id": ref.id, "name": "report.pdf", "size": len(data), "sha256": ref.sha256,
                             "content_type": "application/pdf"}
    assert store.verify(ref.to_dict()) is None
    with store.open(ref) as handle:
        assert handle.read() == data
    with store.open(ref.to_dict()) as handle:
        assert handle.read() == data
    assert stored_files(store) == [store.root / ref.id[:2] / ref.id]


def test_each_put_gets_its_own_id(store):
    first = store.put(io.BytesIO(b"same"), "a.txt")
    second = store.put(io.BytesIO(b"same"), "a.txt")
    assert first.id != second.id and first.sha256 == second.sha256


def test_empty_file_and_given_content_type(store):
    ref = store.put(io.BytesIO(b""), "empty.bin", "application/x-thing")
    assert (ref.size, ref.content_type) == (0, "application/x-thing")
    assert ref.sha256 == hashlib.sha256(b"").hexdigest()
    assert store.verify(ref.to_dict()) is None
    assert store.put(io.BytesIO(b"?"), "noext").content_type == "application/octet-stream"


def test_verify_detects_changes_and_missing_files(store):
    ref = store.put(io.BytesIO(b"hello world"), "a.txt").to_dict()
    path = store.root / ref["id"][:2] / ref["id"]
    path.write_bytes(b"hello WORLD")
    assert store.verify(ref) == "file_checksum"
    path.write_bytes(b"hello")
    assert store.verify(ref) == "file_checksum"
    path.unlink()
    assert store.verify(ref) == "file_missing"


@pytest.mark.parametrize("ref", [{}, {"id": None}, {"id": 5}, {"id": "../x"}, {"id": "0" * 32},
                                 {"id": "A" * 32}, {"id": "a" * 32 + "\n"}])
def test_verify_of_unknown_or_malformed_ids(store, ref):
    assert store.verify(ref) == "file_missing"


# -- size limit while streaming ---------------------------------------------------------------------------------

def test_size_limit_stops_while_streaming(store):
    stream = EndlessStream(100 * 1024 * 1024)
    with pytest.raises(UploadRefused) as info:
        store.put(stream, "huge.bin", max_size=1024 * 1024)
    assert str(info.value) == "`huge.bin` is larger than 1MB"
    assert stream.read_bytes <= 1024 * 1024 + CHUNK          # stopped within one chunk of the limit
    assert stored_files(store) == []                          # the partial upload is removed


def test_size_limit_is_inclusive(store):
    ref = store.put(io.BytesIO(b"x" * 1000), "a.bin", max_size=1000)
    assert ref.size == 1000
    with pytest.raises(UploadRefused, match=r"`b.bin` is larger than 1000B"):
        store.put(io.BytesIO(b"x" * 1001), "b.bin", max_size=1000)
    assert stored_files(store) == [store.root / ref.id[:2] / ref.id]


def test_a_failing_stream_leaves_no_partial_file(store):
    class Broken:
        calls = 0

        def read(self, size):
            self.calls += 1
            if self.calls > 2:
                raise OSError("connection reset")
            return b"x" * size

    with pytest.raises(OSError, match="connection reset"):
        store.put(Broken(), "a.bin")
    assert stored_files(store) == []


# -- accept ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("accept", "name", "content_type", "expected"), [
    ([".pdf"], "a.pdf", None, True),
    ([".pdf"], "A.PDF", None, True),
    ([".PDF"], "a.pdf", None, True),
    ([".pdf"], "a.pdf.exe", None, False),
    ([".pdf"], "pdf", None, False),
    ([".pdf", ".docx"], "a.docx", None, True),
    (["image/*"], "a.png", None, True),
    (["image/*"], "a.bin", "image/webp", True),
    (["image/*"], "a.png", "text/plain", False),     # a given content type wins over the extension
    (["image/*"], "a.txt", None, False),
    (["image/*"], "a.bin", "imagex/png", False),
    (["text/csv"], "a.csv", None, True),
    (["text/csv"], "a.bin", "TEXT/CSV", True),
    (["text/csv"], "a.txt", None, False),
    ([], "a.pdf", None, False),
])
def test_accepts(accept, name, content_type, expected):
    assert accepts(accept, name, content_type) is expected


def test_put_refuses_a_type_not_accepted_before_reading(store):
    stream = EndlessStream(10)
    with pytest.raises(UploadRefused) as info:
        store.put(stream, "a.exe", accept=[".pdf", "image/*"])
    assert str(info.value) == "`a.exe` is not an accepted type (.pdf, image/*)"
    assert stream.read_bytes == 0 and stored_files(store) == []
    assert store.put(io.BytesIO(b"x"), "a.png", accept=[".pdf", "image/*"]).content_type == "image/png"
    assert store.put(io.BytesIO(b"x"), "scan", "image/jpeg", accept=["image/*"]).name == "scan"


# -- names and ids ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "expected"), [
    ("report.pdf", "report.pdf"),
    ("../../etc/passwd", "passwd"),
    ("/abs/path/a.txt", "a.txt"),
    ("C:\\Users\\me\\b.pdf", "b.pdf"),
    ("..\\..\\boot.ini", "boot.ini"),
    ("dir/", "file"),
    ("..", "file"),
    (".", "file"),
    ("a/..", "file"),
    ("", "file"),
    ("   ", "file"),
    ("a\x00b.pdf", "ab.pdf"),
    ("line\nbreak.txt", "linebreak.txt"),
    ("\u202eevil.pdf", "evil.pdf"),
    ("  spaced name.txt  ", "spaced name.txt"),
    ("报告.pdf", "报告.pdf"),
    ("x" * 300, "x" * 200),
])
def test_safe_name(name, expected):
    assert safe_name(name) == expected


def test_put_stores_the_safe_name_and_never_writes_outside_the_root(store, tmp_path):
    ref = store.put(io.BytesIO(b"x"), "../../../outside.txt")
    assert ref.name == "outside.txt"
    assert [p.name for p in tmp_path.rglob("outside.txt")] == []
    assert stored_files(store) == [store.root / ref.id[:2] / ref.id]


@pytest.mark.parametrize("bad_id", ["../x", "../" + "a" * 32, "a" * 31, "a" * 33, "A" * 32, "g" * 32,
                                    "a" * 32 + "\n", "", "..", "/etc/passwd", "a" * 30 + "/."])
def test_ids_are_validated(store, bad_id):
    with pytest.raises(KeyError):
        store.open({"id": bad_id})
    assert store.verify({"id": bad_id, "size": 0, "sha256": ""}) == "file_missing"


def test_open_of_a_valid_but_unknown_id(store):
    with pytest.raises(FileNotFoundError):
        store.open({"id": "0" * 32})


@pytest.mark.parametrize(("size", "text"), [(0, "0B"), (1023, "1023B"), (1024, "1KB"), (1536, "1.5KB"),
                                            (20 * 1024 * 1024, "20MB"), (3 * 1024 ** 3, "3GB")])
def test_human_size(size, text):
    assert human_size(size) == text
