"""The workday calendar page: super admins only, a year by month in zh and en, days marked and
unmarked through CSRF-checked posts, the year loaded from chinese-calendar."""

from __future__ import annotations

from datetime import date

import pytest

from engine.data import calendar

from .conftest import post, sign_in


@pytest.fixture
def root(app, people):
    client = app.test_client()
    assert sign_in(client, "root").status_code == 302
    client.get("/admin/?lang=en")
    return client


def _days(sessions, year=2026):
    with sessions() as session:
        return calendar.year_days(session, year)


@pytest.mark.parametrize("username", ["zhang", "li"])
def test_others_get_403(app, people, username):
    client = app.test_client()
    sign_in(client, username)
    assert client.get("/admin/calendar/").status_code == 403
    assert post(client, "/admin/calendar/day", {"day": "2026-12-05", "kind": "workday"}).status_code == 403
    assert post(client, "/admin/calendar/load", {"year": "2026"}).status_code == 403


def test_load_mark_and_unmark_days(root, sessions):
    page = root.get("/admin/calendar/?year=2026").get_data(as_text=True)
    assert "Workday calendar 2026" in page and page.count('class="cal-month"') == 12
    answer = post(root, "/admin/calendar/load", {"year": "2026"})
    assert answer.status_code == 303
    page = root.get(answer.headers["Location"]).get_data(as_text=True)
    assert "2026 loaded: 39 days added, 0 replaced, 0 set by an admin kept." in page
    assert 'data-day="2026-10-10" data-kind="workday"' in page and 'title="Working day (National Day)"' in page
    assert 'data-day="2026-10-01" data-kind="holiday"' in page

    assert post(root, "/admin/calendar/day", {"day": "2026-12-05", "kind": "workday", "name_zh": "年会调休",
                                              "name_en": "Year-end party"}).status_code == 303
    assert post(root, "/admin/calendar/day", {"day": "2026-10-10", "kind": "normal"}).status_code == 303
    refused = post(root, "/admin/calendar/day", {"day": "2026-12-07", "kind": "workday"})
    assert "is a weekday, a workday already" in root.get(refused.headers["Location"]).get_data(as_text=True)
    days = _days(sessions)
    assert (days[date(2026, 12, 5)].kind, days[date(2026, 12, 5)].updated_by) == ("workday", "root")
    assert date(2026, 10, 10) not in days and date(2026, 12, 7) not in days

    zh = root.get("/admin/calendar/?year=2026&day=2026-12-05&lang=zh").get_data(as_text=True)
    assert "工作日历" in zh and 'title="年会调休"' in zh and 'value="年会调休"' in zh


def test_a_post_without_the_csrf_token_is_refused(root, sessions):
    assert root.post("/admin/calendar/day", data={"day": "2026-12-05", "kind": "workday"}).status_code == 400
    assert date(2026, 12, 5) not in _days(sessions)


def test_a_year_the_package_does_not_cover_is_refused_with_a_message(root):
    year = calendar.package_years().stop
    page = root.get(f"/admin/calendar/?year={year}").get_data(as_text=True)
    assert "disabled" in page
    answer = post(root, "/admin/calendar/load", {"year": str(year)})
    assert f"The official holidays of {year} are not published" in root.get(
        answer.headers["Location"]).get_data(as_text=True)


def test_bad_input_is_a_redirect_not_a_500(root):
    assert root.get("/admin/calendar/?year=99999999999999999999").status_code == 200
    answer = post(root, "/admin/calendar/day", {"day": "0001-13-40", "kind": "holiday"})
    assert answer.status_code == 303
    assert "Enter a date as YYYY-MM-DD." in root.get(answer.headers["Location"]).get_data(as_text=True)
