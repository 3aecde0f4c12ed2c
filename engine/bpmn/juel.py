"""Camunda JUEL (`${...}`) to Python: tokenize, parse with JUEL's precedence, print Python with explicit
parentheses. The result still goes through the sandbox; this only changes the notation.

Translated: literals (numbers, 'single' and "double" quoted strings, true/false/null), names, property
paths and indexes over JSON process data (`order.amount`, `order['amount']`, `items[0]` -> `order["amount"]`,
`items[0]`), `! not`, `- (unary)`, `empty`, `* / div % mod`, `+ -`, `< > <= >= lt gt le ge`,
`== != eq ne`, `&& and`, `|| or`, `a ? b : c`, parentheses; the methods `size() length() isEmpty()
contains(x) equals(x) startsWith(x) endsWith(x) toUpperCase() toLowerCase() trim()`.
Refused (JuelError, with the reason): other method calls, `execution`/`task`/beans, `#{...}`, lambdas,
`+=`, `;`, `instanceof`, names that are Python keywords, text mixed with `${}` outside attributes.
Composite text (`${dept}_managers`) translates to a concatenation of `str(...)` parts.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

__all__ = ["JuelError", "is_juel", "translate"]


class JuelError(ValueError):
    """An expression outside the translated JUEL subset; the message says what."""


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?)
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>&&|\|\||==|!=|<=|>=|->|\+=|[-+*/%<>!?:.,()\[\]{};=])
""", re.VERBOSE)
_WORD_OPS = {"and": "&&", "or": "||", "not": "!", "eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=",
             "ge": ">=", "div": "/", "mod": "%"}
_LITERALS = {"true": "True", "false": "False", "null": "None"}
_REFUSED_NAMES = {"execution": "`execution` (the Camunda API) is not available: name the variable directly",
                  "task": "`task` (the Camunda API) is not available", "instanceof": "`instanceof` is not translated",
                  "authentication": "`authentication` is not available", "identityService": "beans are not available"}
_METHODS = {
    "size": (0, "len({0})"), "length": (0, "len({0})"), "isEmpty": (0, "(len({0}) == 0)"),
    "contains": (1, "({1} in {0})"), "equals": (1, "({0} == {1})"), "startsWith": (1, "{0}.startswith({1})"),
    "endsWith": (1, "{0}.endswith({1})"), "toUpperCase": (0, "{0}.upper()"), "toLowerCase": (0, "{0}.lower()"),
    "trim": (0, "{0}.strip()"),
}
# binary levels, loosest first: (JUEL operators, Python operator per JUEL operator)
_LEVELS = (
    ({"||": "or"}),
    ({"&&": "and"}),
    ({"==": "==", "!=": "!="}),
    ({"<": "<", ">": ">", "<=": "<=", ">=": ">="}),
    ({"+": "+", "-": "-"}),
    ({"*": "*", "/": "/", "%": "%"}),
)


@dataclass
class _Tok:
    kind: str
    text: str
    pos: int


def _tokens(src: str) -> list[_Tok]:
    out, pos = [], 0
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m:
            raise JuelError(f"unexpected character `{src[pos]}` at {pos + 1}")
        kind, text = m.lastgroup, m.group()
        if kind == "name" and text in _WORD_OPS:
            kind, text = "op", _WORD_OPS[text]
        elif kind == "name" and text == "empty":
            kind = "op"
        if kind != "ws":
            out.append(_Tok(kind, text, pos))
        pos = m.end()
    out.append(_Tok("end", "", pos))
    return out


def _string(text: str) -> str:
    body = text[1:-1]
    value = re.sub(r"\\(.)", lambda m: m.group(1), body)  # JUEL escapes: \' \" \\
    return repr(value)


