"""Import a bpmn.io form-js schema (what Camunda Modeler's form editor saves) into a Liaison schema.

`import_formjs(data)` takes the form-js document (a dict, or its JSON text) and returns an
`ImportResult`: `schema` is a Liaison schema dict (`{"title": ..., "fields": [...]}`, see
docs/forms.md) and `problems` holds one message per component that could not be
mapped, or was mapped with a loss. Every message starts with
``component N (`key-or-id`, type `t`)``; N is the 1-based position of the component in the
document, dotted for components inside a container (`4.2` = second child of the fourth).
Whatever cannot be expressed is dropped and reported, so the schema needs no hand-editing to be
well-formed (a `valuesKey` provider must still be registered under that name).

Component mapping
-----------------

=============================  ==============================================================
form-js                        Liaison
=============================  ==============================================================
textfield                      text; validate.validationType `email` -> an e-mail `pattern`
                               + `pattern_message`; `phone` -> an international-number pattern
                               (reported: approximation of form-js' country-code list)
textarea                       textarea
number                         number; decimalDigits 0 -> integer: true; increment -> step;
                               decimalDigits N > 0 without increment -> step 10**-N
datetime, subtype date         date (disallowPassedDates -> min: today)
datetime, subtype datetime     datetime (reported unless timeSerializingFormat is no_timezone:
                               Liaison stores local date-times without a zone)
datetime, subtype time         text with an HH:MM pattern (reported)
checkbox                       radio with options true (Yes/是) and false (No/否), default false
                               (reported; a required checkbox is reported again: form-js requires
                               it to be checked, Liaison only requires an answer)
checklist                      checkboxes
radio                          radio
select                         select (searchable is dropped silently: presentation only)
taglist                        select, multiple: true
filepicker                     file; accept "a,b" -> list (entries other than `.ext` or `type/*`
                               are dropped and reported); multiple absent/false -> max_files: 1
expression                     formula, when its FEEL expression translates; else skipped
text                           notice (content = the markdown); FEEL-expression text is skipped,
                               `{{ }}` templates are kept verbatim and reported
html                           notice with the tags stripped (reported)
group, multipage, page         flattened: the children are imported in place (reported); the
                               container's hide condition is and-ed into each child's
                               visible_if; a group `path` becomes a name prefix (`path_key`)
dynamiclist                    table named after its `path`; its children become the columns
                               (only text, textarea, number, date, datetime, select, radio);
                               containers and other types inside are reported and dropped;
                               allowAddRemove false -> min_rows = max_rows = defaultRepetitions
button, spacer, separator      skipped silently (layout)
image, iframe, documentPreview skipped (reported)
table (read-only data table)   skipped (reported)
anything else                  skipped (reported as an unsupported type)
=============================  ==============================================================

Common properties: key -> name; label -> label (for datetime: dateLabel, or timeLabel for the
time subtype); description -> help; validate.required -> required; defaultValue -> default;
readonly: true -> readonly; disabled: true -> readonly (reported: form-js does not submit
disabled fields). readonly/disabled given as FEEL expressions, and validate.min/max/minLength/
maxLength given as FEEL expressions, are dropped and reported. appearance.prefixAdorner/
suffixAdorner have no Liaison equivalent and are reported. layout and properties are ignored.

Names: a key that is not a Liaison name (`^[a-z_][a-z0-9_]*$`) is converted (camelCase ->
camel_case, dots, dashes and other characters -> `_`, a leading digit gets a `_` prefix, a Python
keyword gets a `_` suffix) and the renaming is reported. A name already taken by an earlier
component is reported and the later component is dropped. Notices get `notice_1`, `notice_2`...

Options: `values` -> options [{value, label}]; `valuesKey` -> `provider: <valuesKey>` (reported:
a provider of that name must be registered); `valuesExpression`, or no options at all -> the
field is skipped (reported).

Conditions: `conditional.hide` ("=FEEL") becomes `visible_if: "not (<python>)"` when
`translate_feel` can translate it; `hide: true` becomes `visible_if: "False"`. Otherwise the
field stays visible and the condition is reported. Conditions on table columns are dropped and
reported. `translate_feel` accepts literals (numbers, "strings", true/false/null), names of the
form's fields (a dotted path only when it is exactly a form-js key or group path + key), `= !=
< <= > >=`, `and or`, `not(x)`, `+ - * /`, unary minus, parentheses and `if c then a else b`.
`= null` becomes `== None`. It refuses function calls, filters, lists, contexts, ranges,
`in`, `between`, `instance of`, `**`, `for`/`some`/`every`, chained comparisons and names that
are not fields of the form.

Form title: the `title` argument, else the form-js `id`, else "Imported form".

Stdlib only; this module imports nothing from the rest of Liaison.
"""

