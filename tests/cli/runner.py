"""Run `liaison` commands in this process with click's CliRunner (a cold process costs ~1.5 s of imports).

`run` answers like `subprocess.run` does (returncode, stdout, stderr), so a test can switch between the
two; the tests that prove a cold start (`test_cli.py`'s separate-processes test) still spawn processes.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass

from click.testing import CliRunner

from cli import main
from cli.common import close_databases


@dataclass
class Ran:
    """What one command printed and its exit code."""

    returncode: int
    stdout: str
    stderr: str


def run(args: list[str], env: dict[str, str] | None = None, stdin: str | None = None) -> Ran:
    """Run `liaison ARGS` in process; an exception the command did not turn into a message is a failure."""
    result = CliRunner().invoke(main, [str(arg) for arg in args], env=env, input=stdin, catch_exceptions=True)
    close_databases()
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        text = "".join(traceback.format_exception(result.exception))
        raise AssertionError(f"liaison {' '.join(map(str, args))} raised:\n{text}")
    return Ran(result.exit_code, result.stdout, result.stderr)
