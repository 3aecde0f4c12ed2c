"""WTForms fields for each Liaison field type.

Every field reads either browser form data (strings) or typed JSON values (from the API or CLI),
turns them into one cleaned, JSON-ready value in `data`, and checks it in `validate`. Messages come
from `forms.messages` in the form's language. Conditions and requiredness are decided by the form.

Just over 600 lines on purpose: one class per field type, all built on the same read/clean/validate
contract and chosen by `field_class` at the end; split by type, each module would import the others'
base classes for a few dozen lines each.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from wtforms import Field, FieldList, Form, FormField
from wtforms.utils import unset_value

from forms.messages import message

EMPTY = (None, "", [], {})
MAX_EXPONENT = 60   # of a submitted number, so "1e999999999" cannot become a huge int


class Invalid(ValueError):
    """A submitted value that cannot be read as the field's type; the message is shown to the user."""


class ValueField(Field):
    """Base of all Liaison fields: `spec` is the normalized schema dict of the field."""

    def __init__(self, label=None, validators=None, *, spec: dict, lang: str, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.spec = spec
        self.lang = lang
        self.raw: list = []

    # -- reading -------------------------------------------------------------------------------------
    def process_formdata(self, valuelist):
        self.raw = list(valuelist)
        try:
            self.data = self.parse(valuelist)
        except Invalid as exc:
            self.data = None
            raise ValueError(str(exc)) from None

    def parse(self, valuelist: list) -> Any:
        value = valuelist[0] if valuelist else None
        return self.parse_one(value)

    def parse_one(self, value) -> Any:
        return value

    def msg(self, key: str, **values) -> str:
        return message(self.lang, key, **values)

    def empty(self) -> bool:
        return self.data in EMPTY

    # -- checking ------------------------------------------------------------------------------------
    def validate(self, form, extra_validators=()):
        self.errors = list(self.process_errors)
        if self.errors:
            return False
        if self.empty():
            if form.is_required(self):
                self.errors.append(self.msg("required"))
            return not self.errors
        self.check(form)
        return not self.errors

    def check(self, form) -> None:
        """Append messages for a non-empty value to self.errors."""

    def prepare(self, form) -> None:
        """Before conditions and formulas run: give `data` its typed value where that needs the form."""


def _as_text(value, field: ValueField) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(field.msg("not_text"))
    value = value.strip()
    return value or None


class TextField(ValueField):
    def parse_one(self, value):
        return _as_text(value, self)

    def check(self, form):
        s, n = self.spec, len(self.data)
        if "min_length" in s and n < s["min_length"]:
            self.errors.append(self.msg("too_short", n=s["min_length"]))
        if "max_length" in s and n > s["max_length"]:
            self.errors.append(self.msg("too_long", n=s["max_length"]))
        if "pattern" in s and not re.fullmatch(s["pattern"], self.data):
            custom = s.get("pattern_message")
            self.errors.append(_label(custom, self.lang) if custom else self.msg("pattern"))


def _decimal(value, field: ValueField, key: str = "not_number") -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        raise Invalid(field.msg(key))
    if isinstance(value, int) and abs(value) >= 10 ** 40:
        raise Invalid(field.msg(key))  # repr() of a huge int is slow, or raises past 4300 digits
    text = value.strip().replace(",", "") if isinstance(value, str) else repr(value)
    if len(text) > 40:
        raise Invalid(field.msg(key))
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise Invalid(field.msg(key)) from None
    if not number.is_finite() or not -MAX_EXPONENT <= number.as_tuple().exponent <= MAX_EXPONENT:
        raise Invalid(field.msg(key))  # "1e999999999" would become an int of a billion digits
    return number


def _plain(number: Decimal):
    """A JSON-ready number: an int when whole, else a float."""
    return int(number) if number == number.to_integral_value() else float(number)


class NumberField(ValueField):
    def parse_one(self, value):
        number = _decimal(value, self)
        if number is None:
            return None
        if self.spec.get("integer") and number != number.to_integral_value():
            raise Invalid(self.msg("not_integer"))
        self.number = number
        return _plain(number)

    def check(self, form):
        s, number = self.spec, self.number
        if "min" in s and number < Decimal(str(s["min"])):
            self.errors.append(self.msg("min", n=s["min"]))
        if "max" in s and number > Decimal(str(s["max"])):
            self.errors.append(self.msg("max", n=s["max"]))
        if "step" in s:  # exact: Decimal arithmetic would round, or fail past 28 digits
            base = Fraction(Decimal(str(s.get("min", 0))))
            if (Fraction(number) - base) % Fraction(Decimal(str(s["step"]))) != 0:
                self.errors.append(self.msg("step", n=s["step"]))


class MoneyField(ValueField):
    def parse_one(self, value):
        from forms.money import parse_money
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, float):
            value = repr(value)
        try:
            amount = parse_money(value)
        except ValueError:
            raise Invalid(self.msg("not_money")) from None
        if amount.adjusted() >= 40:  # like numbers; a 5000-digit amount cannot even be written as JSON
            raise Invalid(self.msg("not_money"))
        self.amount = amount
        return _plain(amount)  # a JSON number, so gateway conditions can compare it; exact to 2 decimals

    def check(self, form):
        s, amount = self.spec, self.amount
        if amount < 0:
            self.errors.append(self.msg("negative"))
        elif "min" in s and amount < Decimal(str(s["min"])):
            self.errors.append(self.msg("min", n=s["min"]))
        if "max" in s and amount > Decimal(str(s["max"])):
            self.errors.append(self.msg("max", n=s["max"]))

    def capital(self) -> str:
        from forms.money import to_capital
        try:
            return to_capital(self.amount) if self.data is not None and not self.errors else ""
        except ValueError:
            return ""


