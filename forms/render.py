"""Render a built form (`forms.build.form_class(...)(formdata, context)`) as accessible HTML.

`render(form, lang)` returns the markup of the Jinja macros in `templates/forms/macros.html`;
`environment()` gives the web app the same Jinja environment, so a page can `{% import
"forms/macros.html" as forms %}` and call `forms.render_form(form, lang, action, csrf_field)`.
The page must also load `static_path() / "liaison-forms.js"`, which evaluates the same compiled
expression trees as `forms.expr` to show and hide fields, compute formulas, add and remove table
rows, and keep sums, capital numerals and date-range durations up to date while the user types.

Everything shown here is computed from the form object: `describe()` turns one field into a plain
`FieldView` that the macros print, so the templates hold no logic beyond choosing a widget.

File fields: the widget posts the references of files already uploaded, as a JSON list in a
hidden input named after the field. Uploading (turning a chosen file into a reference) is the web
app's job: its upload endpoint answers the reference, and its script appends it to that input.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markdown_it import MarkdownIt
from markupsafe import Markup
from wtforms.utils import unset_value

from forms.dates import moment_text
from forms.expr import truthy
from forms.fields import TableField, option_key
from forms.money import CURRENCY_SYMBOLS, format_money, grouped, to_capital
from forms.schema import formula_order, label_text

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")
SCRIPT = "liaison-forms.js"
# user and department fields typed as text carry data-picker="<kind>"; the page's picker script knows where
# to look the kind up (forms knows no URL).
PICKERS = {"user": "people", "department": "departments"}

# Words of the widgets themselves (validation messages are in forms.messages): (English, Chinese).
WORDS: dict[str, tuple[str, str]] = {
    "submit": ("Submit", "提交"),
    "choose": ("— Choose —", "— 请选择 —"),
    "required": ("required", "必填"),
    "start": ("Start", "开始"),
    "end": ("End", "结束"),
    "duration": ("Duration", "时长"),
    "add_row": ("Add a row", "添加一行"),
    "remove_row": ("Remove row {n}", "删除第 {n} 行"),
    "row": ("row {n}", "第 {n} 行"),
    "actions": ("Actions", "操作"),
    "total": ("Total", "合计"),
    "serial_pending": ("Assigned on submission", "提交后自动生成"),
    "empty": ("—", "—"),
    "yes": ("Yes", "是"),
    "no": ("No", "否"),
    "files_attached": ("Attached files", "已上传的文件"),
    "add_value": ("Add another", "再添加一个"),
    "star": ("{n} of {max}", "{n} 星（共 {max} 星）"),
    "points": ("{n} pt", "{n} 分"),
    "capital": ("In capital numerals", "大写金额"),
    "instance_id": ("Approval number", "审批编号"),
    "errors_title": ("Please correct the following:", "请更正以下问题："),
    "days": ("days", "天"),
    "hours": ("hours", "小时"),
}


def word(key: str, lang: str, **values) -> str:
    english, chinese = WORDS[key]
    return (chinese if str(lang).lower().startswith("zh") else english).format(**values)


# -- values as text --------------------------------------------------------------------------------------

def plain(value: Any) -> str:
    """A value as the text of an input: numbers without a useless ".0", booleans as true/false."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return option_key(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


def capital(text: Any) -> str:
    """Capital numerals of an amount as typed, or "" when it is not a valid amount."""
    if text in (None, "") or isinstance(text, bool):
        return ""
    try:
        return to_capital(text if isinstance(text, (str, int, Decimal)) else str(text))
    except ValueError:
        return ""


def formula_text(value: Any, spec: dict, lang: str) -> str:
    """A formula's result as shown: with exactly `decimals` places when the schema sets them."""
    if isinstance(value, bool):
        return word("yes" if value else "no", lang)
    if isinstance(value, (int, float)) and spec.get("decimals") is not None:
        try:
            number = Decimal(repr(value)).quantize(Decimal(1).scaleb(-spec["decimals"]), rounding=ROUND_HALF_UP)
        except InvalidOperation:
            return ""
        return f"{number:f}"
    if isinstance(value, list):
        return ", ".join(plain(v) for v in value)
    return plain(value)


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False})


def markdown(text: str) -> Markup:
    """CommonMark with raw HTML disabled: tags in the text are shown as text, never interpreted."""
    return Markup(_markdown().render(text or ""))  # markdown-it escapes all it does not build


