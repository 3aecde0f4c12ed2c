"""`liaison analytics refresh`: the dashboards' summary brought up to date by hand, the same function the
dispatcher's minute sweep runs."""

from __future__ import annotations

import json

from engine.data.analytics_models import AnalyticsInstance
from engine.work import analytics
from tests.cli.test_cli import liaison
from tests.engine.work.analytics_history import build


def test_refresh_from_the_command_line_then_nothing_new(sessions, database_url):
    build(sessions)
    assert json.loads(liaison("analytics", "refresh", "--json", url=database_url).stdout) == {"rebuilt": 5}
    assert liaison("analytics", "refresh", url=database_url).stdout.strip() == "0 instances rebuilt"
    assert analytics.sweep(sessions) == 0
    with sessions() as session:
        assert session.query(AnalyticsInstance).count() == 5
