"""Form expressions (visible_if, required_if, formulas): a safe Python subset, compiled to a JSON tree.

The tree is evaluated by a walker here and by the same walker in `static/liaison-forms.js`, so the
browser and the server agree. Nothing is ever passed to `eval`: there are no attributes, no imports,
no calls but a fixed list of pure functions, and every value stays a plain number, string, list or dict.
"""

from __future__ import annotations

import ast
import functools
import json
import math
import sys
from decimal import Decimal
from typing import Any

FUNCTIONS = ("len", "sum", "min", "max", "abs", "round")
MAX_SOURCE = 2000
MAX_DEPTH = 40
MAX_SEQUENCE = 10_000

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%"}
_CMPOPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
           ast.In: "in", ast.NotIn: "not in", ast.Is: "==", ast.IsNot: "!="}


class ExpressionError(ValueError):
    """An expression that may not be compiled, or that failed while evaluating."""


@functools.lru_cache(maxsize=4096)
def _compile_cached(source: str) -> str:
    return json.dumps(_compile(source), separators=(",", ":"))


def compile_expression(source: str) -> list:
    """Parse `source` and return its JSON tree; raise ExpressionError naming what is not allowed."""
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("expression must be a non-empty string")
    return json.loads(_compile_cached(source))


def names_used(tree: list) -> set[str]:
    """The field names an expression reads."""
    found: set[str] = set()

    def walk(node):
        if isinstance(node, list) and node:
            if node[0] == "name":
                found.add(node[1])
            else:
                for part in node[1:]:
                    walk(part)
    walk(tree)
    return found


def _compile(source: str) -> list:
    if len(source) > MAX_SOURCE:
        raise ExpressionError(f"expression is longer than {MAX_SOURCE} characters")
    try:
        parsed = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"invalid expression `{source}`: {exc.msg}") from None
    except (ValueError, MemoryError, RecursionError):  # lone surrogates; the parser's stack overflowing
        raise ExpressionError("expression cannot be parsed (invalid text or nested too deeply)") from None
    return _node(parsed.body, 0)


def _constant(node: ast.Constant, d: int) -> list:
    if node.value is None or isinstance(node.value, (bool, int, float, str)):
        return ["const", node.value]
    raise ExpressionError(f"constant {node.value!r} is not allowed")


def _name(node: ast.Name, d: int) -> list:
    if node.id.startswith("_"):
        raise ExpressionError(f"name `{node.id}` is not allowed")
    if node.id in ("True", "False", "None"):
        return ["const", {"True": True, "False": False, "None": None}[node.id]]
    return ["name", node.id]


def _unary(node: ast.UnaryOp, d: int) -> list:
    if isinstance(node.op, ast.Not):
        return ["not", _node(node.operand, d)]
    if isinstance(node.op, ast.USub):
        return ["neg", _node(node.operand, d)]
    if isinstance(node.op, ast.UAdd):
        return _node(node.operand, d)
    raise ExpressionError("operator `~` is not allowed")


def _binop(node: ast.BinOp, d: int) -> list:
    if type(node.op) not in _BINOPS:
        raise ExpressionError(f"operator `{type(node.op).__name__}` is not allowed")
    return ["bin", _BINOPS[type(node.op)], _node(node.left, d), _node(node.right, d)]


def _comparison(node: ast.Compare, d: int) -> list:
    parts = []
    left = node.left
    for op, right in zip(node.ops, node.comparators, strict=True):
        if type(op) not in _CMPOPS:
            raise ExpressionError("comparison operator is not allowed")
        parts.append(["cmp", _CMPOPS[type(op)], _node(left, d), _node(right, d)])
        left = right
    return parts[0] if len(parts) == 1 else ["and", *parts]


def _subscript(node: ast.Subscript, d: int) -> list:
    if isinstance(node.slice, ast.Slice):
        raise ExpressionError("slices are not allowed")
    return ["index", _node(node.value, d), _node(node.slice, d)]


def _call_node(node: ast.Call, d: int) -> list:
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
        shown = node.func.id if isinstance(node.func, ast.Name) else "this call"
        raise ExpressionError(f"function `{shown}` is not allowed (allowed: {', '.join(FUNCTIONS)})")
    return ["call", node.func.id, *[_node(a, d) for a in node.args]]


def _attribute(node: ast.Attribute, d: int) -> list:
    raise ExpressionError(f"attribute access `.{node.attr}` is not allowed")


_COMPILERS = {
    ast.Constant: _constant,
    ast.Name: _name,
    ast.BoolOp: lambda n, d: ["and" if isinstance(n.op, ast.And) else "or", *[_node(v, d) for v in n.values]],
    ast.UnaryOp: _unary,
    ast.BinOp: _binop,
    ast.Compare: _comparison,
    ast.IfExp: lambda n, d: ["if", _node(n.test, d), _node(n.body, d), _node(n.orelse, d)],
    ast.List: lambda n, d: ["list", *[_node(e, d) for e in n.elts]],
    ast.Tuple: lambda n, d: ["list", *[_node(e, d) for e in n.elts]],
    ast.Subscript: _subscript,
    ast.Call: _call_node,
    ast.Attribute: _attribute,
}


def _node(node: ast.AST, depth: int) -> list:
    if depth > MAX_DEPTH:
        raise ExpressionError("expression is nested too deeply")
    compiler = _COMPILERS.get(type(node))
    if compiler is None:
        raise ExpressionError(f"`{type(node).__name__}` is not allowed in a form expression")
    return compiler(node, depth + 1)


