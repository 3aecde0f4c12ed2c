"""Property tests: no JSON-like submission, browser post or expression makes validation raise.

Every result is a ValidationResult whose errors map paths to lists of non-empty messages, whose cleaned
data is strict JSON (no NaN, no Infinity, no ints Python cannot write), and which is empty when there are
errors. Expressions may only fail with ExpressionError.
"""

from __future__ import annotations

import contextlib
import copy
import json
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forms.build import FormContext, StaticProviders, ValidationResult, validate_data, validate_formdata
from forms.expr import ExpressionError, compile_expression, evaluate
from forms.schema import load_schema

SETTINGS = settings(max_examples=120, deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

COLUMNS = [
    {"name": "desc", "type": "text", "required": True, "max_length": 20},
    {"name": "price", "type": "money"},
    {"name": "qty", "type": "number", "integer": True, "min": 0, "step": 1},
    {"name": "when", "type": "date"},
    {"name": "kind", "type": "select", "options": ["a", "b", 1, True]},
    {"name": "tags", "type": "checkboxes", "options": ["x", "y"], "max_choices": 1},
    {"name": "who", "type": "user", "multiple": True},
    {"name": "stars", "type": "rating"},
    {"name": "note", "type": "textarea", "visible_if": "qty > 1", "required_if": "price > 5"},
    {"name": "total", "type": "formula", "expression": "price * qty", "decimals": 2},
    {"name": "echo", "type": "formula", "expression": "desc"},
    {"name": "ratio", "type": "formula", "expression": "price / qty if qty else len(desc) * 1e300 * 1e10"},
]
FIELDS = [
    {"name": "text", "type": "text", "min_length": 1, "max_length": 50, "pattern": "[a-z ]*"},
    {"name": "textarea", "type": "textarea", "max_length": 100},
    {"name": "number", "type": "number", "min": -5, "max": 1e20, "step": 0.25},
    {"name": "integer", "type": "number", "integer": True},
    {"name": "money", "type": "money", "max": 1e12},
    {"name": "date", "type": "date", "min": "2000-01-01", "max": "today"},
    {"name": "datetime", "type": "datetime", "min": "2000-01-01T00:00"},
    {"name": "range", "type": "date_range", "min_duration": 1, "max_duration": 400},
    {"name": "work", "type": "date_range", "workdays": True, "unit": "hours"},
    {"name": "select", "type": "select", "options": ["a", "b", 3, 2.5, False]},
    {"name": "multi", "type": "select", "options": ["a", "b"], "multiple": True},
    {"name": "provided", "type": "select", "provider": "cities"},
    {"name": "open", "type": "select", "provider": "anything"},
    {"name": "radio", "type": "radio", "options": [True, False], "required": True},
    {"name": "checkboxes", "type": "checkboxes", "options": ["a", "b", "c"], "min_choices": 1, "max_choices": 2},
    {"name": "user", "type": "user"},
    {"name": "users", "type": "user", "multiple": True, "required_if": "number > 1"},
    {"name": "department", "type": "department"},
    {"name": "file", "type": "file", "max_size": "1KB", "accept": [".pdf", "image/*"], "max_files": 2},
    {"name": "rating", "type": "rating", "max": 10},
    {"name": "notice", "type": "notice", "content": "read me"},
    {"name": "items", "type": "table", "columns": COLUMNS, "max_rows": 4, "min_rows": 1,
     "sums": ["price", "qty", "total", "echo", "ratio"]},
    {"name": "single", "type": "quiz", "kind": "single", "options": ["x", "y"], "answer": "x"},
    {"name": "multiple", "type": "quiz", "kind": "multiple", "options": ["x", "y", "z"], "answer": ["x"]},
    {"name": "true_false", "type": "quiz", "kind": "true_false", "answer": False},
    {"name": "short", "type": "quiz", "kind": "short_answer", "answer": ["a", "b"]},
    {"name": "serial", "type": "serial", "pattern": "X-{yyyy}-{seq:3}"},
    {"name": "formula", "type": "formula", "expression": "sum(items, 'total') + number * money"},
    {"name": "text_formula", "type": "formula", "expression": "text + textarea if text else None"},
    {"name": "related", "type": "related", "multiple": True},
    {"name": "hidden_if", "type": "text", "visible_if": "len(text) > 3", "max_length": 1},
]
ACCESS = {"Review": {"editable": ["text", "number", "items", "users", "file"], "hidden": ["money", "date"]}}
SCHEMA = {"fields": FIELDS, "access": ACCESS, "scoring": {"multiple": "proportional"}}


def _optional(fields: list[dict]) -> list[dict]:
    """The same fields with nothing required, so that cleaned data comes out and is checked too."""
    fields = copy.deepcopy(fields)
    for f in fields:
        f.pop("required", None)
        f.pop("required_if", None)
        f.pop("min_choices", None)
        if f["type"] == "table":
            f["min_rows"] = 0
            f["columns"] = _optional(f["columns"])
    return fields


OPTIONAL = {"fields": _optional(FIELDS), "access": ACCESS}
SCHEMAS = st.sampled_from([SCHEMA, OPTIONAL])
NAMES = [f["name"] for f in FIELDS]
COLUMN_NAMES = [c["name"] for c in COLUMNS]
PROVIDERS = StaticProviders(lists={"cities": [{"value": "bj", "label": "Beijing"}]},
                            ids={"user": {"u1"}, "department": {"d1"}})

SPECIAL_STRINGS = st.sampled_from([
    "", " ", "0", "-0", "1", "12.50", "1,234.5", "1e3", "1e999999999", "-1e-999999999", "nan", "NaN", "inf",
    "-Infinity", "sNaN", "true", "false", "True", "null", "2026-01-05", "2026-01-05T09:30", "2026-02-30",
    "0001-01-01", "9999-12-31T23:59:59+14:00", "a", "x", "bj", "u1", "d1", "１２３", "\x00", "\ud800", "😀",
    "9" * 5000, "a" * 100_000, '[{"id": "0", "size": 1, "sha256": "x"}]', '{"start": 1}', "[]", "{}",
])
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats()
           | st.sampled_from([40, -400, 5000]).map(lambda e: 10 ** abs(e) if e > 0 else -(10 ** -e))  # huge ints
           | st.sampled_from([2 ** 63, 1e308, -1e-308, 5e-324])
           | st.text(max_size=30) | SPECIAL_STRINGS)
