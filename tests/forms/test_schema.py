"""Tests for forms.schema: loading, defaults, and exact problem messages naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from forms.schema import MAX_BYTES, META_SCHEMA_PATH, FormSchema, SchemaError, load_schema, parse_size

ROOT = Path(__file__).resolve().parents[2]

# One minimal valid field of each type (the table, quiz, serial... with their required keys).
MINIMAL = {
    "text": {"name": "f", "type": "text"},
    "textarea": {"name": "f", "type": "textarea"},
    "number": {"name": "f", "type": "number"},
    "money": {"name": "f", "type": "money"},
    "date": {"name": "f", "type": "date"},
    "datetime": {"name": "f", "type": "datetime"},
    "date_range": {"name": "f", "type": "date_range"},
    "select": {"name": "f", "type": "select", "options": ["a", "b"]},
    "radio": {"name": "f", "type": "radio", "options": [True, False]},
    "checkboxes": {"name": "f", "type": "checkboxes", "provider": "tags"},
    "user": {"name": "f", "type": "user"},
    "department": {"name": "f", "type": "department"},
    "file": {"name": "f", "type": "file"},
    "rating": {"name": "f", "type": "rating"},
    "notice": {"name": "f", "type": "notice", "content": {"zh": "注意", "en": "Note"}},
    "table": {"name": "f", "type": "table", "columns": [{"name": "c", "type": "text"}]},
    "quiz": {"name": "f", "type": "quiz", "kind": "single", "options": ["x", "y"], "answer": "x"},
    "serial": {"name": "f", "type": "serial", "pattern": "HR-{yyyy}{mm}-{seq:4}"},
    "formula": {"name": "f", "type": "formula", "expression": "1 + 1"},
    "related": {"name": "f", "type": "related"},
}


def problems(source) -> list[str]:
    with pytest.raises(SchemaError) as info:
        load_schema(source)
    return info.value.problems


def one(field: dict, **form) -> list[str]:
    return problems({"fields": [field], **form})


def test_every_type_of_the_meta_schema_has_a_minimal_field():
    types = json.loads(META_SCHEMA_PATH.read_text())["$defs"]["field"]["properties"]["type"]["enum"]
    assert sorted(types) == sorted(MINIMAL)


@pytest.mark.parametrize("kind", sorted(MINIMAL))
def test_minimal_field_of_each_type_loads(kind):
    schema = load_schema({"fields": [MINIMAL[kind]]})
    assert isinstance(schema, FormSchema)
    field = schema.field("f")
    assert field["type"] == kind
    assert field["label"] == "f" and field["required"] is False and field["readonly"] is False
    assert len(schema.checksum) == 64


def test_defaults_are_filled_in():
    schema = load_schema({"fields": [MINIMAL[k] | {"name": k} for k in
                                     ("money", "rating", "date_range", "file", "table", "user", "department",
                                      "select", "related", "quiz")]})
    f = schema.field
    assert (f("money")["currency"], f("money")["min"]) == ("CNY", 0)
    assert f("rating")["max"] == 5
    assert (f("date_range")["unit"], f("date_range")["workdays"], f("date_range")["with_time"]) == \
        ("days", False, False)
    assert (f("file")["max_files"], f("file")["accept"], f("file")["max_size"]) == (1, [], 20 * 1024 * 1024)
    assert (f("table")["min_rows"], f("table")["max_rows"], f("table")["sums"]) == (0, 200, [])
    assert f("table")["columns"][0] == {"name": "c", "type": "text", "label": "c", "required": False,
                                        "readonly": False}
    assert (f("user")["provider"], f("user")["multiple"]) == ("users", False)
    assert f("department")["provider"] == "departments"
    assert f("select")["options"] == [{"value": "a", "label": "a"}, {"value": "b", "label": "b"}]
    assert f("related")["multiple"] is False
    assert f("quiz")["points"] == 1
    assert schema.data["scoring"] == {"pass_mark": 80, "multiple": "all_or_nothing", "result_field": "quiz_result"}


def test_true_false_quiz_gets_true_false_options_and_hours_range_gets_time():
    schema = load_schema({"fields": [
        {"name": "q", "type": "quiz", "kind": "true_false", "answer": True},
        {"name": "r", "type": "date_range", "unit": "hours"}]})
    assert [o["value"] for o in schema.field("q")["options"]] == [True, False]
    assert schema.field("r")["with_time"] is True


def test_file_sizes_are_parsed():
    assert load_schema({"fields": [{"name": "f", "type": "file", "max_size": "1.5KB"}]}).field("f")["max_size"] \
        == 1536
    assert load_schema({"fields": [{"name": "f", "type": "file", "max_size": "10 mb"}]}).field("f")["max_size"] \
        == 10 * 1024 * 1024
    assert parse_size(7) == 7
    with pytest.raises(ValueError):
        parse_size("ten")


@pytest.mark.parametrize(("field", "expected"), [
    ({"name": "amount", "type": "number", "min": "x"}, "field `amount`: `min` must be a number"),
    ({"name": "amount", "type": "number", "min": True}, "field `amount`: `min` must be a number"),
    ({"name": "amount", "type": "number", "foo": 1},
     "field `amount`: `foo` is not a key of a `number` field (allowed: default, default_from, help, integer, "
     "label, max, min, name, placeholder, readonly, required, required_if, step, type, visible_if)"),
    ({"name": "net-amount", "type": "number"},
     "field `net-amount`: `name` `net-amount` must be letters, digits and `_`, not starting with a digit"),
    ({"name": "1st", "type": "text"},
     "field `1st`: `name` `1st` must be letters, digits and `_`, not starting with a digit"),
    ({"name": "a-b", "type": "text"},
     "field `a-b`: `name` `a-b` must be letters, digits and `_`, not starting with a digit"),
    ({"type": "text"}, "field `#1`: `name` is required for a `text` field"),
    ({"name": "a"}, "field `a`: `type` is required"),
    ({"name": "a", "type": "texts"},
     "field `a`: `type` must be one of: checkboxes, date, date_range, datetime, department, file, formula, "
     "money, notice, number, quiz, radio, rating, related, select, serial, table, text, textarea, user "
     "(got \"texts\")"),
    ({"name": "s", "type": "select"}, "field `s`: `options` or `provider` is required for a `select` field"),
    ({"name": "s", "type": "radio"}, "field `s`: `options` or `provider` is required for a `radio` field"),
    ({"name": "s", "type": "checkboxes"},
     "field `s`: `options` or `provider` is required for a `checkboxes` field"),
    ({"name": "s", "type": "select", "options": ["a"], "provider": "p"},
     "field `s`: give `options` or `provider`, not both"),
    ({"name": "s", "type": "select", "options": []}, "field `s`: `options` must not be empty"),
    ({"name": "s", "type": "select", "options": ["a", "a"]}, "field `s`: an option value is listed twice"),
    ({"name": "s", "type": "select", "options": ["a"], "default": "b"},
     "field `s`: `default` `b` is not one of the options"),
    ({"name": "s", "type": "checkboxes", "options": ["a"], "max_choices": 2},
     "field `s`: `max_choices` is more than the 1 options"),
    ({"name": "t", "type": "text", "pattern": "("},
     "field `t`: `pattern` is not a valid regular expression: missing ), unterminated subpattern at position 0"),
    ({"name": "n", "type": "number", "min": 5, "max": 1}, "field `n`: `min` (5) is greater than `max` (1)"),
    ({"name": "t", "type": "text", "min_length": 5, "max_length": 2},
     "field `t`: `min_length` (5) is greater than `max_length` (2)"),
    ({"name": "n", "type": "number", "step": 0}, "field `n`: `step` must be greater than 0"),
    ({"name": "n", "type": "number", "visible_if": "zz > 1"}, "field `n`: `visible_if` uses unknown field `zz`"),
    ({"name": "n", "type": "number", "required_if": "a or b"},
     "field `n`: `required_if` uses unknown fields `a`, `b`"),
    ({"name": "n", "type": "number", "required_if": ""}, "field `n`: `required_if` must not be empty"),
    ({"name": "f", "type": "formula", "expression": "f + 1"},
     "field `f`: formulas depend on each other in a loop: f -> f"),
    ({"name": "f", "type": "formula"}, "field `f`: `expression` is required for a `formula` field"),
    ({"name": "f", "type": "formula", "expression": "1", "decimals": 11}, "field `f`: `decimals` must be at most 10"),
    ({"name": "f", "type": "formula", "expression": "__import__('os')"},
     "field `f`: `expression`: function `__import__` is not allowed (allowed: len, sum, min, max, abs, round)"),
    ({"name": "f", "type": "formula", "expression": "open('f')"},
     "field `f`: `expression`: function `open` is not allowed (allowed: len, sum, min, max, abs, round)"),
    ({"name": "f", "type": "formula", "expression": "(1).__class__"},
     "field `f`: `expression`: attribute access `.__class__` is not allowed"),
    ({"name": "f", "type": "formula", "expression": "1 +"},
     "field `f`: `expression`: invalid expression `1 +`: invalid syntax"),
    ({"name": "m", "type": "money", "min": -1},
     "field `m`: `min` must not be negative (amounts are shown in capital numerals)"),
    ({"name": "m", "type": "money", "currency": "rmb"},
     "field `m`: `currency` `rmb` does not have the expected form (^[A-Z]{3}$)"),
    ({"name": "d", "type": "date", "min": "yesterday"},
     "field `d`: `min` must be an ISO date or `today` (got `yesterday`)"),
    ({"name": "d", "type": "datetime", "max": "2026-13-01T00:00"},
     "field `d`: `max` must be an ISO datetime or `today` (got `2026-13-01T00:00`)"),
    ({"name": "r", "type": "date_range", "unit": "hours", "with_time": False},
     "field `r`: `unit: hours` needs `with_time: true`"),
    ({"name": "r", "type": "date_range", "unit": "weeks"},
     "field `r`: `unit` must be one of: days, hours (got \"weeks\")"),
    ({"name": "r", "type": "rating", "max": 11}, "field `r`: `max` must be at most 10"),
    ({"name": "q", "type": "quiz", "kind": "single", "options": ["a", "b"], "answer": "c"},
     "field `q`: answer `c` is not one of the options"),
    ({"name": "q", "type": "quiz", "kind": "multiple", "options": ["a", "b"], "answer": ["a", "z"]},
     "field `q`: answer `z` is not one of the options"),
    ({"name": "q", "type": "quiz", "kind": "single", "options": ["a"]},
     "field `q`: `answer` is required for a `quiz` field"),
    ({"name": "s", "type": "serial", "pattern": "HR-{yyyy}"},
     "field `s`: `pattern`: serial pattern 'HR-{yyyy}' has no {seq} token"),
    ({"name": "s", "type": "serial", "pattern": "HR-{seq:4}{"},
     "field `s`: `pattern`: unmatched `{` in serial pattern 'HR-{seq:4}{'; write `{{` for a literal brace"),
    ({"name": "f", "type": "file", "accept": ["pdf"]},
     "field `f`: `accept` entry `pdf` must be an extension (.pdf) or a type (image/*)"),
    ({"name": "f", "type": "file", "accept": ["image/"]},
     "field `f`: `accept` entry `image/` must be an extension (.pdf) or a type (image/*)"),
    ({"name": "f", "type": "file", "max_size": "10 parsecs"},
     "field `f`: `max_size` must be a size such as 10MB (got `10 parsecs`)"),
    ({"name": "f", "type": "file", "max_size": 0}, "field `f`: `max_size` must be a size such as 10MB (got `0`)"),
    ({"name": "n", "type": "notice"}, "field `n`: `content` is required for a `notice` field"),
    ({"name": "t", "type": "text", "label": {"fr": "x"}},
     "field `t`: `label` must be a string or a mapping with `zh` and/or `en`"),
    ({"name": "t", "type": "text", "required": "yes"}, "field `t`: `required` must be true or false"),
    ({"name": "t", "type": "table", "columns": []}, "field `t`: `columns` must not be empty"),
])
def test_field_problem_messages(field, expected):
    assert one(field) == [expected]


@pytest.mark.parametrize(("table", "expected"), [
    ({"columns": [{"name": "a", "type": "text"}], "sums": ["a"]},
     "field `t`: `sums` names `a`, which is not a number, money or formula column"),
    ({"columns": [{"name": "a", "type": "number"}], "sums": ["b"]}, "field `t`: `sums` names `b`, which is not a column"),
    ({"columns": [{"name": "a", "type": "file"}]},
     "field `t.a`: `type` must be one of: text, textarea, number, money, date, datetime, select, radio, "
     "checkboxes, user, department, rating, formula (got \"file\")"),
    ({"columns": [{"name": "a", "type": "number", "min": "x"}]}, "field `t.a`: `min` must be a number"),
    ({"columns": [{"name": "a", "type": "number"}, {"name": "a", "type": "text"}]},
     "field `t`: a column name is used twice"),
    ({"columns": [{"name": "a", "type": "number"}], "min_rows": 3, "max_rows": 1},
     "field `t`: `min_rows` (3) is greater than `max_rows` (1)"),
    ({"columns": [{"name": "a", "type": "formula", "expression": "zz * 2"}]},
     "field `t.a`: `expression` uses unknown field `zz`"),
    ({"columns": [{"name": "a", "type": "formula", "expression": "b"},
                  {"name": "b", "type": "formula", "expression": "a"}]},
     "field `t.a`: formulas depend on each other in a loop: a -> b -> a"),
])
def test_table_problem_messages(table, expected):
    assert one({"name": "t", "type": "table", **table}) == [expected]


def test_a_column_formula_cannot_read_top_level_fields():
    # Column expressions see the row only: a top-level name is unknown there.
    assert problems({"fields": [{"name": "rate", "type": "number"},
                                {"name": "t", "type": "table", "columns": [
                                    {"name": "p", "type": "number"},
                                    {"name": "f", "type": "formula", "expression": "p * rate"}]}]}) == \
        ["field `t.f`: `expression` uses unknown field `rate`"]


def test_formula_loop_a_b_a_is_named():
    assert problems({"fields": [{"name": "a", "type": "formula", "expression": "b + 1"},
                                {"name": "b", "type": "formula", "expression": "a + 1"}]}) == \
        ["field `a`: formulas depend on each other in a loop: a -> b -> a"]


def test_formula_chain_without_loop_loads():
    schema = load_schema({"fields": [{"name": "x", "type": "number"},
                                     {"name": "b", "type": "formula", "expression": "a * 2"},
                                     {"name": "a", "type": "formula", "expression": "x + 1"}]})
    assert set(schema.exprs) == {"b:expression", "a:expression"}


@pytest.mark.parametrize("expression", ["x.__class__", "__import__('os')", "open('f')", "x.__class__.__bases__",
                                        "(lambda: 1)()", "[c for c in x]", "eval('1')", "_x", "x[0:1]"])
def test_forbidden_expressions_are_refused_in_every_expression_key(expression):
    for key in ("visible_if", "required_if"):
        found = one({"name": "x", "type": "text", key: expression})
        assert len(found) == 1 and found[0].startswith(f"field `x`: `{key}`: "), found
    found = problems({"fields": [{"name": "x", "type": "text"},
                                 {"name": "f", "type": "formula", "expression": expression}]})
    assert len(found) == 1 and found[0].startswith("field `f`: `expression`: "), found


def test_duplicate_field_names():
    assert problems({"fields": [MINIMAL["text"], MINIMAL["number"]]}) == ["field `f`: the name is used twice"]


def test_notice_is_not_a_value_for_expressions():
    assert problems({"fields": [MINIMAL["notice"] | {"name": "n"},
                                {"name": "a", "type": "number", "visible_if": "n"}]}) == \
        ["field `a`: `visible_if` uses unknown field `n`"]


@pytest.mark.parametrize(("access", "expected"), [
    ({"N": {"editable": ["zz"]}}, "access `N`: `zz` is not a field of this form"),
    ({"N": {"hidden": ["zz"]}}, "access `N`: `zz` is not a field of this form"),
    ({"N": {"editable": ["a"], "hidden": ["a"]}}, "access `N`: `a` is both editable and hidden"),
    ({"N": {"writable": ["a"]}}, "form: unknown key `writable`"),
    ([], "form: `access` must be a mapping"),
])
def test_access_problem_messages(access, expected):
    assert problems({"fields": [{"name": "a", "type": "text"}], "access": access}) == [expected]


def test_unknown_form_key():
    assert problems({"fields": [], "fieldz": []}) == ["form: unknown key `fieldz`"]


def test_every_problem_is_reported_at_once():
    found = problems({"fields": [{"name": "a", "type": "number", "min": 3, "max": 1},
                                 {"name": "b", "type": "select"},
                                 {"name": "c", "type": "text", "visible_if": "zz"}]})
    assert found == ["field `a`: `min` (3) is greater than `max` (1)",
                     "field `b`: `options` or `provider` is required for a `select` field",
                     "field `c`: `visible_if` uses unknown field `zz`"]


def test_schema_error_text_names_the_source_on_every_line():
    with pytest.raises(SchemaError) as info:
        load_schema({"fields": [{"name": "a", "type": "number", "min": "x"}, {"name": "2b", "type": "text"}]},
                    name="purchase.yaml")
    assert str(info.value) == ("purchase.yaml: field `a`: `min` must be a number\n"
                               "purchase.yaml: field `2b`: `name` `2b` must be letters, digits and `_`, "
                               "not starting with a digit")
    assert info.value.source == "purchase.yaml"


# -- reading --------------------------------------------------------------------------------------------------

def test_yaml_and_json_text_load_the_same_schema():
    yaml_text = "title: {zh: 表, en: Form}\nfields:\n  - {name: a, type: number, min: 1}\n"
    json_text = json.dumps({"title": {"zh": "表", "en": "Form"}, "fields": [{"name": "a", "type": "number", "min": 1}]})
    assert load_schema(yaml_text) == load_schema(json_text) == load_schema(yaml_text.encode())


BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
fields: [*h]
"""


