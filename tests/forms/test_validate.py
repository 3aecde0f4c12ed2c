"""Tests for forms.build validation: every field type, the rules, access per node, tables, files, form posts."""

from __future__ import annotations

import io
from datetime import date

import pytest

from forms.build import FormContext, StaticProviders, ValidationResult, validate_data, validate_formdata
from forms.files import FileStore
from forms.schema import load_schema

TODAY = date(2026, 3, 1)
PROVIDERS = StaticProviders(
    lists={"cities": [{"value": "bj", "label": "Beijing"}, {"value": "sh", "label": "Shanghai"}]},
    ids={"user": {"u1", "u2"}, "department": {"d1"}, "related": {"i1"}})


def context(**values) -> FormContext:
    values.setdefault("lang", "en")
    values.setdefault("today", TODAY)
    values.setdefault("providers", PROVIDERS)
    return FormContext(**values)


def run(fields: list[dict], data, form: dict | None = None, **ctx) -> ValidationResult:
    return validate_data(load_schema({"fields": fields, **(form or {})}), data, context(**ctx))


def cleaned(field: dict, value, **ctx):
    result = run([field], {field["name"]: value}, **ctx)
    assert result.errors == {}, result.errors
    assert result.ok
    return result.data[field["name"]]


def refused(field: dict, value, **ctx) -> list[str]:
    result = run([field], {field["name"]: value}, **ctx)
    assert set(result.errors) == {field["name"]}, result.errors
    assert result.data == {} and not result.ok
    return result.errors[field["name"]]


class MultiDict:
    """A werkzeug-free stand-in for a browser post: (key, string) pairs read with `getlist`."""

    def __init__(self, pairs):
        self.pairs = [(k, v) for k, v in pairs]

    def getlist(self, key):
        return [v for k, v in self.pairs if k == key]

    def __contains__(self, key):
        return any(k == key for k, _ in self.pairs)

    def __iter__(self):
        return iter(dict.fromkeys(k for k, _ in self.pairs))

    def __len__(self):
        return len(dict.fromkeys(k for k, _ in self.pairs))


# -- valid values of every type and their cleaned form -------------------------------------------------------

TEXT = {"name": "v", "type": "text", "min_length": 2, "max_length": 5, "pattern": "[a-z]+"}
TEXTAREA = {"name": "v", "type": "textarea", "max_length": 10}
NUMBER = {"name": "v", "type": "number", "min": 1, "max": 10, "step": 0.5}
INTEGER = {"name": "v", "type": "number", "integer": True}
MONEY = {"name": "v", "type": "money", "min": 10, "max": 100000}
DATE = {"name": "v", "type": "date", "min": "2026-01-01", "max": "today"}
DATETIME = {"name": "v", "type": "datetime", "min": "2026-01-01T08:00"}
RANGE = {"name": "v", "type": "date_range", "min_duration": 2, "max_duration": 10}
HOURS = {"name": "v", "type": "date_range", "unit": "hours", "max_duration": 8}
SELECT = {"name": "v", "type": "select", "options": ["a", "b", {"value": 3, "label": "three"}]}
MULTI_SELECT = {"name": "v", "type": "select", "options": ["a", "b", "c"], "multiple": True}
PROVIDED = {"name": "v", "type": "select", "provider": "cities"}
RADIO = {"name": "v", "type": "radio", "options": [True, False]}
CHECKBOXES = {"name": "v", "type": "checkboxes", "options": ["a", "b", "c"], "min_choices": 2, "max_choices": 2}
USER = {"name": "v", "type": "user"}
USERS = {"name": "v", "type": "user", "multiple": True}
DEPARTMENT = {"name": "v", "type": "department"}
RELATED = {"name": "v", "type": "related", "process": "purchase"}
FILE = {"name": "v", "type": "file", "max_files": 2}
RATING = {"name": "v", "type": "rating"}
SINGLE = {"name": "v", "type": "quiz", "kind": "single", "options": ["x", "y"], "answer": "x"}
MULTIPLE = {"name": "v", "type": "quiz", "kind": "multiple", "options": ["x", "y", "z"], "answer": ["x", "y"]}
TRUE_FALSE = {"name": "v", "type": "quiz", "kind": "true_false", "answer": True}
SHORT = {"name": "v", "type": "quiz", "kind": "short_answer", "answer": "Beijing", "required": True}
REF = {"id": "0" * 32, "name": "a.pdf", "size": 3, "sha256": "ab", "content_type": "application/pdf"}