# -- views -----------------------------------------------------------------------------------------------

@dataclass
class Option:
    key: str          # what is posted (forms.fields.option_key)
    label: str
    json: str         # the typed value, for the browser's expression walker
    selected: bool
    id: str


@dataclass
class TableView:
    columns: list[dict]
    rows: list[list[FieldView]]
    blank: list[FieldView]
    sums: dict[str, str]
    min_rows: int
    max_rows: int
    order: list[str]          # formula columns in computing order


@dataclass
class FieldView:
    """Everything the macros print for one field or one table cell."""

    name: str                 # the posted name: `amount`, `items-0-price`
    key: str                  # the schema name: `amount`, `price`
    type: str                 # the schema type
    widget: str               # which macro draws it
    spec: dict
    label: str
    help: str = ""
    placeholder: str = ""
    required: bool = False
    required_if: list | None = None
    visible_if: list | None = None
    visible: bool = True
    errors: list = field(default_factory=list)
    value: str = ""
    values: list = field(default_factory=list)
    options: list[Option] = field(default_factory=list)
    multiple: bool = False
    display: str = ""
    data_value: str | None = None     # JSON of the current value, for read-only and computed fields
    capital: str = ""
    currency: str = ""
    start: str = ""
    end: str = ""
    duration: str = ""
    formula: list | None = None
    files: list = field(default_factory=list)
    files_json: str = "[]"
    html: Markup = Markup("")
    table: TableView | None = None
    attrs: dict = field(default_factory=dict)
    cell: bool = False
    row_label: str = ""
    off: bool = False                 # hidden now: its inputs are disabled, so not posted
    note: str = ""                    # shown after the label (a quiz question's points)

    @property
    def id(self) -> str:
        return self.name

    @property
    def help_id(self) -> str:
        return f"{self.name}-help"

    @property
    def errors_id(self) -> str:
        return f"{self.name}-errors"

    @property
    def describedby(self) -> str:
        ids = ([self.help_id] if self.help else []) + ([self.errors_id] if self.errors else [])
        if self.widget == "money" and not self.cell:
            ids.append(f"{self.name}-capital")
        if self.widget == "date_range":
            ids.append(f"{self.name}-duration")
        return " ".join(ids)

    @property
    def conditional_required(self) -> bool:
        return self.required or self.required_if is not None


@dataclass
class FormState:
    """Values, visibility and requiredness of the top-level fields at render time."""

    env: dict
    hidden: set[str]


def form_state(form) -> FormState:
    """Compute row and top-level formulas as the server does, then the visibility of every field."""
    for fld in form:
        if isinstance(fld, TableField):
            for row in fld.rows():
                row._table_form = form
                form.compute_row(fld, row)
    env = form.compute()
    hidden = {fld.short_name for fld in form if not form.visible(fld.short_name, env)}
    return FormState(env, hidden)


def _data(fld) -> Any:
    """The field's value; WTForms' `unset_value` (a computed field without an initial value) is None."""
    return None if fld.data is unset_value else fld.data


def _raw(fld) -> list:
    return [v for v in (getattr(fld, "raw", None) or [])]


def _selected_keys(fld) -> list[str]:
    raw = _raw(fld)
    if raw:
        values = raw[0] if len(raw) == 1 and isinstance(raw[0], list) else raw
    else:
        values = _data(fld) if isinstance(_data(fld), list) else ([] if _data(fld) is None else [_data(fld)])
    return [option_key(v) if not isinstance(v, str) else v for v in values if v is not None]


def _input_text(fld) -> str:
    raw = _raw(fld)
    if raw:
        return plain(raw[0])
    return plain(_data(fld))


def _options(options: list[dict] | None, fld, lang: str, name: str) -> list[Option]:
    chosen = set(_selected_keys(fld))
    return [Option(option_key(o["value"]), label_text(o.get("label", plain(o["value"])), lang),
                   to_json(o["value"]), option_key(o["value"]) in chosen, f"{name}-opt-{i}")
            for i, o in enumerate(options or [])]


def _choice_options(spec: dict, form) -> list[dict] | None:
    if "provider" in spec:
        return form.context.options(spec["provider"], spec)
    return spec.get("options", [])