def _bound(value, kind: str, today: date):
    if value == "today":
        return today if kind == "date" else datetime.combine(today, datetime.min.time())
    return date.fromisoformat(value) if kind == "date" else datetime.fromisoformat(value)


class DateField(ValueField):
    kind = "date"

    def parse_one(self, value):
        from forms.dates import parse_date, parse_datetime
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if self.kind == "date" and isinstance(value, str) and len(value.strip()) > 10:
            raise Invalid(self.msg("not_date"))  # a date field does not silently drop a time
        try:
            if self.kind == "date":
                self.moment = parse_date(value)
                return self.moment.isoformat()
            self.moment = parse_datetime(value).replace(tzinfo=None)
            return self.moment.isoformat(timespec="minutes" if self.moment.second == 0 else "seconds")
        except (ValueError, TypeError):
            raise Invalid(self.msg("not_date" if self.kind == "date" else "not_datetime")) from None

    def check(self, form):
        today = form.context.today
        for key, word, bad in (("min", "date_min", lambda m, b: m < b), ("max", "date_max", lambda m, b: m > b)):
            if key in self.spec:
                bound = _bound(self.spec[key], self.kind, today)
                if bad(self.moment, bound):  # a bound as people write it: 2026-01-01 08:00, not ...T08:00:00
                    shown = bound.isoformat() if self.kind == "date" else bound.isoformat(" ", "minutes")
                    self.errors.append(self.msg(word, n=shown))


class DateTimeField(DateField):
    kind = "datetime"


