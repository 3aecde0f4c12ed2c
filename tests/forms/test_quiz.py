"""Tests for forms.quiz: scoring rules, pass mark, answer normalization and quiz field checks."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forms.quiz import QuestionResult, QuizResult, check_quiz_field, score


def quiz(name, kind, answer, points=1, **extra):
    return {"name": name, "type": "quiz", "question": {"zh": "题目", "en": "Question"}, "kind": kind,
            "answer": answer, "points": points, "required": False, **extra}


MULTI = quiz("langs", "multiple", ["py", "js", "go"], points=3, options=["py", "js", "go", "c", "rust"])
SINGLE = quiz("capital", "single", "bj", points=2,
              options=[{"value": "bj", "label": {"zh": "北京", "en": "Beijing"}}, {"value": "sh", "label": "上海"}])
TRUE_FALSE = quiz("earth_round", "true_false", True)
SHORT = quiz("city", "short_answer", ["Beijing", "北京", "Peking"])


def one(field, given, scoring=None) -> QuestionResult:
    result = score([field], {field["name"]: given}, scoring)
    return result.questions[0]


# --- multiple choice rules -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "all_or_nothing", "proportional", "no_wrong"),
    [
        (["py", "js", "go"], "3.00", "3.00", "3.00"),
        (["go", "py", "js"], "3.00", "3.00", "3.00"),
        (["py", "js"], "0.00", "2.00", "2.00"),
        (["py"], "0.00", "1.00", "1.00"),
        (["py", "js", "c"], "0.00", "1.00", "0.00"),
        (["py", "js", "go", "c"], "0.00", "2.00", "0.00"),
        (["py", "c"], "0.00", "0.00", "0.00"),
        (["py", "c", "rust"], "0.00", "0.00", "0.00"),
        (["c"], "0.00", "0.00", "0.00"),
        (["py", "py", "js"], "0.00", "2.00", "2.00"),
        (["py", "js", "go", "c", "rust"], "0.00", "1.00", "0.00"),
        (["py", "unknown"], "0.00", "0.00", "0.00"),
    ],
)
def test_multiple_choice_rules(given, all_or_nothing, proportional, no_wrong):
    for rule, expected in (("all_or_nothing", all_or_nothing), ("proportional", proportional),
                           ("no_wrong", no_wrong)):
        question = one(MULTI, given, {"multiple": rule})
        assert str(question.earned) == expected, rule
        exact = sorted(set(given)) == sorted(MULTI["answer"])
        assert question.correct == (True if exact else ("partial" if Decimal(expected) > 0 else False))


def test_default_rule_is_all_or_nothing():
    assert one(MULTI, ["py", "js"]).earned == 0
    assert one(MULTI, ["py", "js"], {"pass_mark": 50}).earned == 0
    assert one(MULTI, ["py", "js"], {"multiple": None}).earned == 0


def test_partial_credit_is_rounded_to_cents():
    field = quiz("q", "multiple", ["a", "b", "c"], points=1, options=["a", "b", "c", "d"])
    assert one(field, ["a"], {"multiple": "proportional"}).earned == Decimal("0.33")
    assert one(field, ["a", "b"], {"multiple": "no_wrong"}).earned == Decimal("0.67")
    assert one(field, ["a", "b"], {"multiple": "proportional"}).correct == "partial"


def test_multiple_answer_given_as_tuple_and_numbers():
    field = quiz("q", "multiple", [1, 2], options=[1, 2, 3])
    assert one(field, (1, 2)).correct is True
    assert one(field, ["1", "2"]).correct is True  # posted form values are strings


# --- single, true/false, short answer ------------------------------------------------------------------------


def test_single_choice():
    assert one(SINGLE, "bj").earned == Decimal("2.00")
    assert one(SINGLE, "bj").correct is True
    assert one(SINGLE, "sh").earned == 0
    assert one(SINGLE, "sh").correct is False
    assert one(SINGLE, "BJ").correct is False
    numeric = quiz("n", "single", 2, options=[1, 2, 3])
    assert one(numeric, 2).correct is True
    assert one(numeric, "2").correct is True
    assert one(numeric, 2.0).correct is True
    assert one(numeric, True).correct is False


@pytest.mark.parametrize(
    ("given", "correct"),
    [
        (True, True), ("true", True), ("True", True), (" TRUE ", True), ("是", True), ("对", True), ("yes", True),
        (False, False), ("false", False), ("否", False), ("错", False), ("no", False),
        ("maybe", False), (1, False), (0, False), (["true"], False), ({"v": True}, False),
    ],
)
def test_true_false(given, correct):
    question = one(TRUE_FALSE, given)
    assert question.correct is correct
    assert question.earned == (Decimal("1.00") if correct else 0)


def test_true_false_with_false_answer():
    field = quiz("flat", "true_false", False)
    assert one(field, False).correct is True
    assert one(field, "否").correct is True
    assert one(field, "false").correct is True
    assert one(field, True).correct is False


@pytest.mark.parametrize(
    ("given", "correct"),
    [
        ("Beijing", True), ("  beijing ", True), ("BEIJING", True), ("北京", True), ("\u3000北京\u3000", True),
        ("ＢＥＩＪＩＮＧ", True), ("peking", True), ("Bei jing", False), ("Shanghai", False), (42, False),
        (["Beijing"], False),
    ],
)
def test_short_answer(given, correct):
    assert one(SHORT, given).correct is correct


def test_short_answer_normalizes_inner_spaces_and_width():
    field = quiz("q", "short_answer", "New  York City")
    assert one(field, "new york\u3000city").correct is True
    assert one(field, "NEW\tYORK CITY").correct is True
    assert one(field, "newyork city").correct is False
    assert one(quiz("s", "short_answer", "Straße"), "STRASSE").correct is True


# --- unanswered and malformed --------------------------------------------------------------------------------


@pytest.mark.parametrize("given", [None, "", "   ", []])
def test_unanswered_scores_zero(given):
    for field in (MULTI, SINGLE, TRUE_FALSE, SHORT):
        question = one(field, given)
        assert question.earned == 0
        assert question.correct is False


def test_missing_answers_score_zero():
    result = score([MULTI, SINGLE, TRUE_FALSE, SHORT], {})
    assert result.total == 0
    assert result.maximum == Decimal("7.00")
    assert [q.given for q in result.questions] == [None] * 4


MALFORMED = [{"x": 1}, object(), float("nan"), [["py"]], [{"value": "py"}], "py", 3, b"py", [None]]


@pytest.mark.parametrize("given", MALFORMED)
def test_malformed_answers_never_raise(given):
    for field in (MULTI, SINGLE, TRUE_FALSE, SHORT):
        for rule in ("all_or_nothing", "proportional", "no_wrong"):
            question = one(field, given, {"multiple": rule})
            assert question.earned == 0
            assert question.correct is False


def test_answers_that_are_not_a_mapping():
    for answers in (None, [], "x", 5):
        result = score([SINGLE], answers)
        assert result.total == 0


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=3),
                    max_leaves=10))
def test_any_json_answer_never_raises(given):
    result = score([MULTI, SINGLE, TRUE_FALSE, SHORT],
                   {"langs": given, "capital": given, "earth_round": given, "city": given},
                   {"multiple": "proportional"})
    assert Decimal(0) <= result.total <= result.maximum
    json.dumps(result.to_dict(), allow_nan=True)


# --- totals, percent and pass mark ---------------------------------------------------------------------------


def test_totals_percent_and_pass_mark():
    fields = [MULTI, SINGLE, TRUE_FALSE, SHORT, {"name": "comment", "type": "textarea"},
              {"name": "items", "type": "table", "columns": [quiz("inner", "true_false", True)]}]
    answers = {"langs": ["py", "js"], "capital": "bj", "earth_round": "是", "city": "beijing",
               "comment": "hello", "items": [{"inner": True}]}
    result = score(fields, answers, {"multiple": "proportional"})
    assert isinstance(result, QuizResult)
    assert [q.name for q in result.questions] == ["langs", "capital", "earth_round", "city"]
    assert result.total == Decimal("6.00")
    assert result.maximum == Decimal("7.00")
    assert result.percent == Decimal("85.71")
    assert result.pass_mark == 80
    assert result.passed is True
    assert score(fields, answers, {"multiple": "proportional", "pass_mark": 90}).passed is False
    assert score(fields, answers).passed is False  # all_or_nothing: 5 of 7 = 71.43 %


def test_pass_mark_boundary_is_inclusive():
    fields = [quiz(f"q{i}", "true_false", True) for i in range(5)]
    four_right = {f"q{i}": i < 4 for i in range(5)}
    result = score(fields, four_right)
    assert result.percent == Decimal("80.00")
    assert result.passed is True
    assert score(fields, four_right, {"pass_mark": 80.01}).passed is False


def test_pass_mark_uses_the_exact_ratio():
    fields = [quiz("a", "true_false", True, points=2), quiz("b", "true_false", True, points=1)]
    result = score(fields, {"a": True}, {"pass_mark": Decimal("66.67")})
    assert result.percent == Decimal("66.67")
    assert result.passed is False  # 2/3 is 66.666...% < 66.67


def test_zero_maximum():
    assert score([], {}).percent == 0
    assert score([], {}).passed is False
    assert score([], {}, {"pass_mark": 0}).passed is True
    zero_points = score([quiz("z", "true_false", True, points=0)], {"z": True})
    assert (zero_points.total, zero_points.maximum, zero_points.percent) == (0, 0, 0)
    assert zero_points.questions[0].correct is True


def test_points_default_and_decimals():
    field = {"name": "q", "type": "quiz", "kind": "true_false", "answer": True}
    assert one(field, True).points == Decimal("1.00")
    assert one(quiz("h", "true_false", True, points=0.5), True).earned == Decimal("0.50")
    assert one(quiz("d", "true_false", True, points=Decimal("2.25")), True).earned == Decimal("2.25")


@pytest.mark.parametrize(
    "scoring",
    [{"multiple": "some"}, {"pass_mark": 101}, {"pass_mark": -1}, {"pass_mark": "80"}, {"pass_mark": True},
     {"pass_mark": float("nan")}, "strict", [1]],
)
def test_invalid_scoring_raises(scoring):
    with pytest.raises(ValueError, match="scoring"):
        score([SINGLE], {"capital": "bj"}, scoring)


def test_invalid_quiz_field_raises():
    broken = quiz("q", "single", "x", options=["a", "b"])
    with pytest.raises(ValueError, match="field `q`: answer `x` is not one of the options"):
        score([broken], {"q": "x"})


def test_to_dict_is_json_ready():
    result = score([MULTI, TRUE_FALSE], {"langs": ["py", "c"], "earth_round": True},
                   {"multiple": "proportional", "pass_mark": Decimal("50")})
    data = result.to_dict()
    json.dumps(data)
    assert data == {
        "total": "1.00",
        "maximum": "4.00",
        "percent": "25.00",
        "passed": False,
        "pass_mark": "50",
        "questions": [
            {"name": "langs", "kind": "multiple", "given": ["py", "c"], "correct_answer": ["py", "js", "go"],
             "points": "3.00", "earned": "0.00", "correct": False},
            {"name": "earth_round", "kind": "true_false", "given": True, "correct_answer": True,
             "points": "1.00", "earned": "1.00", "correct": True},
        ],
    }
    decimal_given = score([SINGLE], {"capital": Decimal("1.5")}).to_dict()
    assert decimal_given["questions"][0]["given"] == "1.5"


# --- check_quiz_field ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", [MULTI, SINGLE, TRUE_FALSE, SHORT, quiz("s", "short_answer", "x"),
                                   quiz("b", "single", True, options=[True, False]),
                                   quiz("n", "multiple", [1.5], options=[1.5, 2], points=0)])
def test_valid_fields_have_no_problems(field):
    assert check_quiz_field(field) == []


@pytest.mark.parametrize(
    ("field", "problem"),
    [
        (quiz("q1", "single", "x", options=["a", "b"]), "field `q1`: answer `x` is not one of the options"),
        (quiz("q1", "single", ["a"], options=["a", "b"]), "field `q1`: answer `['a']` must be an option value"),
        (quiz("q1", "single", "a"), "field `q1`: options are missing"),
        (quiz("q1", "single", "a", options=[]), "field `q1`: options are missing"),
        (quiz("q1", "single", "a", options=["a", "a"]), "field `q1`: option `a` is listed twice"),
        (quiz("q1", "single", "a", options=["a", {"label": "x"}]), "field `q1`: option `null` must be"),
        (quiz("q1", "multiple", "a", options=["a", "b"]), "field `q1`: a multiple-choice answer must be a list"),
        (quiz("q1", "multiple", [], options=["a", "b"]), "field `q1`: a multiple-choice answer must list at least"),
        (quiz("q1", "multiple", ["a", "z"], options=["a", "b"]), "field `q1`: answer `z` is not one of the options"),
        (quiz("q1", "multiple", ["a", "a"], options=["a", "b"]), "field `q1`: answer `a` is listed twice"),
        (quiz("q1", "true_false", "yes"), "field `q1`: a true_false answer must be true or false: yes"),
        (quiz("q1", "short_answer", 5), "field `q1`: a short_answer answer must be a string or a list"),
        (quiz("q1", "short_answer", []), "field `q1`: a short_answer answer must be a string or a list"),
        (quiz("q1", "short_answer", ["a", " "]), "field `q1`: a short_answer answer must only contain non-empty"),
        (quiz("q1", "essay", "a"), "field `q1`: kind `essay` is not one of single, multiple, true_false"),
        ({"name": "q1", "type": "quiz", "answer": True}, "field `q1`: kind `null` is not one of"),
        (quiz("q1", "true_false", None), "field `q1`: answer is missing"),
        ({"name": "q1", "type": "quiz", "kind": "true_false"}, "field `q1`: answer is missing"),
        (quiz("q1", "true_false", True, points=-1), "field `q1`: points must not be negative: -1"),
        (quiz("q1", "true_false", True, points="2"), "field `q1`: points must be a number: 2"),
        (quiz("q1", "true_false", True, points=True), "field `q1`: points must be a number: true"),
        (quiz("q1", "true_false", True, points=1.005), "field `q1`: points must have at most 2 decimals"),
        (quiz("", "true_false", True), "field `?`: the quiz field has no name"),
    ],
)
def test_field_problems(field, problem):
    problems = check_quiz_field(field)
    assert any(p.startswith(problem) for p in problems), problems


def test_check_quiz_field_reports_several_problems_and_non_mappings():
    problems = check_quiz_field(quiz("q1", "multiple", ["x", "y"], points=-2, options=["a"]))
    assert problems == [
        "field `q1`: points must not be negative: -2",
        "field `q1`: answer `x` is not one of the options",
        "field `q1`: answer `y` is not one of the options",
    ]
    assert check_quiz_field("q1") == ["a quiz field must be a mapping, got str"]
