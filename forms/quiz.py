"""Quiz scoring: grade the `quiz` fields of a submitted form and check quiz field definitions.
Scores are Decimals rounded half up to 2 decimals; malformed answers score 0, they never raise.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

KINDS = ("single", "multiple", "true_false", "short_answer")
RULES = ("all_or_nothing", "proportional", "no_wrong")
DEFAULT_RULE = "all_or_nothing"
DEFAULT_PASS_MARK = Decimal(80)
TRUE_WORDS = frozenset({"true", "yes", "是", "对"})
FALSE_WORDS = frozenset({"false", "no", "否", "错"})

_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")

Correct = bool | str  # True, False or "partial"


@dataclass(frozen=True)
class QuestionResult:
    """The grading of one quiz question; `correct` is True, False or "partial"."""

    name: str
    kind: str
    given: Any
    correct_answer: Any
    points: Decimal
    earned: Decimal
    correct: Correct

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "given": _jsonable(self.given),
            "correct_answer": _jsonable(self.correct_answer),
            "points": str(self.points),
            "earned": str(self.earned),
            "correct": self.correct,
        }


@dataclass
class QuizResult:
    """The grading of a whole form: totals, percentage of the maximum, pass/fail and each question."""

    total: Decimal
    maximum: Decimal
    percent: Decimal
    passed: bool
    pass_mark: Decimal
    questions: list[QuestionResult]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping; Decimals become strings ("8.50")."""
        return {
            "total": str(self.total),
            "maximum": str(self.maximum),
            "percent": str(self.percent),
            "passed": self.passed,
            "pass_mark": str(self.pass_mark),
            "questions": [question.to_dict() for question in self.questions],
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(item) for item in value]
    return value


def _show(value: Any) -> str:
    """A value as it appears in a problem message: strings bare, booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return value if isinstance(value, str) else str(value)


def _key(value: Any) -> str | None:
    """Comparable key of a scalar option value ("2" matches 2, "true" matches True); None if not a scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (float, Decimal)):
        number = Decimal(str(value))
        if not number.is_finite():
            return None
        return str(int(number)) if number == number.to_integral_value() else format(number.normalize(), "f")
    return None


def _option_value(option: Any) -> Any:
    return option.get("value") if isinstance(option, Mapping) else option