class DateRangeField(ValueField):
    """Posted as NAME-start and NAME-end; cleaned to {"start", "end", "duration"}."""

    def process(self, formdata, data=None, extra_filters=None):
        self.process_errors = []
        self.data = None
        if formdata is None:
            self.data = data if isinstance(data, dict) else None  # an earlier answer or the default
            return
        start = formdata.getlist(f"{self.name}-start")
        end = formdata.getlist(f"{self.name}-end")
        whole = formdata.getlist(self.name)
        if whole and isinstance(whole[0], dict):
            start, end = [whole[0].get("start")], [whole[0].get("end")]
        elif whole and whole[0] not in EMPTY:
            self.process_errors.append(self.msg("range_incomplete"))
            return
        self.raw = [start[0] if start else None, end[0] if end else None]
        try:
            self.data = self.parse(self.raw)
        except Invalid as exc:
            self.process_errors.append(str(exc))

    def parse(self, valuelist):
        from forms.dates import parse_date, parse_datetime
        start, end = valuelist
        blank = [v in EMPTY for v in (start, end)]
        if all(blank):
            return None
        if any(blank):
            raise Invalid(self.msg("range_incomplete"))
        read = parse_datetime if self.spec["with_time"] else parse_date
        try:
            self.start, self.end = read(start), read(end)
        except (ValueError, TypeError):
            raise Invalid(self.msg("not_datetime" if self.spec["with_time"] else "not_date")) from None
        if self.spec["with_time"]:
            self.start, self.end = self.start.replace(tzinfo=None), self.end.replace(tzinfo=None)
        if self.end < self.start:
            raise Invalid(self.msg("range_order"))
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "duration": None}

    def prepare(self, form):
        """The duration is known before conditions run, so `trip['duration'] > 3` can be used."""
        if isinstance(self.data, dict) and hasattr(self, "start") and not self.process_errors:
            with contextlib.suppress(ValueError, ArithmeticError):
                self.data["duration"] = _plain(Decimal(str(self._duration(form))))

    def _duration(self, form):
        from forms.dates import range_duration
        calendar = form.context.calendar or {}
        return range_duration(self.start, self.end, unit=self.spec["unit"], workdays=self.spec["workdays"],
                              holidays=calendar.get("holidays", ()),
                              extra_workdays=calendar.get("extra_workdays", ()))

    def check(self, form):
        from forms.dates import range_duration
        calendar = form.context.calendar or {}
        try:
            duration = range_duration(self.start, self.end, unit=self.spec["unit"],
                                      workdays=self.spec["workdays"],
                                      holidays=calendar.get("holidays", ()),
                                      extra_workdays=calendar.get("extra_workdays", ()))
        except ValueError as exc:
            self.errors.append(str(exc))
            return
        self.data["duration"] = _plain(Decimal(str(duration)))
        unit = self.msg(self.spec["unit"])
        if "min_duration" in self.spec and duration < Decimal(str(self.spec["min_duration"])):
            self.errors.append(self.msg("duration_min", n=self.spec["min_duration"], unit=unit))
        if "max_duration" in self.spec and duration > Decimal(str(self.spec["max_duration"])):
            self.errors.append(self.msg("duration_max", n=self.spec["max_duration"], unit=unit))


def option_key(value) -> str:
    """The string an option value is posted as: true/false for booleans, str() otherwise."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ChoiceField(ValueField):
    """select, radio, checkboxes, and choice quiz questions; options static or from a provider."""

    multiple = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.multiple = self.spec["type"] == "checkboxes" or bool(self.spec.get("multiple")) or \
            self.spec.get("kind") == "multiple"

    def options(self, form) -> list[dict]:
        if "provider" in self.spec:
            return form.context.options(self.spec["provider"], self.spec)
        return self.spec.get("options", [])

    def parse(self, valuelist):
        values = [v for v in valuelist if v not in EMPTY]
        if len(values) == 1 and isinstance(values[0], list):
            values = [v for v in values[0] if v not in EMPTY]
        if not self.multiple:
            if len(values) > 1:
                raise Invalid(self.msg("one_value"))
            return values[0] if values else None
        return values

    def prepare(self, form):
        """Posted strings become the option values ("3" -> 3, "true" -> True) before conditions see them."""
        if self.data in EMPTY or self.process_errors:
            return
        options = self.options(form)
        if not options:
            return
        if self.multiple and isinstance(self.data, list):
            self.data = [self.resolve(v, options)[1] if _json_scalar(v) else v for v in self.data]
        elif _json_scalar(self.data):
            self.data = self.resolve(self.data, options)[1]

    def resolve(self, value, options):
        for option in options:
            candidate = option["value"]
            if isinstance(value, str) and not isinstance(candidate, str) and option_key(candidate) == value:
                return True, candidate
            if type(value) is type(candidate) and value == candidate:
                return True, candidate
            if isinstance(value, (int, float)) and not isinstance(value, bool) and \
                    isinstance(candidate, (int, float)) and not isinstance(candidate, bool) and value == candidate:
                return True, candidate
        return False, value

    def check(self, form):
        options = self.options(form)
        open_choice = options is None  # a provider that cannot list its values accepts any string
        values = self.data if self.multiple else [self.data]
        cleaned = []
        for value in values:
            if isinstance(value, (list, dict)):
                self.errors.append(self.msg("choice", value=_shown(value, 40)))
                continue
            if open_choice:
                if not _json_scalar(value):  # NaN, Infinity: not JSON, so not a value anyone could list
                    self.errors.append(self.msg("choice", value=_shown(value)))
                cleaned.append(value)
                continue
            found, canonical = self.resolve(value, options)
            if not found:
                self.errors.append(self.msg("choice", value=_shown(value)))
            cleaned.append(canonical)
        if self.errors:
            return
        self.data = _unique(cleaned) if self.multiple else cleaned[0]
        if self.multiple:
            cleaned = self.data  # ["a", "a"] is one choice, not two toward `min_choices`
            if "min_choices" in self.spec and len(cleaned) < self.spec["min_choices"]:
                self.errors.append(self.msg("choices_min", n=self.spec["min_choices"]))
            if "max_choices" in self.spec and len(cleaned) > self.spec["max_choices"]:
                self.errors.append(self.msg("choices_max", n=self.spec["max_choices"]))


def _shown(value, limit: int = 60) -> str:
    """A submitted value in a message, cut short; never fails (an int past 4300 digits has no str())."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str) if isinstance(value, (list, dict)) else str(value)
    except (ValueError, TypeError, RecursionError):
        text = "..."
    return text[:limit]