from __future__ import annotations

import json
import keyword
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

__all__ = ["FeelError", "ImportResult", "import_formjs", "to_name", "translate_feel"]

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # a form-js key that is an identifier is kept as it is

EMAIL_PATTERN = (
    r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
)
EMAIL_MESSAGE = {"zh": "请输入有效的电子邮件地址", "en": "Enter a valid e-mail address"}
PHONE_PATTERN = r"^(\+|00)[1-9][0-9]{6,20}$"
PHONE_MESSAGE = {
    "zh": "请输入带国家代码的电话号码，如 +8613800000000",
    "en": "Enter an international phone number, e.g. +4930664040900",
}
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
TIME_MESSAGE = {"zh": "请输入时间 HH:MM", "en": "Enter a time as HH:MM"}
YES_NO_OPTIONS = [
    {"value": True, "label": {"zh": "是", "en": "Yes"}},
    {"value": False, "label": {"zh": "否", "en": "No"}},
]

# Liaison types a dynamic list's children may become as table columns.
COLUMN_TYPES = frozenset({"text", "textarea", "number", "date", "datetime", "select", "radio"})
LAYOUT_TYPES = frozenset({"button", "spacer", "separator"})
FLATTENED_TYPES = frozenset({"group", "multipage", "page"})
NOT_SUPPORTED = {
    "image": "images are not supported",
    "iframe": "iframes are not supported",
    "documentPreview": "document previews are not supported",
    "table": "read-only data tables are not supported",
}


@dataclass
class ImportResult:
    schema: dict
    problems: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- names


def to_name(key: str) -> str:
    """The Liaison name for a form-js key: `invoiceNumber` -> `invoice_number`, `a.b-c` -> `a_b_c`.

    Returns "" when nothing usable is left (e.g. a key of only non-ASCII letters).
    """
    if NAME_RE.match(key):
        name = key
    else:
        s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", key)
        s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()
        s = re.sub(r"[^a-z0-9_]+", "_", s)
        name = re.sub(r"_{2,}", "_", s).strip("_")
        if not name:
            return ""
        if name[0].isdigit():
            name = "_" + name
    if keyword.iskeyword(name):
        name += "_"
    return name


# --------------------------------------------------------------------------- FEEL

class FeelError(ValueError):
    """A FEEL expression outside the subset `translate_feel` handles; the message says why."""


_FEEL_KEYWORDS = frozenset({
    "and", "or", "not", "true", "false", "null", "if", "then", "else", "between", "in",
    "instance", "of", "for", "some", "every", "satisfies", "return", "function",
})
_TOKEN_RE = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<num>\d+(?:\.\d+)?|\.\d+)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|!=|<=|>=|\.\.|[=<>+\-*/(),.\[\]{}:])"
)
_STRING_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "'": "'", "\\": "\\"}
_COMPARISONS = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_REFUSED_KEYWORDS = {
    "between": "`between` is not translated",
    "in": "`in` is not translated",
    "instance": "`instance of` is not translated",
    "for": "`for` expressions are not translated",
    "some": "`some` expressions are not translated",
    "every": "`every` expressions are not translated",
    "function": "function definitions are not translated",
}

# Python precedence of the rendered nodes (higher binds tighter).
_P_IF, _P_OR, _P_AND, _P_NOT, _P_CMP, _P_ADD, _P_MUL, _P_NEG, _P_ATOM = 0, 1, 2, 3, 4, 5, 6, 7, 9
_BINARY_PREC = {"or": _P_OR, "and": _P_AND, "+": _P_ADD, "-": _P_ADD, "*": _P_MUL, "/": _P_MUL}


@dataclass(frozen=True)
class _Tok:
    kind: str  # num, str, name, kw, op, end
    value: str
    pos: int

    def show(self) -> str:
        return "end of expression" if self.kind == "end" else f"`{self.value}`"


def _read_string(src: str, start: int) -> tuple[str, int]:
    """Read the FEEL string literal opening at src[start] == '"'; return (value, end index)."""
    out: list[str] = []
    i = start + 1
    while i < len(src):
        ch = src[i]
        if ch == '"':
            return "".join(out), i + 1
        if ch == "\\":
            nxt = src[i + 1 : i + 2]
            if nxt in _STRING_ESCAPES:
                out.append(_STRING_ESCAPES[nxt])
                i += 2
                continue
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", src[i + 2 : i + 6]):
                out.append(chr(int(src[i + 2 : i + 6], 16)))
                i += 6
                continue
            raise FeelError(f"unknown escape `\\{nxt}` in a string")
        out.append(ch)
        i += 1
    raise FeelError("unterminated string")