class _Parser:
    def __init__(self, src: str):
        self.toks = _tokens(src)
        self.i = 0

    def peek(self, *texts) -> bool:
        t = self.toks[self.i]
        return t.kind == "op" and t.text in texts

    def take(self) -> _Tok:
        t = self.toks[self.i]
        self.i += t.kind != "end"
        return t

    def expect(self, text: str) -> None:
        t = self.take()
        if t.text != text or t.kind not in ("op",):
            raise JuelError(f"expected `{text}`, found `{t.text or 'end'}`")

    def parse(self) -> str:
        result = self.ternary()
        t = self.toks[self.i]
        if t.kind != "end":
            raise JuelError(f"unexpected `{t.text}` at {t.pos + 1}")
        return result

    def ternary(self) -> str:
        cond = self.binary(0)
        if self.peek("?"):
            self.take()
            then = self.ternary()
            self.expect(":")
            other = self.ternary()
            return f"({then} if {cond} else {other})"
        return cond

    def binary(self, level: int) -> str:
        if level == len(_LEVELS):
            return self.unary()
        ops = _LEVELS[level]
        left = self.binary(level + 1)
        while self.peek(*ops):
            op = ops[self.take().text]
            right = self.binary(level + 1)
            left = f"({left} {op} {right})"
        return left

    def unary(self) -> str:
        if self.peek("!"):
            self.take()
            return f"(not {self.unary()})"
        if self.peek("-"):
            self.take()
            return f"(-{self.unary()})"
        if self.peek("empty"):
            self.take()
            return f"({self.unary()} in (None, '', [], {{}}))"
        return self.postfix()

    def postfix(self) -> str:
        value = self.primary()
        while True:
            if self.peek("."):
                self.take()
                name = self.take()
                if name.kind != "name":
                    raise JuelError(f"expected a property name after `.`, found `{name.text}`")
                value = self.method(value, name.text) if self.peek("(") else f"{value}[{name.text!r}]"
            elif self.peek("["):
                self.take()
                index = self.ternary()
                self.expect("]")
                value = f"{value}[{index}]"
            elif self.peek("("):
                raise JuelError("function calls are not translated")
            else:
                return value

    def method(self, target: str, name: str) -> str:
        if name not in _METHODS:
            raise JuelError(f"method `{name}()` is not translated (known: {', '.join(_METHODS)})")
        self.expect("(")
        args = []
        while not self.peek(")"):
            args.append(self.ternary())
            if not self.peek(")"):
                self.expect(",")
        self.expect(")")
        count, template = _METHODS[name]
        if len(args) != count:
            raise JuelError(f"`{name}()` takes {count} argument(s)")
        return template.format(target, *args)

    def primary(self) -> str:
        t = self.take()
        if t.kind == "num":
            return t.text
        if t.kind == "str":
            return _string(t.text)
        if t.kind == "name":
            if t.text in _LITERALS:
                return _LITERALS[t.text]
            if t.text in _REFUSED_NAMES:
                raise JuelError(_REFUSED_NAMES[t.text])
            if "$" in t.text or keyword.iskeyword(t.text):
                raise JuelError(f"the name `{t.text}` cannot be used in Python: rename the variable")
            return t.text
        if t.kind == "op" and t.text == "(":
            inner = self.ternary()
            self.expect(")")
            return inner
        raise JuelError(f"unexpected `{t.text or 'end of expression'}`"
                        + (" (lambdas, assignments and `;` are not translated)" if t.text in ("->", "=", ";", "+=")
                           else ""))


_PART = re.compile(r"\$\{([^{}]*)\}")


def is_juel(text: str) -> bool:
    """True when `text` contains a `${...}` or `#{...}` expression."""
    return "${" in text or "#{" in text


def translate(text: str) -> str:
    """Python for a JUEL text: one `${expr}`, or text with embedded `${expr}` parts (a string concatenation)."""
    if "#{" in text:
        raise JuelError("deferred `#{...}` expressions are not translated: write `${...}`")
    stripped = text.strip()
    found = list(_PART.finditer(stripped))
    if len(found) == 1 and found[0].span() == (0, len(stripped)):
        return _Parser(found[0].group(1)).parse()
    if stripped.count("${") != len(found):
        raise JuelError("a `${` is not closed by `}` (or holds braces)")
    parts, pos = [], 0
    for m in found:
        if m.start() > pos:
            parts.append(repr(stripped[pos:m.start()]))
        parts.append(f"str({_Parser(m.group(1)).parse()})")
        pos = m.end()
    if pos < len(stripped):
        parts.append(repr(stripped[pos:]))
    return " + ".join(parts)