@pytest.mark.parametrize(("field", "value", "expected"), [
    (TEXT, "  abc ", "abc"),
    (TEXT, "ab", "ab"),
    (TEXTAREA, "a\nb", "a\nb"),
    (NUMBER, "2.5", 2.5),
    (NUMBER, 3, 3),
    (NUMBER, 10.0, 10),
    (NUMBER, " 1.50 ", 1.5),
    (INTEGER, "4", 4),
    (INTEGER, 4.0, 4),
    (INTEGER, "-12", -12),
    (INTEGER, "1,000", 1000),
    (INTEGER, 10 ** 39, 10 ** 39),
    (MONEY, "1,234.5", 1234.5),
    (MONEY, 100, 100),
    (MONEY, 12.5, 12.5),
    (MONEY, "10.00", 10),
    (MONEY, "１２３", 123),
    (DATE, "2026-02-01", "2026-02-01"),
    (DATE, "2026-03-01", "2026-03-01"),
    (DATETIME, "2026-01-02 09:30", "2026-01-02T09:30"),
    (DATETIME, "2026-01-02T09:30:15", "2026-01-02T09:30:15"),
    (DATETIME, "2026-01-01T08:00", "2026-01-01T08:00"),
    (DATETIME, "2026-01-02", "2026-01-02T00:00"),
    (RANGE, {"start": "2026-01-05", "end": "2026-01-09"},
     {"start": "2026-01-05", "end": "2026-01-09", "duration": 5}),
    (RANGE, {"start": "2026-01-01", "end": "2026-01-10"},
     {"start": "2026-01-01", "end": "2026-01-10", "duration": 10}),
    (HOURS, {"start": "2026-01-05T09:00", "end": "2026-01-05T17:00"},
     {"start": "2026-01-05T09:00:00", "end": "2026-01-05T17:00:00", "duration": 8}),
    (HOURS | {"max_duration": 9}, {"start": "2026-01-05 09:00", "end": "2026-01-05T17:30"},
     {"start": "2026-01-05T09:00:00", "end": "2026-01-05T17:30:00", "duration": 8.5}),
    (SELECT, "b", "b"),
    (SELECT, "3", 3),
    (SELECT, 3, 3),
    (SELECT, ["a"], "a"),
    (MULTI_SELECT, ["a", "c"], ["a", "c"]),
    (MULTI_SELECT, "b", ["b"]),
    (PROVIDED, "bj", "bj"),
    (RADIO, False, False),
    (RADIO, "false", False),
    (RADIO, "true", True),
    (CHECKBOXES, ["a", "c"], ["a", "c"]),
    (CHECKBOXES, ["c", "a", "c"], ["c", "a"]),
    (USER, "u1", "u1"),
    (USER, " u2 ", "u2"),
    (USERS, ["u1", "u2"], ["u1", "u2"]),
    (USERS, "u1", ["u1"]),
    (DEPARTMENT, "d1", "d1"),
    (RELATED, "i1", "i1"),
    (FILE, [], []),
    (FILE, [REF], [REF]),
    (FILE, REF, [REF]),
    (RATING, 3, 3),
    (RATING, "5", 5),
    (RATING, 1.0, 1),
    (SINGLE, "y", "y"),
    (MULTIPLE, ["x", "z"], ["x", "z"]),
    (TRUE_FALSE, "true", True),
    (TRUE_FALSE, False, False),
    (TRUE_FALSE, "False", False),
    (SHORT, " Beijing ", "Beijing"),
])
def test_valid_value_and_its_cleaned_form(field, value, expected):
    assert cleaned(field, value) == expected


SCALARS = [TEXT, TEXTAREA, NUMBER, MONEY, DATE, DATETIME, RATING, SHORT]
OTHERS = [RANGE, SELECT, MULTI_SELECT, RADIO, CHECKBOXES, USER, USERS, DEPARTMENT, RELATED, FILE, SINGLE, MULTIPLE,
          TRUE_FALSE]


@pytest.mark.parametrize("field", SCALARS + OTHERS)
@pytest.mark.parametrize("empty", [None, "", "   "])
def test_empty_values_are_none_or_empty_and_required_says_so(field, empty):
    if empty == "   " and field not in SCALARS + [USER, USERS, DEPARTMENT, RELATED]:
        return  # a blank choice is not an empty one: "`   ` is not one of the choices."
    value = cleaned(field | {"required": False}, empty)
    assert value in (None, [])
    assert refused(field | {"required": True}, empty) == ["This field is required."]


@pytest.mark.parametrize("field", OTHERS)
@pytest.mark.parametrize("empty", [[], {}])
def test_empty_lists_and_mappings_are_empty_for_choices_references_files_and_ranges(field, empty):
    assert cleaned(field | {"required": False}, empty) in (None, [])
    assert refused(field | {"required": True}, empty) == ["This field is required."]


@pytest.mark.parametrize("field", SCALARS)
def test_a_list_is_not_an_empty_scalar(field):
    assert len(refused(field | {"required": False}, [])) == 1


def test_missing_required_field():
    assert run([TEXT | {"required": True}], {}).errors == {"v": ["This field is required."]}
    assert run([TEXT], {}).data == {"v": None}


# -- invalid values of every type: exact messages ------------------------------------------------------------

