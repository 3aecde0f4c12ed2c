"""Guard: every message the BPMN checks and the normalization pass report is a translatable `msg()`, so a
new check written as a plain (f-)string, which a Chinese page would show in English, fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from engine.bpmn import check, normalize
from engine.errors import Message

ENGINE = Path(__file__).resolve().parents[3] / "engine" / "bpmn"
# (file, module, the calls that report a message, the index of the message among their positional arguments)
REPORTERS = [("check.py", check, {"add": 1, "Problem": 3}), ("normalize.py", normalize, {"note": 1, "Problem": 3})]


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _is_msg(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and _callee(node) == "msg"


def _bound_to_msg(name: str, scope: ast.AST, module) -> bool:
    """Every assignment of `name` in `scope` is a msg(), or it is a module constant that is a Message."""
    values = [n.value for n in ast.walk(scope) if isinstance(n, ast.Assign)
              for t in n.targets if isinstance(t, ast.Name) and t.id == name]
    if values:
        return all(_is_msg(v) for v in values)
    return isinstance(getattr(module, name, None), Message)


def _translatable(node: ast.AST, scope: ast.AST, module) -> bool:
    if _is_msg(node):
        return True
    if isinstance(node, ast.Name):
        return _bound_to_msg(node.id, scope, module)
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):  # REFUSED[name]: a table of msg()s
        table = getattr(module, node.value.id, None)
        return isinstance(table, dict) and bool(table) and all(isinstance(v, Message) for v in table.values())
    return False


def _reported_messages(file: str, reporters: dict):
    """(line, function, message node, function node) of each call that reports a message."""
    tree = ast.parse((ENGINE / file).read_text(encoding="utf-8"))
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef) or function.name in reporters:
            continue  # the reporter itself passes its `message` parameter on
        for call in ast.walk(function):
            if isinstance(call, ast.Call) and _callee(call) in reporters:
                index = reporters[_callee(call)]
                node = call.args[index] if len(call.args) > index else next(
                    (k.value for k in call.keywords if k.arg == "message"), None)
                yield call.lineno, function.name, node, function


@pytest.mark.parametrize(("file", "module", "reporters"), REPORTERS, ids=[r[0] for r in REPORTERS])
def test_every_reported_message_is_a_msg(file, module, reporters) -> None:
    found = list(_reported_messages(file, reporters))
    assert len(found) > 5, found  # the walk sees the checks at all
    plain = [f"{file}:{line} in {name}: {ast.unparse(node) if node is not None else 'no message'}"
             for line, name, node, function in found if node is None or not _translatable(node, function, module)]
    assert not plain, "wrap these in msg() and translate them in messages.po:\n" + "\n".join(plain)


def test_the_guard_catches_a_plain_string_and_an_f_string() -> None:
    source = ast.parse('def f(self, x):\n    self.add(x, "plain")\n    self.add(x, f"{x} bad")\n'
                       '    self.add(x, msg("fine"))\n')
    function = source.body[0]
    calls = [c for c in ast.walk(function) if isinstance(c, ast.Call) and _callee(c) == "add"]
    assert [_translatable(c.args[1], function, check) for c in calls] == [False, False, True]


def test_a_link_caught_twice_is_named_by_its_own_name() -> None:
    """(The note once named the last link event's name read, not the link caught twice.)"""
    from lxml import etree
    link = '<bpmn:{kind} id="{id}"><bpmn:linkEventDefinition name="{name}"/></bpmn:{kind}>'
    catch, throw = "intermediateCatchEvent", "intermediateThrowEvent"
    body = "".join(link.format(kind=k, id=i, name=n) for k, i, n in
                   [(catch, "c1", "A"), (catch, "c2", "A"), (throw, "t1", "B"), (catch, "c3", "B")])
    root = etree.fromstring(f'<bpmn:definitions xmlns:bpmn="{check.BPMN_NS}" id="d"><bpmn:process id="p">'
                            f'{body}</bpmn:process></bpmn:definitions>')
    twice = [p for p in normalize.normalize(root, "x.bpmn") if p.severity == "error"]
    assert [(p.element_id, p.message) for p in twice] == [
        ("c2", "link `A` is caught by more than one link event here (first: `c1`)")]


# The files whose msg()s are the checks a designer user reads (BPMN, attributes, approver rules, CC, webhooks).
CHECK_SOURCES = ["engine/bpmn/check.py", "engine/bpmn/normalize.py", "engine/bpmn/parser.py",
                 "engine/packages/attribute_checks.py", "engine/packages/element_names.py",
                 "engine/packages/trigger_checks.py", "engine/packages/draft_checks.py",
                 "engine/runtime/assignment_checks.py", "engine/runtime/cc_events.py", "engine/runtime/approvals.py",
                 "engine/runtime/node_rules.py", "engine/packages/deployment.py", "engine/bpmn/workflow.py"]


def test_every_check_message_has_a_chinese_translation() -> None:
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[3]
    with (root / "web/translations/zh/LC_MESSAGES/messages.po").open("rb") as po:
        catalog = read_po(po)
    ids = {node.args[0].value for source in CHECK_SOURCES
           for node in ast.walk(ast.parse((root / source).read_text(encoding="utf-8")))
           if isinstance(node, ast.Call) and _callee(node) == "msg" and node.args
           and isinstance(node.args[0], ast.Constant)}
    missing = [i for i in sorted(ids) if not (catalog.get(i) and catalog.get(i).string)]
    assert len(ids) > 60 and not missing, missing
