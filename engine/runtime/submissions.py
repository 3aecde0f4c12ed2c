"""Form submissions: data for a start event or user task is checked against the package's form.

The forms of a version are loaded once per version checksum. What is stored is the form's cleaned
data (typed values, computed formulas), never the raw submission.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date

from engine.errors import FormInvalidError, Problem
from forms.build import FormContext, validate_data
from forms.schema import FormSchema, SchemaError, load_schema


class FormCache:
    """`{form key: FormSchema}` per version checksum (versions are immutable, so is their cache)."""

    def __init__(self, limit: int = 256):
        self._items: dict[str, dict[str, FormSchema]] = {}
        self._limit = limit
        self._lock = threading.Lock()

    def get(self, checksum: str, load_package: Callable[[], dict]) -> dict[str, FormSchema]:
        found = self._items.get(checksum)
        if found is None:
            forms = (load_package() or {}).get("forms") or {}
            found = {key: load_schema(value, name=f"forms/{key}") for key, value in forms.items()}
            with self._lock:
                if len(self._items) >= self._limit:
                    self._items.pop(next(iter(self._items)))
                self._items[checksum] = found
        return found

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


FORM_CACHE = FormCache()


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
                       current: dict, lang: str = "en", today: date | None = None) -> dict:
    """The cleaned data of a submission to `form` at `node`; FormInvalidError lists what is wrong.

    Without a form the data passes as it is (a task may collect nothing, or be driven by an API).
    """
    if not form:
        return data
    schema = schemas.get(form)
    if schema is None:
        raise FormInvalidError(form, {"": [f"the package has no form `{form}`"]})
    context = FormContext(lang=lang, node=node, values=current)
    if today is not None:
        context.today = today
    result = validate_data(schema, data, context)
    if result.errors:
        raise FormInvalidError(form, result.errors)
    return result.data