def display(value: Any, spec: dict, form, lang: str) -> str:
    """A value as read-only text: option labels, formatted money with capital numerals, file names."""
    if value is None or value == "" or value == []:
        return word("empty", lang)
    kind = spec["type"]
    if kind in ("select", "radio", "checkboxes", "quiz", "user", "department"):
        known = getattr(form.context, "labels", None) or {}
        labels = {option_key(v): str(text) for v, text in (known.get(kind) or {}).items()}
        labels.update({option_key(o["value"]): label_text(o.get("label", plain(o["value"])), lang)
                       for o in (_choice_options(spec, form) or [])})
        items = value if isinstance(value, list) else [value]
        return ", ".join(labels.get(option_key(v), plain(v)) for v in items)
    if kind == "money" or (kind == "formula" and spec.get("currency")):  # a computed total shown as money
        try:
            shown = format_money(value, spec.get("currency", "CNY"))
        except ValueError:
            return plain(value)
        words = capital(value)
        return f"{shown}（{words}）" if words else shown
    if kind == "date_range" and isinstance(value, dict):
        text = " ~ ".join(moment_text(value.get(end), lang, naive_utc=False) for end in ("start", "end"))
        if value.get("duration") is not None:
            text += f" ({plain(value['duration'])} {word(spec.get('unit', 'days'), lang)})"
        return text
    if kind == "file" and isinstance(value, list):
        return ", ".join(str(ref.get("name") or ref.get("id")) for ref in value if isinstance(ref, dict))
    if kind == "rating" and isinstance(value, int):
        return "★" * value + "☆" * max(0, spec.get("max", 5) - value) + f" ({value}/{spec.get('max', 5)})"
    if kind == "formula":
        return formula_text(value, spec, lang)
    if isinstance(value, bool):
        return word("yes" if value else "no", lang)
    if isinstance(value, list):
        return ", ".join(plain(v) for v in value)
    return _scalar_text(value, kind, lang)


def _scalar_text(value: Any, kind: str, lang: str) -> str:
    """A date, time or number read only: as every page writes it; anything else as its input's text."""
    if kind in ("date", "datetime"):  # as every page writes a moment; a typed wall-clock time is not moved
        return moment_text(value, lang, naive_utc=False)
    if kind == "number" and isinstance(value, (int, float, Decimal)):
        return grouped(plain(value))
    return plain(value)



def _duration_text(fld, start: str, end: str, form, lang: str) -> str:
    from forms.dates import range_duration
    if not start or not end:
        return ""
    spec = fld.spec
    calendar = form.context.calendar or {}
    try:
        duration = range_duration(start, end, unit=spec["unit"], workdays=spec["workdays"],
                                  holidays=calendar.get("holidays", ()),
                                  extra_workdays=calendar.get("extra_workdays", ()))
    except ValueError:
        return ""
    number = Decimal(str(duration))
    shown = int(number) if number == number.to_integral_value() else float(number)
    return f"{plain(shown)} {word(spec['unit'], lang)}"


def _widget(spec: dict, options: list[dict] | None) -> str:
    kind = spec["type"]
    if kind == "quiz":
        return {"single": "radio", "multiple": "checkboxes", "true_false": "radio"}.get(spec["kind"], "text")
    if kind in ("select", "radio", "checkboxes", "user", "department"):
        if options is None:   # a provider that cannot list its values: type the id
            return "texts" if spec.get("multiple") or kind == "checkboxes" else "text"
        return "select" if kind in ("user", "department") else kind
    if kind == "related":
        return "texts" if spec.get("multiple") else "text"
    return kind


def _input_attrs(spec: dict, lang: str) -> dict:
    kind, attrs = spec["type"], {}
    if kind in ("text", "textarea") or (kind == "quiz" and spec.get("kind") == "short_answer"):
        if "max_length" in spec:
            attrs["maxlength"] = spec["max_length"]
        if "min_length" in spec:
            attrs["minlength"] = spec["min_length"]
        if kind == "textarea":
            attrs["rows"] = spec.get("rows", 4)
    elif kind == "number":
        for key in ("min", "max"):
            if key in spec:
                attrs[key] = plain(spec[key])
        attrs["step"] = plain(spec["step"]) if "step" in spec else ("1" if spec.get("integer") else "any")
        attrs["inputmode"] = "numeric" if spec.get("integer") else "decimal"
    elif kind in ("date", "datetime"):
        for key in ("min", "max"):
            if key in spec and spec[key] != "today":
                attrs[key] = spec[key]
    elif kind == "related":
        attrs["placeholder"] = word("instance_id", lang)
    return attrs


