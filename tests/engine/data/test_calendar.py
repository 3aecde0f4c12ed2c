"""The workday calendar: filled from chinese-calendar, edited by admins, read by due dates,
reminders and escalations written in workdays (`P3WD`) and by the forms' workday counts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from engine import runtime
from engine.bpmn import workflow as wfa
from engine.data import calendar
from engine.data.models import Timer, WorkTask, utcnow
from engine.errors import InvalidPackageError, LiaisonError
from engine.packages import deployment as packages
from engine.work import queries
from tests.engine.conftest import flow, write_package

NOON = datetime(2026, 9, 30, 9, 0, tzinfo=wfa.company_zone())  # a Wednesday before National Day 2026


def test_loading_2026_puts_national_day_and_its_working_saturday_in_the_count(sessions):
    with sessions() as session, session.begin():
        result = calendar.load_year(session, 2026, "admin", utcnow())
    assert result.added > 30 and result.replaced == result.kept == 0
    with sessions() as session:
        days = calendar.year_days(session, 2026)
        cal = calendar.read(session)
    assert days[date(2026, 10, 1)].kind == "holiday" and days[date(2026, 10, 1)].name_zh == "国庆节"
    assert days[date(2026, 10, 10)].kind == "workday" and days[date(2026, 10, 10)].name_zh == "国庆节调休"
    assert days[date(2026, 10, 10)].source == "chinese-calendar"
    assert not any(d.kind == "workday" and d.day.weekday() < 5 for d in days.values())
    # Oct 1-7 are off; Thu 8 and Fri 9 are the 1st and 2nd workdays, Saturday the 10th (调休) the 3rd
    assert cal.add(NOON, 3) == datetime(2026, 10, 10, 9, 0, tzinfo=wfa.company_zone())
    assert calendar.WorkdayCalendar().add(NOON, 3) == datetime(2026, 10, 5, 9, 0, tzinfo=wfa.company_zone())
    assert date(2026, 10, 10) in cal.for_forms()["extra_workdays"]


def test_loading_again_keeps_what_an_admin_set_and_refuses_a_year_not_published(sessions):
    with sessions() as session, session.begin():
        calendar.load_year(session, 2026, None, utcnow())
        calendar.set_day(session, date(2026, 10, 1), "holiday", "boss", utcnow(), name_en="Company day")
        calendar.clear_day(session, date(2026, 10, 10))
    with sessions() as session, session.begin():
        again = calendar.load_year(session, 2026, None, utcnow())
    assert (again.added, again.kept) == (1, 1)  # the cleared Saturday is back; the admin's day is kept
    with sessions() as session:
        day = calendar.year_days(session, 2026)[date(2026, 10, 1)]
    assert (day.kind, day.name_en, day.source, day.updated_by) == ("holiday", "Company day", "admin", "boss")
    last = calendar.package_years().stop - 1
    with sessions() as session, pytest.raises(LiaisonError, match=f"covers 2004-{last}, not {last + 1}"):
        calendar.load_year(session, last + 1, None, utcnow())


def test_a_weekday_cannot_be_marked_a_working_weekend(sessions):
    with sessions() as session, pytest.raises(LiaisonError, match="is a weekday"):
        calendar.set_day(session, date(2026, 10, 9), "workday", "boss", utcnow())
    with sessions() as session, pytest.raises(LiaisonError, match="holiday or a workday"):
        calendar.set_day(session, date(2026, 10, 10), "maybe", "boss", utcnow())


@pytest.mark.parametrize("text, count", [("P3WD", 3), ("p1wd", 1), ("3 workdays", 3), ("1 workday", 1),
                                         ("2WD", 2), ("P2D", None), ("PT4H", None), ("3 days", None)])
def test_workday_units(text, count):
    assert wfa.workday_count(text) == count


WORKDAY_TASK = f"""
<bpmn:startEvent id="start"/>
<bpmn:userTask id="approve" liaison:assignee="boss" liaison:dueDate="P1WD" liaison:remindAfter="P2WD"
               liaison:escalateAfter="3 workdays"/>
