"""Helpers for engine tests: write small packages from a process body."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.packages import deployment as packages

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:liaison="https://liaison.dev/schema/bpmn/1.0"
                  id="defs_{key}" targetNamespace="https://liaison.dev/test">
"""


def flow(source: str, target: str, condition: str | None = None, flow_id: str | None = None) -> str:
    """One sequence flow, optionally conditional."""
    flow_id = flow_id or f"f_{source}_{target}"
    if condition is None:
        return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}"/>'
    condition = condition.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">'
            f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>")


def write_package(root: Path, key: str, processes: dict[str, str], forms: tuple[str, ...] = (),
                  meta: dict | None = None, definitions: str = "") -> Path:
    """Write a package folder: one BPMN file per process id, given the process's inner XML."""
    folder = root / key
    (folder / "forms").mkdir(parents=True, exist_ok=True)
    (folder / "package.yaml").write_text(yaml.safe_dump({"id": key, "name": {"en": key, "zh": key},
                                                         **(meta or {})}))
    for process_id, body in processes.items():
        xml = HEADER.format(key=process_id) + definitions + (
            f'<bpmn:process id="{process_id}" isExecutable="true">\n{body}\n</bpmn:process>\n'
            "</bpmn:definitions>\n")
        (folder / f"{process_id}.bpmn").write_text(xml)
    for form in forms:
        (folder / "forms" / f"{form}.yaml").write_text(yaml.safe_dump({"fields": []}))
    return folder


@pytest.fixture
def deploy_package(sessions):
    """Load and deploy a package folder; returns the DeployResult."""

    def _deploy(path):
        package = packages.load_package(path)
        with sessions() as session, session.begin():
            return packages.deploy(session, package, "admin")

    return _deploy