JSON = st.recursive(SCALARS, lambda children: st.lists(children, max_size=4)
                    | st.dictionaries(st.text(max_size=8) | st.sampled_from(["start", "end", "id", "size", "sha256",
                                                                             "name", *COLUMN_NAMES]),
                                      children, max_size=5),
                    max_leaves=12)
ROW = st.dictionaries(st.sampled_from([*COLUMN_NAMES, "zz"]), JSON, max_size=6)
ROWS = st.lists(ROW | JSON, max_size=6)
CONTEXTS = st.builds(
    FormContext,
    lang=st.sampled_from(["en", "zh", "zh-CN", "fr"]),
    node=st.sampled_from([None, "Review", "Elsewhere"]),
    values=st.dictionaries(st.sampled_from(NAMES), JSON, max_size=4),
    providers=st.sampled_from([None, PROVIDERS]),
    today=st.just(date(2026, 3, 1)),
    calendar=st.sampled_from([None, {"holidays": ["2026-01-05"], "extra_workdays": ["2026-01-03"]}]),
)


def check(result) -> None:
    assert isinstance(result, ValidationResult)
    assert isinstance(result.errors, dict) and isinstance(result.data, dict) and isinstance(result.extras, dict)
    for path, messages in result.errors.items():
        assert isinstance(path, str)
        assert isinstance(messages, list) and messages, (path, messages)
        assert all(isinstance(m, str) and m.strip() for m in messages), (path, messages)
    if result.errors:
        assert result.data == {}
    else:
        assert set(result.data) <= set(NAMES) | {"quiz_result"}  # the quiz result is added to the data
    json.dumps(result.data, allow_nan=False)      # strict JSON: what the engine stores
    json.dumps(result.extras, allow_nan=False)


@SETTINGS
@given(schema=SCHEMAS, name=st.sampled_from(NAMES), value=JSON, context=CONTEXTS)
def test_any_value_for_any_field(schema, name, value, context):
    check(validate_data(schema, {name: value}, context))


@SETTINGS
@given(name=st.sampled_from(NAMES), value=JSON, context=CONTEXTS)
def test_any_value_for_any_field_alone(name, value, context):
    # One optional field per form: the value reaches the cleaned data whenever it is valid.
    field = next(f for f in OPTIONAL["fields"] if f["name"] == name)
    alone = not {"expression", "visible_if"} & set(field)
    fields = [field] if alone else OPTIONAL["fields"]
    check(validate_data({"fields": fields}, {name: value}, context))