def evaluate(tree: list, values: dict[str, Any]) -> Any:
    """Evaluate a compiled tree over `values`. Unknown names are None; errors raise ExpressionError."""
    try:
        return _eval(tree, values)
    except ExpressionError:
        raise
    except (TypeError, ValueError, ArithmeticError, IndexError, KeyError, RecursionError) as exc:
        raise ExpressionError(f"{type(exc).__name__}: {exc}") from None


def truthy(tree: list | None, values: dict[str, Any], *, default: bool) -> bool:
    """A condition's truth; a condition that fails to evaluate counts as `default`."""
    if tree is None:
        return default
    try:
        return bool(evaluate(tree, values))
    except ExpressionError:
        return default


def _num(value):
    if isinstance(value, bool) or value is None:
        return 0 if value is None or value is False else 1
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value) if value.strip() else 0
        except ValueError:
            raise ExpressionError(f"`{value}` is not a number") from None
    return value


def _and(node: list, env: dict):
    result = True
    for part in node[1:]:
        result = _eval(part, env)
        if not result:
            return result
    return result


def _or(node: list, env: dict):
    result = False
    for part in node[1:]:
        result = _eval(part, env)
        if result:
            return result
    return result


def _lookup_name(node: list, env: dict):
    value = env.get(node[1])
    return float(value) if isinstance(value, Decimal) else value


def _index(node: list, env: dict):
    container, key = _eval(node[1], env), _eval(node[2], env)
    if isinstance(container, (list, str)) and isinstance(key, int) and not isinstance(key, bool):
        return container[key] if -len(container) <= key < len(container) else None
    if isinstance(container, dict) and isinstance(key, str):
        return container.get(key)
    return None


_EVALUATORS = {
    "const": lambda n, env: n[1],
    "name": _lookup_name,
    "and": _and,
    "or": _or,
    "not": lambda n, env: not _eval(n[1], env),
    "neg": lambda n, env: -_num(_eval(n[1], env)),
    "if": lambda n, env: _eval(n[2], env) if _eval(n[1], env) else _eval(n[3], env),
    "list": lambda n, env: [_eval(e, env) for e in n[1:]],
    "index": _index,
    "bin": lambda n, env: _binary(n[1], _eval(n[2], env), _eval(n[3], env)),
    "cmp": lambda n, env: _compare(n[1], _eval(n[2], env), _eval(n[3], env)),
    "call": lambda n, env: _call(n[1], [_eval(a, env) for a in n[2:]]),
}


def _eval(node: list, env: dict) -> Any:
    evaluator = _EVALUATORS.get(node[0]) if isinstance(node, list) and node else None
    if evaluator is None:
        raise ExpressionError(f"unknown node `{node[0] if isinstance(node, list) and node else node}`")
    return evaluator(node, env)


def _binary(op: str, left, right):
    if op == "+" and isinstance(left, str) and isinstance(right, str):
        if len(left) + len(right) > MAX_SEQUENCE:
            raise ExpressionError("string too long")
        return left + right
    if op == "+" and isinstance(left, list) and isinstance(right, list):
        if len(left) + len(right) > MAX_SEQUENCE:
            raise ExpressionError("list too long")
        return left + right
    a, b = _num(left), _num(right)
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        raise ExpressionError(f"cannot apply `{op}` to {type(left).__name__} and {type(right).__name__}")
    if op in ("/", "//", "%") and b == 0:
        raise ExpressionError("division by zero")
    result = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
              "//": lambda: a // b, "%": lambda: a % b}[op]()
    return _finite(result)


def _finite(result):
    """Refuse inf/nan, and ints beyond the float range (Python ints grow without bound: digit bombs)."""
    if (isinstance(result, float) and not math.isfinite(result)) or \
            (isinstance(result, int) and abs(result) > sys.float_info.max):
        raise ExpressionError("result is not a finite number")
    return result


def _compare(op: str, left, right):
    if op == "==":
        return _loose(left) == _loose(right)
    if op == "!=":
        return _loose(left) != _loose(right)
    if op in ("in", "not in"):
        if isinstance(right, str):
            found = isinstance(left, str) and left in right
        elif isinstance(right, (list, dict)):
            found = _loose(left) in [_loose(v) for v in right]
        else:
            found = False
        return found if op == "in" else not found
    if left is None or right is None:
        return False
    if isinstance(left, str) and isinstance(right, str):
        a, b = left, right
    else:
        a, b = _num(left), _num(right)
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _loose(value):
    """Numbers compare by value whatever their type; "" compares as None (an empty input)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    if value == "":
        return None
    return value


def _call(name: str, args: list):
    if name == "len":
        return len(args[0]) if args and isinstance(args[0], (str, list, dict)) else 0
    if name == "abs":
        return _finite(abs(_num(args[0])))
    if name == "round":  # like Python: round(x) is an int; round(inf, 2) would be inf, so is checked
        if len(args) == 1:
            return round(_num(args[0]))
        return _finite(round(_num(args[0]), max(0, min(int(_num(args[1])), 10))))
    if name == "sum" and len(args) == 2 and isinstance(args[0], list) and isinstance(args[1], str):
        args = [[row.get(args[1]) if isinstance(row, dict) else None for row in args[0]]]  # a table column
    values = args[0] if len(args) == 1 and isinstance(args[0], list) else args
    numbers = [_num(v) for v in values if v not in (None, "")]
    if name == "sum":
        return _finite(sum(numbers))
    if not numbers:
        return None
    return min(numbers) if name == "min" else max(numbers)