@pytest.mark.parametrize(("field", "value", "messages"), [
    (TEXT, "a", ["Must be at least 2 characters."]),
    (TEXT, "A", ["Must be at least 2 characters.", "Does not have the expected format."]),
    (TEXT, "abcdef", ["Must be at most 5 characters."]),
    (TEXT, "ab1", ["Does not have the expected format."]),
    (TEXT, 5, ["Must be text."]),
    (TEXT, ["ab"], ["Must be text."]),
    (TEXT | {"pattern_message": {"zh": "只能是字母", "en": "Letters only."}}, "12", ["Letters only."]),
    (TEXTAREA, "x" * 11, ["Must be at most 10 characters."]),
    (NUMBER, 0.5, ["Must be at least 1."]),
    (NUMBER, 11, ["Must be at most 10."]),
    (NUMBER, 1.7, ["Must be a multiple of 0.5."]),
    (NUMBER, 0.7, ["Must be at least 1.", "Must be a multiple of 0.5."]),
    (NUMBER, "abc", ["Must be a number."]),
    (NUMBER, True, ["Must be a number."]),
    (NUMBER, [1], ["Must be a number."]),
    (NUMBER, {"n": 1}, ["Must be a number."]),
    (NUMBER, "nan", ["Must be a number."]),
    (NUMBER, float("inf"), ["Must be a number."]),
    (NUMBER, "1e999999999", ["Must be a number."]),
    (NUMBER, "1e-999999999", ["Must be a number."]),
    (NUMBER, "1" * 41, ["Must be a number."]),
    (INTEGER, 1.5, ["Must be a whole number."]),
    (INTEGER, "2.01", ["Must be a whole number."]),
    (MONEY, "5", ["Must be at least 10."]),
    (MONEY, "100000.01", ["Must be at most 100000."]),
    (MONEY, "-5", ["Must not be negative."]),
    (MONEY, "1.234", ["Must be an amount with at most two decimals."]),
    (MONEY, "1e3", ["Must be an amount with at most two decimals."]),
    (MONEY, "12,34", ["Must be an amount with at most two decimals."]),
    (MONEY, True, ["Must be an amount with at most two decimals."]),
    (MONEY, [12], ["Must be an amount with at most two decimals."]),
    (DATE, "2025-12-31", ["Must not be before 2026-01-01."]),
    (DATE, "2026-03-02", ["Must not be after 2026-03-01."]),
    (DATE, "2026-02-30", ["Must be a date (YYYY-MM-DD)."]),
    (DATE, "01/02/2026", ["Must be a date (YYYY-MM-DD)."]),
    (DATE, "2026-02-01T10:00", ["Must be a date (YYYY-MM-DD)."]),
    (DATE, 20260201, ["Must be a date (YYYY-MM-DD)."]),
    (DATETIME, "2026-01-01T07:59", ["Must not be before 2026-01-01 08:00."]),  # written as people write it
    (DATETIME, "2026-01-02T25:00", ["Must be a date and time (YYYY-MM-DD HH:MM)."]),
    (DATETIME, "tomorrow", ["Must be a date and time (YYYY-MM-DD HH:MM)."]),
    (RANGE, {"start": "2026-01-05", "end": "2026-01-05"}, ["Must last at least 2 days."]),
    (RANGE, {"start": "2026-01-01", "end": "2026-01-11"}, ["Must last at most 10 days."]),
    (RANGE, {"start": "2026-01-05"}, ["Give both the start and the end."]),
    (RANGE, {"start": "", "end": "2026-01-05"}, ["Give both the start and the end."]),
    (RANGE, "2026-01-05", ["Give both the start and the end."]),
    (RANGE, ["2026-01-05", "2026-01-07"], ["Give both the start and the end."]),
    (RANGE, {"start": "2026-01-09", "end": "2026-01-05"}, ["The end is before the start."]),
    (RANGE, {"start": "2026-01-05", "end": "soon"}, ["Must be a date (YYYY-MM-DD)."]),
    (HOURS, {"start": "2026-01-05T09:00", "end": "2026-01-05T17:30"}, ["Must last at most 8 hours."]),
    (HOURS, {"start": "2026-01-05T09:00", "end": "later"}, ["Must be a date and time (YYYY-MM-DD HH:MM)."]),
    (SELECT, "zz", ["`zz` is not one of the choices."]),
    (SELECT, ["a", "b"], ["Give one value, not a list."]),
    (SELECT, True, ["`True` is not one of the choices."]),
    (SELECT, {"a": 1}, ["`{\"a\": 1}` is not one of the choices."]),
    (MULTI_SELECT, ["a", "zz"], ["`zz` is not one of the choices."]),
    (MULTI_SELECT, [["a"]], ["`[\"a\"]` is not one of the choices."]),
    (PROVIDED, "gz", ["`gz` is not one of the choices."]),
    (RADIO, "maybe", ["`maybe` is not one of the choices."]),
    (RADIO, 1, ["`1` is not one of the choices."]),
    (CHECKBOXES, ["a"], ["Choose at least 2."]),
    (CHECKBOXES, ["a", "a"], ["Choose at least 2."]),
    (CHECKBOXES, ["a", "b", "c"], ["Choose at most 2."]),
    (CHECKBOXES, ["a", "x"], ["`x` is not one of the choices."]),
    (USER, "u9", ["`u9` is not a known user."]),
    (USER, ["u1", "u2"], ["Give one value, not a list."]),
    (USER, {"id": "u1"}, ["Must be text."]),
    (USER, True, ["Must be text."]),
    (USERS, ["u1", "u9", "u8"], ["`u9` is not a known user.", "`u8` is not a known user."]),
    (DEPARTMENT, "d9", ["`d9` is not a known department."]),
    (RELATED, "i9", ["`i9` is not an approval you may see."]),
    (FILE, "not json", ["Not an uploaded file."]),
    (FILE, [{"id": "x"}], ["Not an uploaded file."]),
    (FILE, [REF | {"size": True}], ["Not an uploaded file."]),
    (FILE, [REF | {"size": "3"}], ["Not an uploaded file."]),
    (FILE, [1], ["Not an uploaded file."]),
    (FILE, [REF, REF, REF], ["Attach at most 2 files."]),
    (RATING, 6, ["Must be a whole number from 1 to 5."]),
    (RATING, 0, ["Must be a whole number from 1 to 5."]),
    (RATING, 2.5, ["Must be a whole number from 1 to 5."]),
    (RATING, "abc", ["Must be a whole number from 1 to 5."]),
    (RATING, True, ["Must be a whole number from 1 to 5."]),
    (RATING, [3], ["Must be a whole number from 1 to 5."]),
    (SINGLE, "w", ["`w` is not one of the choices."]),
    (SINGLE, ["x", "y"], ["Give one value, not a list."]),
    (MULTIPLE, ["x", "w"], ["`w` is not one of the choices."]),
    (TRUE_FALSE, "maybe", ["Must be true or false."]),
    (TRUE_FALSE, 1, ["Must be true or false."]),
    (TRUE_FALSE, [True, False], ["Give one value, not a list."]),
    (SHORT, 5, ["Must be text."]),
    (SHORT, "  ", ["This field is required."]),
])
def test_invalid_value_message(field, value, messages):
    assert refused(field, value) == messages


