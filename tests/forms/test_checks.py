"""Form-level checks (`checks:`): rules across fields, with their message at the named field."""

from __future__ import annotations

import pytest

from forms.build import FormContext, validate_data
from forms.schema import SchemaError, load_schema

FORM = {"fields": [{"name": "start", "type": "number"}, {"name": "end", "type": "number"}],
        "checks": [{"expression": "end > start", "field": "end",
                    "message": {"zh": "结束须晚于开始。", "en": "The end must come after the start."}}]}


@pytest.mark.parametrize(("lang", "text"), [("zh", "结束须晚于开始。"), ("en", "The end must come after the start.")])
def test_a_failed_check_is_the_named_fields_error(lang, text):
    result = validate_data(load_schema(FORM), {"start": 5, "end": 3}, FormContext(lang=lang))
    assert result.errors == {"end": [text]} and result.data == {}
    assert validate_data(load_schema(FORM), {"start": 3, "end": 5}).errors == {}


def test_checks_wait_for_valid_fields_and_an_unevaluable_one_fails():
    form = load_schema(FORM)
    assert validate_data(form, {"start": "x", "end": 3}).errors.keys() == {"start"}  # the field's own error only
    assert validate_data(form, {"start": None, "end": 3}, FormContext(lang="en")).errors == {
        "end": ["The end must come after the start."]}  # `3 > None` cannot be evaluated: failed


def test_a_check_over_unknown_fields_is_refused_at_load():
    bad = {**FORM, "checks": [{"expression": "finish > start", "field": "stop", "message": "x"}]}
    with pytest.raises(SchemaError) as refused:
        load_schema(bad)
    assert "check 1: `expression` uses unknown field `finish`" in str(refused.value)
    assert "check 1: `field` `stop` is not a field of this form" in str(refused.value)