def _tokenize(src: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(src):
        if src[pos] == '"':
            value, end = _read_string(src, pos)
            tokens.append(_Tok("str", value, pos))
            pos = end
            continue
        m = _TOKEN_RE.match(src, pos)
        if not m:
            raise FeelError(f"unexpected character `{src[pos]}`")
        kind, text = m.lastgroup or "", m.group()
        if kind == "name" and text in _FEEL_KEYWORDS:
            kind = "kw"
        if kind != "ws":
            tokens.append(_Tok(kind, text, pos))
        pos = m.end()
    tokens.append(_Tok("end", "", pos))
    return tokens


class _FeelParser:
    """Recursive-descent parser for the FEEL subset; nodes are tuples, rendered by `_render`."""

    def __init__(self, tokens: list[_Tok], names: Mapping[str, str] | None):
        self.tokens = tokens
        self.i = 0
        self.names = names

    def peek(self) -> _Tok:
        return self.tokens[self.i]

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        if tok.kind != "end":
            self.i += 1
        return tok

    def at(self, kind: str, *values: str) -> bool:
        tok = self.peek()
        return tok.kind == kind and (not values or tok.value in values)

    def expect(self, kind: str, value: str) -> None:
        tok = self.take()
        if tok.kind != kind or tok.value != value:
            raise FeelError(f"expected `{value}`, found {tok.show()}")

    def parse(self) -> tuple:
        if self.at("end"):
            raise FeelError("empty expression")
        node = self.expression()
        if not self.at("end"):
            raise FeelError(f"unexpected {self.peek().show()}")
        return node

    def expression(self) -> tuple:
        if self.at("kw", "if"):
            self.take()
            cond = self.expression()
            self.expect("kw", "then")
            then = self.expression()
            self.expect("kw", "else")
            return ("if", cond, then, self.expression())
        return self.binary_level(0)

    _LEVELS: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("kw", ("or",)),
        ("kw", ("and",)),
        ("cmp", ()),
        ("op", ("+", "-")),
        ("op", ("*", "/")),
    )

    def binary_level(self, level: int) -> tuple:
        if level == len(self._LEVELS):
            return self.unary()
        kind, ops = self._LEVELS[level]
        if kind == "cmp":
            return self.comparison(level)
        left = self.binary_level(level + 1)
        while self.at(kind, *ops):
            op = self.take().value
            left = ("bin", op, left, self.binary_level(level + 1))
        if self.at("op", "**"):
            raise FeelError("`**` is not translated")
        return left

    def comparison(self, level: int) -> tuple:
        left = self.binary_level(level + 1)
        if self.at("kw", *_REFUSED_KEYWORDS):
            raise FeelError(_REFUSED_KEYWORDS[self.peek().value])
        if not self.at("op", *_COMPARISONS):
            return left
        op = _COMPARISONS[self.take().value]
        right = self.binary_level(level + 1)
        if self.at("op", *_COMPARISONS):
            raise FeelError("chained comparisons are not translated")
        if self.at("kw", *_REFUSED_KEYWORDS):
            raise FeelError(_REFUSED_KEYWORDS[self.peek().value])
        return ("cmp", op, left, right)

    def unary(self) -> tuple:
        if self.at("op", "-"):
            self.take()
            return ("neg", self.unary())
        return self.primary()

    def primary(self) -> tuple:
        tok = self.peek()
        if tok.kind == "num":
            self.take()
            return ("atom", "0" + tok.value if tok.value.startswith(".") else tok.value)
        if tok.kind == "str":
            self.take()
            return ("atom", repr(tok.value))
        if tok.kind == "kw":
            return self.keyword_primary(tok)
        if tok.kind == "name":
            return self.path()
        if self.at("op", "("):
            self.take()
            inner = self.expression()
            self.expect("op", ")")
            return inner
        if self.at("op", "["):
            raise FeelError("lists and ranges are not translated")
        if self.at("op", "{"):
            raise FeelError("contexts are not translated")
        raise FeelError(f"unexpected {tok.show()}")

    def keyword_primary(self, tok: _Tok) -> tuple:
        literals = {"true": "True", "false": "False", "null": "None"}
        if tok.value in literals:
            self.take()
            return ("atom", literals[tok.value])
        if tok.value == "not":
            self.take()
            if not self.at("op", "("):
                raise FeelError("`not` must be written as a call: not(x)")
            self.take()
            inner = self.expression()
            self.expect("op", ")")
            return ("not", inner)
        if tok.value == "if":
            return self.expression()
        raise FeelError(_REFUSED_KEYWORDS.get(tok.value, f"unexpected {tok.show()}"))

    def path(self) -> tuple:
        parts = [self.take().value]
        while self.at("op", "."):
            self.take()
            tok = self.take()
            if tok.kind not in ("name", "kw"):
                raise FeelError(f"expected a name after `.`, found {tok.show()}")
            parts.append(tok.value)
        if self.at("op", "("):
            raise FeelError(f"function call `{'.'.join(parts)}(...)` is not translated")
        if self.at("op", "["):
            raise FeelError("filters and list access are not translated")
        return ("atom", self.resolve(parts))

    def resolve(self, parts: list[str]) -> str:
        path = ".".join(parts)
        if self.names is None:
            if len(parts) > 1:
                raise FeelError(f"path `{path}` is not translated")
            if keyword.iskeyword(path):
                raise FeelError(f"`{path}` is a Python keyword")
            return path
        if path in self.names:
            return self.names[path]
        if len(parts) > 1:
            raise FeelError(f"path `{path}` is not translated")
        raise FeelError(f"`{path}` is not a field of this form")


