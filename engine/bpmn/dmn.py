"""DMN decision tables of a package: FEEL cells translated to sandboxed Python before SpiffWorkflow's
DMN parser sees them, decisions split one per document, hit policies checked.

SpiffWorkflow 3.2 does not read FEEL: it glues each input cell onto the input expression as Python
(`(amount) == (1000)`, or `?` replaced by the input value) and runs it with the workflow's script
engine. So every cell is rewritten here into Python that uses `?` (`? < 1000`, `1000 <= ? < 10000`,
`? in ('travel', 'meals')`, `not (? in (...))`), every output entry and input expression into a
Python expression, and each is checked by the sandbox like any other expression.
"""

from __future__ import annotations

import copy

from lxml import etree

from engine.bpmn.sandbox import check_expression
from engine.errors import Problem
from forms.formjs import FeelError, _FeelParser, _render, _tokenize

SUPPORTED_HIT_POLICIES = ("UNIQUE", "FIRST", "ANY", "COLLECT", "RULE ORDER")


class _PathFeelParser(_FeelParser):
    """FEEL with dotted paths read as keys of the JSON process data: `order.amount` -> `order["amount"]`."""

    def resolve(self, parts: list[str]) -> str:
        return parts[0] + "".join(f"[{p!r}]" for p in parts[1:])


def feel_expression(text: str) -> str:
    """A FEEL expression (input expression, output entry, endpoint) as Python; FeelError if outside the subset."""
    return _render(_PathFeelParser(_tokenize(text.strip()), None).parse())[0]


def _split_top(text: str, sep: str = ",") -> list[str]:
    """Split at `sep` outside strings, parentheses and brackets."""
    parts, depth, current, quoted, i = [], 0, [], False, 0
    while i < len(text):
        ch = text[i]
        if quoted:
            current.append(ch)
            if ch == "\\":
                current.append(text[i + 1: i + 2])
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
            current.append(ch)
        elif ch in "([":
            depth += 1
            current.append(ch)
        elif ch in ")]" and not (ch == "]" and depth == 0):
            depth -= 1
            current.append(ch)
        elif ch == sep and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current).strip())
    return parts


def _positive_test(test: str) -> str:
    if not test:
        raise FeelError("empty test in a list")
    if test[0] in "[(]" and test[-1] in "[)]" and ".." in test:  # interval [a..b], (a..b), ]a..b[
        low, _, high = test[1:-1].partition("..")
        low_op = "<=" if test[0] == "[" else "<"
        high_op = "<=" if test[-1] == "]" else "<"
        return f"{feel_expression(low)} {low_op} ? {high_op} {feel_expression(high)}"
    for op in ("<=", ">=", "<", ">", "!=", "="):
        if test.startswith(op):
            python_op = {"=": "==", "!=": "!="}.get(op, op)
            return f"? {python_op} {feel_expression(test[len(op):])}"
    value = feel_expression(test)
    return "? is None" if value == "None" else f"? == {value}"


def unary_tests(text: str | None) -> str | None:
    """A FEEL input entry (simple unary tests) as Python with `?` for the input; None matches anything."""
    text = (text or "").strip()
    if text in ("", "-"):
        return None
    negate = text.startswith("not(") and text.endswith(")")
    inner = text[4:-1] if negate else text
    tests = _split_top(inner)
    plain = [t for t in tests if t and t[0] not in "<>=![(]" and ".." not in t and t != "null"]
    if len(tests) > 1 and len(plain) == len(tests):  # "a","b","c" -> ? in (...)
        python = f"? in ({', '.join(feel_expression(t) for t in tests)},)"
    else:
        python = " or ".join(f"({_positive_test(t)})" if len(tests) > 1 else _positive_test(t) for t in tests)
    return f"not ({python})" if negate else python


def _text(elem, nsmap) -> etree._Element | None:
    return elem.find("dmn:text", nsmap)


def prepare_dmn(root: etree._Element, path: str) -> tuple[list[etree._Element], list[Problem]]:
    """Translate one DMN document in place; return one document per decision and the problems.

    Problems: errors for cells outside the FEEL subset or refused by the sandbox, for literal-expression
    decisions, decision requirements and hit policies the engine cannot honour; one info per table.
    """
    translator = _Translator(root, path)
    decisions = root.findall("dmn:decision", translator.nsmap)
    for decision in decisions:
        translator.decision(decision)
    documents = []
    for decision in decisions:  # SpiffWorkflow's DMN parser reads one decision per document
        single = copy.deepcopy(root)
        for other in single.findall("dmn:decision", translator.nsmap):
            if other.get("id") != decision.get("id"):
                single.remove(other)
        documents.append(single)
    return documents, translator.problems


class _Translator:
    """Rewrites the FEEL cells of one DMN document into sandbox-checked Python, collecting problems."""

    def __init__(self, root: etree._Element, path: str):
        self.nsmap = {"dmn": root.nsmap.get(None) or root.nsmap.get("dmn")}
        self.path = path
        self.problems: list[Problem] = []

    def problem(self, elem, message, severity="error", element_id=None) -> None:
        self.problems.append(Problem(self.path, elem.sourceline, element_id or elem.get("id"), message, severity))

    def decision(self, decision) -> None:
        nsmap = self.nsmap
        if decision.find("dmn:informationRequirement", nsmap) is not None:
            self.problem(decision, "decision requirements (one decision feeding another) are not followed by the engine")
        table = decision.find("dmn:decisionTable", nsmap)
        if table is None:
            self.problem(decision, "only decision tables are supported (not literal expressions or other decision logic)")
            return
        policy = (table.get("hitPolicy") or "UNIQUE").upper()
        if policy not in SUPPORTED_HIT_POLICIES or (table.get("aggregation") and policy != "COLLECT"):
            self.problem(table, f"hit policy `{policy}` is not supported (supported: "
                         f"{', '.join(SUPPORTED_HIT_POLICIES)})", element_id=decision.get("id"))
        cells = 0
        for expression in table.iterfind("dmn:input/dmn:inputExpression", nsmap):
            self.translate(expression, "input expression", feel_expression)
        for rule in table.iterfind("dmn:rule", nsmap):
            for entry in rule.iterfind("dmn:inputEntry", nsmap):
                self.translate(entry, "input entry", unary_tests)
                cells += 1
            for entry in rule.iterfind("dmn:outputEntry", nsmap):
                self.translate(entry, "output entry", feel_expression)
                cells += 1
        self.problem(table, f"decision `{decision.get('id')}`: hit policy {policy}, {cells} FEEL cells run as "
                     "sandboxed Python", "info", element_id=decision.get("id"))

    def translate(self, elem, kind, func) -> None:
        node = _text(elem, self.nsmap)
        if node is None or not (node.text or "").strip():
            return
        source = node.text.strip()
        try:
            python = func(source)
        except FeelError as exc:
            self.problem(elem, f"{kind} `{source}`: not translated from FEEL: {exc}")
            return
        if python is None:
            node.text = "-"
            return
        message = check_expression(python.replace("?", "dmninputexpr"), "condition")
        if message:
            self.problem(elem, f"{kind} `{source}` (Python `{python}`): {message}")
        node.text = python
