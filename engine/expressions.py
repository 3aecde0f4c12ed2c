"""Safe evaluation of conditions, expressions and scripts, and the SpiffWorkflow script engine using it.

Every text is compiled by RestrictedPython with Liaison's policy (no `_` names, no imports, no classes,
no generator functions; size guards on `*`, `**`, `<<`, `%`, `+` and f-string format specs), cached per
source text. Scripts, and expressions that call or loop, run under a time limit checked by code the
compiler inserts into every loop, function and handler.
"""

from __future__ import annotations

import ast
import copy
import functools
import json
import operator
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from types import CodeType
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr_raise,
)
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import RestrictingNodeTransformer, copy_locations
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from .errors import ExpressionError
from .services import get_service

SCRIPT_TIME_LIMIT_S = 2.0
FILENAME = "<liaison-script>"
MAX_SIZE = 10_000_000  # items or characters one operation may produce
MAX_INT_BITS = 100_000  # about 30,000 decimal digits
MAX_FORMAT_WIDTH = 10_000
RANGE_LIMIT = 100_000
_SEQUENCES = (str, bytes, list, tuple)
_INT_OR_SEQUENCE = (int, *_SEQUENCES)


def _too_big(size: int) -> None:
    if size > MAX_SIZE:
        raise ValueError(f"result too large ({size:,} items, limit {MAX_SIZE:,})")


def _check_int_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise ValueError(f"integer result too large (about {bits:,} bits, limit {MAX_INT_BITS:,})")


def _check_mul(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int):
        _check_int_bits(a.bit_length() + b.bit_length())
    elif isinstance(a, _SEQUENCES) and isinstance(b, int):
        _too_big(len(a) * b)
    elif isinstance(b, _SEQUENCES) and isinstance(a, int):
        _too_big(len(b) * a)


