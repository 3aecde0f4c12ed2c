"""The scenario driver's outsider steps (`as: ext:KIND`) and message steps can fail."""

from __future__ import annotations

import shutil

import yaml

from engine.packages.scenarios import run_package_scenarios
from tests.engine.portal.support import SUPPLIER_ORDER

START = {"user": "zhang", "data": {"po_number": "PO-7", "supplier": "ACME", "items": "x", "amount": 1,
                                   "delivery_date": "2026-12-20"}}


def test_outsider_and_message_steps_fail_when_they_should(tmp_path):
    folder = tmp_path / "supplier_order"
    shutil.copytree(SUPPLIER_ORDER, folder)
    for old in (folder / "tests").iterdir():
        old.unlink()
    scenarios = {
        "wrong_kind": [{"task": "confirm_order", "as": "ext:customer", "data": {"answer": "confirm"}}],
        "unknown_kind": [{"task": "confirm_order", "as": "ext:partner", "data": {"answer": "confirm"}}],
        "outsider_on_employee_task": [
            {"task": "confirm_order", "as": "ext:supplier", "data": {"answer": "propose", "proposed_date": "2027-01-02"}},
            {"task": "review_date", "as": "ext:supplier", "data": {"accept_date": True}}],
        "bad_message": [{"task": "confirm_order", "as": "ext:supplier", "data": {"answer": "confirm"}},
                        {"message": "po_shipped", "key": "PO-7", "payload": {}}],
        "wrong_key": [{"task": "confirm_order", "as": "ext:supplier", "data": {"answer": "confirm"}},
                      {"message": "po_shipped", "key": "PO-8"}],
    }
    for name, steps in scenarios.items():
        spec = {"start": START, "steps": steps}
        if name == "wrong_key":
            spec["expect"] = {"open_tasks": ["report_delivered"]}
        (folder / "tests" / f"{name}.yaml").write_text(yaml.safe_dump(spec))
    results = {r.file: r for r in run_package_scenarios(folder)}
    assert "NotPermittedError" in results["wrong_kind"].failures[0]
    assert "`as` must be one of" in results["unknown_kind"].failures[0]
    assert "step 2 (review_date): NotPermittedError" in results["outsider_on_employee_task"].failures[0]
    assert "unknown keys ['payload']" in results["bad_message"].failures[0]
    assert "open tasks" in results["wrong_key"].failures[0]  # kept for PO-8: the order still waits for shipment
    assert all(not r.passed for r in results.values())
