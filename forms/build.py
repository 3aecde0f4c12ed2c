"""One definition, three uses: a schema builds a WTForms class (cached), which renders and validates.

`validate_data` checks a plain dict (API, CLI, engine) and `validate_formdata` a browser post, both with
the same form class, returning a `ValidationResult` whose `errors` map field paths to messages
("amount", "items.0.price"). Hidden fields are not validated; a value for an unknown field is refused.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Protocol

from wtforms import Form, FormField

from forms.expr import ExpressionError, evaluate, truthy
from forms.fields import ComputedField, MoneyField, RowForm, TableField, field_class
from forms.messages import message
from forms.schema import COMPUTED_TYPES, DISPLAY_TYPES, FormSchema, formula_order, label_text, load_schema

_MISSING = object()


class Providers(Protocol):
    """What the form asks the rest of the system: option lists and whether an id exists and is visible."""

    def options(self, provider: str, spec: dict, context: FormContext) -> list[dict] | None: ...

    def exists(self, kind: str, value: str, spec: dict, context: FormContext) -> bool: ...


@dataclass
class StaticProviders:
    """Providers from fixed lists (tests, CLI, previews): `options` by provider name, ids by kind."""

    lists: dict[str, list[dict]] = field(default_factory=dict)
    ids: dict[str, set[str]] = field(default_factory=dict)

    def options(self, provider, spec, context):
        return self.lists.get(provider)

    def exists(self, kind, value, spec, context):
        known = self.ids.get(kind)
        return True if known is None else value in known


@dataclass
class FormContext:
    """Everything a validation needs besides the submission."""

    lang: str = "zh"
    node: str | None = None            # the user task; selects the schema's `access` rules
    values: dict = field(default_factory=dict)   # process data: read-only values, defaults
    providers: Any = None
    files: Any = None                  # a forms.files.FileStore, to check uploaded references
    today: date = field(default_factory=date.today)
    calendar: dict | None = None       # {"holidays": [...], "extra_workdays": [...]}
    initiator: dict | None = None      # who starts the request: {"username", "manager", "department"}
    labels: dict = field(default_factory=dict)  # field type -> {value: text}: people shown read-only by name

    def options(self, provider: str, spec: dict) -> list[dict] | None:
        return self.providers.options(provider, spec, self) if self.providers is not None else None

    def exists(self, kind: str, value: str, spec: dict) -> bool:
        return self.providers.exists(kind, value, spec, self) if self.providers is not None else True


@dataclass
class ValidationResult:
    data: dict
    errors: dict[str, list[str]]
    extras: dict[str, dict] = field(default_factory=dict)   # capital numerals, table sums

    @property
    def ok(self) -> bool:
        return not self.errors


class _DictData:
    """A plain dict seen through the `getlist` interface WTForms reads form data with."""

    def __init__(self, flat: dict[str, list]):
        self._flat = flat

    def getlist(self, key):
        return list(self._flat.get(key, []))

    def __contains__(self, key):
        return key in self._flat

    def __iter__(self):
        return iter(self._flat)

    def __len__(self):
        return len(self._flat)


class LiaisonForm(Form):
    """Base of built forms; class attributes set by `form_class`."""

    schema: FormSchema
    node: str | None
    lang: str
    access: dict[str, str]

    def __init__(self, formdata=None, context: FormContext | None = None, **kwargs):
        self.context = context or FormContext(lang=self.lang)
        self.posted = bool(formdata)  # built from a post (or a draft), not opened fresh
        super().__init__(formdata, data=_initial(self.schema, self.context, self.access), **kwargs)

    # -- conditions ----------------------------------------------------------------------------------
    def env(self) -> dict:
        values = dict(self.context.values)
        for name, fld in self._fields.items():
            if isinstance(fld, TableField):
                values[name] = fld.value
            elif fld.data is not None or name not in values:
                values[name] = fld.data
        return values

    def visible(self, name: str, env: dict) -> bool:
        return truthy(self.schema.exprs.get(f"{name}:visible_if"), env, default=True)

    def is_required(self, fld, row: RowForm | None = None) -> bool:
        spec = fld.spec
        if spec.get("required"):
            return True
        if row is not None:
            key = f"{self._table_of(row)}.{spec['name']}:required_if"
            return truthy(self.schema.exprs.get(key), _row_env(row), default=False)
        return truthy(self.schema.exprs.get(f"{spec['name']}:required_if"), self._env, default=False)

    def _table_of(self, row: RowForm) -> str:
        return row._table_name

    def row_field_visible(self, table: TableField, row: RowForm, column) -> bool:
        tree = self.schema.exprs.get(f"{table.short_name}.{column.short_name}:visible_if")
        return truthy(tree, _row_env(row), default=True)

    def compute_row(self, table: TableField, row: RowForm) -> None:
        row._table_name = table.short_name
        env = _row_env(row)
        for name in formula_order(table.spec["columns"], self.schema.exprs, prefix=f"{table.short_name}."):
            column = row[name]
            column.data = _formula(self.schema.exprs[f"{table.short_name}.{name}:expression"], env, column.spec)
            env[name] = column.data

    def compute(self, hidden: frozenset[str] = frozenset()) -> dict:
        """Formulas over the current values; fields in `hidden` read as None, as in the browser,
        where a hidden field's inputs are disabled and not posted."""
        env = self.env()
        env.update({name: None for name in hidden})
        for name in formula_order(list(self.schema.fields), self.schema.exprs):
            fld = self._fields[name]
            fld.data = _formula(self.schema.exprs[f"{name}:expression"], env, fld.spec)
            env[name] = fld.data
        return env

    # -- validation ----------------------------------------------------------------------------------
    def validate(self, extra_validators=None) -> bool:
        for fld in self._fields.values():
            if isinstance(fld, TableField):
                for row in fld.rows():
                    row._table_form = self
                    for column in row:
                        column.prepare(row)
                    self.compute_row(fld, row)
            else:
                fld.prepare(self)
        self._env = self.compute()
        self.hidden_now = {name for name in self._fields if not self.visible(name, self._env)}
        for _round in range(3):  # hidden fields no longer feed formulas; settle what that changes
            if not self.hidden_now:
                break
            self._env = self.compute(frozenset(self.hidden_now))
            settled = {name for name in self._fields if not self.visible(name, self._env)}
            if settled == self.hidden_now:
                break
            self.hidden_now = settled
        ok = True
        for name, fld in self._fields.items():
            if name in self.hidden_now or self.access.get(name) != "editable":
                fld.errors = []
                continue
            ok = fld.validate(self) and ok
        return ok

    def errors_by_path(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, fld in self._fields.items():
            if fld.errors:
                out[name] = list(fld.errors)
            for path, messages in getattr(fld, "row_errors", {}).items():
                out[f"{name}.{path}"] = list(messages)
        return out

    def cleaned(self) -> tuple[dict, dict]:
        data, extras = {}, {}
        for name, fld in self._fields.items():
            spec = fld.spec
            if name in self.hidden_now or spec["type"] in DISPLAY_TYPES:
                continue
            if self.access.get(name) != "editable" and spec["type"] not in COMPUTED_TYPES:
                continue
            if spec["type"] == "serial":
                continue  # assigned by the engine when the instance starts
            if isinstance(fld, TableField):
                data[name] = fld.cleaned_value()
                sums = _sums(fld, data[name])
                if sums:
                    extras[name] = {"sums": sums}
            else:
                data[name] = fld.data
            if isinstance(fld, MoneyField) and fld.data:
                extras[name] = {"capital": fld.capital()}
        return data, extras


def _row_env(row: RowForm) -> dict:
    return {column.short_name: column.data for column in row}


def _formula(tree: list, env: dict, spec: dict):
    try:
        value = evaluate(tree, env)
    except ExpressionError:
        return None
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        if "decimals" in spec:
            quantum = Decimal(1).scaleb(-spec["decimals"])
            try:
                number = Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP)
            except InvalidOperation:
                return None
            return int(number) if spec["decimals"] == 0 else float(number)
        return value
    return value


