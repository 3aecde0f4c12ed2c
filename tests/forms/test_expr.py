"""Tests for forms.expr: the allowed subset evaluates like Python, escapes are refused, evaluation is bounded."""

from __future__ import annotations

import builtins
import json
import time
import tracemalloc

import pytest

from forms.expr import (
    FUNCTIONS,
    MAX_DEPTH,
    MAX_SEQUENCE,
    MAX_SOURCE,
    ExpressionError,
    compile_expression,
    evaluate,
    names_used,
    truthy,
)

ENV = {"a": 3, "b": 4, "s": "abc", "xs": [1, 2, 3], "d": {"k": "v"}, "t": True, "f": False, "n": None,
       "x": 2.5, "items": [{"price": 2, "qty": 3}, {"price": 3.5, "qty": None}, "junk"]}


def run(source: str, env: dict | None = None):
    return evaluate(compile_expression(source), ENV if env is None else env)


# -- allowed constructs evaluate like Python ---------------------------------------------------------------------

@pytest.mark.parametrize("source", [
    "1 + 2 * 3", "(1 + 2) * 3", "7 // 2", "-7 // 2", "7 % 3", "-7 % 3", "7 / 2", "2 - 5", "-a", "+a", "--a",
    "a + b * x", "a < b", "a <= 3 < b", "a == 3.0", "a != b", "a > b or b > a", "a and b", "a and 0", "0 or b",
    "not a", "not f", "'b' in s", "'z' not in s", "2 in xs", "5 not in xs", "'k' in d", "xs[0]", "xs[-1]",
    "d['k']", "s[1]", "a if t else b", "a if f else b", "len(s)", "len(xs)", "sum(xs)", "min(xs)", "max(xs)",
    "min(a, b)", "max(a, b, 10)", "abs(-a)", "abs(-2.5)", "round(x)", "round(2.675, 2)", "round(7 / 3, 3)",
    "s + 'def'", "xs + [4]", "[a, b]", "(a, b)", "True", "None", "'a' < 'b'", "a is None", "n is None",
    "a is not None", "1 < 2 < 3 < 4", "3 > 2 > 2", "x * 2 == 5", "len(d)", "sum([])", "[] + []",
])
def test_allowed_constructs_evaluate_like_python(source):
    allowed = {name: getattr(builtins, name) for name in FUNCTIONS}
    expected = eval(source, {"__builtins__": allowed}, dict(ENV))  # noqa: S307 - the reference, on fixed sources
    if isinstance(expected, tuple):
        expected = list(expected)          # tuples become lists: the tree is JSON
    result = run(source)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(("source", "expected"), [
    ("unknown", None),
    ("unknown is None", True),
    ("unknown + 1", 1),                    # an empty input counts as 0
    ("'' + 1 == 1", True),
    ("'' == None", True),                  # an empty text input is None
    ("1 == 1.0 == True", True),
    ("'2' * 3", 6.0),                      # browser strings are numbers in arithmetic
    ("'12.5' > 3", True),
    ("xs[10]", None),                      # out of range is None, not an error
    ("d['missing']", None),
    ("d[0]", None),
    ("xs['k']", None),
    ("xs[t]", None),
    ("n < 1", False),                      # comparisons with None are false
    ("n > 1", False),
    ("1 in n", False),
    ("len(a)", 0),
    ("len()", 0),
    ("min()", None),
    ("max([])", None),
    ("sum(items, 'price')", 5.5),          # a table column; non-dict rows count as empty
    ("sum(items, 'qty')", 3),
    ("sum([1, None, '', '2'])", 3.0),
    ("round(2.5)", 2),
    ("round(1.23456, 99)", 1.23456),       # digits capped at 10
    ("round(1.5, -3)", 2.0),               # and at 0
    ("round(1.25, 1)", 1.2),
    ("round(2.5, 0)", 2.0),
    ("1 if 0 else 2 if 0 else 3", 3),
])
def test_form_specific_semantics(source, expected):
    result = run(source)
    assert result == expected
    assert type(result) is type(expected)


def test_decimals_in_the_environment_are_floats():
    from decimal import Decimal
    assert run("a * 2", {"a": Decimal("1.25")}) == 2.5
    assert run("a", {"a": Decimal("1.25")}) == 1.25


def test_names_used():
    assert names_used(compile_expression("a + sum(items, 'p') if b else len(c[0])")) == {"a", "items", "b", "c"}
    assert names_used(compile_expression("1 + 2")) == set()


def test_the_tree_is_plain_json():
    tree = compile_expression("a > 1 and sum(items, 'p') < 10 or not b")
    assert json.loads(json.dumps(tree)) == tree
    assert compile_expression("x is None") == ["cmp", "==", ["name", "x"], ["const", None]]