@SETTINGS
@given(schema=SCHEMAS, rows=ROWS, others=st.dictionaries(st.sampled_from(NAMES), JSON, max_size=4),
       context=CONTEXTS)
def test_any_table_rows(schema, rows, others, context):
    check(validate_data(schema, {**others, "items": rows}, context))


@SETTINGS
@given(schema=SCHEMAS,
       data=st.dictionaries(st.text(max_size=12) | st.sampled_from(NAMES + ["items-0-desc", "range-start"]),
                            JSON, max_size=8), context=CONTEXTS)
def test_any_keys(schema, data, context):
    result = validate_data(schema, data, context)
    check(result)
    for key in data:
        if key not in NAMES:
            assert key in result.errors


@SETTINGS
@given(schema=SCHEMAS, data=JSON, context=CONTEXTS)
def test_any_document(schema, data, context):
    check(validate_data(schema, data, context))


class MultiDict:
    def __init__(self, pairs):
        self.pairs = pairs

    def getlist(self, key):
        return [v for k, v in self.pairs if k == key]

    def __contains__(self, key):
        return any(k == key for k, _ in self.pairs)

    def __iter__(self):
        return iter(dict.fromkeys(k for k, _ in self.pairs))

    def __len__(self):
        return len(dict.fromkeys(k for k, _ in self.pairs))


POST_KEYS = st.sampled_from(NAMES) | st.sampled_from(["range-start", "range-end", "work-start", "work-end"]) \
    | st.builds(lambda i, c: f"items-{i}-{c}", st.sampled_from([0, 1, 2, 7, 99999999999]),
                st.sampled_from([*COLUMN_NAMES, "zz"])) | st.text(max_size=10)
POST_VALUES = st.text(max_size=20) | SPECIAL_STRINGS


@SETTINGS
@given(schema=SCHEMAS, pairs=st.lists(st.tuples(POST_KEYS, POST_VALUES), max_size=20), context=CONTEXTS)
def test_any_form_post(schema, pairs, context):
    check(validate_formdata(load_schema(schema), MultiDict(pairs), context))


# -- expressions ------------------------------------------------------------------------------------------------

ENV_NAMES = ["a", "b", "c", "items", "missing"]
LEAVES = (st.sampled_from(ENV_NAMES)
          | st.integers(-10 ** 30, 10 ** 30).map(str)
          | st.floats(allow_nan=False, allow_infinity=False).map(repr)
          | st.sampled_from(["True", "False", "None", "''", "'abc'", "'price'", "'1e308'", "[]", "[1, 'x']",
                             "1e308", "0", "0.0", "-1"]))


def _combine(children):
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "//", "%", "==", "!=", "<", "<=", ">", ">=",
                                                  "in", "not in", "and", "or", "is", "is not"]), children)
    return (binary.map(lambda t: f"({t[0]} {t[1]} {t[2]})")
            | children.map(lambda e: f"(not {e})")
            | children.map(lambda e: f"(-{e})")
            | st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})")
            | st.tuples(children, children).map(lambda t: f"{t[0]}[{t[1]}]")
            | st.lists(children, max_size=3).map(lambda xs: f"[{', '.join(xs)}]")
            | st.tuples(st.sampled_from(["len", "sum", "min", "max", "abs", "round"]),
                        st.lists(children, max_size=3)).map(lambda t: f"{t[0]}({', '.join(t[1])})"))


EXPRESSIONS = st.recursive(LEAVES, _combine, max_leaves=25)
ENVS = st.fixed_dictionaries({name: JSON for name in ENV_NAMES[:3]},
                             optional={"items": st.lists(ROW | JSON, max_size=4)})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=EXPRESSIONS, env=ENVS)
def test_compiled_expressions_only_raise_expression_errors(source, env):
    try:
        tree = compile_expression(source)
    except ExpressionError:
        return
    with contextlib.suppress(ExpressionError):
        evaluate(tree, env)


@settings(max_examples=300, deadline=None)
@given(source=st.text(max_size=60) | st.text(alphabet="()[]-+*/%<>=!,.'\"_abcxyz019 :\\", max_size=120))
def test_any_text_compiles_or_raises_expression_error(source):
    try:
        tree = compile_expression(source)
    except ExpressionError:
        return
    with contextlib.suppress(ExpressionError):
        evaluate(tree, {"a": 1, "x": "s"})