def _sums(table: TableField, rows: list[dict]) -> dict:
    sums = {}
    kinds = {c["name"]: c["type"] for c in table.spec["columns"]}
    for column in table.spec["sums"]:
        total = Decimal(0)
        for row in rows:
            value = row.get(column)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    (isinstance(value, float) and not math.isfinite(value)):
                continue  # empty cells, and formula results that are not numbers ("inf", lists)
            total += Decimal(value) if isinstance(value, int) else Decimal(repr(value))
        sums[column] = f"{total:.2f}" if kinds[column] == "money" else (
            int(total) if total == total.to_integral_value() else float(total))
    return sums


def _initial(schema: FormSchema, context: FormContext, access: dict) -> dict:
    """Values shown before the user types: process data for existing answers, then defaults."""
    values = {}
    for spec in schema.fields:
        name = spec["name"]
        if access.get(name) == "hidden":
            continue
        if name in context.values:
            values[name] = context.values[name]
        elif "default_from" in spec:
            found = _lookup(context.values, spec["default_from"])
            if found is _MISSING and spec["default_from"].startswith("initiator.") and context.initiator:
                found = context.initiator.get(spec["default_from"].partition(".")[2]) or _MISSING
            if found is not _MISSING:
                values[name] = found
            elif "default" in spec:
                values[name] = spec["default"]
        elif "default" in spec:
            values[name] = spec["default"]
    return values


