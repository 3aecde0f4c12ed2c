"""Date helpers for date, datetime and date_range fields: strict ISO parsing, bounds and durations
in days or hours, optionally on workdays only (Mon-Fri minus holidays plus adjusted weekends, 调休).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal

UNITS = ("days", "hours")
MAX_WORKDAYS = 2500  # about ten years: a bound for add_workdays

_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?(?:Z|[+-][0-9]{2}:[0-9]{2})?"
)
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
_CENT = Decimal("0.01")

DateLike = date | datetime | str


def _parse_text(value: str) -> datetime | date:
    """Parse "YYYY-MM-DD" to a date, "YYYY-MM-DD[T ]HH:MM[:SS[.ffffff]][Z|±HH:MM]" to a datetime."""
    text = value.strip()
    try:
        if _DATE_RE.fullmatch(text):
            return date.fromisoformat(text)
        if _DATETIME_RE.fullmatch(text):
            return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a valid date or time: {value!r}") from None
    raise ValueError(f"expected an ISO date (YYYY-MM-DD) or date and time (YYYY-MM-DDTHH:MM), got {value!r}")


def _parse_bound(value: object) -> date | datetime:
    """A date or datetime object as given, or the parsed ISO string."""
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return _parse_text(value)
    raise ValueError(f"expected a date, a datetime or an ISO string, got {type(value).__name__}")


def parse_date(value: object) -> date:
    """Return the date of a date, a datetime or an ISO string ("2026-11-25", "2026-11-25T09:30").

    A time part is accepted and dropped (no time zone conversion). Raises ValueError otherwise.
    """
    parsed = _parse_bound(value)
    return parsed.date() if isinstance(parsed, datetime) else parsed


def parse_datetime(value: object, tz: tzinfo | None = None) -> datetime:
    """Return a datetime from a datetime, a date (midnight) or an ISO string.

    Strings: "2026-11-25", "2026-11-25T09:30", "2026-11-25 09:30:00", optional ".ffffff" and
    "Z"/"+08:00". With `tz`, a naive result is taken to be in `tz` and an aware one is converted
    to `tz`; without it the result is naive or aware as given. Raises ValueError otherwise.
    """
    parsed = _parse_bound(value)
    result = parsed if isinstance(parsed, datetime) else datetime.combine(parsed, time())
    if tz is None:
        return result
    return result.replace(tzinfo=tz) if result.tzinfo is None else result.astimezone(tz)


def resolve_date_bound(value: object, *, today: date | None = None) -> date:
    """Resolve a field's `min`/`max`: "today" (any case; `today` or the local date) or an ISO date."""
    if isinstance(value, str) and value.strip().lower() == "today":
        return today if today is not None else date.today()
    return parse_date(value)


def _date_set(values: Iterable[object], what: str) -> frozenset[date]:
    if isinstance(values, (str, date)):
        raise ValueError(f"{what} must be a list of dates, not a single value: {values!r}")
    return frozenset(parse_date(value) for value in values)


def _calendar(holidays: Iterable[object], extra_workdays: Iterable[object]) -> tuple[frozenset, frozenset]:
    """Parsed (holidays, extra workdays); a date may not be both."""
    off = _date_set(holidays, "holidays")
    extra = _date_set(extra_workdays, "extra_workdays")
    both = sorted(off & extra)
    if both:
        raise ValueError(f"date {both[0].isoformat()} is both a holiday and an extra workday")
    return off, extra


def _is_workday(day: date, off: frozenset, extra: frozenset) -> bool:
    return day in extra or (day.weekday() < 5 and day not in off)


def is_workday(day: DateLike, *, holidays: Iterable[object] = (), extra_workdays: Iterable[object] = ()) -> bool:
    """True for Mon-Fri not in `holidays`, and for dates in `extra_workdays` (adjusted working weekends)."""
    off, extra = _calendar(holidays, extra_workdays)
    return _is_workday(parse_date(day), off, extra)