def _json_scalar(value) -> bool:
    """A string, a bool, or a finite number within the float range (what JSON and JavaScript can hold)."""
    if isinstance(value, (str, bool)):
        return True
    return isinstance(value, (int, float)) and abs(value) <= sys.float_info.max


def _unique(values: list) -> list:
    """`values` without repeats, in order; 1, 1.0 and True are told apart as JSON does."""
    seen: set[str] = set()
    unique = []
    for value in values:
        key = json.dumps(value, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            unique.append(value)
    return unique


class ReferenceField(ValueField):
    """user, department and related approval: ids checked through the context's providers."""

    def parse(self, valuelist):
        values = [v for v in valuelist if v not in EMPTY]
        if len(values) == 1 and isinstance(values[0], list):
            values = [v for v in values[0] if v not in EMPTY]
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (str, int)) or (isinstance(v, int) and abs(v) >= 10 ** 40):
                raise Invalid(self.msg("not_text"))  # (an int past 4300 digits has no str())
        values = [text for text in (str(v).strip() for v in values) if text]  # "  " is no id
        if self.spec.get("multiple"):
            return values
        if len(values) > 1:
            raise Invalid(self.msg("one_value"))
        return values[0] if values else None

    def check(self, form):
        kind = self.spec["type"]
        key = {"user": "no_user", "department": "no_department", "related": "no_instance"}[kind]
        for value in (self.data if isinstance(self.data, list) else [self.data]):
            if not form.context.exists(kind, value, self.spec):
                self.errors.append(self.msg(key, value=value[:60]))


class RatingField(ValueField):
    def parse_one(self, value):
        try:
            number = _decimal(value, self)
        except Invalid:
            raise Invalid(self.msg("rating", n=self.spec["max"])) from None
        if number is None:
            return None
        if number != number.to_integral_value():
            raise Invalid(self.msg("rating", n=self.spec["max"]))
        return int(number)

    def check(self, form):
        if not 1 <= self.data <= self.spec["max"]:
            self.errors.append(self.msg("rating", n=self.spec["max"]))


class FileField(ValueField):
    """A list of stored-file references {id, name, size, sha256, content_type} (uploaded beforehand)."""

    def parse(self, valuelist):
        refs = []
        for value in valuelist:
            if value in EMPTY:
                continue
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    raise Invalid(self.msg("file_bad")) from None
            items = value if isinstance(value, list) else [value]
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("id"), str) \
                        or not isinstance(item.get("size"), int) or isinstance(item.get("size"), bool) \
                        or not isinstance(item.get("sha256"), str):
                    raise Invalid(self.msg("file_bad"))
                refs.append({k: item.get(k) for k in ("id", "name", "size", "sha256", "content_type")})
        return refs

    def check(self, form):
        from forms.files import accepts, human_size
        s = self.spec
        if len(self.data) > s["max_files"]:
            self.errors.append(self.msg("files_max", n=s["max_files"]))
        for ref in self.data:
            name = str(ref.get("name") or ref["id"])[:80]
            if ref["size"] > s["max_size"]:
                self.errors.append(self.msg("file_size", name=name, n=human_size(s["max_size"])))
            if s["accept"] and not accepts(s["accept"], name, ref.get("content_type")):
                self.errors.append(self.msg("file_type", name=name, n=", ".join(s["accept"])))
            store = form.context.files
            if store is not None:
                problem = store.verify(ref)
                if problem:
                    self.errors.append(self.msg(problem, name=name))


class QuizTextField(TextField):
    """A short-answer quiz question."""


class QuizBoolField(ChoiceField):
    def parse(self, valuelist):
        value = super().parse(valuelist)
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("true", "false"):
                return lowered == "true"
            raise Invalid(self.msg("not_bool"))
        if value is not None and not isinstance(value, bool):
            raise Invalid(self.msg("not_bool"))
        return value