def test_truthy_uses_the_default_when_evaluation_fails():
    assert truthy(compile_expression("1 / 0"), {}, default=True) is True
    assert truthy(compile_expression("1 / 0"), {}, default=False) is False
    assert truthy(None, {}, default=True) is True
    assert truthy(compile_expression("a > 2"), {"a": 3}, default=False) is True


# -- escapes are refused at compile time ---------------------------------------------------------------------------

@pytest.mark.parametrize(("source", "message"), [
    ("x.__class__", "attribute access `.__class__` is not allowed"),
    ("''.join(['a'])", "function `this call` is not allowed (allowed: len, sum, min, max, abs, round)"),
    ("''.join", "attribute access `.join` is not allowed"),
    ("(1).real", "attribute access `.real` is not allowed"),
    ("len.__self__", "attribute access `.__self__` is not allowed"),
    ("__import__('os')", "function `__import__` is not allowed (allowed: len, sum, min, max, abs, round)"),
    ("__builtins__", "name `__builtins__` is not allowed"),
    ("_secret", "name `_secret` is not allowed"),
    ("open('f')", "function `open` is not allowed (allowed: len, sum, min, max, abs, round)"),
    ("eval('1')", "function `eval` is not allowed (allowed: len, sum, min, max, abs, round)"),
    ("exec('1')", "function `exec` is not allowed (allowed: len, sum, min, max, abs, round)"),
    ("getattr(x, 'y')", "function `getattr` is not allowed (allowed: len, sum, min, max, abs, round)"),
    ("type(x)", "function `type` is not allowed (allowed: len, sum, min, max, abs, round)"),
    ("str(1)", "function `str` is not allowed (allowed: len, sum, min, max, abs, round)"),
    ("xs[0](1)", "function `this call` is not allowed (allowed: len, sum, min, max, abs, round)"),
    ("(lambda: 1)()", "function `this call` is not allowed (allowed: len, sum, min, max, abs, round)"),
    ("len(x=1)", "function `len` is not allowed (allowed: len, sum, min, max, abs, round)"),
    ("round(x, ndigits=2)", "function `round` is not allowed (allowed: len, sum, min, max, abs, round)"),
    ("lambda: 1", "`Lambda` is not allowed in a form expression"),
    ("[i for i in xs]", "`ListComp` is not allowed in a form expression"),
    ("{i for i in xs}", "`SetComp` is not allowed in a form expression"),
    ("{i: i for i in xs}", "`DictComp` is not allowed in a form expression"),
    ("(i for i in xs)", "`GeneratorExp` is not allowed in a form expression"),
    ("sum(i for i in xs)", "`GeneratorExp` is not allowed in a form expression"),
    ("(y := 1)", "`NamedExpr` is not allowed in a form expression"),
    ("f'{x}'", "`JoinedStr` is not allowed in a form expression"),
    ("f'{len(x)}'", "`JoinedStr` is not allowed in a form expression"),
    ("f'{x.__class__}'", "`JoinedStr` is not allowed in a form expression"),
    ("[*xs]", "`Starred` is not allowed in a form expression"),
    ("len(*xs)", "`Starred` is not allowed in a form expression"),
    ("max(**d)", "function `max` is not allowed (allowed: len, sum, min, max, abs, round)"),
    ("xs[0:2]", "slices are not allowed"),
    ("xs[::-1]", "slices are not allowed"),
    ("{}", "`Dict` is not allowed in a form expression"),
    ("{1}", "`Set` is not allowed in a form expression"),
    ("a ** 2", "operator `Pow` is not allowed"),
    ("'a' * 10 ** 9", "operator `Pow` is not allowed"),
    ("a << 1", "operator `LShift` is not allowed"),
    ("a & 1", "operator `BitAnd` is not allowed"),
    ("a @ b", "operator `MatMult` is not allowed"),
    ("~a", "operator `~` is not allowed"),
    ("1j", "constant 1j is not allowed"),
    ("b'x'", "constant b'x' is not allowed"),
    ("...", "constant Ellipsis is not allowed"),
    ("await x", "`Await` is not allowed in a form expression"),
    ("yield", "invalid expression `yield`: invalid syntax"),
    ("import os", "invalid expression `import os`: invalid syntax"),
    ("a = 1", "invalid expression `a = 1`: invalid syntax"),
    ("1; 2", "invalid expression `1; 2`: invalid syntax"),
    ("", "expression must be a non-empty string"),
    ("   ", "expression must be a non-empty string"),
    ("\x00", "invalid expression `\x00`: source code string cannot contain null bytes"),
])
def test_escapes_are_refused_at_compile_time(source, message):
    with pytest.raises(ExpressionError) as info:
        compile_expression(source)
    assert str(info.value) == message


@pytest.mark.parametrize("source", [None, 1, ["name", "x"], b"a"])
def test_non_strings_are_refused(source):
    with pytest.raises(ExpressionError, match="expression must be a non-empty string"):
        compile_expression(source)