def _lookup(data: dict, path: str):
    current: Any = data
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return _MISSING
        current = current[part]
    return current


# -- building --------------------------------------------------------------------------------------------

@lru_cache(maxsize=256)
def _cached_class(schema_json: str, checksum: str, node: str | None, lang: str) -> type[LiaisonForm]:
    schema = load_schema(json.loads(schema_json))
    access = schema.access_for(node)
    attributes: dict[str, Any] = {"schema": schema, "node": node, "lang": lang, "access": access}
    for spec in schema.fields:
        mode = access[spec["name"]]
        if mode == "hidden":
            continue
        label = label_text(spec.get("label"), lang)
        if spec["type"] == "table":
            row_class = type(f"Row_{spec['name']}", (RowForm,), {
                c["name"]: field_class(c)(label_text(c.get("label"), lang), spec=c, lang=lang)
                for c in spec["columns"]})
            attributes[spec["name"]] = TableField(FormField(row_class), label, spec=spec, lang=lang,
                                                  readonly=mode != "editable")
        elif mode == "readonly" and spec["type"] not in COMPUTED_TYPES + DISPLAY_TYPES:
            attributes[spec["name"]] = ComputedField(label, spec=spec, lang=lang)
        else:
            attributes[spec["name"]] = field_class(spec)(label, spec=spec, lang=lang)
    return type(f"Form_{checksum[:12]}_{node or 'start'}_{lang}", (LiaisonForm,), attributes)


def form_class(schema: FormSchema, node: str | None = None, lang: str = "zh") -> type[LiaisonForm]:
    """The WTForms class of `schema` for user task `node` in `lang`, built once per schema version."""
    return _cached_class(schema.to_json(), schema.checksum, node, lang)


def _flatten(schema: FormSchema, data: dict, access: dict) -> tuple[dict[str, list], dict[str, list[str]]]:
    flat: dict[str, list] = {}
    problems: dict[str, list[str]] = {}
    specs = {f["name"]: f for f in schema.fields}
    result_field = (schema.data.get("scoring") or {}).get("result_field")
    for key, value in data.items():
        if key == result_field:
            continue  # a quiz result is computed from the answers, never taken from a submission
        spec = specs.get(key)
        if spec is None or access.get(key) == "hidden":
            problems[key] = ["unknown"]
            continue
        if spec["type"] == "table" and isinstance(value, list):
            columns = {c["name"] for c in spec["columns"]}
            for index, row in enumerate(value):
                if not isinstance(row, dict):
                    problems[f"{key}.{index}"] = ["not_rows"]
                    continue
                for column, cell in row.items():
                    if column not in columns:
                        problems[f"{key}.{index}.{column}"] = ["unknown"]
                    else:
                        flat[f"{key}-{index}-{column}"] = [cell]
            continue
        flat[key] = [value]
    return flat, problems


