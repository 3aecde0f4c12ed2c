"""The form builder's live preview: a schema rendered by the forms renderer the task page uses.

`preview_form` builds the form with `forms.build.form_class`, renders it with `forms.render.render`
(the macros of `forms/templates/forms/macros.html`, no submit button's action and no CSRF input: the
preview is never posted) and, when sample values are given, validates them with `validate_data` and
shows the messages next to their fields as the task page does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from forms.build import FormContext, form_class, validate_data
from forms.render import render
from forms.schema import SchemaError, load_schema


@dataclass(frozen=True)
class Preview:
    """The preview's HTML (empty when the schema has problems), the messages per field path, the problems."""

    html: str
    errors: dict[str, list[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def preview_form(schema: dict, values: dict | None = None, lang: str = "zh", node: str | None = None) -> Preview:
    """Render `schema` as user task `node` (None: the start form) in `lang`, with `values` validated when given."""
    lang = "en" if lang == "en" else "zh"
    try:
        checked = load_schema(schema if isinstance(schema, dict) else {})
    except SchemaError as exc:
        return Preview("", problems=list(exc.problems))
    values = values if isinstance(values, dict) else {}
    access = form_class(checked, node, lang).access
    if node is not None and node not in (checked.data.get("access") or {}):
        node = None  # a task without rules edits every field, like the start form
    context = FormContext(lang=lang, node=node, values=values)
    form = form_class(checked, node, lang)(None, context)
    errors: dict[str, list[str]] = {}
    if values:
        editable = {k: v for k, v in values.items() if access.get(k) == "editable"}
        errors = validate_data(checked, editable, FormContext(lang=lang, node=node, values=values)).errors
        for path, messages in errors.items():
            name, _dot, rest = path.partition(".")
            fld = form._fields.get(name) if name else None
            if fld is None:
                continue
            if rest and hasattr(fld, "rows"):
                fld.row_errors = {**getattr(fld, "row_errors", {}), rest: list(messages)}
            else:
                fld.errors = [*(fld.errors or ()), *messages]
    return Preview(str(render(form, lang)), errors)
