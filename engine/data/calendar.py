"""The company's workday calendar: public holidays and adjusted working weekends (调休).

Monday to Friday are workdays unless a `calendar_day` row of kind `holiday` says otherwise; a
Saturday or Sunday is a workday when a row of kind `workday` says so. Rows come from the
`chinese-calendar` package (the State Council's yearly notice: `load_year`, run by
`liaison calendar load --year N` and the admin page) and from super admins (`set_day`,
`clear_day`); a day an admin set is kept when the year is loaded again.

It lives in `engine.data` because both `engine.bpmn` (due dates in workdays, `P3WD`) and
`engine.runtime` (reminders, escalations and timeouts in workdays) read it, and `data` is the
highest layer both may import. The arithmetic itself is `forms.dates.add_workdays`, the one the
forms' workday counts use, so a form and a due date agree on what a workday is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import delete, select

from engine.data.models import CalendarDay
from engine.errors import LiaisonError
from forms.dates import add_workdays

HOLIDAY = "holiday"
WORKDAY = "workday"
KINDS = (HOLIDAY, WORKDAY)
SOURCE_PACKAGE = "chinese-calendar"
SOURCE_ADMIN = "admin"
_TABLE = CalendarDay.__table__

# chinese-calendar names its holidays in English; the Chinese names of the official notice.
HOLIDAY_NAMES_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


@dataclass(frozen=True)
class WorkdayCalendar:
    """Holidays and extra (weekend) workdays: what `forms.dates` takes, and workday arithmetic."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    def add(self, start: datetime, count: int) -> datetime:
        """The same time of day (in `start`'s zone) on the `count`-th workday after `start`'s day."""
        day = add_workdays(start.date(), count, holidays=self.holidays, extra_workdays=self.workdays)
        return start + timedelta(days=(day - start.date()).days)

    def for_forms(self) -> dict:
        """The `calendar` of a `forms.build.FormContext`."""
        return {"holidays": sorted(self.holidays), "extra_workdays": sorted(self.workdays)}


def read(conn, first: date | None = None, last: date | None = None) -> WorkdayCalendar:
    """The calendar's rows from `first` to `last` (each optional) as a WorkdayCalendar.

    `conn` is a Connection or a Session (Core select on both)."""
    query = select(_TABLE.c.day, _TABLE.c.kind)
    if first is not None:
        query = query.where(_TABLE.c.day >= first)
    if last is not None:
        query = query.where(_TABLE.c.day <= last)
    rows = conn.execute(query).all()
    return WorkdayCalendar(frozenset(r.day for r in rows if r.kind == HOLIDAY),
                           frozenset(r.day for r in rows if r.kind == WORKDAY))


@dataclass
class LazyCalendar:
    """A calendar read from `conn` on first use only (a step with no workday duration reads nothing).

    It reads the rows from a year before the start on: every workday count of a step starts now."""

    conn: object
    _loaded: WorkdayCalendar | None = field(default=None, repr=False)

    def add(self, start: datetime, count: int) -> datetime:
        if self._loaded is None:
            self._loaded = read(self.conn, first=start.date() - timedelta(days=366))
        return self._loaded.add(start, count)


def form_calendar(conn, today: date) -> dict:
    """What a form's workday counts need: the rows of last year, this year and next year."""
    return read(conn, date(today.year - 1, 1, 1), date(today.year + 1, 12, 31)).for_forms()


class FormCalendar(Mapping):
    """A form's `calendar` (`forms.build.FormContext`) read on first use only: a form without a
    workday count reads nothing. Built on a connection (`of_connection`, inside an engine step)
    or on a session factory (`of_sessions`, a page that validates or renders a form)."""

    def __init__(self, read_calendar: Callable[[], dict]):
        self._read = read_calendar
        self._value: dict | None = None

    @classmethod
    def of_connection(cls, conn, today: date) -> FormCalendar:
        return cls(lambda: form_calendar(conn, today))

    @classmethod
    def of_sessions(cls, sessions, today: date) -> FormCalendar:
        def read_once() -> dict:
            with sessions() as session:
                return form_calendar(session, today)
        return cls(read_once)

    def _loaded(self) -> dict:
        if self._value is None:
            self._value = self._read()
        return self._value

    def __getitem__(self, key: str):
        return self._loaded()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())

    def __bool__(self) -> bool:  # `calendar or {}` must not read it
        return True