def _picker_attrs(kind: str) -> dict:
    """Typed ids of user and department fields: the web app's picker suggests them (forms names only the kind)."""
    return {"data-picker": PICKERS[kind], "autocomplete": "off"} if kind in PICKERS else {}


def _picker_labels(view: FieldView, form, values: list[str]) -> None:
    """A typed user / department id the caller knows a display name for (`FormContext.labels`): the picker
    shows the name and posts the id (`data-labels`, JSON {id: name}); without the script the id stays."""
    if view.type not in PICKERS:
        return
    known = (getattr(form.context, "labels", None) or {}).get(view.type) or {}
    labels = {value: str(known[value]) for value in values if value and value in known}
    if labels:
        view.attrs = {**view.attrs, "data-labels": to_json(labels)}


def describe(fld, form, lang: str = "zh", state: FormState | None = None, *, row=None, table=None) -> FieldView:
    """The view of one field (or, with `row` and `table`, of one table cell) of a built form."""
    spec = fld.spec
    key, kind = spec["name"], spec["type"]
    exprs = form.schema.exprs
    prefix = f"{table.short_name}." if table is not None else ""
    if table is not None:
        env = {column.short_name: _data(column) for column in row}
        visible = truthy(exprs.get(f"{prefix}{key}:visible_if"), env, default=True)
        mode = "editable"
    else:
        state = state or form_state(form)
        env = state.env
        visible = key not in state.hidden
        mode = form.access.get(key, "editable")
    required = bool(spec.get("required")) or truthy(exprs.get(f"{prefix}{key}:required_if"), env, default=False)
    options = _choice_options(spec, form) if kind in ("select", "radio", "checkboxes", "user", "department",
                                                      "quiz") else None
    view = FieldView(
        name=fld.name, key=key, type=kind, widget=_widget(spec, options), spec=spec,
        label=label_text(spec.get("label"), lang), help=label_text(spec.get("help"), lang),
        placeholder=label_text(spec.get("placeholder"), lang), required=required,
        required_if=exprs.get(f"{prefix}{key}:required_if"), visible_if=exprs.get(f"{prefix}{key}:visible_if"),
        visible=visible, errors=[str(e) for e in (fld.errors or [])], attrs=_input_attrs(spec, lang) | _picker_attrs(kind),
        cell=table is not None,
        multiple=bool(spec.get("multiple")) or kind == "checkboxes" or spec.get("kind") == "multiple")
    view.off = not visible
    if kind == "quiz":
        view.note = word("points", lang, n=plain(spec.get("points", 1)))
    if table is not None:
        index = fld.name[len(table.name) + 1:].split("-", 1)[0]
        view.row_label = word("row", lang, n=int(index) + 1 if index.isdigit() else "")
    if kind == "notice":
        view.widget = "notice"
        view.html = markdown(label_text(spec.get("content"), lang))
    elif kind == "serial":
        view.display = plain(_data(fld)) or word("serial_pending", lang)
        view.data_value = to_json(_data(fld))
    elif kind == "formula":
        view.formula = exprs.get(f"{prefix}{key}:expression")
        # read only, a total with a currency reads as money (as in the table's columns and the inbox summary)
        view.display = display(_data(fld), spec, form, lang) if mode == "readonly" and spec.get("currency") \
            and _data(fld) is not None else formula_text(_data(fld), spec, lang)
        view.data_value = to_json(_data(fld))
    elif mode == "readonly":
        _readonly(view, fld, form, lang)
    elif kind == "table":
        view.table = _table(fld, form, lang)
        for cell in [c for r in view.table.rows for c in r]:
            cell.off = cell.off or view.off
    else:
        _editable(view, fld, form, lang, options)
    return view