def test_huge_numbers_are_refused_quickly():
    # 10**5000 cannot even be repr()-ed (Python's 4300-digit limit); "1e999999999" would be a billion digits.
    assert refused(NUMBER, 10 ** 5000) == ["Must be a number."]
    assert refused(RATING, 10 ** 5000) == ["Must be a whole number from 1 to 5."]
    assert refused(MONEY, 10 ** 5000) == ["Must be an amount with at most two decimals."]
    assert refused(MONEY, "9" * 5000) == ["Must be an amount with at most two decimals."]
    assert refused(INTEGER | {"step": 3}, "1" + "0" * 38) == ["Must be a multiple of 3."]
    assert cleaned(INTEGER | {"step": 0.5}, "1" + "0" * 38) == 10 ** 38


def test_chinese_messages():
    result = run([TEXT | {"required": True}, {"name": "u", "type": "user"}],
                 {"v": "", "n": 5, "r": {"start": "2026-01-05", "end": "2026-01-05"}, "u": "nobody", "zz": 1},
                 lang="zh")
    assert result.errors == {"v": ["此项为必填项。"], "n": ["未知字段。"], "r": ["未知字段。"], "u": ["用户“nobody”不存在。"],
                             "zz": ["未知字段。"]}
    assert result.data == {}
    result = run([TEXT, RANGE | {"name": "r"}], {"v": "A", "r": {"start": "2026-01-05", "end": "2026-01-05"}},
                 lang="zh-CN")
    assert result.errors == {"v": ["至少需要 2 个字符。", "格式不正确。"], "r": ["时长不能少于 2 天。"]}


def test_submission_must_be_a_mapping():
    assert run([TEXT], ["v"]).errors == {"": ["Must be a list of fields."]}
    assert run([TEXT], "v", lang="zh").errors == {"": ["必须是字段的列表。"]}


# -- computed and display fields -------------------------------------------------------------------------------

def test_serial_notice_and_formula_values_are_never_taken_from_the_submission():
    fields = [{"name": "sn", "type": "serial", "pattern": "A-{seq}"},
              {"name": "x", "type": "number"},
              {"name": "twice", "type": "formula", "expression": "x * 2"},
              {"name": "note", "type": "notice", "content": "Read me"}]
    result = run(fields, {"sn": "A-1", "twice": 999, "note": "zz", "x": 3})
    assert result.errors == {}
    assert result.data == {"x": 3, "twice": 6}


@pytest.mark.parametrize(("expression", "decimals", "x", "expected"), [
    ("x / 3", 2, 1, 0.33),
    ("x / 3", None, 3, 1.0),
    ("x * 2.5", 0, 1, 3),           # half up
    ("x / 0", None, 1, None),       # a failing formula is empty
    ("'big' if x > 10 else 'small'", None, 11, "big"),
    ("round(x / 3, 1)", None, 2, 0.7),
])
def test_formula_values(expression, decimals, x, expected):
    formula = {"name": "f", "type": "formula", "expression": expression}
    if decimals is not None:
        formula["decimals"] = decimals
    result = run([{"name": "x", "type": "number"}, formula], {"x": x})
    assert result.errors == {}
    assert result.data["f"] == expected
    assert type(result.data["f"]) is type(expected)


def test_formula_chain_is_computed_in_dependency_order():
    result = run([{"name": "c", "type": "formula", "expression": "b + 1"},
                  {"name": "b", "type": "formula", "expression": "a * 10"},
                  {"name": "a", "type": "number"}], {"a": 2})
    assert result.data == {"c": 21, "b": 20, "a": 2}


def test_money_capital_numerals_in_extras():
    result = run([{"name": "m", "type": "money"}, {"name": "z", "type": "money"}], {"m": "1234.5", "z": 0})
    assert result.data == {"m": 1234.5, "z": 0}
    assert result.extras == {"m": {"capital": "壹仟贰佰叁拾肆元伍角"}}
    assert run([{"name": "m", "type": "money"}], {"m": "100000000.01"}).extras == \
        {"m": {"capital": "壹亿元零壹分"}}


# -- required_if, visible_if, unknown fields -------------------------------------------------------------------

REQUIRED_IF = [{"name": "amount", "type": "money"},
               {"name": "manager", "type": "user", "required_if": "amount > 1000"}]


def test_required_if():
    assert run(REQUIRED_IF, {"amount": 2000}).errors == {"manager": ["This field is required."]}
    assert run(REQUIRED_IF, {"amount": 2000, "manager": "u1"}).data == {"amount": 2000, "manager": "u1"}
    assert run(REQUIRED_IF, {"amount": 10}).data == {"amount": 10, "manager": None}
    assert run(REQUIRED_IF, {}).ok


