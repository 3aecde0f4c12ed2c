"""Form submissions: data for a start event or user task is checked against the package's form.

The forms of a version are loaded once per version checksum. What is stored is the form's cleaned
data (typed values, computed formulas), never the raw submission.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from engine.caching import BoundedCache
from engine.errors import FormInvalidError, Problem, msg
from engine.runtime.outcome import DECISION_KEY
from forms.build import FormContext, validate_data
from forms.schema import FormSchema, SchemaError, load_schema


class FormCache(BoundedCache[dict]):
    """`{form key: FormSchema}` per version checksum (versions are immutable, so is their cache)."""

    def get(self, checksum: str, load_package: Callable[[], dict]) -> dict[str, FormSchema]:  # type: ignore[override]
        """The version's forms, loaded from its stored package once."""
        def compute() -> dict[str, FormSchema]:
            forms = (load_package() or {}).get("forms") or {}
            return {key: load_schema(value, name=f"forms/{key}") for key, value in forms.items()}

        return super().get(checksum, compute)


FORM_CACHE = FormCache(256)


def form_problems(forms: dict[str, dict], folder: str) -> list[Problem]:
    """Every problem of every form of a package, each naming its file and field."""
    problems = []
    for key, value in forms.items():
        try:
            load_schema(value, name=key)
        except SchemaError as exc:
            problems.extend(Problem(f"{folder}/{key}", None, None, p) for p in exc.problems)
    return problems


def checked_submission(schemas: dict[str, FormSchema], form: str | None, node: str | None, data: dict,
                       current: dict, lang: str = "en", today: date | None = None, people=None,
                       calendar=None) -> dict:
    """The cleaned data of a submission to `form` at `node`; FormInvalidError lists what is wrong.

    Without a form the data passes as it is (a task may collect nothing, or be driven by an API).
    `people` (a `form_people.FormPeople`): user, department and related fields are checked against the
    directory, and approver fields against the self-approval policy. `calendar`: the workday calendar
    for workday counts (`engine.data.calendar.FormCalendar`); without it only weekends are days off.
    A field left out keeps its current value, except the decision (`approved`), which must be given.
    """
    if not form:
        return data
    schema = schemas.get(form)
    if schema is None:
        raise FormInvalidError(form, {"": [msg("the package has no form `%(form)s`", form=form)]})
    if node is not None and schema.access_for(node).get(DECISION_KEY) == "editable":
        # a decision is made anew each time: never kept from an earlier pass (a return)
        current = {key: value for key, value in current.items() if key != DECISION_KEY}
    context = FormContext(lang=lang, node=node, values=current, calendar=calendar,
                          providers=people.providers if people is not None else None)
    if today is not None:
        context.today = today
    result = validate_data(schema, data, context)
    if result.errors:
        raise FormInvalidError(form, result.errors)
    refused = people.errors(result.data, lang) if people is not None else {}
    if refused:
        raise FormInvalidError(form, refused)
    return result.data
