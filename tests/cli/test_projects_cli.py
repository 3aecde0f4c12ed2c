"""`liaison projects take`: the project engine as the worker of topic `project_tasks`, from the command line."""

from __future__ import annotations

import json

from tests.cli.test_cli import liaison


def test_projects_take_reports_how_many_requests_it_took(database_url):
    out = liaison("projects", "take", "--json", url=database_url).stdout
    assert json.loads(out) == {"taken": 0}
    assert liaison("projects", "take", url=database_url).stdout.strip() == "project task requests taken: 0"