def test_too_long_is_refused():
    assert compile_expression("a" * MAX_SOURCE) == ["name", "a" * MAX_SOURCE]
    with pytest.raises(ExpressionError, match=f"longer than {MAX_SOURCE} characters"):
        compile_expression("a" * (MAX_SOURCE + 1))


@pytest.mark.parametrize("source", [
    "-" * 1000 + "1", "not " * 400 + "1", "[" * 100 + "]" * 100, "1 + " * 400 + "1", "len(" * 45 + ")" * 45,
    "xs[" * 45 + "0" + "]" * 45, "1 if a else " * 45 + "2",
])
def test_too_deep_is_refused(source):
    with pytest.raises(ExpressionError, match="nested too deeply"):
        compile_expression(source)


def test_depth_limit_is_the_tree_depth():
    compile_expression("-" * (MAX_DEPTH - 1) + "1")


@pytest.mark.parametrize("source", [
    "[1," * 490 + "]" * 490,       # the CPython parser's own stack overflows (MemoryError)
    "(" * 300 + "1" + ")" * 300,   # too many nested parentheses (SyntaxError)
    "'\ud800'",                    # a lone surrogate (UnicodeEncodeError)
])
def test_what_the_python_parser_refuses_is_an_expression_error(source):
    with pytest.raises(ExpressionError):
        compile_expression(source)


# -- evaluation failures are ExpressionErrors, and are bounded ----------------------------------------------------

@pytest.mark.parametrize("source", ["1 / 0", "1 // 0", "1 % 0", "a / (b - 4)", "1 / 0.0", "x % n"])
def test_division_by_zero(source):
    with pytest.raises(ExpressionError, match="division by zero"):
        run(source, {"a": 1, "b": 4, "x": 1, "n": None})


@pytest.mark.parametrize("source", [
    "'a' * 1000000000", "s * 1000000000", "1000000000 * s", "xs * 1000000000", "d * 2", "s - 1", "-s",
    "xs < s", "d < d", "abs(s)", "abs(xs)", "round(s)", "round(1, s)", "min(s, 1)", "sum([xs])", "-xs",
    "1e308 * 10", "big * big", "sum([1e308, 1e308])", "1e308 + 1e308", "-1e308 - 1e308", "round(inf)",
    "round(nan_)", "round(1, inf)", "round(inf, 2)", "abs(inf)", "abs()", "round()", "sum(xs, 1)",
])
def test_runtime_errors_are_expression_errors(source):
    env = {"s": "abc", "xs": [1], "d": {}, "big": 10 ** 200, "inf": float("inf"), "nan_": float("nan")}
    with pytest.raises(ExpressionError):
        run(source, env)


def test_string_repetition_never_allocates():
    tracemalloc.start()
    start = time.perf_counter()
    try:
        for source in ("'a' * 1000000000", "s * 999999999", "'ab' * 100000000000000000000"):
            with pytest.raises(ExpressionError):
                run(source, {"s": "x"})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 1024 * 1024
    assert time.perf_counter() - start < 1


def test_growing_strings_and_lists_are_capped():
    assert len(run("s + s", {"s": "a" * (MAX_SEQUENCE // 2)})) == MAX_SEQUENCE
    with pytest.raises(ExpressionError, match="string too long"):
        run("s + s + 'x'", {"s": "a" * (MAX_SEQUENCE // 2)})
    assert len(run("xs + xs", {"xs": [0] * (MAX_SEQUENCE // 2)})) == MAX_SEQUENCE
    with pytest.raises(ExpressionError, match="list too long"):
        run("xs + xs + [1]", {"xs": [0] * (MAX_SEQUENCE // 2)})
    with pytest.raises(ExpressionError, match="list too long"):
        run("((((xs + xs) + (xs + xs)) + ((xs + xs) + (xs + xs))) + (((xs + xs) + (xs + xs)) + "
            "((xs + xs) + (xs + xs))))", {"xs": [0] * 1000})


def test_integer_results_stay_in_the_float_range():
    # Python ints grow without bound; a formula such as x*x*x*... would make a number with thousands of digits.
    source = " * ".join(["x"] * 40)
    with pytest.raises(ExpressionError, match="not a finite number"):
        run(source, {"x": 10 ** 39})
    assert run("x * x", {"x": 10 ** 20}) == 10 ** 40


def test_unknown_node_in_a_hand_made_tree():
    with pytest.raises(ExpressionError, match="unknown node `attr`"):
        evaluate(["attr", ["name", "x"], "__class__"], {"x": 1})
    with pytest.raises(ExpressionError):
        evaluate([], {})
    with pytest.raises(ExpressionError):
        evaluate("x", {})


def test_compiled_trees_are_copies():
    tree = compile_expression("a + 1")
    tree[2][1] = 99
    assert compile_expression("a + 1") == ["bin", "+", ["name", "a"], ["const", 1]]