def _normalize_text(value: str) -> str:
    """NFKC (full-width to half-width), case folded, trimmed, inner whitespace runs as one space."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
    return " ".join(folded.split())


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().casefold()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    return None


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, (list, tuple)) and not value


def _to_points(value: Any) -> Decimal | None:
    """Points as a Decimal, or None when not a finite number (bool is not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    return number if number.is_finite() else None


# --- grading ---------------------------------------------------------------------------------------------

Grade = tuple[Fraction, Correct]
_WRONG: Grade = (Fraction(0), False)
_RIGHT: Grade = (Fraction(1), True)


def _grade_single(field: Mapping[str, Any], given: Any, rule: str) -> Grade:
    key = _key(given)
    return _RIGHT if key is not None and key == _key(field["answer"]) else _WRONG


def _grade_true_false(field: Mapping[str, Any], given: Any, rule: str) -> Grade:
    value = _as_bool(given)
    return _RIGHT if value is not None and value is field["answer"] else _WRONG


def _grade_short_answer(field: Mapping[str, Any], given: Any, rule: str) -> Grade:
    if not isinstance(given, str):
        return _WRONG
    answer = field["answer"]
    accepted = [answer] if isinstance(answer, str) else answer
    text = _normalize_text(given)
    return _RIGHT if any(text == _normalize_text(item) for item in accepted) else _WRONG


def _multiple_fraction(right: int, wrong: int, expected: int, rule: str) -> Fraction:
    if rule == "proportional":
        return Fraction(max(0, right - wrong), expected)
    if rule == "no_wrong":
        return Fraction(right, expected) if wrong == 0 else Fraction(0)
    return Fraction(1 if right == expected and wrong == 0 else 0)


def _grade_multiple(field: Mapping[str, Any], given: Any, rule: str) -> Grade:
    if not isinstance(given, (list, tuple)):
        return _WRONG
    picks = {_key(item) for item in given}
    if None in picks:
        return _WRONG
    expected = {_key(item) for item in field["answer"]}
    right, wrong = len(picks & expected), len(picks - expected)
    fraction = _multiple_fraction(right, wrong, len(expected), rule)
    if picks == expected:
        return fraction, True
    return fraction, ("partial" if fraction > 0 else False)


_GRADERS: dict[str, Callable[[Mapping[str, Any], Any, str], Grade]] = {
    "single": _grade_single,
    "multiple": _grade_multiple,
    "true_false": _grade_true_false,
    "short_answer": _grade_short_answer,
}


def _field_points(field: Mapping[str, Any]) -> Decimal:
    points = _to_points(field.get("points", 1))
    return (points if points is not None else Decimal(0)).quantize(_CENT, rounding=ROUND_HALF_UP)


def _grade(field: Mapping[str, Any], given: Any, rule: str) -> QuestionResult:
    points = _field_points(field)
    fraction, correct = _WRONG if _is_blank(given) else _GRADERS[field["kind"]](field, given, rule)
    earned = (points * fraction.numerator / fraction.denominator).quantize(_CENT, rounding=ROUND_HALF_UP)
    return QuestionResult(field["name"], field["kind"], given, field["answer"], points, earned, correct)


def _scoring(scoring: Mapping[str, Any] | None) -> tuple[str, Decimal]:
    """The (multiple-choice rule, pass mark) of a form's `scoring` mapping, with defaults."""
    if scoring is None:
        return DEFAULT_RULE, DEFAULT_PASS_MARK
    if not isinstance(scoring, Mapping):
        raise ValueError(f"scoring must be a mapping, got {type(scoring).__name__}")
    rule = scoring.get("multiple") or DEFAULT_RULE
    if rule not in RULES:
        raise ValueError(f"scoring.multiple must be one of {', '.join(RULES)}: {_show(rule)}")
    raw_mark = scoring.get("pass_mark")
    pass_mark = DEFAULT_PASS_MARK if raw_mark is None else _to_points(raw_mark)
    if pass_mark is None or not 0 <= pass_mark <= 100:
        raise ValueError(f"scoring.pass_mark must be a number from 0 to 100: {_show(raw_mark)}")
    return rule, pass_mark


def score(
    fields: Iterable[Mapping[str, Any]], answers: Mapping[str, Any], scoring: Mapping[str, Any] | None = None
) -> QuizResult:
    """Grade the `type: quiz` fields of a form against the submitted answers ({name: value}).

    Other fields (tables included) are ignored; pass only the questions that count (e.g. the
    visible ones). Unanswered (missing, None, blank, empty list) and malformed answers earn 0.
    Multiple choice follows `scoring.multiple`: all_or_nothing (default), proportional
    (points * max(0, right - wrong) / answer count) or no_wrong (points * right / answer count
    when nothing wrong is picked, else 0). Earned points are rounded half up to 2 decimals;
    `percent` is total / maximum * 100 (2 decimals, 0 when the maximum is 0); `passed` compares
    the exact ratio with `scoring.pass_mark` (default 80). Raises ValueError for an invalid
    `scoring` or quiz field definition (see `check_quiz_field`), never for an answer.
    """
    rule, pass_mark = _scoring(scoring)
    quiz = [item for item in fields if isinstance(item, Mapping) and item.get("type") == "quiz"]
    problems = [problem for item in quiz for problem in check_quiz_field(item)]
    if problems:
        raise ValueError("invalid quiz fields: " + "; ".join(problems))
    submitted = answers if isinstance(answers, Mapping) else {}
    questions = [_grade(item, submitted.get(item["name"]), rule) for item in quiz]
    total = sum((question.earned for question in questions), _ZERO)
    maximum = sum((question.points for question in questions), _ZERO)
    if maximum:
        percent = (total * 100 / maximum).quantize(_CENT, rounding=ROUND_HALF_UP)
        passed = total * 100 >= pass_mark * maximum
    else:
        percent, passed = _ZERO, pass_mark <= 0
    return QuizResult(total, maximum, percent, passed, pass_mark, questions)


# --- field checks ----------------------------------------------------------------------------------------


def _check_points(value: Any) -> list[str]:
    points = _to_points(value)
    if points is None:
        return [f"points must be a number: {_show(value)}"]
    if points < 0:
        return [f"points must not be negative: {_show(value)}"]
    if points != points.quantize(_CENT, rounding=ROUND_HALF_UP):
        return [f"points must have at most 2 decimals: {_show(value)}"]
    return []


def _option_keys(options: Any) -> tuple[set[str], list[str]]:
    """Keys of the option values, and the problems of the options list."""
    if not isinstance(options, (list, tuple)) or not options:
        return set(), ["options are missing: a choice question needs a list of options"]
    keys: set[str] = set()
    problems = []
    for option in options:
        value = _option_value(option)
        key = _key(value)
        if key is None:
            problems.append(f"option `{_show(value)}` must be a string, a number or a boolean")
            continue
        if key in keys:
            problems.append(f"option `{_show(value)}` is listed twice")
        keys.add(key)
    return keys, problems


def _not_an_option(value: Any, keys: set[str]) -> list[str]:
    key = _key(value)
    if key is None:
        return [f"answer `{_show(value)}` must be an option value"]
    return [] if key in keys else [f"answer `{_show(value)}` is not one of the options"]


def _check_single(field: Mapping[str, Any]) -> list[str]:
    keys, problems = _option_keys(field.get("options"))
    return problems + (_not_an_option(field["answer"], keys) if keys else [])


def _check_multiple(field: Mapping[str, Any]) -> list[str]:
    keys, problems = _option_keys(field.get("options"))
    answer = field["answer"]
    if not isinstance(answer, (list, tuple)):
        return [*problems, f"a multiple-choice answer must be a list of option values: {_show(answer)}"]
    if not answer:
        return [*problems, "a multiple-choice answer must list at least one option"]
    seen: set[str | None] = set()
    for item in answer:
        if keys:
            problems += _not_an_option(item, keys)
        if _key(item) is not None and _key(item) in seen:
            problems.append(f"answer `{_show(item)}` is listed twice")
        seen.add(_key(item))
    return problems


def _check_true_false(field: Mapping[str, Any]) -> list[str]:
    answer = field["answer"]
    return [] if isinstance(answer, bool) else [f"a true_false answer must be true or false: {_show(answer)}"]


def _check_short_answer(field: Mapping[str, Any]) -> list[str]:
    answer = field["answer"]
    accepted = [answer] if isinstance(answer, str) else answer
    if not isinstance(accepted, (list, tuple)) or not accepted:
        return [f"a short_answer answer must be a string or a list of accepted strings: {_show(answer)}"]
    if not all(isinstance(item, str) and item.strip() for item in accepted):
        return ["a short_answer answer must only contain non-empty strings"]
    return []


_ANSWER_CHECKS: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "single": _check_single,
    "multiple": _check_multiple,
    "true_false": _check_true_false,
    "short_answer": _check_short_answer,
}


def _field_problems(field: Mapping[str, Any]) -> list[str]:
    problems = [] if isinstance(field.get("name"), str) and field["name"] else ["the quiz field has no name"]
    problems += _check_points(field.get("points", 1))
    kind = field.get("kind")
    if kind not in KINDS:
        return [*problems, f"kind `{_show(kind)}` is not one of {', '.join(KINDS)}"]
    if field.get("answer") is None:
        return [*problems, "answer is missing"]
    return problems + _ANSWER_CHECKS[kind](field)


def check_quiz_field(field: Mapping[str, Any]) -> list[str]:
    """Problems of a quiz field definition, e.g. "field `q1`: answer `x` is not one of the options".

    Checks the kind, the points (a number >= 0 with at most 2 decimals, default 1), the options
    of choice questions (present, scalar, unique), and that the answer fits the kind: an option
    value (single), a non-empty list of distinct option values (multiple), a bool (true_false),
    a string or list of strings (short_answer). An empty list means the field is fine.
    """
    if not isinstance(field, Mapping):
        return [f"a quiz field must be a mapping, got {type(field).__name__}"]
    name = field.get("name")
    label = name if isinstance(name, str) and name else "?"
    return [f"field `{label}`: {problem}" for problem in _field_problems(field)]