VISIBLE_IF = [{"name": "amount", "type": "money"},
              {"name": "reason", "type": "text", "max_length": 2, "required": True, "visible_if": "amount > 1000"}]


def test_visible_if_hides_a_field_from_validation_and_from_the_cleaned_data():
    hidden = run(VISIBLE_IF, {"amount": 10, "reason": "far too long"})
    assert hidden.errors == {}
    assert hidden.data == {"amount": 10}
    assert run(VISIBLE_IF, {"amount": 10}).data == {"amount": 10}          # required, but hidden
    assert run(VISIBLE_IF, {"amount": 2000, "reason": "far too long"}).errors == \
        {"reason": ["Must be at most 2 characters."]}
    assert run(VISIBLE_IF, {"amount": 2000}).errors == {"reason": ["This field is required."]}
    assert run(VISIBLE_IF, {"amount": 2000, "reason": "ok"}).data == {"amount": 2000, "reason": "ok"}


def test_visible_if_over_a_choice_and_a_value_that_cannot_be_read():
    fields = [{"name": "kind", "type": "select", "options": ["travel", "office"]},
              {"name": "nights", "type": "number", "integer": True, "visible_if": "kind == 'travel'"}]
    assert run(fields, {"kind": "office", "nights": "several"}).data == {"kind": "office"}
    assert run(fields, {"kind": "travel", "nights": "several"}).errors == {"nights": ["Must be a number."]}


def test_unknown_fields_are_rejected():
    result = run([TEXT], {"v": "abc", "zz": 1, "v-start": "x", "items-0-price": 1})
    assert result.errors == {"zz": ["Unknown field."], "v-start": ["Unknown field."],
                             "items-0-price": ["Unknown field."]}
    assert result.data == {}


# -- access per node ---------------------------------------------------------------------------------------------

ACCESS_FORM = {"access": {"Review": {"editable": ["approved", "comment"], "hidden": ["salary"]}}}
ACCESS_FIELDS = [{"name": "amount", "type": "money", "required": True},
                 {"name": "approved", "type": "radio", "options": [True, False], "required": True},
                 {"name": "comment", "type": "text"},
                 {"name": "salary", "type": "number"},
                 {"name": "items", "type": "table", "columns": [{"name": "p", "type": "number"}]}]
STORED = {"amount": 50, "salary": 9000, "items": [{"p": 1}]}


def review(data, **ctx) -> ValidationResult:
    return run(ACCESS_FIELDS, data, ACCESS_FORM, node="Review", values=STORED, **ctx)


def test_editable_fields_at_a_node():
    result = review({"approved": "true", "comment": "fine"})
    assert result.errors == {}
    assert result.data == {"approved": True, "comment": "fine"}


def test_readonly_field_with_the_stored_value_is_accepted_and_not_cleaned():
    result = review({"approved": True, "amount": 50, "items": [{"p": 1}]})
    assert result.errors == {}
    assert result.data == {"approved": True, "comment": None}


@pytest.mark.parametrize(("name", "value"), [("amount", 60), ("amount", None), ("items", [{"p": 2}]),
                                             ("items", [])])
def test_readonly_field_with_another_value_is_refused(name, value):
    result = review({"approved": True, name: value})
    assert result.errors == {name: ["This field is read-only at this step."]}
    assert result.data == {}


def test_readonly_field_not_required_at_the_node():
    # `amount` is required, but read-only at Review: not submitting it is fine.
    assert review({"approved": False}).ok


def test_hidden_field_is_unknown_and_never_cleaned():
    result = review({"approved": True, "salary": 9000})
    assert result.errors == {"salary": ["Unknown field."]}
    assert result.data == {}
    assert "salary" not in review({"approved": True}).data


def test_readonly_message_in_chinese():
    assert review({"approved": True, "amount": 1}, lang="zh").errors == {"amount": ["此步骤中该字段为只读。"]}


def test_a_field_marked_readonly_in_the_schema_is_readonly_everywhere():
    fields = [{"name": "code", "type": "text", "readonly": True}, {"name": "x", "type": "text"}]
    assert run(fields, {"code": "B"}, values={"code": "A"}).errors == {"code": ["This field is read-only at this step."]}
    assert run(fields, {"code": "A", "x": "y"}, values={"code": "A"}).data == {"x": "y"}


# -- detail tables ---------------------------------------------------------------------------------------------

TABLE = {"name": "items", "type": "table", "min_rows": 2, "max_rows": 3, "sums": ["price", "total", "qty"],
         "columns": [{"name": "desc", "type": "text", "required": True},
                     {"name": "price", "type": "money"},
                     {"name": "qty", "type": "number", "integer": True, "min": 1},
                     {"name": "note", "type": "text", "max_length": 3, "visible_if": "qty > 10"},
                     {"name": "why", "type": "text", "required_if": "qty > 5"},
                     {"name": "total", "type": "formula", "expression": "price * qty", "decimals": 2}]}
GRAND = {"name": "grand", "type": "formula", "expression": "sum(items, 'total')"}
ROWS = [{"desc": "pen", "price": "2.50", "qty": 4}, {"desc": "ink", "price": 10.05, "qty": 1}]


