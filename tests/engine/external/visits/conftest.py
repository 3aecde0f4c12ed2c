"""Fixtures of the visitor pass and reception tests: the shipped visitor_booking package, deployed."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engine import runtime
from engine.packages import deployment as packages
from tests.conftest import add_people

VISIT_PACKAGE = Path(__file__).resolve().parents[4] / "processes" / "visitor_booking"
SHANGHAI = ZoneInfo("Asia/Shanghai")
VISIT = {"visitor_name": "王访客", "visitor_company": "星辰科技", "visitor_phone": "138 0013 8000",
         "visitor_email": "visitor@example.com", "visit_start": "2030-05-20T09:00", "visit_end": "2030-05-20T11:00",
         "purpose": "项目评审", "host": "li"}
DURING = datetime(2030, 5, 20, 9, 10, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _settings(monkeypatch):
    """A fixed secret (nothing written under instance/) and the company's zone."""
    monkeypatch.setenv("LIAISON_SECRET_KEY", "test-secret-for-passes")
    monkeypatch.setenv("LIAISON_TIMEZONE", "Asia/Shanghai")
    monkeypatch.setenv("LIAISON_BASE_URL", "https://wf.example.com")


@pytest.fixture
def visits(sessions):
    """The visitor_booking package deployed, with li (a host), wang and zhou (reception) in the directory."""
    packages.deploy_package(sessions, packages.load_package(VISIT_PACKAGE), "admin")
    add_people(sessions, "li", "wang", "zhou")
    return sessions


def invite(sessions, user: str = "li", **changes) -> int:
    """Start a visit; returns the instance id."""
    return runtime.start_instance(sessions, "visitor_booking", {**VISIT, **changes}, user=user).instance_id