def test_yaml_aliases_are_refused_in_one_line():
    with pytest.raises(SchemaError) as info:
        load_schema(BILLION_LAUGHS)
    assert info.value.problems == ["line 2: invalid YAML: aliases (*name) are not allowed"]
    assert "\n" not in str(info.value)
    assert problems("fields: []\nx: &anchor 1\ny: *anchor\n") == \
        ["line 3: invalid YAML: aliases (*name) are not allowed"]


def test_yaml_merge_keys_need_aliases_and_are_refused():
    text = "base: &base {type: text}\nfields:\n  - {<<: *base, name: a}\n"
    assert problems(text) == ["line 3: invalid YAML: aliases (*name) are not allowed"]


def test_yaml_python_tags_are_refused():
    found = problems("fields: []\nversion: !!python/object/apply:os.system ['true']\n")
    assert found == ["line 2: invalid YAML: could not determine a constructor for the tag "
                     "'tag:yaml.org,2002:python/object/apply:os.system'"]


def test_yaml_syntax_error_gives_the_line():
    assert problems("title: x\nfields:\n  - {name: a, type: text\n") == \
        ["line 4: invalid YAML: expected ',' or '}', but got '<stream end>'"]
    assert problems("fields:\n  - name: a\n   type: text\n") == \
        ["line 3: invalid YAML: expected <block end>, but found '<block mapping start>'"]
    assert problems("fields: [\n  {name: a: b}]\n") == ["line 2: invalid YAML: expected ',' or '}', but got ':'"]


