"""The restricted sandbox: compiling, checking and running conditions, expressions and scripts.

Every text is compiled by RestrictedPython with Liaison's policy (no `_` names, no imports, no classes,
no generator functions; size guards on `*`, `**`, `<<`, `%`, `+` and f-strings), cached per source
text. Scripts, and expressions that call or loop, run under a time limit and a memory limit, both
checked by code the compiler inserts into every loop, function and handler: the memory limit is the
growth of the process's resident memory (sampled every `MEMORY_SAMPLE_S` at most) since the run began.
The size limits and guards themselves live in `sandbox_guards`. Knows nothing of SpiffWorkflow (see
`expressions`).
"""

from __future__ import annotations

import ast
import copy
import os
import re
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from types import CodeType
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import RestrictingNodeTransformer, copy_locations

from engine.bpmn import juel
from engine.bpmn.juel import JuelError
from engine.bpmn.sandbox_guards import BUILTINS, GUARDS, SizeLimitError, _make_getattr
from engine.errors import (
    ExpressionError,
    reason_failed,
    reason_memory,
    reason_refused,
    reason_size,
    reason_time,
)

SCRIPT_TIME_LIMIT_S = 2.0
SCRIPT_MEMORY_LIMIT = 256 * 1024 * 1024  # bytes the process may grow by while one script runs
MEMORY_SAMPLE_S = 0.002
FILENAME = "<liaison-script>"

_BINOPS = {ast.Add: "_add_", ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_", ast.Mod: "_mod_"}

_ISO_TOKEN = re.compile(
    r"(R\d*/)?P(?=\d|T\d)(\d+[YMWD])*(T(\d+([.,]\d+)?[HMS])+)?|\d{4}-\d{2}-\d{2}(T[\d:.]+)?(Z|[+-]\d{2}:?\d{2})?"
)
_KIND_MODES = {"condition": "eval", "cardinality": "eval", "completion": "eval", "timer": "eval", "script": "exec"}


def translate_juel(text: str) -> str:
    """Python for a Camunda `${...}` expression (see `juel`); other text is returned unchanged.

    Raises JuelError (a ValueError) for JUEL outside the translated subset: `check_expression` reports it.
    """
    if not text.lstrip().startswith(("${", "#{")):
        return text
    return juel.translate(text)


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
            node.value = _call("_fvalue_", [node.value], node)
            return node
        value = _call("_format_", [node.value, ast.Constant(node.conversion), node.format_spec], node)
        new = ast.FormattedValue(value=value, conversion=-1, format_spec=None)
        copy_locations(new, node)
        return new

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        # f"a{x}b{y}" becomes _fstring_(("a", f"{x}", "b", f"{y}")): the whole is size-checked before it is joined
        node = self.node_contents_visit(node)
        parts: list[ast.expr] = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                value = ast.JoinedStr(values=[value])
                copy_locations(value, node)
            parts.append(value)
        pieces = ast.Tuple(elts=parts, ctx=ast.Load())
        copy_locations(pieces, node)
        return _call("_fstring_", [pieces], node)


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
    try:
        source = translate_juel(text).strip() if kind == "eval" else text
    except JuelError as err:
        return f"JUEL not translated: {err}"
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


class _MemoryLimit(BaseException):
    """Raised inside code that made the process grow past the memory limit; handlers re-raise it."""


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int:
    """The process's resident memory now (Linux), else its peak so far."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _watch(seconds: float, memory: int) -> Callable[[], bool]:
    """The `_deadline_check_` of one run: raises _TimeLimit once `seconds` have passed, _MemoryLimit once
    the process has grown by more than `memory` bytes since the run began; either ever after.

    The compiler inserts a call at the top of every loop round, function and lambda body, comprehension
    and except/finally block; list growth methods call it too. So no Python-level repetition escapes it,
    nothing is traced, and it works in any thread. The resident size is read (a /proc read, 10-30 us)
    at most every MEMORY_SAMPLE_S, the first time MEMORY_SAMPLE_S into the run (its base: what the run
    allocates before then is not counted), so a short run reads it never; between reads a check is one
    clock read and one comparison.
    """
    monotonic = time.monotonic
    start = monotonic()
    deadline = start + seconds
    state = {"next": min(start + MEMORY_SAMPLE_S, deadline), "hit": None, "ceiling": None}

    def check() -> bool:
        now = monotonic()
        if now > state["next"]:
            if state["hit"] is not None:
                raise state["hit"]
            if now > deadline:
                state["hit"], state["next"] = _TimeLimit, -1.0
                raise _TimeLimit
            resident = resident_bytes()
            if state["ceiling"] is None:
                state["ceiling"] = resident + memory
            elif resident > state["ceiling"]:
                state["hit"], state["next"] = _MemoryLimit, -1.0
                raise _MemoryLimit
            state["next"] = min(now + MEMORY_SAMPLE_S, deadline)
        return True

    return check


_HELPERS: dict[str, Any] = {**GUARDS, "__builtins__": BUILTINS}
_HELPER_NAMES = frozenset(_HELPERS)


def _run(compiled: _Compiled, namespace: dict[str, Any], text: str, what: str) -> Any:
    """Evaluate compiled code in namespace; every failure becomes an ExpressionError naming the text."""
    try:
        if not compiled.traced:
            return eval(compiled.code, namespace)  # noqa: S307 - RestrictedPython-compiled code
        check = _watch(SCRIPT_TIME_LIMIT_S, SCRIPT_MEMORY_LIMIT)
        namespace["_deadline_check_"] = check
        namespace["_getattr_"] = _make_getattr(check)
        return eval(compiled.code, namespace)  # noqa: S307 - RestrictedPython-compiled code
    except _TimeLimit:
        raise ExpressionError(f"`{_label(text)}`: {what} exceeded {SCRIPT_TIME_LIMIT_S} s time limit",
                              reason_time(SCRIPT_TIME_LIMIT_S)) from None
    except _MemoryLimit:
        raise ExpressionError(f"`{_label(text)}`: {what} made the process grow by more than"
                              f" {SCRIPT_MEMORY_LIMIT // 2**20} MB; the limit is {SCRIPT_MEMORY_LIMIT // 2**20} MB",
                              reason_memory(SCRIPT_MEMORY_LIMIT // 2**20)) from None
    except ExpressionError:
        raise
    except SizeLimitError as err:
        line = _script_line(err)
        where = f" (line {line})" if line and what == "script" else ""
        raise ExpressionError(f"`{_label(text)}`{where}: {err}", reason_size()) from err
    except Exception as err:
        line = _script_line(err)
        where = f" (line {line})" if line and what == "script" else ""
        error = ExpressionError(f"`{_label(text)}`{where}: {type(err).__name__}: {err}",
                                reason_failed(err, line if what == "script" else None))
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
        raise ExpressionError(f"`{_label(text)}`: {result}", reason_refused())
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
