"""How a built form behaves between fields: typed values before conditions, stored values, partial updates, quizzes."""

from __future__ import annotations

from forms.build import FormContext, form_class, validate_data, validate_formdata
from forms.schema import load_schema


class Post:
    """Browser form data: lists of strings under getlist."""

    def __init__(self, pairs: dict[str, list[str]]):
        self.pairs = pairs

    def getlist(self, key):
        return list(self.pairs.get(key, []))

    def __contains__(self, key):
        return key in self.pairs

    def __iter__(self):
        return iter(self.pairs)


def test_a_browser_post_compares_option_values_not_posted_strings():
    schema = load_schema({"fields": [
        {"name": "level", "type": "radio", "options": [1, 2, 3]},
        {"name": "why", "type": "text", "visible_if": "level == 3", "required": True}]})
    posted = validate_formdata(schema, Post({"level": ["3"]}), FormContext(lang="en"))
    assert posted.errors == {"why": ["This field is required."]}
    assert validate_data(schema, {"level": 3}, FormContext(lang="en")).errors == posted.errors
    ok = validate_formdata(schema, Post({"level": ["3"], "why": ["urgent"]}), FormContext(lang="en"))
    assert ok.data == {"level": 3, "why": "urgent"}


def test_a_condition_can_read_a_date_range_duration():
    schema = load_schema({"fields": [
        {"name": "trip", "type": "date_range"},
        {"name": "plan", "type": "textarea", "visible_if": "trip['duration'] > 3", "required": True}]})
    short = validate_data(schema, {"trip": {"start": "2026-03-02", "end": "2026-03-04"}}, FormContext(lang="en"))
    assert short.ok and short.data["trip"]["duration"] == 3 and "plan" not in short.data
    long = validate_data(schema, {"trip": {"start": "2026-03-02", "end": "2026-03-06"}}, FormContext(lang="en"))
    assert long.errors == {"plan": ["This field is required."]}


def test_a_stored_date_range_is_shown_on_a_new_form():
    schema = load_schema({"fields": [{"name": "trip", "type": "date_range",
                                      "default": {"start": "2026-01-05", "end": "2026-01-06"}}]})
    form = form_class(schema, None, "en")(None, FormContext(lang="en"))
    assert form.trip.data == {"start": "2026-01-05", "end": "2026-01-06"}


def test_a_formula_over_an_unassigned_serial_is_none_not_a_placeholder_object():
    schema = load_schema({"fields": [{"name": "number", "type": "serial", "pattern": "PO-{seq:3}"},
                                     {"name": "copy", "type": "formula", "expression": "number"}]})
    assert validate_data(schema, {}, FormContext(lang="en")).data == {"copy": None}


def test_a_read_only_table_keeps_its_stored_rows_through_a_post():
    schema = load_schema({
        "access": {"review": {"editable": ["ok"]}},
        "fields": [{"name": "items", "type": "table", "sums": ["p"], "columns": [{"name": "p", "type": "number"}]},
                   {"name": "ok", "type": "radio", "options": [True, False]}]})
    context = FormContext(lang="en", node="review", values={"items": [{"p": 2}, {"p": 5}]})
    form = form_class(schema, "review", "en")(Post({"ok": ["true"], "items-0-p": ["999"]}), context)
    assert form.validate()
    assert form.items.value == [{"p": 2}, {"p": 5}]


def test_completing_a_task_without_an_editable_field_keeps_its_current_value():
    schema = load_schema({"access": {"review": {"editable": ["ok", "note"]}},
                          "fields": [{"name": "amount", "type": "number"},
                                     {"name": "ok", "type": "radio", "options": [True, False]},
                                     {"name": "note", "type": "textarea"}]})
    context = FormContext(lang="en", node="review", values={"amount": 5, "note": "first draft"})
    assert validate_data(schema, {"ok": True}, context).data == {"ok": True, "note": "first draft"}
    assert validate_data(schema, {"ok": True, "note": None}, context).data == {"ok": True, "note": None}


def test_a_quiz_submission_is_scored_into_the_data_and_reviewed_in_extras():
    schema = load_schema({
        "scoring": {"pass_mark": 60, "multiple": "proportional", "result_field": "score"},
        "fields": [
            {"name": "q1", "type": "quiz", "kind": "single", "options": ["a", "b"], "answer": "a", "points": 40},
            {"name": "q2", "type": "quiz", "kind": "multiple", "options": ["a", "b", "c", "d"],
             "answer": ["a", "b"], "points": 40},
            {"name": "q3", "type": "quiz", "kind": "short_answer", "answer": ["manager", "经理"], "points": 20}]})
    result = validate_data(schema, {"q1": "a", "q2": ["a", "c"], "q3": " Manager "}, FormContext(lang="en"))
    assert result.data["score"] == {"total": 60.0, "maximum": 100.0, "percent": 60.0, "passed": True}
    review = {q["name"]: (q["earned"], q["correct"]) for q in result.extras["quiz"]["questions"]}
    assert review == {"q1": ("40.00", True), "q2": ("0.00", False), "q3": ("20.00", True)}


def test_a_quiz_result_field_may_not_shadow_a_field():
    from forms.schema import SchemaError
    try:
        load_schema({"scoring": {"result_field": "q1"},
                     "fields": [{"name": "q1", "type": "quiz", "kind": "true_false", "answer": True}]})
    except SchemaError as exc:
        assert "`result_field` `q1` is also the name of a field" in str(exc)
    else:
        raise AssertionError("a result field shadowing a field was accepted")


def test_a_field_hidden_by_its_condition_does_not_feed_formulas():
    schema = load_schema({"fields": [
        {"name": "travel", "type": "radio", "options": [True, False]},
        {"name": "hotel", "type": "money", "visible_if": "travel == True"},
        {"name": "meals", "type": "money"},
        {"name": "total", "type": "formula", "expression": "(hotel or 0) + (meals or 0)", "decimals": 2}]})
    shown = validate_data(schema, {"travel": True, "hotel": 300, "meals": 50}, FormContext(lang="en"))
    hidden = validate_data(schema, {"travel": False, "hotel": 300, "meals": 50}, FormContext(lang="en"))
    assert shown.data["total"] == 350 and hidden.data["total"] == 50 and "hotel" not in hidden.data
