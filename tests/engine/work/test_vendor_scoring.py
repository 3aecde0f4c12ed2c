"""Vendor selection (processes/vendor_selection), the engine side: score sheets stored per scorer, the
weighted ranking (numbers worked out by hand below), refusals that save nothing, the recommendation."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import runtime
from engine.data import db, store
from engine.data.vendor_models import VendorScore
from engine.errors import FormInvalidError, InvalidTaskDataError, NotPermittedError
from engine.packages import deployment as packages
from engine.work import queries, vendor_scoring
from tests.conftest import add_people

PACKAGE = Path(__file__).resolve().parents[3] / "processes" / "vendor_selection"
START = {"title": "Office printers", "manager": "li", "scorers": ["wang", "hu"],
         "criteria": [{"name": "Price", "weight": 40}, {"name": "Quality", "weight": 35},
                      {"name": "Service", "weight": 25}],
         "vendors": [{"name": "Acme"}, {"name": "Brightway"}, {"name": "Copyland"}]}
# rows: vendors Acme, Brightway, Copyland; columns: Price, Quality, Service
WANG = [[80, 70, 90], [90, 60, 70], [60, 95, 80]]
HU = [[70, 80, 80], [100, 50, 60], [70, 90, 90]]


@pytest.fixture
def sessions(tmp_path, sqlite_template):
    """SQLite only: nothing here needs PostgreSQL's concurrency."""
    path = tmp_path / "liaison.db"
    shutil.copy(sqlite_template, path)
    engine = db.make_engine(f"sqlite:///{path}")
    factory = db.make_session_factory(engine)
    with factory() as session, session.begin():
        packages.deploy(session, packages.load_package(PACKAGE), "admin")
    add_people(factory, "zhang", "li", "wang", "hu")
    yield factory
    engine.dispose()


def _cells(matrix):
    return {f"v{v}c{c}": str(score) for v, row in enumerate(matrix) for c, score in enumerate(row)}


def _score_task(sessions, instance_id, user):
    with sessions() as session:
        view = queries.instance_view(session, instance_id)
    return next(t["id"] for t in view["tasks"] if t["element_id"] == "score" and t["assignee"] == user
                and t["status"] == "open")


def _started(sessions):
    return runtime.start_instance(sessions, "vendor_selection", START, "zhang").instance_id


def test_weighted_totals_are_averaged_over_scorers_and_ranked(sessions):
    instance_id = _started(sessions)
    vendor_scoring.submit_scores(sessions, _score_task(sessions, instance_id, "wang"), "wang", _cells(WANG))
    with sessions() as session:
        partial = vendor_scoring.ranking(session, instance_id)
    # wang alone: Acme 0.40*80 + 0.35*70 + 0.25*90 = 79.00; Brightway 36 + 21 + 17.5 = 74.50;
    # Copyland 24 + 33.25 + 20 = 77.25
    assert [(v.name, v.total, v.rank) for v in partial.vendors] == [
        ("Acme", Decimal("79.00"), 1), ("Copyland", Decimal("77.25"), 2), ("Brightway", Decimal("74.50"), 3)]
    assert partial.scored_by == ["wang"] and partial.waiting_for == ["hu"]

    vendor_scoring.submit_scores(sessions, _score_task(sessions, instance_id, "hu"), "hu", _cells(HU))
    with sessions() as session:
        result = vendor_scoring.ranking(session, instance_id)
        # hu: Acme 28 + 28 + 20 = 76.00; Brightway 40 + 17.5 + 15 = 72.50; Copyland 28 + 31.5 + 22.5 = 82.00
        # means: Copyland (77.25 + 82) / 2 = 79.625 -> 79.63; Acme (79 + 76) / 2 = 77.50; Brightway 73.50
        assert [(v.name, v.total, v.rank) for v in result.vendors] == [
            ("Copyland", Decimal("79.63"), 1), ("Acme", Decimal("77.50"), 2), ("Brightway", Decimal("73.50"), 3)]
        assert result.chart_labels == ["Copyland", "Acme", "Brightway"]
        assert result.chart_values == [79.63, 77.5, 73.5]
        assert result.waiting_for == []
        # the mean per criterion is SQL's average of the stored scores
        averages = {(v, c): Decimal(str(avg)) for v, c, avg in session.execute(
            select(VendorScore.vendor, VendorScore.criterion, func.avg(VendorScore.score))
            .where(VendorScore.instance_id == instance_id).group_by(VendorScore.vendor, VendorScore.criterion))}
        for vendor in result.vendors:
            assert vendor.per_criterion == [averages[(vendor.index, c)].quantize(Decimal("0.01")) for c in range(3)]
        data = store.read_process_data(session, instance_id)
    assert data["scored"] is True
    with sessions() as session:
        assert vendor_scoring.open_task(session, instance_id, "recommend").assignee == "zhang"
        listed = vendor_scoring.selections(session, "zhang")
        assert [(r["id"], r["title"], r["outcome"]) for r in listed] == [(instance_id, "Office printers", "running")]
        assert vendor_scoring.selections(session, "li") == []  # not involved yet: the pages' own rule


def test_bad_sheet_names_each_cell_and_saves_nothing(sessions):
    instance_id = _started(sessions)
    task_id = _score_task(sessions, instance_id, "wang")
    cells = _cells(WANG)
    cells.update({"v0c0": "", "v1c1": "101", "v2c2": "abc", "v2c1": "7.5"})
    with pytest.raises(vendor_scoring.ScoreSheetError) as refused:
        vendor_scoring.submit_scores(sessions, task_id, "wang", cells)
    assert sorted(refused.value.errors) == ["v0c0", "v1c1", "v2c1", "v2c2"]
    assert refused.value.errors["v1c1"][0].msgid == "A score is a whole number from 0 to %(max)s."
    with pytest.raises(NotPermittedError):  # hu may not fill in wang's sheet
        vendor_scoring.submit_scores(sessions, task_id, "hu", _cells(HU))
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(VendorScore)) == 0
        assert vendor_scoring.sheet_of(session, task_id, "wang")["may_act"] is True  # still open


def test_weights_not_totalling_100_are_refused_in_both_languages(sessions):
    data = {**START, "criteria": [{"name": "Price", "weight": 60}, {"name": "Quality", "weight": 30}]}
    with pytest.raises(FormInvalidError) as zh:
        runtime.start_instance(sessions, "vendor_selection", data, "zhang", lang="zh")
    assert zh.value.errors == {"criteria": ["各项权重合计必须等于 100。"]}
    with pytest.raises(FormInvalidError) as en:
        runtime.start_instance(sessions, "vendor_selection", data, "zhang", lang="en")
    assert en.value.errors == {"criteria": ["The weights must total 100."]}


def test_recommendation_names_a_candidate(sessions):
    instance_id = _started(sessions)
    for user, matrix in (("wang", WANG), ("hu", HU)):
        vendor_scoring.submit_scores(sessions, _score_task(sessions, instance_id, user), user, _cells(matrix))
    with sessions() as session:
        task_id = vendor_scoring.open_task(session, instance_id, "recommend").id
    with pytest.raises(InvalidTaskDataError):
        vendor_scoring.recommend(sessions, task_id, "zhang", "7")
    vendor_scoring.recommend(sessions, task_id, "zhang", "2", "best ranked")
    with sessions() as session:
        data = store.read_process_data(session, instance_id)
        assert (data["recommended"], data["recommend_reason"]) == ("Copyland", "best ranked")
        assert vendor_scoring.open_task(session, instance_id, "manager_approval").assignee == "li"