def _count_workdays(first: date, last: date, off: frozenset, extra: frozenset) -> int:
    """Workdays in first..last inclusive, without walking the range day by day."""
    if last < first:
        return 0
    weeks, rest = divmod((last - first).days + 1, 7)
    count = weeks * 5 + sum(1 for i in range(rest) if (first.weekday() + i) % 7 < 5)
    count -= sum(1 for day in off if first <= day <= last and day.weekday() < 5)
    count += sum(1 for day in extra if first <= day <= last and day.weekday() >= 5)
    return count


def _align(first: date | datetime, last: date | datetime) -> tuple[date | datetime, date | datetime]:
    """Refuse mixed naive/aware datetimes; express an aware end in the start's time zone."""
    if not (isinstance(first, datetime) and isinstance(last, datetime)):
        return first, last
    if (first.tzinfo is None) != (last.tzinfo is None):
        raise ValueError("cannot mix naive and timezone-aware datetimes")
    return first, last if last.tzinfo is None else last.astimezone(first.tzinfo)


def _check_order(first: date | datetime, last: date | datetime) -> None:
    if isinstance(first, datetime) and isinstance(last, datetime):
        before = last < first
    else:
        before = parse_date(last) < parse_date(first)
    if before:
        raise ValueError("end is before start")


def _hour_bounds(first: date | datetime, last: date | datetime) -> tuple[datetime, datetime]:
    """Datetimes for an hours count: a start date is its midnight, an end date the midnight after it."""
    zone = next((v.tzinfo for v in (first, last) if isinstance(v, datetime) and v.tzinfo), None)
    begin = first if isinstance(first, datetime) else datetime.combine(first, time(), tzinfo=zone)
    finish = last if isinstance(last, datetime) else datetime.combine(last + _DAY, time(), tzinfo=zone)
    if begin.tzinfo is not None:
        finish = finish.astimezone(begin.tzinfo)
    return begin, finish


def _elapsed(begin: datetime, finish: datetime) -> timedelta:
    """Exact elapsed time; aware datetimes go through UTC so DST changes are counted."""
    if begin.tzinfo is None:
        return finish - begin
    return finish.astimezone(UTC) - begin.astimezone(UTC)


def _to_hours(delta: timedelta) -> Decimal:
    microseconds = delta // timedelta(microseconds=1)
    return (Decimal(microseconds) / Decimal(3_600_000_000)).quantize(_CENT, rounding=ROUND_HALF_UP)


def _workday_time(begin: datetime, finish: datetime, off: frozenset, extra: frozenset) -> timedelta:
    """Time of begin..finish that falls on workdays; whole days inside the range count 24 hours."""
    first, last = begin.date(), finish.date()
    if first == last:
        return _elapsed(begin, finish) if _is_workday(first, off, extra) else timedelta()
    total = timedelta()
    if _is_workday(first, off, extra):
        total += _elapsed(begin, datetime.combine(first + _DAY, time(), tzinfo=begin.tzinfo))
    if _is_workday(last, off, extra):
        total += _elapsed(datetime.combine(last, time(), tzinfo=finish.tzinfo), finish)
    return total + _DAY * _count_workdays(first + _DAY, last - _DAY, off, extra)


def _duration(
    first: date | datetime, last: date | datetime, unit: str, calendar: tuple[frozenset, frozenset] | None
) -> Decimal | int:
    if unit == "days":
        start_day, end_day = parse_date(first), parse_date(last)
        if calendar is None:
            return (end_day - start_day).days + 1
        return _count_workdays(start_day, end_day, *calendar)
    begin, finish = _hour_bounds(first, last)
    if calendar is None:
        return _to_hours(_elapsed(begin, finish))
    return _to_hours(_workday_time(begin, finish, *calendar))


