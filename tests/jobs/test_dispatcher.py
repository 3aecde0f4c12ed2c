"""The Dispatcher's rules with stand-in claim functions: capacity, a failing submit, the lease setting."""

from __future__ import annotations

import logging
import types
from datetime import timedelta

import pytest

from engine.jobs import dispatch as jobs


class FakeRows:
    """A claimable set of ids: `claim_due` hands out up to `limit` of them once."""

    def __init__(self, ids):
        self.ids = list(ids)
        self.calls = []

    def claim_due(self, sessions, now=None, limit=100, lease=timedelta(seconds=60)):
        self.calls.append((limit, lease))
        taken, self.ids = self.ids[:limit], self.ids[limit:]
        return taken


@pytest.fixture
def fake_modules(monkeypatch):
    timers, delivery = FakeRows([1, 2, 3]), FakeRows([10, 11])
    modules = {"timers": types.SimpleNamespace(claim_due=timers.claim_due),
               "delivery": types.SimpleNamespace(claim_due=delivery.claim_due),
               "notices": types.SimpleNamespace(claim_due=FakeRows([]).claim_due),  # no notice due
               "messages": None}
    monkeypatch.setattr(jobs, "_module", lambda name: modules[name])
    return timers, delivery


def test_tick_submits_every_due_id_of_both_kinds(fake_modules):
    submitted = []
    dispatcher = jobs.Dispatcher(None, lambda kind, item: submitted.append((kind, item)),
                                 lease=timedelta(seconds=5))
    assert dispatcher.tick() == 5
    assert sorted(submitted) == [("delivery", 10), ("delivery", 11), ("timer", 1), ("timer", 2), ("timer", 3)]
    assert fake_modules[0].calls[0][1] == timedelta(seconds=5)
    assert dispatcher.tick() == 0


def test_capacity_limits_what_is_claimed(fake_modules):
    submitted = []
    dispatcher = jobs.Dispatcher(None, lambda kind, item: submitted.append(item), capacity=lambda: 2)
    assert dispatcher.tick() == 2
    assert dispatcher.tick() == 2
    assert dispatcher.tick() == 1
    assert sorted(submitted) == [1, 2, 3, 10, 11]


def test_a_failing_submit_stops_the_round_and_is_logged_once(fake_modules, caplog):
    def down(kind, item):
        raise ConnectionError("queue down")

    dispatcher = jobs.Dispatcher(None, down, batch=1)
    with caplog.at_level(logging.WARNING, logger="liaison.jobs"):
        assert dispatcher.tick() == 0
        assert dispatcher.tick() == 0
    assert dispatcher.queue_down
    assert sum("job queue unavailable" in r.getMessage() for r in caplog.records) == 1
    # Nothing was lost: the claimed rows come back after their lease; here the fakes just hand out the rest.
    submitted = []
    dispatcher.submit = lambda kind, item: submitted.append(item)
    with caplog.at_level(logging.WARNING, logger="liaison.jobs"):
        assert dispatcher.tick() > 0
    assert not dispatcher.queue_down
    assert any("reachable again" in r.getMessage() for r in caplog.records)


def test_capacity_raising_claims_nothing(fake_modules):
    def capacity():
        raise ConnectionError("queue down")

    dispatcher = jobs.Dispatcher(None, lambda kind, item: None, capacity=capacity)
    assert dispatcher.tick() == 0
    assert fake_modules[0].calls == [] and fake_modules[1].calls == []


def test_lease_from_environment():
    assert jobs.lease_from_env({}) == timedelta(seconds=60)
    assert jobs.lease_from_env({"LIAISON_JOB_LEASE_SECONDS": "2.5"}) == timedelta(seconds=2.5)
    assert jobs.lease_from_env({"LIAISON_JOB_LEASE_SECONDS": "soon"}) == timedelta(seconds=60)
    assert jobs.lease_from_env({"LIAISON_JOB_LEASE_SECONDS": "0"}) == timedelta(seconds=60)


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        jobs.execute(None, "mystery", 1)


def test_worker_without_redis_url_exits_2_and_points_at_run(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LIAISON_REDIS_URL", raising=False)
    result = CliRunner().invoke(main, ["--database-url", f"sqlite:///{tmp_path / 'x.db'}", "worker"])
    assert result.exit_code == 2
    assert "LIAISON_REDIS_URL" in result.output and "liaison run" in result.output