def _wrap(node: tuple, min_prec: int) -> str:
    text, prec = _render(node)
    return text if prec >= min_prec else f"({text})"


def _render(node: tuple) -> tuple[str, int]:
    kind = node[0]
    if kind == "atom":
        return node[1], _P_ATOM
    if kind == "neg":
        return "-" + _wrap(node[1], _P_ATOM), _P_NEG
    if kind == "not":
        return "not " + _wrap(node[1], _P_ATOM), _P_NOT
    if kind == "cmp":
        _, op, left, right = node
        return f"{_wrap(left, _P_CMP + 1)} {op} {_wrap(right, _P_CMP + 1)}", _P_CMP
    if kind == "bin":
        _, op, left, right = node
        prec = _BINARY_PREC[op]
        return f"{_wrap(left, prec)} {op} {_wrap(right, prec + 1)}", prec
    _, cond, then, other = node  # "if"
    return f"{_wrap(then, _P_OR)} if {_wrap(cond, _P_OR)} else {_wrap(other, _P_IF)}", _P_IF


def translate_feel(source: str, names: Mapping[str, str] | None = None) -> str:
    """Translate a simple FEEL expression ("=a = 1" or "a = 1") into a Liaison (Python) expression.

    `names` maps the form-js variables (keys, or dotted key paths) to Liaison field names; with a
    mapping, any other name is refused. Without one, names are kept as written and dotted paths
    are refused. Raises FeelError, whose message says why, for anything outside the subset
    described in the module docstring.
    """
    text = source.strip()
    if text.startswith("="):
        text = text[1:]
    node = _FeelParser(_tokenize(text), names).parse()
    return _render(node)[0]


# --------------------------------------------------------------------------- HTML


class _TextExtractor(HTMLParser):
    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol",
                         "table", "section", "article", "header", "footer", "blockquote", "pre"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_to_text(content: str) -> str:
    """The text of an HTML fragment, one paragraph per block element."""
    parser = _TextExtractor()
    parser.feed(content)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --------------------------------------------------------------------------- importer


def _is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.strip().startswith("=")


