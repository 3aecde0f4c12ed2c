"""A company of two departments plus an outsider, and the `project_task` package deployed."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.data.models import Department, Person
from engine.packages import deployment as packages

ROOT = Path(__file__).resolve().parents[3]


def company(sessions) -> None:
    """li owns projects; MKT (zhang, wang) and PRD with its sub-team APP (chen) are members; zhao (OPS) is not."""
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(ROOT / "processes" / "project_task"), "admin")
        session.add_all([Department(id=1, code="HQ", name="总部", path="/1/"),
                         Department(id=2, code="MKT", name="市场部", name_en="Marketing", parent_id=1, path="/1/2/"),
                         Department(id=3, code="PRD", name="产品部", name_en="Product", parent_id=1, path="/1/3/"),
                         Department(id=4, code="APP", name="应用组", parent_id=3, path="/1/3/4/"),
                         Department(id=5, code="OPS", name="运营部", parent_id=1, path="/1/5/")])
        session.add_all([Person(username="li", name="李经理", name_en="Manager Li", department_id=1),
                         Person(username="zhang", name="张三", name_en="Zhang San", department_id=2),
                         Person(username="wang", name="王五", name_en="Wang Wu", department_id=2),
                         Person(username="chen", name="陈七", name_en="Chen Qi", department_id=4),
                         Person(username="zhao", name="赵六", name_en="Zhao Liu", department_id=5)])


@pytest.fixture
def world(sessions):
    company(sessions)
    return sessions