@dataclass(frozen=True)
class Day:
    """One row of the calendar, as pages and the CLI show it."""

    day: date
    kind: str
    name_zh: str | None
    name_en: str | None
    source: str
    updated_by: str | None


def year_days(conn, year: int) -> dict[date, Day]:
    """The rows of `year`, by day."""
    rows = conn.execute(select(_TABLE).where(_TABLE.c.day >= date(year, 1, 1), _TABLE.c.day <= date(year, 12, 31))
                        .order_by(_TABLE.c.day)).all()
    return {r.day: Day(r.day, r.kind, r.name_zh, r.name_en, r.source, r.updated_by) for r in rows}


def package_years() -> range:
    """The years the installed `chinese-calendar` publishes (it is updated after each year's notice)."""
    import chinese_calendar

    years = {day.year for day in chinese_calendar.holidays}
    return range(min(years), max(years) + 1)


def official_days(year: int) -> list[Day]:
    """The holidays and working weekends of `year` from `chinese-calendar`; LiaisonError when the
    installed package does not cover that year yet."""
    import importlib.metadata

    import chinese_calendar

    years = package_years()
    if year not in years:
        version = importlib.metadata.version("chinese-calendar")
        raise LiaisonError(
            f"chinese-calendar {version} covers {years.start}-{years.stop - 1}, not {year}: the State Council "
            f"publishes a year's holidays late in the year before; upgrade the package "
            f"(pip install -U chinese-calendar) or mark the days on the calendar page")
    days = []
    for kind, table in ((HOLIDAY, chinese_calendar.holidays), (WORKDAY, chinese_calendar.workdays)):
        for day, name in table.items():
            if day.year != year or (kind == WORKDAY and day.weekday() < 5):
                continue  # the package lists every weekday as a workday; only working weekends matter
            zh = HOLIDAY_NAMES_ZH.get(name, name)
            names = (zh, name) if kind == HOLIDAY else (f"{zh}调休", f"Working day ({name})")
            days.append(Day(day, kind, *names, SOURCE_PACKAGE, None))
    return sorted(days, key=lambda d: d.day)


@dataclass(frozen=True)
class LoadResult:
    year: int
    added: int
    replaced: int
    kept: int  # days an admin set, left as they are

    def __str__(self) -> str:
        return (f"calendar {self.year}: {self.added} days added, {self.replaced} replaced, "
                f"{self.kept} set by an admin kept")


def load_year(session, year: int, actor: str | None, now: datetime) -> LoadResult:
    """Fill `year` from `chinese-calendar`: its days are written, days an admin set are kept."""
    official = official_days(year)
    existing = year_days(session, year)
    added = replaced = kept = 0
    for entry in official:
        row = existing.get(entry.day)
        if row is not None and row.source == SOURCE_ADMIN:
            kept += 1
            continue
        if row is None:
            added += 1
        else:
            replaced += 1
            session.execute(delete(_TABLE).where(_TABLE.c.day == entry.day))
        session.execute(_TABLE.insert().values(day=entry.day, kind=entry.kind, name_zh=entry.name_zh,
                                               name_en=entry.name_en, source=SOURCE_PACKAGE,
                                               updated_by=actor, updated_at=now))
    return LoadResult(year, added, replaced, kept)


def set_day(session, day: date, kind: str, actor: str, now: datetime, *, name_zh: str | None = None,
            name_en: str | None = None) -> Day:
    """Mark `day` a holiday (a day off) or a workday (a weekend day worked, 调休); kept on reload."""
    if kind not in KINDS:
        raise LiaisonError(f"a calendar day is a {HOLIDAY} or a {WORKDAY}, not {kind!r}")
    if kind == WORKDAY and day.weekday() < 5:
        raise LiaisonError(f"{day.isoformat()} is a weekday, a workday already: only a Saturday or Sunday "
                           "can be marked a working weekend")
    name_zh = (name_zh or "").strip()[:100] or None
    name_en = (name_en or "").strip()[:100] or None
    session.execute(delete(_TABLE).where(_TABLE.c.day == day))
    session.execute(_TABLE.insert().values(day=day, kind=kind, name_zh=name_zh, name_en=name_en,
                                           source=SOURCE_ADMIN, updated_by=actor, updated_at=now))
    return Day(day, kind, name_zh, name_en, SOURCE_ADMIN, actor)


def clear_day(session, day: date) -> bool:
    """Make `day` what its weekday says again; False when it had no row."""
    return session.execute(delete(_TABLE).where(_TABLE.c.day == day)).rowcount > 0