def _number(value: Any) -> int | float | None:
    """A JSON number or a numeric string as a number; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


@dataclass
class _Cond:
    """A form-js hide condition, translated once after all names are known."""

    raw: Any
    ctx: str
    seq: int
    visible: str | None = None
    done: bool = False


@dataclass
class _Names:
    """Names taken in one namespace (the form, or one table's columns)."""

    used: dict[str, str] = field(default_factory=dict)  # name -> "component N"
    keys: dict[str, str] = field(default_factory=dict)  # form-js key path -> name


@dataclass
class _Comp:
    """One component being imported, with what messages need to name it."""

    data: dict
    index: str
    seq: int
    type: str

    @property
    def ref(self) -> str:
        for prop in ("key", "path", "id"):
            value = self.data.get(prop)
            if isinstance(value, str) and value:
                return value
        return "?"

    @property
    def ctx(self) -> str:
        return f"component {self.index} (`{self.ref}`, type `{self.type}`)"


class _Importer:
    def __init__(self) -> None:
        self.problems: list[tuple[int, int, str]] = []
        self.names = _Names()
        self.jobs: list[tuple[dict, list[_Cond]]] = []
        self.dropped: set[int] = set()  # id() of fields dropped after their name was claimed
        self.seq = 0
        self.notices = 0

    # ---- bookkeeping

    def problem(self, comp: _Comp, message: str) -> None:
        self.problems.append((comp.seq, len(self.problems), f"{comp.ctx}: {message}"))

    def claim(self, comp: _Comp, key: str, names: _Names, what: str = "key") -> str | None:
        """Reserve the Liaison name for form-js key path `key`; None (reported) when it is taken."""
        name = to_name(key) or f"field_{comp.seq}"
        if name in names.used:
            if name == key:
                self.problem(comp, f"name `{name}` is already used by {names.used[name]}; skipped")
            else:
                self.problem(comp, f"{what} `{key}` becomes `{name}`, which is already used by "
                                   f"{names.used[name]}; skipped")
            return None
        if name != key:
            self.problem(comp, f"{what} renamed to `{name}`")
        names.used[name] = f"component {comp.index}"
        names.keys[key] = name
        return name

    def drop(self, made: dict) -> None:
        """Forget a field whose name was claimed but which turned out not to be importable."""
        self.dropped.add(id(made))
        self.names.used.pop(made["name"], None)
        for key in [k for k, v in self.names.keys.items() if v == made["name"]]:
            del self.names.keys[key]

    def notice_name(self) -> str:
        while True:
            self.notices += 1
            name = f"notice_{self.notices}"
            if name not in self.names.used:
                self.names.used[name] = "a notice"
                return name

    # ---- walking

    def walk(self, items: Any, prefix: str, path: str, conds: list[_Cond]) -> list[dict]:
        fields: list[dict] = []
        if not isinstance(items, list):
            return fields
        for pos, data in enumerate(items, start=1):
            self.seq += 1
            index = f"{prefix}{pos}"
            if not isinstance(data, dict):
                self.problems.append((self.seq, len(self.problems), f"component {index}: not an object; skipped"))
                continue
            comp = _Comp(data, index, self.seq, str(data.get("type") or "?"))
            fields.extend(self.component(comp, path, conds))
        return fields

    def component(self, comp: _Comp, path: str, conds: list[_Cond]) -> list[dict]:
        ctype = comp.type
        own = self.condition(comp)
        all_conds = conds + ([own] if own else [])
        if ctype in LAYOUT_TYPES:
            return []
        if ctype in NOT_SUPPORTED:
            self.problem(comp, f"{NOT_SUPPORTED[ctype]}; skipped")
            return []
        if ctype in FLATTENED_TYPES:
            return self.flatten(comp, path, all_conds)
        if ctype == "dynamiclist":
            made = self.dynamiclist(comp, path)
        elif ctype in ("text", "html"):
            made = self.notice(comp)
        elif ctype in _BUILDERS:
            made = self.input(comp, path)
        else:
            self.problem(comp, f"unsupported type `{ctype}`; skipped")
            return []
        if made is None:
            return []
        if all_conds:
            self.jobs.append((made, all_conds))
        return [made]

    def condition(self, comp: _Comp) -> _Cond | None:
        conditional = comp.data.get("conditional")
        hide = conditional.get("hide") if isinstance(conditional, dict) else None
        if hide is None or hide is False or (isinstance(hide, str) and not hide.strip().lstrip("=").strip()):
            return None
        return _Cond(hide, comp.ctx, comp.seq)

    def flatten(self, comp: _Comp, path: str, conds: list[_Cond]) -> list[dict]:
        own_path = comp.data.get("path") if comp.type == "group" else None
        if isinstance(own_path, str) and own_path:
            full = f"{path}.{own_path}" if path else own_path
            self.problem(comp, f"group with path `{own_path}` flattened; its fields are named "
                               f"`{to_name(full)}_<key>`")
        else:
            full = path
            self.problem(comp, f"{comp.type} flattened; its fields are imported in its place")
        return self.walk(comp.data.get("components"), f"{comp.index}.", full, conds)

    def input(self, comp: _Comp, path: str) -> dict | None:
        key = comp.data.get("key")
        if not isinstance(key, str) or not key:
            self.problem(comp, "no key; skipped")
            return None
        made = self.build(comp)
        if made is None:
            return None
        name = self.claim(comp, f"{path}.{key}" if path else key, self.names)
        return None if name is None else {"name": name, **made}

    def build(self, comp: _Comp) -> dict | None:
        """The Liaison field for an input component, without its name; None (reported) if skipped."""
        made = _BUILDERS[comp.type](self, comp)
        if made is None:
            return None
        _common(self, comp, made)
        return made

    def notice(self, comp: _Comp) -> dict | None:
        if comp.type == "html":
            content = comp.data.get("content")
            if not isinstance(content, str) or _is_expression(content):
                self.problem(comp, "HTML content is missing or an expression; skipped")
                return None
            text = html_to_text(content)
            self.problem(comp, "HTML imported as plain text")
        else:
            text = comp.data.get("text")
            if not isinstance(text, str) or _is_expression(text):
                self.problem(comp, "text is missing or a FEEL expression; skipped")
                return None
        if "{{" in text:
            self.problem(comp, "template placeholders ({{ }}) are kept as typed, not filled in")
        return {"name": self.notice_name(), "type": "notice", "content": text}

    def dynamiclist(self, comp: _Comp, path: str) -> dict | None:
        list_path = comp.data.get("path")
        if not isinstance(list_path, str) or not list_path:
            self.problem(comp, "dynamic list without a path; skipped")
            return None
        columns = self.columns(comp)
        if not columns:
            self.problem(comp, "dynamic list without importable columns; skipped")
            return None
        name = self.claim(comp, f"{path}.{list_path}" if path else list_path, self.names, "path")
        if name is None:
            return None
        table: dict[str, Any] = {"name": name, "type": "table"}
        if isinstance(comp.data.get("label"), str) and comp.data["label"]:
            table["label"] = comp.data["label"]
        table["columns"] = columns
        if comp.data.get("allowAddRemove") is False:
            rows = comp.data.get("defaultRepetitions", 1)
            if isinstance(rows, int) and not isinstance(rows, bool) and rows > 0:
                table["min_rows"] = table["max_rows"] = rows
        return table

    def columns(self, parent: _Comp) -> list[dict]:
        names = _Names()
        columns: list[dict] = []
        for pos, data in enumerate(parent.data.get("components") or [], start=1):
            self.seq += 1
            index = f"{parent.index}.{pos}"
            if not isinstance(data, dict):
                self.problems.append((self.seq, len(self.problems), f"component {index}: not an object; skipped"))
                continue
            comp = _Comp(data, index, self.seq, str(data.get("type") or "?"))
            column = self.column(comp, names)
            if column is not None:
                columns.append(column)
        return columns

    def column(self, comp: _Comp, names: _Names) -> dict | None:
        if comp.type in LAYOUT_TYPES:
            return None
        if comp.type not in _BUILDERS:
            self.problem(comp, f"`{comp.type}` inside a dynamic list is not supported; skipped")
            return None
        key = comp.data.get("key")
        if not isinstance(key, str) or not key:
            self.problem(comp, "no key; skipped")
            return None
        made = self.build(comp)
        if made is None:
            return None
        if made["type"] not in COLUMN_TYPES:
            self.problem(comp, f"a `{made['type']}` field cannot be a table column; skipped")
            return None
        if self.condition(comp) is not None:
            self.problem(comp, "conditions on table columns are not supported; dropped")
        name = self.claim(comp, key, names)
        return None if name is None else {"name": name, **made}

    # ---- conditions, after every name is known

    def finish_conditions(self) -> None:
        for made, conds in self.jobs:
            if id(made) in self.dropped:
                continue
            parts = [visible for visible in (self.translate(c) for c in conds) if visible]
            if parts:
                made["visible_if"] = " and ".join(parts)

    def translate(self, cond: _Cond) -> str | None:
        if not cond.done:
            cond.done = True
            if cond.raw is True:
                cond.visible = "False"
            elif not isinstance(cond.raw, str):
                self.problems.append((cond.seq, len(self.problems),
                                      f"{cond.ctx}: condition `{cond.raw!r}` is not a FEEL expression; ignored"))
            else:
                try:
                    cond.visible = f"not ({translate_feel(cond.raw, self.names.keys)})"
                except FeelError as exc:
                    self.problems.append((cond.seq, len(self.problems),
                                          f"{cond.ctx}: condition `{cond.raw}` is not a simple FEEL "
                                          f"expression; add visible_if by hand ({exc})"))
        return cond.visible

    def finish_formulas(self, fields: list[dict]) -> list[dict]:
        """Translate the pending formula expressions; drop (and report) those that do not translate."""
        kept = []
        for made in fields:
            pending = made.pop("_feel", None)
            if pending is not None:
                comp, source = pending
                try:
                    made["expression"] = translate_feel(source, self.names.keys)
                except FeelError as exc:
                    self.problem(comp, f"expression `{source}` is not a simple FEEL expression; "
                                       f"skipped ({exc})")
                    self.drop(made)
                    continue
            kept.append(made)
        return kept


# --------------------------------------------------------------------------- per-type builders


def _label(comp: _Comp, prop: str = "label") -> dict:
    label = comp.data.get(prop)
    return {"label": label} if isinstance(label, str) and label else {}


def _validate(comp: _Comp) -> dict:
    validate = comp.data.get("validate")
    return validate if isinstance(validate, dict) else {}


def _limit(imp: _Importer, comp: _Comp, prop: str, integer: bool = False) -> int | float | None:
    """validate[prop] as a number; an expression or non-number is reported and dropped."""
    raw = _validate(comp).get(prop)
    if raw is None or raw == "":
        return None
    value = _number(raw)
    if value is None or (integer and value != int(value)):
        what = "an expression" if _is_expression(raw) else "not a number"
        imp.problem(comp, f"validate.{prop} `{raw}` is {what}; not kept")
        return None
    return int(value) if integer else value


def _lengths(imp: _Importer, comp: _Comp, made: dict) -> None:
    for prop, key in (("minLength", "min_length"), ("maxLength", "max_length")):
        value = _limit(imp, comp, prop, integer=True)
        if value is not None:
            made[key] = value


def _textfield(imp: _Importer, comp: _Comp) -> dict:
    made: dict[str, Any] = {"type": "text", **_label(comp)}
    _lengths(imp, comp, made)
    validate = _validate(comp)
    kind = validate.get("validationType")
    pattern = validate.get("pattern")
    if kind in ("email", "phone"):
        made["pattern"] = EMAIL_PATTERN if kind == "email" else PHONE_PATTERN
        made["pattern_message"] = EMAIL_MESSAGE if kind == "email" else PHONE_MESSAGE
        if kind == "phone":
            imp.problem(comp, "phone validation approximated by a pattern for international numbers")
        if isinstance(pattern, str) and pattern:
            imp.problem(comp, f"pattern `{pattern}` not kept (the {kind} pattern is used)")
    elif isinstance(pattern, str) and pattern:
        made["pattern"] = pattern
    _adorners(imp, comp)
    return made


def _textarea(imp: _Importer, comp: _Comp) -> dict:
    made: dict[str, Any] = {"type": "textarea", **_label(comp)}
    _lengths(imp, comp, made)
    return made


def _number_field(imp: _Importer, comp: _Comp) -> dict:
    made: dict[str, Any] = {"type": "number", **_label(comp)}
    for prop in ("min", "max"):
        value = _limit(imp, comp, prop)
        if value is not None:
            made[prop] = value
    digits = comp.data.get("decimalDigits")
    increment = comp.data.get("increment")
    step = _number(increment) if increment not in (None, "") else None
    if increment not in (None, "") and step is None:
        imp.problem(comp, f"increment `{increment}` is not a number; not kept")
    if isinstance(digits, int) and not isinstance(digits, bool) and digits >= 0:
        if digits == 0:
            made["integer"] = True
        elif step is None:
            step = float(Decimal(1).scaleb(-digits))
    if step is not None:
        made["step"] = step
    if comp.data.get("serializeToString"):
        imp.problem(comp, "serializeToString not kept; the value is submitted as a number")
    _adorners(imp, comp)
    return made


def _adorners(imp: _Importer, comp: _Comp) -> None:
    appearance = comp.data.get("appearance")
    if not isinstance(appearance, dict):
        return
    for prop in ("prefixAdorner", "suffixAdorner"):
        value = appearance.get(prop)
        if isinstance(value, str) and value:
            imp.problem(comp, f"appearance.{prop} `{value}` not kept")


def _datetime(imp: _Importer, comp: _Comp) -> dict:
    subtype = comp.data.get("subtype") or "date"
    if subtype == "time":
        imp.problem(comp, "time-only field imported as text with an HH:MM pattern")
        return {"type": "text", **_label(comp, "timeLabel"), "pattern": TIME_PATTERN,
                "pattern_message": TIME_MESSAGE}
    made: dict[str, Any] = {"type": "date" if subtype == "date" else "datetime",
                            **(_label(comp, "dateLabel") or _label(comp))}
    if subtype not in ("date", "datetime"):
        imp.problem(comp, f"unknown datetime subtype `{subtype}`; imported as a date-time")
    if made["type"] == "date" and comp.data.get("disallowPassedDates") is True:
        made["min"] = "today"
    elif comp.data.get("disallowPassedDates") is True:
        imp.problem(comp, "disallowPassedDates not kept")
    if made["type"] == "datetime" and comp.data.get("timeSerializingFormat", "utc_offset") != "no_timezone":
        fmt = comp.data.get("timeSerializingFormat", "utc_offset")
        imp.problem(comp, f"values are stored as local date-times without a time zone (form-js format `{fmt}`)")
    return made


def _checkbox(imp: _Importer, comp: _Comp) -> dict:
    imp.problem(comp, "checkbox imported as a Yes/No radio")
    if _validate(comp).get("required") is True:
        imp.problem(comp, "form-js requires this checkbox to be checked; Liaison only requires an answer")
    made: dict[str, Any] = {"type": "radio", **_label(comp), "options": [dict(o) for o in YES_NO_OPTIONS]}
    if not isinstance(comp.data.get("defaultValue"), bool):
        made["default"] = False
    return made


def _options(imp: _Importer, comp: _Comp, made: dict) -> dict | None:
    values = comp.data.get("values")
    values_key = comp.data.get("valuesKey")
    if isinstance(values_key, str) and values_key:
        made["provider"] = values_key
        imp.problem(comp, f"options come from the input data `{values_key}`; imported as provider "
                          f"`{values_key}`, which must be registered")
        return made
    if isinstance(comp.data.get("valuesExpression"), str) and comp.data["valuesExpression"]:
        imp.problem(comp, f"options come from the FEEL expression `{comp.data['valuesExpression']}`; "
                          "skipped (add options or a provider by hand)")
        return None
    options = []
    for item in values if isinstance(values, list) else []:
        if isinstance(item, dict) and "value" in item:
            label = item.get("label")
            options.append({"value": item["value"],
                            "label": label if isinstance(label, str) and label else str(item["value"])})
    if not options:
        imp.problem(comp, "no options; skipped")
        return None
    made["options"] = options
    return made


def _choice(liaison_type: str, **extra: Any) -> Callable[[_Importer, _Comp], dict | None]:
    def build(imp: _Importer, comp: _Comp) -> dict | None:
        return _options(imp, comp, {"type": liaison_type, **_label(comp), **extra})

    return build


def _filepicker(imp: _Importer, comp: _Comp) -> dict:
    made: dict[str, Any] = {"type": "file", **_label(comp)}
    accept = comp.data.get("accept")
    if _is_expression(accept):
        imp.problem(comp, f"accept `{accept}` is an expression; not kept")
    elif isinstance(accept, str) and accept.strip():
        entries = [e.strip() for e in accept.split(",") if e.strip()]
        kept = [e for e in entries if re.fullmatch(r"\.[A-Za-z0-9]+|[a-z]+/\*", e)]
        dropped = [e for e in entries if e not in kept]
        if dropped:
            imp.problem(comp, "accept entries not kept: " + ", ".join(f"`{e}`" for e in dropped))
        if kept:
            made["accept"] = kept
    multiple = comp.data.get("multiple", False)
    if _is_expression(multiple):
        imp.problem(comp, f"multiple `{multiple}` is an expression; imported as a single file")
    if multiple is not True:
        made["max_files"] = 1
    return made


def _expression(imp: _Importer, comp: _Comp) -> dict | None:
    source = comp.data.get("expression")
    if not isinstance(source, str) or not source.strip().lstrip("="):
        imp.problem(comp, "expression field without an expression; skipped")
        return None
    # Translated after all names are known (the expression may use fields that come later).
    return {"type": "formula", **_label(comp), "_feel": (comp, source)}


_BUILDERS: dict[str, Callable[[_Importer, _Comp], dict | None]] = {
    "textfield": _textfield,
    "textarea": _textarea,
    "number": _number_field,
    "datetime": _datetime,
    "checkbox": _checkbox,
    "checklist": _choice("checkboxes"),
    "radio": _choice("radio"),
    "select": _choice("select"),
    "taglist": _choice("select", multiple=True),
    "filepicker": _filepicker,
    "expression": _expression,
}


def _common(imp: _Importer, comp: _Comp, made: dict) -> None:
    """help, required, default, readonly: the properties every input shares."""
    data = comp.data
    if isinstance(made.get("label"), str) and ("{{" in made["label"] or _is_expression(made["label"])):
        imp.problem(comp, "label is an expression or template; kept as typed")
    if isinstance(data.get("description"), str) and data["description"]:
        made["help"] = data["description"]
    if made["type"] == "formula":
        return
    if _validate(comp).get("required") is True:
        made["required"] = True
    if "defaultValue" in data and data["defaultValue"] is not None:
        made["default"] = data["defaultValue"]
    for prop in ("readonly", "disabled"):
        value = data.get(prop)
        if value is True:
            made["readonly"] = True
            if prop == "disabled":
                imp.problem(comp, "disabled imported as readonly (form-js does not submit disabled fields)")
        elif _is_expression(value):
            imp.problem(comp, f"{prop} expression `{value}` not kept")


# --------------------------------------------------------------------------- entry point


def _load(data: dict | str | bytes) -> dict:
    if isinstance(data, bytes | bytearray):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"form-js document is not UTF-8 text: {exc}") from None
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise ValueError(f"form-js document is not valid JSON: {exc.msg} "
                             f"(line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(data, dict):
        raise ValueError(f"not a form-js document: expected a JSON object, got {type(data).__name__}")
    if not isinstance(data.get("components"), list):
        raise ValueError("not a form-js document: it has no `components` list")
    return data


def import_formjs(data: dict | str | bytes, *, title: str | None = None) -> ImportResult:
    """Import a form-js schema (dict or JSON text) into a Liaison schema dict; see the module docstring.

    Raises ValueError for invalid JSON or a document that is not a form-js schema.
    """
    doc = _load(data)
    imp = _Importer()
    fields = imp.walk(doc["components"], "", "", [])
    fields = imp.finish_formulas(fields)
    imp.finish_conditions()
    form_id = doc.get("id")
    schema = {
        "title": title or (form_id if isinstance(form_id, str) and form_id else "Imported form"),
        "fields": fields,
    }
    return ImportResult(schema=schema, problems=[msg for _, _, msg in sorted(imp.problems)])
