"""A form's `checks`: rules across fields (weights that total 100, an end after a start), each an expression
over the form's fields with a bilingual message shown at one field. Compiled when the form is loaded;
`forms.build.failed_checks` runs them on a valid submission."""

from __future__ import annotations

from forms.expr import ExpressionError, compile_expression, names_used


def check_problems(checks: list[dict], known: set[str], exprs: dict) -> list[str]:
    """Compile each check into `exprs["check:N"]`; the problems: an expression that does not compile or
    reads unknown fields, a `field` the form does not have."""
    problems = []
    for index, check in enumerate(checks):
        who = f"check {index + 1}"
        try:
            tree = compile_expression(check["expression"])
        except ExpressionError as exc:
            problems.append(f"{who}: `expression`: {exc}")
        else:
            unknown = sorted(names_used(tree) - known)
            if unknown:
                problems.append(f"{who}: `expression` uses unknown field{'s' if len(unknown) > 1 else ''} "
                                f"{', '.join(f'`{u}`' for u in unknown)}")
            exprs[f"check:{index}"] = tree
        if check["field"] not in known:
            problems.append(f"{who}: `field` `{check['field']}` is not a field of this form")
    return problems