def test_table_rows_column_formulas_sums_and_top_level_sum():
    result = run([TABLE, GRAND], {"items": ROWS})
    assert result.errors == {}
    assert result.data == {
        "items": [{"desc": "pen", "price": 2.5, "qty": 4, "why": None, "total": 10.0},
                  {"desc": "ink", "price": 10.05, "qty": 1, "why": None, "total": 10.05}],
        "grand": 20.05}
    assert result.extras == {"items": {"sums": {"price": "12.55", "total": 20.05, "qty": 5}}}


def test_table_row_errors_are_addressed_by_row_and_column():
    rows = [{"desc": "pen", "price": "2.50", "qty": 4},
            {"desc": "", "price": "abc", "qty": 1.5},
            {"desc": "x", "qty": 6}]
    result = run([TABLE], {"items": rows})
    assert result.errors == {"items.1.desc": ["This field is required."],
                             "items.1.price": ["Must be an amount with at most two decimals."],
                             "items.1.qty": ["Must be a whole number."],
                             "items.2.why": ["This field is required."]}
    assert result.data == {}


def test_table_row_count_limits():
    assert run([TABLE], {"items": ROWS[:1]}).errors == {"items": ["Needs at least 2 rows."]}
    assert run([TABLE], {"items": ROWS * 2}).errors == {"items": ["Allows at most 3 rows."]}
    assert run([TABLE], {"items": ROWS * 50}).errors == {"items": ["Allows at most 3 rows."]}
    assert run([TABLE], {"items": []}).data == {"items": []}      # optional and empty: min_rows does not apply
    assert run([TABLE | {"required": True}], {"items": []}).errors == {"items": ["This field is required."]}
    assert run([TABLE | {"required": True}], {"items": ROWS[:1]}).errors == {"items": ["Needs at least 2 rows."]}


@pytest.mark.parametrize("empty", [None, "", []])
def test_an_empty_table_value(empty):
    assert run([TABLE], {"items": empty}).data == {"items": []}
    assert run([TABLE | {"required": True}], {"items": empty}).errors == {"items": ["This field is required."]}


def test_table_shapes_that_are_not_rows():
    assert run([TABLE], {"items": "x"}).errors == {"items": ["Must be a list of rows."]}
    assert run([TABLE], {"items": {"desc": "x"}}).errors == {"items": ["Must be a list of rows."]}
    result = run([TABLE], {"items": [1, {"desc": "a", "zz": 1}, {"desc": "b"}]})
    assert result.errors == {"items.0": ["Must be a list of rows."], "items.1.zz": ["Unknown field."]}


def test_a_hidden_column_is_not_validated_and_not_cleaned():
    rows = [{"desc": "a", "qty": 1, "note": "far too long"}, {"desc": "b", "qty": 11, "note": "ok", "why": "big"}]
    result = run([TABLE], {"items": rows})
    assert result.errors == {}
    assert result.data["items"][0] == {"desc": "a", "price": None, "qty": 1, "why": None, "total": 0.0}
    assert result.data["items"][1]["note"] == "ok"
    rows[1]["note"] = "far too long"
    assert run([TABLE], {"items": rows}).errors == {"items.1.note": ["Must be at most 3 characters."]}


def test_table_sums_skip_formula_results_that_are_not_numbers():
    table = {"name": "t", "type": "table", "sums": ["f", "n"],
             "columns": [{"name": "a", "type": "text"}, {"name": "n", "type": "number"},
                         {"name": "f", "type": "formula", "expression": "a"}]}
    rows = [{"a": "inf", "n": 1}, {"a": "1e999999999", "n": 2}, {"a": "NaN", "n": 0.5}, {"a": "sNaN"}]
    result = run([table], {"t": rows})
    assert result.errors == {}
    assert result.extras == {"t": {"sums": {"f": 0, "n": 3.5}}}


def test_table_sums_of_huge_whole_numbers():
    table = {"name": "t", "type": "table", "sums": ["f"],
             "columns": [{"name": "n", "type": "number"}, {"name": "f", "type": "formula", "expression": "1" + "0" * 400}]}
    result = run([table], {"t": [{"n": 1}, {"n": 2}]})
    assert result.errors == {}
    assert result.extras["t"]["sums"]["f"] == 2 * 10 ** 400


def test_money_sums_are_exact_strings():
    table = {"name": "t", "type": "table", "sums": ["m"], "columns": [{"name": "m", "type": "money"}]}
    result = run([table], {"t": [{"m": "0.10"}, {"m": "0.20"}, {"m": 1000000}]})
    assert result.extras == {"t": {"sums": {"m": "1000000.30"}}}


# -- dates: durations and workdays -----------------------------------------------------------------------------

def test_date_range_days_are_inclusive_and_workdays_follow_the_calendar():
    plain = {"name": "r", "type": "date_range"}
    work = {"name": "r", "type": "date_range", "workdays": True}
    week = {"start": "2026-01-02", "end": "2026-01-12"}      # Friday to the Monday after next
    assert cleaned(plain, {"start": "2026-01-05", "end": "2026-01-05"})["duration"] == 1
    assert cleaned(plain, week)["duration"] == 11
    assert cleaned(work, week)["duration"] == 7
    assert cleaned(work, week, calendar={"holidays": ["2026-01-05"]})["duration"] == 6
    assert cleaned(work, week, calendar={"holidays": ["2026-01-05"], "extra_workdays": ["2026-01-03"]})[
        "duration"] == 7
    assert cleaned(work, {"start": "2026-01-03", "end": "2026-01-04"})["duration"] == 0


