"""Safe evaluation of conditions, expressions and scripts, and the SpiffWorkflow script engine using it.

Every text is compiled by RestrictedPython with Liaison's policy (no `_` names, no imports, no classes,
no generator functions; size guards on `*`, `**`, `<<`, `%`, `+` and f-string format specs), cached per
source text. Scripts, and expressions that call or loop, run under a per-thread `sys.settrace` time limit.
"""

from __future__ import annotations

import ast
import copy
import json
import re
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from types import CodeType
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import RestrictingNodeTransformer, copy_locations
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from . import _sandbox_guards as guards
from .errors import ExpressionError
from .services import get_service

SCRIPT_TIME_LIMIT_S = 2.0
FILENAME = "<liaison-script>"

_JUEL_WORDS = {"eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">=", "div": "/", "mod": "%",
               "true": "True", "false": "False", "null": "None", "empty": "not"}
_JUEL_OPS = {"&&": " and ", "||": " or ", "!=": " != ", "!": " not "}
_JUEL_TOKEN = re.compile(
    r"""(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(?P<op>&&|\|\||!=|!)|(?P<word>[A-Za-z_]\w*)|(?P<other>.)""",
    re.DOTALL,
)
_ISO_TOKEN = re.compile(
    r"(R\d*/)?P(\d+[YMWD])*(T(\d+([.,]\d+)?[HMS])+)?|\d{4}-\d{2}-\d{2}(T[\d:.]+)?(Z|[+-]\d{2}:?\d{2})?"
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
        name = guards.BINOP_GUARDS.get(type(node.op))
        if name is None:
            return node
        return _call(name, [node.left, node.right], node)

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        target = node.target
        if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) and isinstance(
                target.slice, (ast.Name, ast.Constant)):
            # `a[k] += v` (side-effect free target) becomes `a[k] = a[k] + v`, guarded like any other.
            load = copy.deepcopy(target)
            load.ctx = ast.Load()
            value = copy_locations(ast.BinOp(load, node.op, node.value), node) or ast.BinOp()
            assign = ast.Assign(targets=[target], value=value)
            copy_locations(assign, node)
            ast.fix_missing_locations(assign)
            return self.visit(assign)
        return super().visit_AugAssign(node)

    def visit_Try(self, node: ast.Try) -> ast.AST:
        # A script must not swallow the time-limit exception: every handler and finally re-raises it.
        node = self.node_contents_visit(node)
        for body in [handler.body for handler in node.handlers] + ([node.finalbody] if node.finalbody else []):
            body.insert(0, ast.Expr(_call("_deadline_check_", [], body[0])))
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        node = self.node_contents_visit(node)
        if node.format_spec is None:
            return node
        value = _call("_format_", [node.value, ast.Constant(node.conversion), node.format_spec], node)
        return copy_locations(ast.FormattedValue(value=value, conversion=-1, format_spec=None), node) or node


def _call(name: str, args: list[ast.expr], where: ast.AST) -> ast.Call:
    call = ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[])
    copy_locations(call, where)
    ast.fix_missing_locations(call)
    return call


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
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        return f"cannot compile: {type(err).__name__}: {err}"
    if result.errors or result.code is None:
        return _reason(list(result.errors) or ["cannot compile"])
    traced = kind == "exec" or any(
        isinstance(n, (ast.Call, ast.Lambda, ast.comprehension)) for n in ast.walk(ast.parse(source, mode="eval")))
    return _Compiled(result.code, traced)


def compile_expression(text: str, kind: str = "eval") -> CodeType:
    """Compile an expression ("eval", JUEL `${}` translated) or script ("exec"); ExpressionError if refused."""
    result = _compile_cached(text, kind)
    if isinstance(result, str):
        raise ExpressionError(f"`{_label(text)}`: {result}")
    return result.code


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


class _Watch:
    """A `sys.settrace` hook that stops the current thread's script once its deadline has passed."""

    __slots__ = ("deadline", "expired")

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds
        self.expired = False

    def on_call(self, frame: Any, event: str, arg: Any) -> Any:
        # Every Python frame (guards included) is checked when it starts; only script frames get line events.
        self.check()
        return self.on_line if frame.f_code.co_filename == FILENAME else None

    def on_line(self, frame: Any, event: str, arg: Any) -> Any:
        self.check()
        return self.on_line

    def check(self) -> None:
        """Raise _TimeLimit once the deadline has passed (also called first in every except/finally)."""
        if self.expired or time.monotonic() > self.deadline:
            self.expired = True
            raise _TimeLimit


_NO_TRY_CHECK = {"_deadline_check_": lambda: None}


def _namespace_helpers() -> dict[str, Any]:
    return {**guards.GUARDS, **_NO_TRY_CHECK, "__builtins__": guards.BUILTINS}


_HELPER_NAMES = frozenset(_namespace_helpers())


def _run(compiled: _Compiled, namespace: dict[str, Any], text: str, what: str) -> Any:
    """Evaluate compiled code in namespace; every failure becomes an ExpressionError naming the text."""
    try:
        if not compiled.traced:
            return eval(compiled.code, namespace)  # noqa: S307 - RestrictedPython-compiled code
        watch = _Watch(SCRIPT_TIME_LIMIT_S)
        namespace["_deadline_check_"] = watch.check
        previous = sys.gettrace()
        sys.settrace(watch.on_call)
        try:
            return eval(compiled.code, namespace)  # noqa: S307 - RestrictedPython-compiled code
        finally:
            sys.settrace(previous)
    except _TimeLimit:
        raise ExpressionError(f"`{_label(text)}`: {what} exceeded {SCRIPT_TIME_LIMIT_S} s time limit") from None
    except ExpressionError:
        raise
    except (Exception, RecursionError) as err:
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
    namespace.update(_namespace_helpers())
    return _run(compiled, namespace, text, "expression")


def execute(text: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> None:
    """Run a script with context as its globals: assignments land in context; helpers and callables are removed."""
    compiled = _compiled(text, "exec")
    external = external_context or {}
    context.update(external)
    context.update(_namespace_helpers())
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
