"""The SpiffWorkflow script engine and environment, running everything through the restricted sandbox.

Compilation, guards and the time limit live in `sandbox`, which does not import SpiffWorkflow; the names
other modules import from here (`check_expression`, `evaluate`, ...) are re-exported from it.
"""

from __future__ import annotations

import ast
import json
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.bpmn.sandbox import (
    SCRIPT_TIME_LIMIT_S,
    check_expression,
    compile_expression,
    evaluate,
    execute,
    translate_juel,
)
from engine.bpmn.services import get_service
from engine.errors import ExpressionError, msg

__all__ = [
    "SCRIPT_TIME_LIMIT_S",
    "LiaisonScriptEngine",
    "LiaisonTaskError",
    "RestrictedEnvironment",
    "check_expression",
    "compile_expression",
    "evaluate",
    "execute",
    "translate_juel",
]


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
        self.reason = None  # what a person is told (`ProcessRuntimeError.reason`), set from the ExpressionError


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
            error = LiaisonTaskError(f"Error evaluating expression: {err}", task, cause)
            error.reason = err.reason
            raise error from cause

    def execute(self, task: Any, script: str, external_context: dict | None = None) -> bool:
        """Run a script task's script; failures become a LiaisonTaskError carrying the script line."""
        try:
            return self.environment.execute(script, task.data, external_context or {})
        except ExpressionError as err:
            cause = err.__cause__ or err
            error = LiaisonTaskError(str(err), task, cause, getattr(err, "line_number", None))
            error.reason = err.reason
            raise error from cause
        except Exception as err:
            raise self.create_task_exec_exception(task, script, err) from err

    def call_service(self, task: Any, **kwargs: Any) -> str:
        """Call a service operation; its own error type and message stay visible in the raised error."""
        name = kwargs.get("operation_name", "?")
        try:
            return self.environment.call_service(task.data, **kwargs)
        except Exception as err:
            error = LiaisonTaskError(f"service `{name}` failed: {type(err).__name__}: {err}", task, err)
            error.reason = msg("the service %(name)s it calls failed", name=name)
            raise error from err