def test_workday_hours():
    field = {"name": "r", "type": "date_range", "unit": "hours", "workdays": True}
    # Friday 12:00 to Monday 12:00: 12 hours on Friday, 12 on Monday, none at the weekend.
    assert cleaned(field, {"start": "2026-01-09T12:00", "end": "2026-01-12T12:00"})["duration"] == 24


# -- providers -------------------------------------------------------------------------------------------------

def test_without_providers_references_and_provided_options_are_open():
    for field, value in ((USER, "anyone"), (DEPARTMENT, "x"), (RELATED, "42"), (PROVIDED, "gz")):
        assert cleaned(field, value, providers=None) == value


def test_a_provider_without_a_list_accepts_any_value_but_a_listed_one_is_checked():
    providers = StaticProviders(lists={}, ids={"user": set()})
    assert cleaned(PROVIDED, "gz", providers=providers) == "gz"
    assert refused(USER, "u1", providers=providers) == ["`u1` is not a known user."]


# -- files against a real store --------------------------------------------------------------------------------

@pytest.fixture()
def store(tmp_path):
    return FileStore(tmp_path / "files")


def upload(store, data: bytes, name: str) -> dict:
    return store.put(io.BytesIO(data), name).to_dict()


PDF_ONLY = {"name": "f", "type": "file", "max_size": 100, "accept": [".pdf"], "max_files": 3}


def test_file_reference_to_stored_bytes(store):
    ref = upload(store, b"%PDF-1.4 hello", "report.pdf")
    assert cleaned(PDF_ONLY, [ref], files=store) == [ref]


def test_file_over_the_size_limit(store):
    ref = upload(store, b"x" * 101, "big.pdf")
    assert refused(PDF_ONLY, [ref], files=store) == ["`big.pdf` is larger than 100B."]


def test_file_of_a_type_not_accepted(store):
    ref = upload(store, b"\x89PNG", "photo.png")
    assert refused(PDF_ONLY, [ref], files=store) == ["`photo.png` is not an accepted type (.pdf)."]
    images = PDF_ONLY | {"accept": ["image/*"]}
    assert cleaned(images, [ref], files=store) == [ref]


def test_file_changed_on_disk_fails_its_checksum(store):
    ref = upload(store, b"%PDF-1.4 hello", "report.pdf")
    path = store.root / ref["id"][:2] / ref["id"]
    path.write_bytes(b"%PDF-1.4 HELLO")               # same size, other bytes
    assert refused(PDF_ONLY, [ref], files=store) == ["`report.pdf` does not match its checksum."]
    path.write_bytes(b"%PDF")                          # other size
    assert refused(PDF_ONLY, [ref], files=store) == ["`report.pdf` does not match its checksum."]


def test_file_claiming_another_checksum_or_size(store):
    ref = upload(store, b"%PDF-1.4 hello", "report.pdf")
    assert refused(PDF_ONLY, [ref | {"sha256": "0" * 64}], files=store) == ["`report.pdf` does not match its checksum."]
    assert refused(PDF_ONLY, [ref | {"size": 5}], files=store) == ["`report.pdf` does not match its checksum."]


def test_missing_file(store):
    ref = upload(store, b"%PDF-1.4 hello", "report.pdf")
    (store.root / ref["id"][:2] / ref["id"]).unlink()
    assert refused(PDF_ONLY, [ref], files=store) == ["`report.pdf` was not found in the file store."]
    assert refused(PDF_ONLY, [ref | {"id": "../../etc/passwd"}], files=store) == \
        ["`report.pdf` was not found in the file store."]
    assert refused(PDF_ONLY, [ref | {"id": "f" * 32}], files=store) == \
        ["`report.pdf` was not found in the file store."]


def test_file_messages_in_chinese(store):
    ref = upload(store, b"x" * 101, "big.pdf")
    assert refused(PDF_ONLY, [ref], files=store, lang="zh") == ["文件“big.pdf”超过 100B。"]


# -- browser posts -----------------------------------------------------------------------------------------------

POST_FIELDS = [
    {"name": "title", "type": "text", "required": True},
    {"name": "n", "type": "number"},
    {"name": "amount", "type": "money"},
    {"name": "on", "type": "date"},
    {"name": "at", "type": "datetime"},
    {"name": "leave", "type": "date_range"},
    {"name": "kind", "type": "select", "options": ["a", "b"]},
    {"name": "ok", "type": "radio", "options": [True, False]},
    {"name": "level", "type": "select", "options": [1, 2, 3]},
    {"name": "tags", "type": "checkboxes", "options": ["x", "y", "z"]},
    {"name": "who", "type": "user", "multiple": True},
    {"name": "stars", "type": "rating"},
    {"name": "files", "type": "file", "max_files": 2},
    {"name": "q", "type": "quiz", "kind": "true_false", "answer": True},
    {"name": "m", "type": "quiz", "kind": "multiple", "options": ["x", "y"], "answer": ["x"]},
    TABLE,
    GRAND,
]