def test_json_file_syntax_error_gives_the_line(tmp_path):
    path = tmp_path / "form.json"
    path.write_text('{"fields": [\n  {"name": "a",}\n]}', encoding="utf-8")
    with pytest.raises(SchemaError) as info:
        load_schema(path)
    assert info.value.problems == ["line 2: invalid JSON: Expecting property name enclosed in double quotes"]
    assert info.value.source == str(path)


def test_schema_files_load_from_paths(tmp_path):
    (tmp_path / "f.yaml").write_text("fields:\n  - {name: a, type: text}\n", encoding="utf-8")
    (tmp_path / "f.json").write_text('{"fields": [{"name": "a", "type": "text"}]}', encoding="utf-8")
    assert load_schema(tmp_path / "f.yaml") == load_schema(tmp_path / "f.json")
    with pytest.raises(SchemaError) as info:
        load_schema(tmp_path / "missing.yaml")
    assert info.value.problems == ["cannot read: No such file or directory"]


@pytest.mark.parametrize("text", ["- 1\n- 2\n", "just a string", "", "42", "null", "[]"])
def test_a_document_that_is_not_a_mapping_is_refused(text):
    assert problems(text) == ["a form schema must be a mapping with a `fields` list"]


def test_fields_must_be_a_list_of_mappings():
    assert problems({}) == ["form: `fields` is required"]
    assert problems({"fields": "x"}) == ["form: `fields` must be a list"]
    assert problems({"fields": [1]}) == ["field `#1`: this must be a mapping"]


