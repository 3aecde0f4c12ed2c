"""package.yaml `names`: display names of BPMN elements in zh / en, checked at deploy, kept with the
version, exported with the package, and read through one rule (`results.element_label`)."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml

from engine.errors import InvalidPackageError
from engine.packages import archive
from engine.packages import deployment as packages
from engine.results import element_label, element_names

LEAVE = Path(__file__).resolve().parents[3] / "processes" / "leave_request"


def _package(tmp_path, names_yaml: str) -> Path:
    folder = tmp_path / "leave_request"
    shutil.copytree(LEAVE, folder)
    meta = (folder / "package.yaml").read_text(encoding="utf-8").split("\nnames:")[0]
    (folder / "package.yaml").write_text(meta + "\nnames:\n" + names_yaml, encoding="utf-8")
    return folder


def test_the_shipped_leave_request_names_every_element_in_both_languages():
    package = packages.load_package(LEAVE)
    names = element_names(package.meta)
    for element in ("submitted", "manager_approval", "decision", "hr_record", "approved_end", "rejected_end",
                    "f_approved", "f_rejected"):
        assert names[element]["zh"] and names[element]["en"], element
    assert not [p for p in package.notes if "names" in p.message]


def test_an_unknown_element_id_is_a_warning_naming_file_line_and_id(tmp_path):
    folder = _package(tmp_path, "  manager_approval: {zh: 上级审批, en: Manager approval}\n"
                                "  no_such_step: {zh: 无, en: None}\n")
    package = packages.load_package(folder)
    warnings = [str(p) for p in package.notes if p.severity == "warning" and "names" in p.message]
    lines = (folder / "package.yaml").read_text(encoding="utf-8").splitlines()
    line = lines.index("  no_such_step: {zh: 无, en: None}") + 1
    assert warnings == [f"{folder / 'package.yaml'}:{line}: no_such_step: names: no element `no_such_step` in "
                        "the package's BPMN; the name is unused"]


@pytest.mark.parametrize(("entry", "message"), [
    ("manager_approval: 上级审批", "must be a mapping of languages to names"),
    ("manager_approval: {zh: 上级审批, fr: Approbation}", "unknown language(s) fr (known: zh, en)"),
    ("manager_approval: {zh: '', en: Manager approval}", "`zh` must be non-empty text"),
    ("manager_approval: {zh: [a], en: Manager approval}", "`zh` must be non-empty text"),
])
def test_a_malformed_entry_refuses_the_package_with_its_line(tmp_path, entry, message):
    folder = _package(tmp_path, f"  {entry}\n")
    with pytest.raises(InvalidPackageError) as caught:
        packages.load_package(folder)
    lines = (folder / "package.yaml").read_text(encoding="utf-8").splitlines()
    line = lines.index(f"  {entry}") + 1
    assert f"package.yaml:{line}: manager_approval: names: {message}" in str(caught.value)


def test_names_must_be_a_mapping(tmp_path):
    folder = _package(tmp_path, "  - manager_approval\n")
    with pytest.raises(InvalidPackageError) as caught:
        packages.load_package(folder)
    assert "`names` must map element ids to {zh: ..., en: ...}" in str(caught.value)


def test_names_are_stored_with_the_version_and_exported_with_the_package(sessions):
    packages.deploy_package(sessions, packages.load_package(LEAVE), "admin")
    with sessions() as session:
        content = archive.export_version(session, "leave_request")
    with zipfile.ZipFile(io.BytesIO(content)) as zipped:
        meta = yaml.safe_load(zipped.read("leave_request/package.yaml"))
    assert meta["names"]["decision"] == {"zh": "是否批准？", "en": "Approved?"}


def test_the_one_rule_falls_back_from_the_language_to_zh_en_the_bpmn_name_and_the_id():
    names = {"a": {"zh": "甲", "en": "A"}, "b": {"en": "B"}, "c": {"zh": "  "}}
    assert element_label(names, "a", "en", "drawn") == "A"
    assert element_label(names, "a", "zh", "drawn") == "甲"
    assert element_label(names, "b", "zh", "drawn") == "B"
    assert element_label(names, "c", "zh", "drawn") == "drawn"
    assert element_label(names, "d", "zh", None) == "d"
    assert element_label(names, "a", None, "drawn") == "drawn"  # no language asked: the BPMN as drawn