def range_duration(
    start: DateLike,
    end: DateLike,
    *,
    unit: str = "days",
    workdays: bool = False,
    holidays: Iterable[object] = (),
    extra_workdays: Iterable[object] = (),
) -> Decimal | int:
    """Duration of a date range: an int number of days, or a Decimal number of hours (2 decimals).

    `start`/`end` are dates, datetimes or ISO strings. Days are inclusive calendar dates
    (2026-01-05..2026-01-05 is 1 day; a datetime counts by its date). Hours are exact elapsed time;
    a date counts from its midnight as start and up to the following midnight as end, so a single
    date is 24 hours. With `workdays`, only Mon-Fri not in `holidays` plus the dates in
    `extra_workdays` count (for hours: only the hours falling on those dates; whole days inside the
    range count 24 hours each). Aware datetimes use the start's time zone for day boundaries.
    Raises ValueError("end is before start"), and for a bad unit, value or mixed naive/aware times.
    """
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}: {unit!r}")
    first, last = _align(_parse_bound(start), _parse_bound(end))
    _check_order(first, last)
    calendar = _calendar(holidays, extra_workdays) if workdays else None
    try:
        return _duration(first, last, unit, calendar)
    except OverflowError:
        raise ValueError("date range is out of the supported range") from None


def add_workdays(start: DateLike, count: int, *, holidays: Iterable[object] = (),
                 extra_workdays: Iterable[object] = ()) -> date:
    """The `count`-th workday after the day of `start` (Mon-Fri minus holidays plus extra workdays).

    `count` >= 0; 0 is the start day itself. The start day never counts: 1 workday after Friday is
    Monday, after a Saturday or a holiday it is the first workday after it.
    """
    if not 0 <= count <= MAX_WORKDAYS:
        raise ValueError(f"workdays must be 0 to {MAX_WORKDAYS}, got {count}")
    off, extra = _calendar(holidays, extra_workdays)
    day = parse_date(start)
    left = count
    while left:
        day += _DAY
        if _is_workday(day, off, extra):
            left -= 1
    return day


# -- dates and times as text on a page -------------------------------------------------------------------

# One way per language to write a moment on a page. Both languages use the ISO order with a 24-hour clock:
# it is what date inputs, form values, dashboards and room bookings already show, and it reads the same
# to everyone (CLDR's short patterns gave "2026/12/5 04:32" in Chinese and "12/5/26, 4:32 AM" in English).
MOMENT_PATTERNS = {
    "zh": {"datetime": "%Y-%m-%d %H:%M", "date": "%Y-%m-%d", "time": "%H:%M"},
    "en": {"datetime": "%Y-%m-%d %H:%M", "date": "%Y-%m-%d", "time": "%H:%M"},
}


def _moment(value: object) -> date | datetime | None:
    if isinstance(value, (date, datetime)):
        return value
    text = str(value or "").strip()
    try:  # "2026-12-05" is a date (datetime.fromisoformat would make it midnight)
        return date.fromisoformat(text) if _DATE_RE.fullmatch(text) else datetime.fromisoformat(text)
    except ValueError:
        return None


def moment_text(value: object, lang: str = "zh", zone: tzinfo | None = None, *, naive_utc: bool = True,
                part: str | None = None) -> str:
    """A date or date-time as a page shows it in `lang` ("2026-12-05 04:32"), "" for none.

    A moment with an offset is shown in `zone` (the reader's); a naive one is taken as UTC when
    `naive_utc` (stored timestamps) and shown as written otherwise (a form's date-time value, a wall-clock
    time the person typed). A plain date stays a date. `part` = "date" or "time" shows only that part.
    Text that is no ISO date is returned unchanged."""
    moment = _moment(value)
    if moment is None:
        return "" if value in (None, "") else str(value)
    patterns = MOMENT_PATTERNS.get(lang, MOMENT_PATTERNS["zh"])
    if not isinstance(moment, datetime):
        return moment.strftime(patterns["date"])
    if moment.tzinfo is None and naive_utc:
        moment = moment.replace(tzinfo=UTC)
    if moment.tzinfo is not None and zone is not None:
        moment = moment.astimezone(zone)
    return moment.strftime(patterns[part or "datetime"])