class RowForm(Form):
    """One row of a detail table; subclasses get the columns as fields."""

    def is_required(self, field) -> bool:
        return self._table_form.is_required(field, row=self)

    @property
    def context(self):
        return self._table_form.context


class TableField(FieldList):
    """A detail table: rows posted as NAME-0-COLUMN, NAME-1-COLUMN...; cleaned to a list of dicts."""

    def __init__(self, unbound_field, label=None, *, spec: dict, lang: str, readonly: bool = False, **kwargs):
        super().__init__(unbound_field, label, min_entries=0, max_entries=spec["max_rows"] + 1, **kwargs)
        self.spec = spec
        self.lang = lang
        self.readonly = readonly

    def process(self, formdata, data=None, extra_filters=None):
        self.process_errors = []
        if self.readonly:  # shown from the stored rows whatever was posted
            rows = data if isinstance(data, list) else []
            super().process(None, [row if isinstance(row, dict) else {} for row in rows])
            return
        whole = formdata.getlist(self.name) if formdata is not None else []
        if any(value not in EMPTY for value in whole):  # null, "" and [] are an empty table
            self.process_errors.append(message(self.lang, "not_rows"))
        if formdata is not None or not isinstance(data, list):
            # A submission's rows come from the submission alone (WTForms would take the initial rows when
            # the submission is empty, and then read their cells from it as blanks); a non-list is no rows.
            data = []
        super().process(formdata, [row if isinstance(row, dict) else {} for row in data])

    def rows(self) -> list[RowForm]:
        return [entry.form for entry in self.entries]

    def validate(self, form, extra_validators=()):
        self.errors = list(self.process_errors)
        if self.errors:
            return False
        count = len(self.entries)
        spec = self.spec
        if count == 0 and form.is_required(self):
            self.errors.append(message(self.lang, "required"))
        elif count < spec["min_rows"] and (count or form.is_required(self)):
            self.errors.append(message(self.lang, "rows_min", n=spec["min_rows"]))
        if count > spec["max_rows"]:
            self.errors.append(message(self.lang, "rows_max", n=spec["max_rows"]))
        self.row_errors: dict[str, list[str]] = {}
        self.hidden_cells: set[tuple[int, str]] = set()
        for index, row in enumerate(self.rows()):
            for column in row:
                if not form.row_field_visible(self, row, column):
                    self.hidden_cells.add((index, column.short_name))
                    continue
                if not column.validate(row):
                    self.row_errors[f"{index}.{column.short_name}"] = column.errors
        return not self.errors and not self.row_errors

    @property
    def value(self) -> list[dict]:
        return [{c.short_name: c.data for c in row} for row in self.rows()]

    def cleaned_value(self) -> list[dict]:
        """The rows without the cells that `visible_if` hid when the table was validated."""
        hidden = getattr(self, "hidden_cells", set())
        return [{name: cell for name, cell in row.items() if (index, name) not in hidden}
                for index, row in enumerate(self.value)]


class ComputedField(ValueField):
    """serial and formula, and read-only fields: shown, never read from the submission."""

    def process(self, formdata, data=None, extra_filters=None):
        self.process_errors = []
        self.data = None if data is unset_value else data

    def validate(self, form, extra_validators=()):
        self.errors = []
        return True


class NoticeField(ComputedField):
    """A read-only markdown notice; holds no value."""


FIELD_CLASSES: dict[str, type] = {
    "text": TextField, "textarea": TextField, "number": NumberField, "money": MoneyField,
    "date": DateField, "datetime": DateTimeField, "date_range": DateRangeField,
    "select": ChoiceField, "radio": ChoiceField, "checkboxes": ChoiceField,
    "user": ReferenceField, "department": ReferenceField, "related": ReferenceField,
    "file": FileField, "rating": RatingField, "notice": NoticeField,
    "serial": ComputedField, "formula": ComputedField,
}


def field_class(spec: dict) -> type:
    if spec["type"] == "quiz":
        return {"short_answer": QuizTextField, "true_false": QuizBoolField}.get(spec["kind"], ChoiceField)
    return FIELD_CLASSES[spec["type"]]


def _label(label, lang: str) -> str:
    if isinstance(label, dict):
        return label.get(lang[:2]) or label.get("en") or label.get("zh") or ""
    return "" if label is None else str(label)


__all__ = ["FIELD_CLASSES", "FormField", "TableField", "ValueField", "field_class", "option_key"]