def _check_pow(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        _check_int_bits(a.bit_length() * b)


def _check_lshift(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int) and a:
        _check_int_bits(a.bit_length() + b)


def _check_add(a: Any, b: Any) -> None:
    if isinstance(a, _SEQUENCES) and hasattr(b, "__len__"):
        _too_big(len(a) + len(b))


_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_width(digits: str | None) -> None:
    if digits == "*" or (digits and (len(digits) > 6 or int(digits) > MAX_FORMAT_WIDTH)):
        raise ValueError(f"format width/precision `{digits[:8]}` not allowed (limit {MAX_FORMAT_WIDTH})")


def _check_mod(a: Any, b: Any) -> None:
    if isinstance(a, bytes):
        a = a.decode("latin-1")
    if isinstance(a, str) and "%" in a:
        for match in _PERCENT.finditer(a):
            _check_width(match.group(1))
            _check_width(match.group(2))


_SMALL = 1 << 31
_NUMBERS = (int, float)


def _add(a: Any, b: Any) -> Any:
    if type(a) not in _NUMBERS and isinstance(a, _SEQUENCES):
        _check_add(a, b)
    return a + b


def _mul(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is float or tb is float or (ta is int and tb is int and -_SMALL < a < _SMALL and -_SMALL < b < _SMALL):
        return a * b
    _check_mul(a, b)
    return a * b


def _pow(a: Any, b: Any) -> Any:
    _check_pow(a, b)
    return a**b


def _lshift(a: Any, b: Any) -> Any:
    _check_lshift(a, b)
    return a << b


def _mod(a: Any, b: Any) -> Any:
    if isinstance(a, (str, bytes)):
        _check_mod(a, b)
    return a % b


_BINOPS = {ast.Add: "_add_", ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_", ast.Mod: "_mod_"}
_INPLACE = {"+=": (_check_add, operator.iadd), "-=": (None, operator.isub), "*=": (_check_mul, operator.imul),
            "/=": (None, operator.itruediv), "//=": (None, operator.ifloordiv), "%=": (_check_mod, operator.imod),
            "**=": (_check_pow, operator.ipow), "<<=": (_check_lshift, operator.ilshift),
            ">>=": (None, operator.irshift), "&=": (None, operator.iand), "|=": (None, operator.ior),
            "^=": (None, operator.ixor), "@=": (None, operator.imatmul)}


def _inplacevar(op: str, a: Any, b: Any) -> Any:
    check, run = _INPLACE[op]
    if op == "+=" and isinstance(a, list) and not hasattr(b, "__len__"):
        b = list(b)  # `lst += map(f, lst)` would otherwise grow forever inside C
    if check is not None:
        check(a, b)
    return run(a, b)


def _format(value: Any, conversion: int, spec: str) -> str:
    value = {115: str, 114: repr, 97: ascii}.get(conversion, lambda v: v)(value)
    for digits in re.findall(r"\d+", spec):
        _check_width(digits)
    return format(value, spec)


# Methods wrapped in Python frames: size-checked, and visible to the time limit's trace hook.
def _pad(obj: Any, method: Any, width: int, *rest: Any) -> Any:
    _too_big(width)
    return method(width, *rest)


def _expandtabs(obj: Any, method: Any, tabsize: int = 8) -> Any:
    _too_big(len(obj) * max(tabsize, 1))
    return method(tabsize)


def _replace(obj: Any, method: Any, old: Any, new: Any, count: int = -1) -> Any:
    hits = obj.count(old) if old else len(obj) + 1
    _too_big(len(obj) + (min(hits, count) if count >= 0 else hits) * (len(new) - len(old)))
    return method(old, new, count)


def _join(obj: Any, method: Any, items: Any) -> Any:
    items = list(items)
    _too_big(sum(len(i) for i in items if isinstance(i, (str, bytes))) + len(obj) * max(len(items) - 1, 0))
    return method(items)


# List growth is the one way C code (`any(map(items.append, items))`) can loop forever: check the deadline.
def _extend(check: Callable[[], bool], obj: list, method: Any, items: Any) -> None:
    check()
    items = list(items)
    _too_big(len(obj) + len(items))
    method(items)


def _grow(check: Callable[[], bool], obj: list, method: Any, *args: Any) -> None:
    check()
    _too_big(len(obj) + 1)
    method(*args)


_STR_METHODS = {"ljust": _pad, "rjust": _pad, "center": _pad, "zfill": _pad, "expandtabs": _expandtabs,
                "replace": _replace, "join": _join}
_LIST_METHODS = {"extend": _extend, "append": _grow, "insert": _grow}
_BLOCKED_ON_TYPES = frozenset(_STR_METHODS) | frozenset(_LIST_METHODS) | {"mro"}


def _no_check() -> bool:
    return True


def _make_getattr(check: Callable[[], bool]) -> Callable[[Any, str], Any]:
    """The `_getattr_` guard: RestrictedPython's safer_getattr, no `mro`, size-checked str/list methods."""

    def guarded_getattr(obj: Any, name: str) -> Any:
        if name == "mro" or (isinstance(obj, type) and name in _BLOCKED_ON_TYPES):
            raise AttributeError(f'attribute "{name}" is not allowed here')
        value = safer_getattr_raise(obj, name)
        if isinstance(obj, (str, bytes)) and name in _STR_METHODS:
            return functools.partial(_STR_METHODS[name], obj, value)
        if isinstance(obj, list) and name in _LIST_METHODS:
            return functools.partial(_LIST_METHODS[name], check, obj, value)
        return value

    return guarded_getattr


def _range(*args: int) -> range:
    result = range(*args)
    if len(result) > RANGE_LIMIT:
        raise ValueError(f"range() is limited to {RANGE_LIMIT:,} items")
    return result


def _sum(iterable: Any, /, start: Any = 0) -> Any:
    if isinstance(start, _SEQUENCES):
        raise TypeError("sum() of sequences is not allowed; use a comprehension")
    return sum(iterable, start)


def _pow_builtin(base: Any, exp: Any, mod: Any = None) -> Any:
    if mod is None:
        _check_pow(base, exp)
        return pow(base, exp)
    return pow(base, exp, mod)


def _apply(func: Any, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


_UNSAFE_BUILTINS = {"__build_class__", "setattr", "delattr", "BaseException", "KeyboardInterrupt", "SystemExit",
                    "GeneratorExit"}
BUILTINS: dict[str, Any] = {k: v for k, v in safe_builtins.items() if k not in _UNSAFE_BUILTINS}
BUILTINS.update(
    len=len, min=min, max=max, sum=_sum, sorted=sorted, abs=abs, round=round, any=any, all=all, str=str,
    int=int, float=float, bool=bool, list=list, dict=dict, set=set, tuple=tuple, range=_range,
    enumerate=enumerate, zip=zip, isinstance=isinstance, filter=filter, map=map, reversed=reversed,
    divmod=divmod, pow=_pow_builtin, datetime=datetime, date=date, timedelta=timedelta, Decimal=Decimal,
)
GUARDS: dict[str, Any] = {
    "_getattr_": _make_getattr(_no_check), "_getitem_": operator.getitem, "_getiter_": iter, "_apply_": _apply,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence, "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard, "_inplacevar_": _inplacevar, "_print_": PrintCollector, "_format_": _format,
    "_deadline_check_": _no_check, "_add_": _add, "_mul_": _mul, "_pow_": _pow, "_lshift_": _lshift,
    "_mod_": _mod,
}

_JUEL_WORDS = {"eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">=", "div": "/", "mod": "%",
               "true": "True", "false": "False", "null": "None", "empty": "not"}
_JUEL_OPS = {"&&": " and ", "||": " or ", "!=": " != ", "!": " not "}
_JUEL_TOKEN = re.compile(
    r"""(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(?P<op>&&|\|\||!=|!)|(?P<word>[A-Za-z_]\w*)|(?P<other>.)""",
    re.DOTALL,
)
_ISO_TOKEN = re.compile(
    r"(R\d*/)?P(?=\d|T\d)(\d+[YMWD])*(T(\d+([.,]\d+)?[HMS])+)?|\d{4}-\d{2}-\d{2}(T[\d:.]+)?(Z|[+-]\d{2}:?\d{2})?"
)
_KIND_MODES = {"condition": "eval", "cardinality": "eval", "completion": "eval", "timer": "eval", "script": "exec"}


def translate_juel(text: str) -> str:
    """Translate a whole-text `${...}` JUEL expression (simple subset) to Python; other text is unchanged."""
    stripped = text.strip()
    if not (stripped.startswith("${") and stripped.endswith("}")):
        return text
    out: list[str] = []
    previous = ""
    for match in _JUEL_TOKEN.finditer(stripped[2:-1]):
        kind, token = match.lastgroup, match.group()
        if kind == "op":
            out.append(_JUEL_OPS[token])
        elif kind == "word" and previous != ".":
            out.append(_JUEL_WORDS.get(token, token))
        else:
            out.append(token)
        if not token.isspace():
            previous = token
    return "".join(out).strip()


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus Liaison's refusals, size guards and time-limit checks."""

    def _refuse(self, node: ast.AST, what: str) -> ast.AST:
        self.error(node, f"{what} are not allowed")
        return node

    def visit_Import(self, node: ast.Import) -> ast.AST:
        return self._refuse(node, "import statements")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        return self._refuse(node, "import statements")

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        return self._refuse(node, "class definitions")

    def visit_Yield(self, node: ast.Yield) -> ast.AST:
        return self._refuse(node, "generator functions (yield)")

    def visit_YieldFrom(self, node: ast.YieldFrom) -> ast.AST:
        return self._refuse(node, "generator functions (yield)")

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = self.node_contents_visit(node)
        name = _BINOPS.get(type(node.op))
        if name is None or _cannot_grow(node):
            return node
        return _call(name, [node.left, node.right], node)

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        target = node.target
        if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) and isinstance(
                target.slice, (ast.Name, ast.Constant)):
            # `a[k] += v` (side-effect free target) becomes `a[k] = a[k] + v`, guarded like any other.
            load = copy.deepcopy(target)
            load.ctx = ast.Load()
            value = ast.BinOp(load, node.op, node.value)
            copy_locations(value, node)
            assign = ast.Assign(targets=[target], value=value)
            copy_locations(assign, node)
            return self.visit(assign)
        return super().visit_AugAssign(node)

    def visit_Try(self, node: ast.Try) -> ast.AST:
        # A script must not swallow the time-limit exception: every handler and finally re-raises it.
        node = self.node_contents_visit(node)
        for body in [handler.body for handler in node.handlers] + ([node.finalbody] if node.finalbody else []):
            body.insert(0, _deadline_check(body[0]))
        return node

    def visit_While(self, node: ast.While) -> ast.AST:
        # Loops, functions, lambdas and except/finally blocks check the deadline (see _watch).
        node = self.node_contents_visit(node)
        node.body.insert(0, _deadline_check(node.body[0]))
        return node

    def visit_For(self, node: ast.For) -> Any:
        node = super().visit_For(node)
        node.body.insert(0, _deadline_check(node.body[0]))
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        node = super().visit_FunctionDef(node)
        node.body.insert(0, _deadline_check(node.body[0]))
        return node

    def visit_Lambda(self, node: ast.Lambda) -> Any:
        node = super().visit_Lambda(node)
        node.body = ast.BoolOp(ast.And(), [_call("_deadline_check_", [], node.body), node.body])
        copy_locations(node.body, node)
        return node

    def visit_comprehension(self, node: ast.comprehension) -> Any:
        node = super().visit_comprehension(node)
        node.ifs.insert(0, _call("_deadline_check_", [], node.iter))
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        node = self.node_contents_visit(node)
        if node.format_spec is None:
            return node
        value = _call("_format_", [node.value, ast.Constant(node.conversion), node.format_spec], node)
        new = ast.FormattedValue(value=value, conversion=-1, format_spec=None)
        copy_locations(new, node)
        return new


def _cannot_grow(node: ast.BinOp) -> bool:
    """True if a number literal operand rules out sequence growth (`i + 1`, `price * 1.2`)."""
    operands = [n.value for n in (node.left, node.right) if isinstance(n, ast.Constant)]
    if isinstance(node.op, ast.Add):
        return any(isinstance(v, int | float | complex) for v in operands)
    if isinstance(node.op, ast.Mult):
        return any(isinstance(v, float | complex) for v in operands)
    return False


def _call(name: str, args: list[ast.expr], where: ast.AST) -> ast.Call:
    call = ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[])
    copy_locations(call, where)
    return call


def _deadline_check(where: ast.AST) -> ast.Expr:
    statement = ast.Expr(_call("_deadline_check_", [], where))
    copy_locations(statement, where)
    return statement


@dataclass(frozen=True)
class _Compiled:
    code: CodeType
    traced: bool  # run under the time limit: scripts, and expressions that call, loop or define lambdas


def _label(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _reason(errors: tuple[str, ...] | list[str]) -> str:
    first = errors[0]
    first = re.sub(r"^Line (\d+|None): ", lambda m: f"line {m.group(1)}: " if m.group(1) != "None" else "", first)
    first = re.sub(r'"(\w+)" is an invalid (variable|attribute) name because it starts with "_"',
                   r"`\1`: names starting with '_' are not allowed", first)
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return " ".join(first.split()) + more


@lru_cache(maxsize=4096)
def _compile_cached(text: str, kind: str) -> _Compiled | str:
    """The compiled code, or the one-line reason it was refused (failures are cached too)."""
    if kind not in ("eval", "exec"):
        raise ValueError(f"unknown compile kind {kind!r}")
    source = translate_juel(text).strip() if kind == "eval" else text
    compiler = compile_restricted_eval if kind == "eval" else compile_restricted_exec
    try:
        result = compiler(source, FILENAME, policy=_Policy)
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError) as err:
        return f"cannot compile: {type(err).__name__}: {err}"
    if result.errors or result.code is None:
        return _reason(list(result.errors) or ["cannot compile"])
    traced = kind == "exec" or any(
        isinstance(n, (ast.Call, ast.Lambda, ast.comprehension)) for n in ast.walk(ast.parse(source, mode="eval")))
    return _Compiled(result.code, traced)


def compile_expression(text: str, kind: str = "eval") -> CodeType:
    """Compile an expression ("eval", JUEL `${}` translated) or script ("exec"); ExpressionError if refused."""
    return _compiled(text, kind).code


def check_expression(text: str, kind: str) -> str | None:
    """Deploy-time check of a condition/cardinality/completion/timer/script text: None, or what is wrong."""
    mode = _KIND_MODES.get(kind)
    if mode is None:
        raise ValueError(f"unknown expression kind {kind!r} (known: {', '.join(_KIND_MODES)})")
    stripped = text.strip()
    if kind == "timer" and _ISO_TOKEN.fullmatch(stripped):
        return f'timer expression `{stripped}` must be a quoted string, e.g. "{stripped}"'
    result = _compile_cached(text, mode)
    return result if isinstance(result, str) else None


class _TimeLimit(BaseException):
    """Raised inside code that ran out of time; scripts cannot name it, handlers re-raise it."""


def _watch(seconds: float) -> Callable[[], bool]:
    """The `_deadline_check_` of one run: raises _TimeLimit once `seconds` have passed, and ever after.

    The compiler inserts a call at the top of every loop round, function and lambda body, comprehension
    and except/finally block; list growth methods call it too. So no Python-level repetition escapes it,
    nothing is traced, and it works in any thread.
    """
    deadline = time.monotonic() + seconds
    monotonic = time.monotonic

    def check() -> bool:
        if monotonic() > deadline:
            raise _TimeLimit
        return True

    return check


_HELPERS: dict[str, Any] = {**GUARDS, "__builtins__": BUILTINS}
_HELPER_NAMES = frozenset(_HELPERS)


def _run(compiled: _Compiled, namespace: dict[str, Any], text: str, what: str) -> Any:
    """Evaluate compiled code in namespace; every failure becomes an ExpressionError naming the text."""
    try:
        if not compiled.traced:
            return eval(compiled.code, namespace)  # noqa: S307 - RestrictedPython-compiled code
        check = _watch(SCRIPT_TIME_LIMIT_S)
        namespace["_deadline_check_"] = check
        namespace["_getattr_"] = _make_getattr(check)
        return eval(compiled.code, namespace)  # noqa: S307 - RestrictedPython-compiled code
    except _TimeLimit:
        raise ExpressionError(f"`{_label(text)}`: {what} exceeded {SCRIPT_TIME_LIMIT_S} s time limit") from None
    except ExpressionError:
        raise
    except Exception as err:
        line = _script_line(err)
        where = f" (line {line})" if line and what == "script" else ""
        error = ExpressionError(f"`{_label(text)}`{where}: {type(err).__name__}: {err}")
        error.line_number = line  # type: ignore[attr-defined]
        raise error from err


def _script_line(err: BaseException) -> int | None:
    line = None
    tb = err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _compiled(text: str, kind: str) -> _Compiled:
    result = _compile_cached(text, kind)
    if isinstance(result, str):
        raise ExpressionError(f"`{_label(text)}`: {result}")
    return result


def evaluate(text: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
    """Evaluate a condition/expression against the data in context (not modified); ExpressionError on failure."""
    compiled = _compiled(text, "eval")
    namespace = {**external_context, **context} if external_context else dict(context)
    namespace.update(_HELPERS)
    return _run(compiled, namespace, text, "expression")


def execute(text: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> None:
    """Run a script with context as its globals: assignments land in context; helpers and callables are removed."""
    compiled = _compiled(text, "exec")
    external = external_context or {}
    context.update(external)
    context.update(_HELPERS)
    try:
        _run(compiled, context, text, "script")
    finally:
        for key in list(context):
            if key in _HELPER_NAMES or key in external or key == "_print" or callable(context[key]):
                del context[key]


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow script environment running everything through the restricted compiler."""

    def evaluate(self, expression: str, context: dict, external_context: dict | None = None) -> Any:
        """Evaluate expression against task data (like TaskDataEnvironment.evaluate)."""
        return evaluate(expression, context, {**self.globals, **(external_context or {})})

    def execute(self, script: str, context: dict, external_context: dict | None = None) -> bool:
        """Run script on task data in place, then drop helpers and callables (like TaskDataEnvironment)."""
        external = {**self.globals, **(external_context or {})}
        overwrites = sorted(set(external).intersection(context))
        if overwrites:
            raise ValueError(f"task data overwrites predefined function(s), rename: {', '.join(overwrites)}")
        execute(script, context, external)
        return True

    def call_service(self, context: dict, operation_name: str = "", operation_params: dict | None = None,
                     **kwargs: Any) -> str:
        """Call the registered operation with the evaluated parameter values; return its result as JSON."""
        operation = get_service(operation_name)
        params = {name: param["value"] if isinstance(param, dict) and "value" in param else param
                  for name, param in (operation_params or {}).items()}
        return json.dumps(operation(**params))


class LiaisonTaskError(WorkflowTaskException):
    """A task failed in Liaison's script engine; `.exception` (and `__cause__`) is the original error."""

    def __init__(self, message: str, task: Any, exception: BaseException, line_number: int | None = None):
        super().__init__(message, task=task, exception=exception, line_number=line_number)
        self.exception = exception


class LiaisonScriptEngine(PythonScriptEngine):
    """SpiffWorkflow script engine: restricted compilation, time limits, registered service operations."""

    def __init__(self, environment: BasePythonScriptEngineEnvironment | None = None):
        super().__init__(environment or RestrictedEnvironment())

    def validate(self, expression: str) -> None:
        """Raise SyntaxError if not Python (Spiff's DMN relies on it), ExpressionError if refused."""
        ast.parse(translate_juel(expression).strip(), mode="eval")
        compile_expression(expression, "eval")

    def evaluate(self, task: Any, expression: str, external_context: dict | None = None) -> Any:
        """Evaluate expression against the task's data; failures become a LiaisonTaskError."""
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException:
            raise
        except ExpressionError as err:
            cause = err.__cause__ or err
            raise LiaisonTaskError(f"Error evaluating expression: {err}", task, cause) from cause

    def execute(self, task: Any, script: str, external_context: dict | None = None) -> bool:
        """Run a script task's script; failures become a LiaisonTaskError carrying the script line."""
        try:
            return self.environment.execute(script, task.data, external_context or {})
        except ExpressionError as err:
            cause = err.__cause__ or err
            raise LiaisonTaskError(str(err), task, cause, getattr(err, "line_number", None)) from cause
        except Exception as err:
            raise self.create_task_exec_exception(task, script, err) from err

    def call_service(self, task: Any, **kwargs: Any) -> str:
        """Call a service operation; its own error type and message stay visible in the raised error."""
        name = kwargs.get("operation_name", "?")
        try:
            return self.environment.call_service(task.data, **kwargs)
        except Exception as err:
            raise LiaisonTaskError(f"service `{name}` failed: {type(err).__name__}: {err}", task, err) from err
