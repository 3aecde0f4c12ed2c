"""`liaison calendar load / show / set / clear` on the workday calendar."""

from __future__ import annotations

import json

from engine.data import calendar
from tests.cli.test_cli import liaison


def test_calendar_load_show_set_and_clear(database_url):
    out = liaison("calendar", "load", "--year", "2026", url=database_url).stdout
    assert out.startswith("calendar 2026: 39 days added, 0 replaced")
    shown = json.loads(liaison("calendar", "show", "--year", "2026", "--json", url=database_url).stdout)
    by_day = {d["day"]: d for d in shown}
    assert by_day["2026-10-10"] == {"day": "2026-10-10", "kind": "workday", "name_zh": "国庆节调休",
                                    "name_en": "Working day (National Day)", "source": "chinese-calendar"}
    assert "2026-10-10 Sat  workday  国庆节调休" in liaison("calendar", "show", "--year", "2026",
                                                         url=database_url).stdout
    liaison("calendar", "set", "2026-12-05", "workday", "--name-zh", "年会调休", url=database_url)
    refused = liaison("calendar", "set", "2026-12-07", "workday", url=database_url, expect=1)
    assert "is a weekday" in refused.stderr
    again = json.loads(liaison("calendar", "load", "--year", "2026", "--json", url=database_url).stdout)
    assert again == {"year": 2026, "added": 0, "replaced": 39, "kept": 0}
    assert "cleared" in liaison("calendar", "clear", "2026-12-05", url=database_url).stdout
    assert "was not set" in liaison("calendar", "clear", "2026-12-05", url=database_url).stdout


def test_calendar_load_of_a_year_the_package_does_not_cover_says_so(database_url):
    year = calendar.package_years().stop  # the first year chinese-calendar has not published
    refused = liaison("calendar", "load", "--year", str(year), url=database_url, expect=1)
    assert f"not {year}" in refused.stderr and "upgrade the package" in refused.stderr
