"""Packages as zip files: a deployed version exports and re-imports unchanged; hostile zips are refused."""

from __future__ import annotations

import io
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