def validate_data(schema: FormSchema | dict, data: Any, context: FormContext | None = None,
                  ) -> ValidationResult:
    """Validate a plain dict submission; never raises for any JSON-like `data`."""
    schema = schema if isinstance(schema, FormSchema) else load_schema(schema)
    context = context or FormContext()
    if not isinstance(data, dict):
        return ValidationResult({}, {"": [message(context.lang, "not_fields")]})
    cls = form_class(schema, context.node, context.lang)
    if context.node is not None:  # completing a task: a field left out keeps its current value
        kept = {name: context.values[name] for name, mode in cls.access.items()
                if mode == "editable" and name not in data and name in context.values
                and schema.field(name)["type"] not in COMPUTED_TYPES + DISPLAY_TYPES}
        data = {**kept, **data}
    flat, problems = _flatten(schema, data, cls.access)
    errors = {path: [message(context.lang, key) for key in keys] for path, keys in problems.items()}
    for name, mode in cls.access.items():
        spec = schema.field(name)
        if mode == "readonly" and name in data and spec["type"] not in COMPUTED_TYPES + DISPLAY_TYPES:
            flat.pop(name, None)
            if data[name] != context.values.get(name):
                errors[name] = [message(context.lang, "readonly")]
    form = cls(_DictData(flat), context)
    form.validate()
    errors.update(form.errors_by_path())
    return _result(schema, form, errors)


def validate_formdata(schema: FormSchema, formdata, context: FormContext | None = None) -> ValidationResult:
    """Validate a browser post (anything with `getlist`, e.g. werkzeug's MultiDict)."""
    context = context or FormContext()
    form = form_class(schema, context.node, context.lang)(formdata, context)
    form.validate()
    return _result(schema, form, form.errors_by_path())


def preview_data(schema: FormSchema, formdata, context: FormContext | None = None) -> dict:
    """The cleaned values of a browser post still being filled in: every field that parses, without the
    ones in error (an empty required field, a half-typed number). For previews; never raises."""
    context = context or FormContext()
    form = form_class(schema, context.node, context.lang)(formdata, context)
    form.validate()
    errors = form.errors_by_path()
    data, _extras = form.cleaned()
    return {name: value for name, value in data.items()
            if name not in errors and not any(path.startswith(f"{name}.") for path in errors)}


def _result(schema: FormSchema, form: LiaisonForm, errors: dict) -> ValidationResult:
    cleaned, extras = form.cleaned()
    if not errors:
        errors = failed_checks(schema, cleaned, form.context.lang if form.context else "zh")
    if errors:
        return ValidationResult({}, errors, extras)
    quiz = [f for f in schema.fields if f["type"] == "quiz" and form.access.get(f["name"]) == "editable"]
    if quiz:
        from forms.quiz import score
        scoring = {k: v for k, v in schema.data["scoring"].items() if k != "result_field"}
        graded = score(quiz, cleaned, scoring)
        extras["quiz"] = graded.to_dict()  # per question, with the answer key: for the reviewer, not the taker
        cleaned[schema.data["scoring"]["result_field"]] = {
            "total": float(graded.total), "maximum": float(graded.maximum),
            "percent": float(graded.percent), "passed": graded.passed}
    return ValidationResult(cleaned, errors, extras)


def failed_checks(schema: FormSchema, cleaned: dict, lang: str) -> dict[str, list[str]]:
    """The form's `checks` (rules across fields, such as weights that must total 100) that the cleaned
    values fail: field -> the check's message in `lang`. Run once every field is valid; a check that
    cannot be evaluated counts as failed."""
    errors: dict[str, list[str]] = {}
    for index, check in enumerate(schema.data.get("checks") or []):
        if not truthy(schema.exprs[f"check:{index}"], dict(cleaned), default=False):
            errors.setdefault(check["field"], []).append(label_text(check["message"], lang))
    return errors