<bpmn:endEvent id="done"/>
{flow("start", "approve")}{flow("approve", "done")}
"""


def test_due_date_and_reminders_in_workdays_skip_holidays_and_count_a_working_saturday(
        sessions, deploy_package, tmp_path):
    zone = wfa.company_zone()
    today = datetime.now(zone).date()
    saturday = today + timedelta(days=(5 - today.weekday()) % 7 or 7)  # the next Saturday after today
    with sessions() as session, session.begin():
        for offset in range(1, 15):  # every weekday of the next two weeks off, but that Saturday worked
            day = today + timedelta(days=offset)
            if day.weekday() < 5:
                calendar.set_day(session, day, "holiday", "admin", utcnow())
        calendar.set_day(session, saturday, "workday", "admin", utcnow())
    after = [today + timedelta(days=offset) for offset in range(15, 30)]
    first, second = [day for day in after if day.weekday() < 5][:2]

    deploy_package(write_package(tmp_path, "wd", {"wd": WORKDAY_TASK}))
    started = runtime.start_instance(sessions, "wd", {}, user="ann")
    with sessions() as session:
        [task] = session.scalars(select(WorkTask).where(WorkTask.instance_id == started.instance_id)).all()
        timers = {t.kind: t.due_at for t in session.scalars(select(Timer).where(
            Timer.instance_id == started.instance_id))}
    assert task.due_at.astimezone(zone).date() == saturday  # P1WD: the working Saturday
    assert timers["overdue"].astimezone(zone).date() == saturday
    assert timers["remind"].astimezone(zone).date() == first  # P2WD: past the two weeks off
    assert timers["escalate"].astimezone(zone).date() == second
    assert timers["remind"].tzinfo is not None and timers["remind"].astimezone(UTC)


def test_workday_units_are_checked_at_deploy(tmp_path):
    body = f"""
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="approve" liaison:remindAfter="P3XD"/>
    <bpmn:endEvent id="done"/>
    {flow("start", "approve")}{flow("approve", "done")}
    """
    with pytest.raises(InvalidPackageError, match="nor workdays such as P3WD"):
        packages.load_package(write_package(tmp_path, "bad", {"bad": body}))
    packages.load_package(write_package(tmp_path, "good", {"good": WORKDAY_TASK}))


LEAVE_FORM = {"fields": [{"name": "period", "type": "date_range", "workdays": True, "label": "Period"}]}


def test_a_start_forms_workday_count_uses_the_calendar(sessions, deploy_package, tmp_path):
    import yaml

    today = datetime.now(wfa.company_zone()).date()
    monday = today + timedelta(days=7 - today.weekday())  # next week's Monday
    with sessions() as session, session.begin():
        for off in (1, 2):  # Tuesday and Wednesday off, Saturday worked
            calendar.set_day(session, monday + timedelta(days=off), "holiday", "admin", utcnow())
        calendar.set_day(session, monday + timedelta(days=5), "workday", "admin", utcnow())
    body = f"""
    <bpmn:startEvent id="start" liaison:form="leave"/>
    <bpmn:userTask id="approve" liaison:assignee="boss"/>
    <bpmn:endEvent id="done"/>
    {flow("start", "approve")}{flow("approve", "done")}
    """
    folder = write_package(tmp_path, "leave", {"leave": body})
    (folder / "forms" / "leave.yaml").write_text(yaml.safe_dump(LEAVE_FORM))
    deploy_package(folder)
    period = {"start": monday.isoformat(), "end": (monday + timedelta(days=5)).isoformat()}
    started = runtime.start_instance(sessions, "leave", {"period": period}, user="ann")
    with sessions() as session:
        data = queries.instance_view(session, started.instance_id)["data"]
    assert data["period"]["duration"] == 4  # Mon, Thu, Fri and the working Saturday (5 without the calendar)
