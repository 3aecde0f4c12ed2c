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


def _leave_request_without_tests(tmp_path) -> Path:
    folder = tmp_path / "leave_request"
    source = ROOT / "processes" / "leave_request"
    for file in source.rglob("*"):
        if file.is_file() and "tests" not in file.parts[-2:]:
            target = folder / file.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(file.read_bytes())
    (folder / "tests").mkdir()
    return folder


def test_wrong_expectations_are_reported_one_by_one(tmp_path):
    folder = _leave_request_without_tests(tmp_path)
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


def test_expected_notifications_pass_and_the_missing_ones_are_named(tmp_path, database_url):
    folder = _leave_request_without_tests(tmp_path)
    approve = {"start": {"user": "zhang", "data": {"leave_type": "annual", "days": 2, "manager": "li"}},
               "steps": [{"task": "manager_approval", "user": "li", "data": {"approved": True}},
                         {"task": "hr_record", "user": "hu", "groups": ["hr"], "data": {"recorded": True}}]}
    (folder / "tests" / "notified.yaml").write_text(yaml.safe_dump({**approve, "expect": {"notifications": [
        {"event": "task_assigned", "to": "li"}, {"event": "approved", "to": "zhang"}]}}))
    (folder / "tests" / "not_notified.yaml").write_text(yaml.safe_dump({**approve, "expect": {"notifications": [
        {"event": "task_assigned", "to": "li"}, {"event": "rejected", "to": "zhang"},
        {"event": "task_assigned", "to": "wu"}]}}))
    (folder / "tests" / "unknown_event.yaml").write_text(yaml.safe_dump({**approve, "expect": {"notifications": [
        {"event": "task_asigned", "to": "li"}]}}))
    results = {r.file: r for r in run_package_scenarios(folder, database_url)}
    assert results["notified"].passed, results["notified"].failures
    [failure] = results["not_notified"].failures
    assert failure.startswith("notifications not produced: rejected to zhang, task_assigned to wu (produced: ")
    assert "task_assigned to li" in failure and "approved to zhang" in failure
    assert "unknown events ['task_asigned']" in results["unknown_event"].failures[0]
