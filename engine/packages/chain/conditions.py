"""Branch conditions of a chain: structured form <-> the Python expression the gateway's flow carries.

A condition is a leaf `{"field": "amount", "op": ">", "value": 5000}` or a group
`{"all": [condition, ...]}` (and) / `{"any": [condition, ...]}` (or), nested at will. The
expression written to the BPMN is plain Python the engine's sandbox accepts, and it is the only
copy: the chain editor reads the structured form back by parsing it (`python_to_condition`), so an
expression edited in a BPMN modeler in the same shapes still opens in the chain editor.

| op | expression | for field types |
|---|---|---|
| `==` `!=` | `f == v` | all but table/file |
| `>` `>=` `<` `<=` | `f > v` | number, money, date, datetime, rating, formula |
| `in` / `not_in` | `f in [v1, v2]` | text, select, radio, user, department, number |
| `contains` | `v in (f or [])` | checkboxes, multiple select / user, text |
| `empty` / `not_empty` | `f in (None, '', [])` / `f not in (None, '', [])` | every type |

A group of one condition is written as that condition (and reads back as it).
"""

from __future__ import annotations

import ast

COMPARE_OPS = {"==": ast.Eq, "!=": ast.NotEq, ">": ast.Gt, ">=": ast.GtE, "<": ast.Lt, "<=": ast.LtE}
LIST_OPS = ("in", "not_in")
NO_VALUE_OPS = ("empty", "not_empty")
OPERATORS = (*COMPARE_OPS, *LIST_OPS, "contains", *NO_VALUE_OPS)
ORDERED_TYPES = frozenset({"number", "money", "date", "datetime", "rating", "formula"})
MULTI_TYPES = frozenset({"checkboxes"})
UNCOMPARABLE_TYPES = frozenset({"table", "file", "notice", "date_range", "quiz"})
_EMPTY = "(None, '', [])"
_OP_SYMBOLS = {node: symbol for symbol, node in COMPARE_OPS.items()}


class ConditionShapeError(ValueError):
    """An expression that is not one of the condition shapes above."""


def operators_for(field: dict) -> tuple[str, ...]:
    """The operators a condition on this form field may use (by its type)."""
    kind = field.get("type")
    if kind in UNCOMPARABLE_TYPES:
        return NO_VALUE_OPS
    if kind in MULTI_TYPES or field.get("multiple"):
        return ("contains", *NO_VALUE_OPS)
    if kind in ORDERED_TYPES:
        return (*COMPARE_OPS, *LIST_OPS, *NO_VALUE_OPS)
    return ("==", "!=", *LIST_OPS, "contains", *NO_VALUE_OPS)


def condition_to_python(condition: dict) -> str:
    """The Python expression for a structured condition (see the module docstring)."""
    group = _group(condition)
    if group:
        joiner, items = group
        if len(items) == 1:
            return condition_to_python(items[0])
        parts = [f"({condition_to_python(c)})" if _group(c) and len(_group(c)[1]) > 1 else condition_to_python(c)
                 for c in items]
        return f" {joiner} ".join(parts)
    field, op, value = condition["field"], condition["op"], condition.get("value")
    if op in COMPARE_OPS:
        return f"{field} {op} {_literal(value)}"
    if op == "in":
        return f"{field} in {_literal(list(value))}"
    if op == "not_in":
        return f"{field} not in {_literal(list(value))}"
    if op == "contains":
        return f"{_literal(value)} in ({field} or [])"
    if op == "empty":
        return f"{field} in {_EMPTY}"
    if op == "not_empty":
        return f"{field} not in {_EMPTY}"
    raise ConditionShapeError(f"unknown operator `{op}`")


def python_to_condition(expression: str) -> dict:
    """The structured condition an expression written by `condition_to_python` stands for;
    ConditionShapeError when it has another shape."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ConditionShapeError(f"not a Python expression: {exc.msg}") from None
    return _read(tree.body)


def condition_fields(condition: dict) -> list[str]:
    """The field names a condition reads, in order."""
    group = _group(condition)
    if group:
        return [name for item in group[1] for name in condition_fields(item)]
    return [condition.get("field")]


def leaves(condition: dict) -> list[dict]:
    """The leaf conditions of a (possibly nested) condition."""
    group = _group(condition)
    return [leaf for item in group[1] for leaf in leaves(item)] if group else [condition]


def _group(condition) -> tuple[str, list] | None:
    if isinstance(condition, dict) and "all" in condition:
        return "and", condition["all"]
    if isinstance(condition, dict) and "any" in condition:
        return "or", condition["any"]
    return None


def _literal(value) -> str:
    if value is None or isinstance(value, bool | int | float | str):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    raise ConditionShapeError(f"a condition value must be text, a number, true/false or a list, not {value!r}")


def _read(node: ast.expr) -> dict:
    if isinstance(node, ast.BoolOp):
        key = "all" if isinstance(node.op, ast.And) else "any"
        return {key: [_read(value) for value in node.values]}
    if not isinstance(node, ast.Compare) or len(node.ops) != 1:
        raise ConditionShapeError("only comparisons joined by and / or are conditions")
    op, left, right = node.ops[0], node.left, node.comparators[0]
    if isinstance(left, ast.Name):
        return _read_field_first(left.id, op, right)
    if isinstance(op, ast.In) and _is_field_or_list(right):
        return {"field": right.values[0].id, "op": "contains", "value": _value(left)}
    raise ConditionShapeError("a comparison must start with a field name")


def _read_field_first(field: str, op: ast.cmpop, right: ast.expr) -> dict:
    if type(op) in _OP_SYMBOLS:
        return {"field": field, "op": _OP_SYMBOLS[type(op)], "value": _value(right)}
    if isinstance(op, ast.In | ast.NotIn):
        negated = isinstance(op, ast.NotIn)
        if isinstance(right, ast.Tuple) and ast.unparse(right) == _EMPTY:
            return {"field": field, "op": "not_empty" if negated else "empty"}
        if isinstance(right, ast.List):
            return {"field": field, "op": "not_in" if negated else "in", "value": _value(right)}
    raise ConditionShapeError(f"`{type(op).__name__}` on `{ast.unparse(right)}` is not a condition shape")


def _is_field_or_list(node: ast.expr) -> bool:
    return (isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or) and len(node.values) == 2
            and isinstance(node.values[0], ast.Name) and isinstance(node.values[1], ast.List)
            and not node.values[1].elts)


def _value(node: ast.expr):
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise ConditionShapeError(f"`{ast.unparse(node)}` is not a plain value") from None
