"""The scenario tests of a designer draft: read and write its `tests/*.yaml`, run them against the draft.

Running writes the draft's files to a temporary folder and hands it to the same runner as
`liaison test PATH` (`engine.packages.scenarios`), which deploys it to a throwaway SQLite database
deleted afterwards; the answer holds each scenario's and each step's pass/fail and the token's path.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path, PurePosixPath

import yaml
from sqlalchemy.orm import Session

from engine.bpmn.parser import BPMN_NS
from engine.bpmn.xmlsafe import parse_xml_bytes
from engine.data.models import PackageDraft
from engine.errors import InvalidPackageError, NotFoundError, Problem, UnreadableFileError, msg
from engine.packages import designer_access as access
from engine.packages.drafts import DraftFileError, current_draft, main_bpmn_name, open_draft, save_draft
from engine.packages.scenarios import ScenarioResult, run_package_scenarios

TEST_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")


def list_scenarios(draft: PackageDraft) -> list[dict]:
    """The draft's tests: [{file, name, yaml, spec}] by file name (`spec` None when the YAML is unreadable)."""
    found = []
    for path, text in sorted(draft.files.items()):
        folder, _, file = path.partition("/")
        if folder != "tests" or "/" in file or not file.endswith((".yaml", ".yml")):
            continue
        spec = _parse(text)
        name = str(spec.get("name") or "") if spec else ""
        found.append({"file": PurePosixPath(file).stem, "name": name or PurePosixPath(file).stem,
                      "yaml": text, "spec": spec})
    return found


def scenario_yaml(spec: dict) -> str:
    """The YAML text of a scenario written by the form editor (keys in the usual order)."""
    order = ("name", "description", "start", "steps", "people", "expect")
    ordered = {k: spec[k] for k in order if k in spec} | {k: v for k, v in spec.items() if k not in order}
    return yaml.safe_dump(ordered, allow_unicode=True, sort_keys=False)


def save_scenario(session: Session, username: str, key: str, revision: int, file: str, text: str,
                  old_file: str | None = None) -> PackageDraft:
    """Write `tests/FILE.yaml` (renamed from `old_file` when given) as the draft's next revision;
    DraftFileError for a bad file name or YAML that is not a mapping."""
    _check_name(file)
    spec = _parse(text)
    if spec is None:
        raise DraftFileError(msg("the test is not a YAML mapping (name, start, steps, expect)"))
    draft = current_draft(session, key)
    files = dict(draft.files)
    if old_file and old_file != file:
        _check_name(old_file)
        files.pop(_path_of(files, old_file), None)
    files.pop(_path_of(files, file), None)
    files[f"tests/{file}.yaml"] = text
    return save_draft(session, username, key, revision, files)


def delete_scenario(session: Session, username: str, key: str, revision: int, file: str) -> PackageDraft:
    """Remove `tests/FILE.yaml` from the draft (next revision); NotFoundError when there is none."""
    _check_name(file)
    files = dict(current_draft(session, key).files)
    if files.pop(_path_of(files, file), None) is None:
        raise NotFoundError(msg("there is no test %(name)s", name=file))
    return save_draft(session, username, key, revision, files)


def run_draft_scenarios(session: Session, username: str, key: str, only: str | None = None) -> list[ScenarioResult]:
    """Run the draft's tests (or the one in `tests/ONLY.yaml`) in a throwaway database; InvalidPackageError
    when the draft does not load."""
    access.require(session, username, key, "edit")
    draft = open_draft(session, username, key)
    with tempfile.TemporaryDirectory(prefix="liaison-draft-tests-") as scratch:
        root = Path(scratch) / key
        for path, text in draft.files.items():
            target = root.joinpath(*PurePosixPath(path).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        try:
            return run_package_scenarios(root, only=only)
        except UnreadableFileError as exc:
            where = str(exc.path).replace(f"{root}/", "")
            raise InvalidPackageError([Problem(where, None, None, exc.reason)]) from exc


def result_json(result: ScenarioResult) -> dict:
    """A scenario's result as the page shows it: passed, failures, steps and the token's path."""
    return {"file": result.file, "name": result.name, "passed": result.passed, "failures": result.failures,
            "steps": [{"number": s.number, "task": s.task, "user": s.user, "passed": s.passed,
                       "failures": s.failures} for s in result.steps],
            "path": result.path}


def _parse(text: str) -> dict | None:
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return spec if isinstance(spec, dict) else None


def _check_name(file: str) -> None:
    if not TEST_NAME.match(file or ""):
        raise DraftFileError(msg("a test's file name holds only letters, digits, _ and -"))


def _path_of(files: dict[str, str], file: str) -> str:
    for suffix in (".yaml", ".yml"):
        if f"tests/{file}{suffix}" in files:
            return f"tests/{file}{suffix}"
    return f"tests/{file}.yaml"


def user_tasks(draft: PackageDraft) -> list[dict]:
    """The user tasks of the draft's main BPMN, [{id, name}] in document order (the step editor's choice)."""
    name = main_bpmn_name(draft.files, draft.key)
    try:
        root = parse_xml_bytes((draft.files.get(name) or "").encode("utf-8"), name).getroot()
    except UnreadableFileError:
        return []
    return [{"id": node.get("id"), "name": node.get("name") or node.get("id")}
            for node in root.iter(f"{{{BPMN_NS}}}userTask") if node.get("id")]
