"""`liaison vendor ...`: the score sheet, the ranking and the recommendation through the same engine
functions as the pages (engine/work/vendor_scoring.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine import runtime
from engine.data import db
from engine.packages import deployment as packages
from engine.work import vendor_scoring
from tests.cli import runner
from tests.conftest import add_people

PACKAGE = Path(__file__).resolve().parents[2] / "processes" / "vendor_selection"


@pytest.fixture
def site(tmp_path, sqlite_template):
    path = tmp_path / "liaison.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(PACKAGE), "admin")
    add_people(sessions, "zhang", "li", "wang")
    instance_id = runtime.start_instance(sessions, "vendor_selection", {
        "title": "Printers", "manager": "li", "scorers": ["wang"], "vendors": [{"name": "Acme"}, {"name": "Bright"}],
        "criteria": [{"name": "Price", "weight": 60}, {"name": "Quality", "weight": 40}]}, "zhang").instance_id
    yield url, sessions, instance_id
    engine.dispose()


def liaison(url, *args):
    return runner.run(["vendor", *args], env={"LIAISON_DATABASE_URL": url})


def test_score_rank_and_recommend_from_the_command_line(site):
    url, sessions, instance_id = site
    with sessions() as session:
        task = vendor_scoring.open_task(session, instance_id, "score")
    refused = liaison(url, "score", task.id, "--as", "wang", "--scores", "[[80, 101], [90]]")
    assert refused.returncode == 1
    assert "v0c1: A score is a whole number from 0 to 100." in refused.stderr
    assert "v1c1: Give a score from 0 to 100." in refused.stderr
    assert liaison(url, "score", task.id, "--as", "wang", "--scores", "[[80, 70], [90, 50]]").returncode == 0
    ranked = liaison(url, "ranking", instance_id, "--json")
    # Acme 0.6*80 + 0.4*70 = 76.00; Bright 0.6*90 + 0.4*50 = 74.00
    assert [(v["rank"], v["vendor"], v["total"]) for v in json.loads(ranked.stdout)["vendors"]] == [
        (1, "Acme", "76.00"), (2, "Bright", "74.00")]
    with sessions() as session:
        recommend = vendor_scoring.open_task(session, instance_id, "recommend")
    assert liaison(url, "recommend", recommend.id, "--as", "zhang", "--vendor", "5").returncode == 1
    done = liaison(url, "recommend", recommend.id, "--as", "zhang", "--vendor", "0", "--reason", "cheaper")
    assert done.returncode == 0 and "manager_approval" in done.stdout