def _readonly(view: FieldView, fld, form, lang: str) -> None:
    value = fld.value if isinstance(fld, TableField) else _data(fld)
    if isinstance(fld, TableField) and not value:
        value = form.context.values.get(view.key) or []
    view.data_value = to_json(value)
    if view.type == "table":
        view.widget = "readonly_table"
        columns = view.spec["columns"]
        view.table = TableView(
            columns=[{"name": c["name"], "label": label_text(c.get("label"), lang)} for c in columns],
            rows=[[display(r.get(c["name"]) if isinstance(r, dict) else None, c, form, lang) for c in columns]
                  for r in (value if isinstance(value, list) else [])],
            blank=[], sums={}, min_rows=0, max_rows=0, order=[])
        view.display = word("empty", lang)  # shown instead of a table of headers alone when it has no rows
    else:
        view.widget = "readonly"
        view.display = display(value, view.spec, form, lang)


def _editable(view: FieldView, fld, form, lang: str, options) -> None:
    kind, name = view.type, view.name
    if view.widget in ("select", "radio", "checkboxes"):
        view.options = _options(options, fld, lang, name)
    elif view.widget == "rating":
        chosen = set(_selected_keys(fld))
        view.options = [Option(str(n), word("star", lang, n=n, max=view.spec["max"]), str(n), str(n) in chosen,
                               f"{name}-opt-{n}") for n in range(1, view.spec["max"] + 1)]
    elif view.widget == "texts":
        values = [plain(v) for v in (_raw(fld) or (_data(fld) if isinstance(_data(fld), list) else [_data(fld)]))
                  if v not in (None, "")]
        view.values = values + [""]
        _picker_labels(view, form, values)
    elif kind == "date_range":
        raw = _raw(fld)
        if raw:
            start, end = plain(raw[0]), plain(raw[1] if len(raw) > 1 else None)
        else:
            data = _data(fld)
            if data is None:  # DateRangeField.process drops the initial value: read it again
                data = form.context.values.get(view.key, fld.spec.get("default"))
            data = data if isinstance(data, dict) else {}
            start, end = plain(data.get("start")), plain(data.get("end"))
        view.start, view.end = start, end
        view.duration = _duration_text(fld, start, end, form, lang)
    elif kind == "file":
        refs = _data(fld) if isinstance(_data(fld), list) else []
        raw = _raw(fld)
        view.files = [{"name": str(r.get("name") or r.get("id")), "size": r.get("size")} for r in refs]
        view.files_json = plain(raw[0]) if raw and _data(fld) is None else to_json(refs)
        accept = fld.spec.get("accept") or []
        if accept:
            view.attrs["accept"] = ",".join(accept)
        if fld.spec.get("max_files", 1) > 1:
            view.attrs["multiple"] = True
    else:
        view.value = _input_text(fld)
        _picker_labels(view, form, [view.value])
        if kind == "money":
            view.currency = CURRENCY_SYMBOLS.get(fld.spec.get("currency", "CNY"), fld.spec.get("currency", ""))
            view.capital = capital(view.value)


def _sum_places(column: dict) -> int | None:
    """Decimals a column's sum is shown with: 2 for money, a formula's `decimals`, else as computed."""
    return 2 if column["type"] == "money" else column.get("decimals")


