"""Packages as zip files: a deployed version exports and re-imports unchanged; hostile zips are refused."""

from __future__ import annotations

import io
import os
import zipfile

import pytest

from engine.errors import InvalidPackageError
from engine.packages import archive as package_zip
from engine.packages import deployment as packages
from tests.conftest import FIXTURES

ORDER_REVIEW = FIXTURES / "packages" / "order_review"


def _zip(tmp_path, entries: dict[str, bytes], name="pkg.zip", compression=zipfile.ZIP_DEFLATED):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", compression) as archive:
        for entry, content in entries.items():
            archive.writestr(entry, content)
    return path


def test_exported_version_reimports_as_the_same_version(sessions, tmp_path):
    first = packages.deploy_package(sessions, packages.load_package(ORDER_REVIEW), "admin")
    with sessions() as session:
        content = package_zip.export_version(session, "order_review")
    path = tmp_path / "order_review.zip"
    path.write_bytes(content)
    names = zipfile.ZipFile(io.BytesIO(content)).namelist()
    assert "order_review/package.yaml" in names and "order_review/order_review.bpmn" in names
    with package_zip.unpacked(path) as folder:
        again = packages.deploy_package(sessions, packages.load_package(folder), "admin")
    assert (again.version, again.created) == (first.version, False)


def test_unknown_version_is_reported(sessions):
    from engine.errors import NotFoundError

    with pytest.raises(NotFoundError), sessions() as session:
        package_zip.export_version(session, "nothing", 3)


@pytest.mark.parametrize("entry, reason", [
    ("../evil.bpmn", "unsafe path"),
    ("/etc/cron.d/evil.yaml", "unsafe path"),
    ("pkg/run.sh", "unexpected file type"),
    ("pkg/secrets/x.yaml", "unexpected folder"),
])
def test_hostile_zip_entries_are_refused_before_unpacking(tmp_path, entry, reason):
    path = _zip(tmp_path, {"pkg/package.yaml": b"id: pkg\n", entry: b"x"})
    with pytest.raises(InvalidPackageError, match=reason), package_zip.unpacked(path):
        pass
    assert not (tmp_path.parent / "evil.bpmn").exists()


def test_zip_bomb_is_refused(tmp_path):
    path = _zip(tmp_path, {"pkg/package.yaml": b"id: pkg\n", "pkg/big.bpmn": b"0" * (60 * 1024 * 1024)})
    with pytest.raises(InvalidPackageError) as caught, package_zip.unpacked(path):
        pass
    assert "compression ratio" in str(caught.value) or "unpacks to" in str(caught.value)


def test_file_that_is_not_a_zip_is_refused(tmp_path):
    path = tmp_path / "fake.zip"
    path.write_bytes(b"PK not really")
    with pytest.raises(InvalidPackageError, match="not a readable zip"), package_zip.unpacked(path):
        pass


# --- size caps (issue 11, item 3): every file by its kind, the package, the zip; generated bombs ---------

def _text(size: int) -> bytes:
    """`size` bytes of YAML-ish text that compresses only about 2:1 (no ratio refusal)."""
    return os.urandom(size // 2 + 1).hex().encode()[:size]


def test_a_member_over_the_cap_of_its_kind_is_refused_naming_the_cap(tmp_path):
    path = _zip(tmp_path, {"pkg/package.yaml": b"id: pkg\n", "pkg/forms/big.yaml": b"a: " + _text(2 * 1024 * 1024)})
    with pytest.raises(InvalidPackageError, match=r"forms/big.yaml: file is 2,097,155 bytes; the limit for a .yaml "
                                                  r"file is 1 MB"), package_zip.unpacked(path):
        pass


def test_a_deflate_bomb_is_refused_by_its_ratio_before_unpacking(tmp_path):
    path = _zip(tmp_path, {"pkg/package.yaml": b"id: pkg\n", "pkg/p.bpmn": b"<a>" + b" " * (5 * 1024 * 1024) + b"</a>"})
    assert path.stat().st_size < 50 * 1024  # about 5 MB unpacked from a few KB
    with pytest.raises(InvalidPackageError, match=r"compression ratio too high .* the limit is 100:1\): a zip bomb"), \
            package_zip.unpacked(path):
        pass


def test_too_many_members_are_refused(tmp_path):
    path = _zip(tmp_path, {"pkg/package.yaml": b"id: pkg\n",
                           **{f"pkg/tests/t{i}.yaml": b"x: 1\n" for i in range(600)}})
    with pytest.raises(InvalidPackageError, match=r"zip holds 601 entries; the limit is 500"), \
            package_zip.unpacked(path):
        pass


def test_a_member_whose_header_lies_about_its_size_is_refused_not_crashed(tmp_path):
    """The sizes in the headers say 10 bytes, the data inflates to 200 KB: zipfile stops at 10 and the
    CRC does not match; refused as an invalid package (no unhandled BadZipFile)."""
    content = b"x: " + b"1" * 200_000
    path = _zip(tmp_path, {"pkg/package.yaml": content})
    data = bytearray(path.read_bytes())
    size = len(content).to_bytes(4, "little")
    for at in [i for i in range(len(data)) if data[i:i + 4] == size]:
        data[at:at + 4] = (10).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidPackageError, match=r"package.yaml: cannot be unpacked"), package_zip.unpacked(path):
        pass


def test_a_package_folder_has_the_same_caps(tmp_path):
    root = tmp_path / "pkg"
    (root / "forms").mkdir(parents=True)
    (root / "package.yaml").write_text("id: pkg\n")
    (root / "p.bpmn").write_bytes(b"<a>" + b" " * (11 * 1024 * 1024) + b"</a>")
    (root / "forms" / "f.form").write_bytes(b"{}" + b" " * (2 * 1024 * 1024))
    with pytest.raises(InvalidPackageError) as caught:
        packages.load_package(root)
    text = str(caught.value)
    assert "p.bpmn:0: -: file is 11,534,343 bytes; the limit for a .bpmn file is 10 MB" in text
    assert "f.form:0: -: file is 2,097,154 bytes; the limit for a .form file is 1 MB" in text
    for i in range(5):
        (root / "forms" / f"g{i}.yaml").write_bytes(b" " * (1024 * 1024))
    (root / "p.bpmn").write_bytes(b" " * (10 * 1024 * 1024))
    for i in range(4):
        (root / f"q{i}.bpmn").write_bytes(b" " * (10 * 1024 * 1024))
    with pytest.raises(InvalidPackageError, match=r"the package's files are [\d,]+ bytes; the limit is 50 MB"):
        packages.load_package(root)


def test_a_deeply_nested_yaml_is_refused_not_crashed(tmp_path):
    root = tmp_path / "pkg"
    root.mkdir()
    (root / "package.yaml").write_text("id: pkg\nx: " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(InvalidPackageError, match="package.yaml:0: -: cannot read: nested too deeply"):
        packages.load_package(root)