def test_more_than_one_megabyte_is_refused(tmp_path):
    big = "fields: []\n#" + "x" * MAX_BYTES
    assert problems(big) == [f"file is larger than {MAX_BYTES} bytes"]
    assert problems(big.encode()) == [f"file is larger than {MAX_BYTES} bytes"]
    path = tmp_path / "big.yaml"
    path.write_text(big, encoding="utf-8")
    with pytest.raises(SchemaError) as info:
        load_schema(path)
    assert info.value.problems == [f"file is larger than {MAX_BYTES} bytes"]


def test_the_size_limit_counts_bytes_not_characters():
    text = "fields: []\n#" + "中" * (MAX_BYTES // 2)   # half a million characters, 1.5 MB of UTF-8
    assert problems(text) == [f"file is larger than {MAX_BYTES} bytes"]
    assert load_schema("fields: []\n#" + "中" * (MAX_BYTES // 4)).fields == ()


def test_not_utf8_is_refused():
    assert problems(b"fields: []\n\xff") == ["not UTF-8 text (invalid start byte at byte 11)"]


@pytest.mark.parametrize("text", ["fields: " + "[" * 50000 + "]" * 50000,
                                  '{"fields": ' + "[" * 50000 + "]" * 50000 + "}"])
def test_deep_nesting_is_a_schema_error(text):
    assert problems(text) == ["the document is nested too deeply"]


def test_deep_nesting_in_a_json_file_is_a_schema_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"fields": ' + "[" * 50000 + "]" * 50000 + "}", encoding="utf-8")
    with pytest.raises(SchemaError) as info:
        load_schema(path)
    assert info.value.problems == ["the document is nested too deeply"]


def test_a_huge_integer_is_a_schema_error():
    found = problems("fields: []\nversion: " + "1" * 5000 + "\n")
    assert len(found) == 1 and found[0].startswith("invalid value: ")


@pytest.mark.parametrize("source", [
    {"fields": [{"name": "a", "type": "text", "label": "\ud800"}]},
    '{"fields": [{"name": "a", "type": "text", "label": "\\ud800"}]}',
    {"fields": [{"name": "a", "type": "text", "visible_if": "'\udfff'"}]},
])
def test_lone_surrogates_are_a_schema_error(source):
    assert problems(source) == ["the schema contains a lone surrogate (such as \\ud800), which is not valid text"]


# -- access ---------------------------------------------------------------------------------------------------

def test_access_for_nodes():
    schema = load_schema({
        "fields": [{"name": "a", "type": "text"}, {"name": "b", "type": "text"}, {"name": "c", "type": "text"},
                   {"name": "d", "type": "text", "readonly": True}, MINIMAL["formula"], MINIMAL["notice"] | {"name": "n"},
                   MINIMAL["serial"] | {"name": "s"}],
        "access": {"Review": {"editable": ["a", "d"], "hidden": ["c"]}, "Open": {}}})
    assert schema.access_for(None) == {"a": "editable", "b": "editable", "c": "editable", "d": "readonly",
                                       "f": "readonly", "n": "readonly", "s": "readonly"}
    assert schema.access_for("Review") == {"a": "editable", "b": "readonly", "c": "hidden", "d": "readonly",
                                           "f": "readonly", "n": "readonly", "s": "readonly"}
    assert schema.access_for("Open") == {"a": "readonly", "b": "readonly", "c": "readonly", "d": "readonly",
                                         "f": "readonly", "n": "readonly", "s": "readonly"}
    assert schema.access_for("NotListed") == schema.access_for(None)


# -- shipped schemas and the meta-schema ----------------------------------------------------------------------

SHIPPED = sorted([*ROOT.glob("processes/*/forms/*.yaml"), *ROOT.glob("tests/fixtures/packages/*/forms/*.yaml")])


def test_there_are_shipped_forms():
    assert len(SHIPPED) >= 6


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_forms_load(path):
    schema = load_schema(path)
    assert schema.fields and all(f["name"] for f in schema.fields)


def test_meta_schema_is_a_valid_draft_2020_12_schema():
    meta = json.loads(META_SCHEMA_PATH.read_text(encoding="utf-8"))
    assert meta["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(meta)


def test_meta_schema_column_types_are_field_types():
    defs = json.loads(META_SCHEMA_PATH.read_text(encoding="utf-8"))["$defs"]
    assert set(defs["column"]["properties"]["type"]["enum"]) <= set(defs["field"]["properties"]["type"]["enum"])


def test_loading_is_deterministic_and_checksum_tracks_content():
    a = load_schema({"fields": [{"name": "a", "type": "text"}]})
    b = load_schema({"fields": [{"type": "text", "name": "a"}]})
    c = load_schema({"fields": [{"name": "a", "type": "text", "required": True}]})
    assert a.checksum == b.checksum != c.checksum
    assert json.loads(a.to_json()) == a.data