def _column_sums(rows: list[dict], spec: dict) -> dict[str, str]:
    """The table's `sums` as text: the exact sum of the numbers in each column (as `validate` adds them)."""
    columns = {c["name"]: c for c in spec["columns"]}
    sums = {}
    for name in spec["sums"]:
        total = Decimal(0)
        for row in rows:
            value = row.get(name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            total += Decimal(value) if isinstance(value, int) else Decimal(repr(value))
        places = _sum_places(columns[name])
        if places is not None:
            sums[name] = f"{total.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):f}"
        else:
            sums[name] = plain(int(total) if total == total.to_integral_value() else float(total))
    return sums


def blank_row(table: TableField):
    """An empty row form named `NAME-__index__-COLUMN`, for the table's <template>."""
    row_class = table.unbound_field.args[0]
    defaults = {c["name"]: c["default"] for c in table.spec["columns"] if "default" in c}
    return row_class(prefix=f"{table.name}-__index__-", data=defaults)


def _table(fld: TableField, form, lang: str) -> TableView:
    spec = fld.spec
    rows = []
    for row in fld.rows():
        rows.append([describe(cell, form, lang, row=row, table=fld) for cell in row])
    if not rows and spec["min_rows"] and not getattr(form, "posted", True):
        # a fresh form opens with the rows the table needs at least, ready to fill (as a paper form would);
        # a post that removed them all comes back empty, with its "at least n rows" message
        row_class = fld.unbound_field.args[0]
        defaults = {c["name"]: c["default"] for c in spec["columns"] if "default" in c}
        for index in range(spec["min_rows"]):
            row = row_class(prefix=f"{fld.name}-{index}-", data=defaults)
            rows.append([describe(cell, form, lang, row=row, table=fld) for cell in row])
    blank = blank_row(fld)
    return TableView(
        columns=[{"name": c["name"], "label": label_text(c.get("label"), lang), "type": c["type"],
                  "required": bool(c.get("required")), "sum": c["name"] in spec["sums"],
                  "places": _sum_places(c)}
                 for c in spec["columns"]],
        rows=rows,
        blank=[describe(cell, form, lang, row=blank, table=fld) for cell in blank],
        sums=_column_sums(fld.value, spec),
        min_rows=spec["min_rows"], max_rows=spec["max_rows"],
        order=formula_order(spec["columns"], form.schema.exprs, prefix=f"{fld.short_name}."))


@dataclass
class FormView:
    title: str
    description: str
    state: FormState
    formula_order: list[str]
    calendar: dict
    words: dict
    errors: list[tuple[str, str, str]]     # (anchor id, label, message) for the summary


def form_view(form, lang: str = "zh") -> FormView:
    """What `render_form` prints around the fields."""
    schema = form.schema
    state = form_state(form)
    errors = []
    for fld in form:
        label = label_text(fld.spec.get("label"), lang)
        for text in fld.errors or []:
            errors.append((fld.name, label, str(text)))
        for path, messages in (getattr(fld, "row_errors", None) or {}).items():
            index, _, column = path.partition(".")
            columns = {c["name"]: c for c in fld.spec.get("columns", [])}
            cell = label_text(columns.get(column, {}).get("label", column), lang)
            row_word = word("row", lang, n=int(index) + 1 if index.isdigit() else index)
            for text in messages:
                errors.append((f"{fld.name}-{index}-{column}", f"{label} {row_word} {cell}", str(text)))
    # the holidays go into the page only for a workday count (the calendar may be read lazily)
    calendar = (form.context.calendar or {}) if any(f.spec.get("workdays") for f in form) else {}
    return FormView(
        title=label_text(schema.title, lang), description=label_text(schema.data.get("description"), lang),
        state=state, formula_order=[n for n in formula_order(list(schema.fields), schema.exprs)
                                    if n in form],
        calendar={"holidays": [plain(d) for d in calendar.get("holidays", ())],
                  "extra_workdays": [plain(d) for d in calendar.get("extra_workdays", ())]},
        words={k: word(k, lang) for k in ("days", "hours", "yes", "no", "submit")} | {
            "row": word("row", lang, n="{n}"), "remove_row": word("remove_row", lang, n="{n}")},
        errors=errors)


def csrf(csrf_field: Any) -> Markup:
    """The CSRF input: a field or markup object (rendered as is), or a (name, token) pair."""
    if csrf_field is None:
        return Markup("")
    if hasattr(csrf_field, "__html__"):
        return Markup(csrf_field.__html__())  # the caller's own markup
    if isinstance(csrf_field, (tuple, list)) and len(csrf_field) == 2:
        name, token = csrf_field
        return Markup('<input type="hidden" name="{}" value="{}">').format(name, token)
    if callable(csrf_field):
        return Markup(str(csrf_field()))  # a WTForms field renders markup
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(str(csrf_field))


class _Helpers:
    """What the macros call, under the global name `liaison`."""

    describe = staticmethod(describe)
    form_view = staticmethod(form_view)
    csrf = staticmethod(csrf)
    word = staticmethod(word)


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The Jinja environment with the form macros (`forms/macros.html`); autoescaping is on."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.globals["liaison"] = _Helpers
    env.filters["json"] = to_json
    return env


def static_path() -> Path:
    """The folder holding `liaison-forms.js`, for the web app to serve."""
    return STATIC


def render(form, lang: str = "zh", action: str | None = None, csrf_field: Any = None) -> Markup:
    """The HTML of a built form (`forms.build.form_class(...)(formdata, context)`), after `validate`
    or not: errors, when there are, are shown next to their fields."""
    macros = environment().get_template("forms/macros.html").module
    return Markup(macros.render_form(form, lang, action, csrf_field))  # an autoescaped template