def test_form_post_gives_the_same_cleaned_data_as_json():
    schema = load_schema({"fields": POST_FIELDS})
    post = MultiDict([
        ("title", " Trip "), ("n", "12.50"), ("amount", "1,234.50"), ("on", "2026-02-01"), ("at", "2026-02-01T09:30"),
        ("leave-start", "2026-01-05"), ("leave-end", "2026-01-06"), ("kind", "b"), ("ok", "true"), ("level", "2"),
        ("tags", "x"), ("tags", "z"), ("who", "u1"), ("who", "u2"), ("stars", "4"),
        ("files", '[{"id": "%s", "name": "a.pdf", "size": 3, "sha256": "ab"}]' % ("0" * 32)),
        ("q", "false"), ("m", "x"), ("m", "y"),
        ("items-0-desc", "pen"), ("items-0-price", "2.50"), ("items-0-qty", "4"),
        ("items-1-desc", "ink"), ("items-1-price", "10"), ("items-1-qty", "1"),
    ])
    data = {"title": "Trip", "n": 12.5, "amount": 1234.5, "on": "2026-02-01", "at": "2026-02-01T09:30",
            "leave": {"start": "2026-01-05", "end": "2026-01-06"}, "kind": "b", "ok": True, "level": 2,
            "tags": ["x", "z"], "who": ["u1", "u2"], "stars": 4,
            "files": [{"id": "0" * 32, "name": "a.pdf", "size": 3, "sha256": "ab"}], "q": False, "m": ["x", "y"],
            "items": [{"desc": "pen", "price": 2.5, "qty": 4}, {"desc": "ink", "price": 10, "qty": 1}]}
    from_post = validate_formdata(schema, post, context())
    from_json = validate_data(schema, data, context())
    assert from_post.errors == {} and from_json.errors == {}
    assert from_post.data == from_json.data
    assert from_post.extras == from_json.extras
    assert from_post.data["leave"] == {"start": "2026-01-05", "end": "2026-01-06", "duration": 2}
    assert from_post.data["items"][0]["total"] == 10.0
    assert from_post.data["grand"] == 20.0
    assert from_post.extras["amount"] == {"capital": "壹仟贰佰叁拾肆元伍角"}


def test_form_post_errors_match_json_errors():
    schema = load_schema({"fields": POST_FIELDS})
    post = MultiDict([("title", ""), ("n", "x"), ("ok", "maybe"), ("items-0-desc", "pen"), ("items-0-qty", "0")])
    data = {"title": "", "n": "x", "ok": "maybe", "items": [{"desc": "pen", "qty": 0}]}
    expected = {"title": ["This field is required."], "n": ["Must be a number."],
                "ok": ["`maybe` is not one of the choices."], "items": ["Needs at least 2 rows."],
                "items.0.qty": ["Must be at least 1."]}
    assert validate_formdata(schema, post, context()).errors == expected
    assert validate_data(schema, data, context()).errors == expected


def test_form_post_at_a_node_ignores_hidden_and_readonly_fields():
    schema = load_schema({"fields": ACCESS_FIELDS, **ACCESS_FORM})
    post = MultiDict([("approved", "false"), ("comment", "no"), ("amount", "99"), ("salary", "1")])
    result = validate_formdata(schema, post, context(node="Review", values=STORED))
    assert result.errors == {}
    assert result.data == {"approved": False, "comment": "no"}


# -- regressions -------------------------------------------------------------------------------------------------

def test_an_empty_submission_takes_no_table_rows_from_process_data_or_defaults():
    # WTForms' FieldList takes its initial rows when the post is empty (falsy), then reads their cells as blanks.
    table = {"name": "items", "type": "table", "required": True, "default": [{"p": 3}],
             "columns": [{"name": "p", "type": "number", "required": True}]}
    other = {"name": "x", "type": "text"}
    for data in ({}, {"x": "a"}):
        assert run([other, table], data, values={"items": [{"p": 1}]}).errors == \
            {"items": ["This field is required."]}
        assert run([other, table | {"required": False}], data).data["items"] == []


def test_table_initial_rows_for_showing_the_form():
    from forms.build import form_class
    schema = load_schema({"fields": [{"name": "items", "type": "table", "default": [{"p": 3}, "junk"],
                                      "columns": [{"name": "p", "type": "number"}]},
                                     {"name": "bad", "type": "table", "default": 5,
                                      "columns": [{"name": "p", "type": "number"}]}]})
    form = form_class(schema, None, "en")(None, context())
    assert form.items.value == [{"p": 3}, {"p": None}]
    assert form.bad.value == []
    assert run(schema.data["fields"], {}, values={"bad": True, "items": 1}).data == {"items": [], "bad": []}


def test_a_hidden_numeric_cell_is_not_summed():
    table = {"name": "t", "type": "table", "sums": ["bonus"],
             "columns": [{"name": "qty", "type": "number"},
                         {"name": "bonus", "type": "number", "visible_if": "qty > 1"}]}
    result = run([table], {"t": [{"qty": 1, "bonus": 5}, {"qty": 2, "bonus": 7}]})
    assert result.data == {"t": [{"qty": 1}, {"qty": 2, "bonus": 7}]}
    assert result.extras == {"t": {"sums": {"bonus": 7}}}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 10 ** 400, [float("nan")]])
def test_an_open_choice_takes_only_json_values(value):
    open_choice = {"name": "v", "type": "select", "provider": "unlisted", "multiple": True}
    assert len(refused(open_choice, value)) == 1
    assert cleaned(open_choice, ["x", 3, 2.5, True]) == ["x", 3, 2.5, True]


def test_messages_about_unprintable_values_do_not_fail():
    assert refused(SELECT, 10 ** 5000) == ["`...` is not one of the choices."]
    assert refused(MULTI_SELECT, [[10 ** 5000]]) == ["`...` is not one of the choices."]
    assert refused(USER, 10 ** 5000) == ["Must be text."]
