"""Every package's scenario tests (tests/*.yaml) run through the one driver, and the driver can fail."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.packages.scenarios import run_package_scenarios
from tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = sorted({p.parent.parent for p in [*ROOT.glob("processes/*/tests/*.yaml"),
                                               *FIXTURES.glob("packages/*/tests/*.yaml")]})


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_package_scenarios_pass(package, database_url):
    results = run_package_scenarios(package, database_url)
    assert results, f"{package} has no scenarios"
    failures = [f"{r.file}: {failure}" for r in results for failure in r.failures]
    assert not failures, "\n".join(failures)


def test_wrong_expectations_are_reported_one_by_one(tmp_path):
    folder = tmp_path / "leave_request"
    source = ROOT / "processes" / "leave_request"
    for file in source.rglob("*"):
        if file.is_file() and "tests" not in file.parts[-2:]:
            target = folder / file.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(file.read_bytes())
    (folder / "tests").mkdir()
    (folder / "tests" / "wrong.yaml").write_text(yaml.safe_dump({
        "name": "wrong on purpose",
        "start": {"user": "zhang", "data": {"leave_type": "annual", "days": 2, "manager": "li"}},
        "steps": [{"task": "manager_approval", "user": "li", "expect_assignee": "wu", "data": {"approved": True}},
                  {"task": "nope", "user": "x"}],
    }))
    (folder / "tests" / "wrong_end.yaml").write_text(yaml.safe_dump({
        "start": {"data": {"leave_type": "sick", "days": 1, "manager": "li"}},
        "steps": [{"task": "manager_approval", "user": "li", "data": {"approved": False}}],
        "expect": {"end_event": "approved_end", "path": ["hr_record"], "data": {"approved": True}},
    }))
    results = {r.file: r for r in run_package_scenarios(folder)}
    assert "assignee is 'li', expected 'wu'" in results["wrong"].failures[0]
    assert "no open task `nope`" in results["wrong"].failures[1]
    end_failures = " | ".join(results["wrong_end"].failures)
    assert "end_event is 'rejected_end'" in end_failures and "hr_record" in end_failures
    assert "data `approved` is False" in end_failures
