"""One way to hand the database to an engine function (issue 10), checked over every engine module's
source: a function that owns its transactions takes `sessions` (a `sessionmaker`); one that works inside
the caller's transaction takes `session` (an ORM `Session`, or a Core `Connection` where the caller has
one) or, on the step's hot path where only a Core `Connection` is ever handed over, `conn`. Nothing else
names a database handle (`db`, `connection`, `engine` ...), and the annotation agrees with the name."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "engine"
NAMES = {"sessions", "session", "conn"}
HANDLE_TYPES = re.compile(r"sessionmaker|\b(Session|Connection|Conn|Sessions|Database)\b")  # not SessionUser
OTHER_NAMES = {"db", "database", "connection", "sess", "sessionmaker", "session_factory", "sessions_factory"}


def _annotation(arg: ast.arg) -> str:
    return ast.unparse(arg.annotation) if arg.annotation is not None else ""


def _handles():
    """(where, parameter name, annotation) of every parameter of every engine function that takes a
    database handle by its annotation or by one of the names such handles get."""
    for path in sorted(ENGINE.rglob("*.py")):
        if "migrations" in path.parts:
            continue  # Alembic's own conventions (`op`, `bind`)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
                text = _annotation(arg)
                typed = bool(HANDLE_TYPES.search(text))
                if typed or arg.arg in NAMES | OTHER_NAMES:
                    yield f"{path.relative_to(ENGINE.parent)}:{node.lineno} {node.name}", arg.arg, text


def test_every_database_handle_is_named_sessions_session_or_conn():
    odd = [f"{where}({name}: {text})" for where, name, text in _handles() if name not in NAMES]
    assert not odd, "engine functions take the database as `sessions`, `session` or `conn`:\n" + "\n".join(odd)


def test_the_name_says_who_owns_the_transaction():
    """`sessions` is always a factory (the function opens and commits); `session` / `conn` never are."""
    wrong = []
    for where, name, text in _handles():
        if not text:
            continue
        factory = "sessionmaker" in text or text.split("[")[0].strip() in ("Sessions", "SessionFactory")
        if name == "sessions" and not factory:
            wrong.append(f"{where}: `sessions` annotated {text}")
        if name in ("session", "conn") and factory:
            wrong.append(f"{where}: `{name}` annotated {text} (a factory: call it `sessions`)")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_the_engine():
    """The walk finds the handles it is about (so the two checks above cannot pass by seeing nothing)."""
    names = [name for _where, name, _text in _handles()]
    assert names.count("sessions") > 100 and names.count("session") > 200 and names.count("conn") > 30
