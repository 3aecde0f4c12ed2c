"""Form schemas: read YAML/JSON, check against `form.schema.json` and the rules JSON Schema cannot state.

`load_schema` returns a `FormSchema` whose fields are plain dicts with every default filled in, or
raises `SchemaError` whose problems each name the field: "field `amount`: `min` must be a number".
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from forms.expr import ExpressionError, compile_expression, names_used
from forms.schema.checks import check_problems

META_SCHEMA_PATH = Path(__file__).with_name("form.schema.json")
MAX_BYTES = 1024 * 1024
DEFAULT_MAX_FILE_SIZE = 20 * 1024 * 1024

VALUE_TYPES = ("text", "textarea", "number", "money", "date", "datetime", "date_range", "select", "radio",
               "checkboxes", "user", "department", "file", "rating", "table", "quiz", "related")
COMPUTED_TYPES = ("serial", "formula")      # shown, never taken from the submission
DISPLAY_TYPES = ("notice",)                 # shown, hold no value
CHOICE_TYPES = ("select", "radio", "checkboxes")
NUMERIC_TYPES = ("number", "money", "formula", "rating")

_JSON_TYPE_WORDS = {"number": "a number", "integer": "a whole number", "string": "a string",
                    "boolean": "true or false", "array": "a list", "object": "a mapping", "null": "empty"}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)?\s*$", re.IGNORECASE)


class SchemaError(ValueError):
    """A form schema that cannot be used; `problems` holds one message per problem."""

    def __init__(self, problems: list[str], source: str = "form"):
        self.problems = problems
        self.source = source
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


@dataclass(frozen=True)
class FormSchema:
    """A checked form: `fields` are normalized dicts; `exprs` maps "field:key" to compiled trees."""

    data: dict
    fields: tuple[dict, ...]
    checksum: str
    exprs: dict[str, list] = field(default_factory=dict, compare=False)

    @property
    def title(self):
        return self.data.get("title")

    def field(self, name: str) -> dict | None:
        return next((f for f in self.fields if f["name"] == name), None)

    def access_for(self, node: str | None) -> dict[str, str]:
        """Field name -> "editable" | "readonly" | "hidden" for one user task (None: all editable)."""
        rules = (self.data.get("access") or {}).get(node) if node else None
        result = {}
        for f in self.fields:
            if f.get("readonly") or f["type"] in COMPUTED_TYPES + DISPLAY_TYPES:
                mode = "readonly"
            elif rules is None:
                mode = "editable"
            else:
                mode = "editable" if f["name"] in rules.get("editable", []) else "readonly"
            if rules and f["name"] in rules.get("hidden", []):
                mode = "hidden"
            result[f["name"]] = mode
        return result

    def to_json(self) -> str:
        return self._json

    @cached_property
    def _json(self) -> str:
        """Serialized once: the form class cache is keyed by it on every validation."""
        return json.dumps(self.data, ensure_ascii=False, sort_keys=True)


# -- reading -----------------------------------------------------------------------------------------

class NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without aliases: no document Liaison reads needs them, and they allow size bombs
    (nine nested `&a [*a, ...]` expand to gigabytes). Every YAML of a package is read with it."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed", event.start_mark)
        return super().compose_node(parent, index)


def read_document(text: str | bytes, *, json_only: bool = False) -> Any:
    """Parse YAML (or JSON, which YAML reads too) without aliases and with a size cap."""
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise SchemaError([f"file is larger than {MAX_BYTES} bytes"])
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SchemaError([f"not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    if len(text) > MAX_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise SchemaError([f"file is larger than {MAX_BYTES} bytes"])  # bytes, not characters
    try:
        if json_only:
            return json.loads(text)
        return yaml.load(text, Loader=NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except json.JSONDecodeError as exc:
        raise SchemaError([f"line {exc.lineno}: invalid JSON: {exc.msg}"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise SchemaError([f"{where}invalid YAML: {getattr(exc, 'problem', None) or exc}"]) from None
    except RecursionError:
        raise SchemaError(["the document is nested too deeply"]) from None
    except ValueError as exc:  # what the parsers let through, e.g. an integer of more than 4300 digits
        raise SchemaError([f"invalid value: {exc}"]) from None


def load_schema(source: dict | str | bytes | Path, *, name: str = "form") -> FormSchema:
    """Read and check a form schema; raise SchemaError listing every problem."""
    if isinstance(source, Path):
        name = str(source)
        try:
            raw = source.read_bytes()
        except OSError as exc:
            raise SchemaError([f"cannot read: {exc.strerror}"], name) from None
        try:
            data = read_document(raw, json_only=source.suffix == ".json")
        except SchemaError as exc:
            raise SchemaError(exc.problems, name) from None
    elif isinstance(source, (str, bytes)):
        try:
            data = read_document(source)
        except SchemaError as exc:
            raise SchemaError(exc.problems, name) from None
    else:
        data = source
    return _checked(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str), name)


@lru_cache(maxsize=512)
def _checked(canonical: str, name: str) -> FormSchema:
    try:
        canonical.encode("utf-8")
    except UnicodeEncodeError:  # "\ud800" escapes in JSON/YAML: not text, and the checksum could not be taken
        raise SchemaError(["the schema contains a lone surrogate (such as \\ud800), which is not valid text"],
                          name) from None
    data = json.loads(canonical)
    if not isinstance(data, dict):
        raise SchemaError(["a form schema must be a mapping with a `fields` list"], name)
    problems = _meta_problems(data)
    if problems:
        raise SchemaError(problems, name)
    data = _normalized(data)
    exprs: dict[str, list] = {}
    problems = _rule_problems(data, exprs)
    if problems:
        raise SchemaError(problems, name)
    checksum = hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return FormSchema(data, tuple(data["fields"]), checksum, exprs)


# -- meta-schema -------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def meta_schema() -> dict:
    return json.loads(META_SCHEMA_PATH.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _validator():
    return jsonschema.Draft202012Validator(meta_schema())


def _allowed_keys(kind: str | None, column: bool) -> set[str]:
    defs = meta_schema()["$defs"]["column" if column else "field"]
    keys = set(defs["properties"])
    for rule in defs["allOf"]:
        if rule["if"]["properties"]["type"]["const"] == kind:
            keys |= set(rule["then"]["properties"])
    return keys


def _where(data: dict, path: list) -> tuple[str, list]:
    """("field `a`" or "field `t.col`" or "form", remaining path) for a jsonschema error path."""
    if len(path) >= 2 and path[0] == "fields" and isinstance(path[1], int):
        item = data["fields"][path[1]]
        label = _field_name(item, path[1])
        rest = path[2:]
        if len(rest) >= 2 and rest[0] == "columns" and isinstance(rest[1], int):
            columns = item.get("columns") if isinstance(item, dict) else None
            column = columns[rest[1]] if isinstance(columns, list) else None
            return f"field `{label}.{_field_name(column, rest[1])}`", rest[2:]
        return f"field `{label}`", rest
    return "form", path


def _field_name(item, index: int) -> str:
    if isinstance(item, dict) and isinstance(item.get("name"), str):
        return item["name"]
    return f"#{index + 1}"


def _meta_problems(data: dict) -> list[str]:
    problems: list[str] = []
    for error in sorted(_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        path = list(error.absolute_path)
        who, rest = _where(data, path)
        key = ".".join(str(p) for p in rest if not isinstance(p, int)) or None
        message = _message(error, key, data, path)
        if message:
            problems.append(f"{who}: {message}")
    return list(dict.fromkeys(problems))


_LABEL_KEYS = ("label", "help", "placeholder", "title", "description", "content", "question", "pattern_message")


def _message(error, key: str | None, data: dict, path: list) -> str | None:
    subject = f"`{key}`" if key else "this"
    explain = _EXPLAINERS.get(error.validator)
    if explain is not None:
        return explain(error, subject, key, path)
    if error.validator in ("allOf", "if", "then"):
        return None
    return f"{subject}: {error.message}"


def _explain_type(error, subject, key, path):
    types = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
    return f"{subject} must be {' or '.join(_JSON_TYPE_WORDS[t] for t in types)}"


def _explain_any_of(error, subject, key, path):
    if key and key.split(".")[-1] in _LABEL_KEYS:
        return f"{subject} must be a string or a mapping with `zh` and/or `en`"
    if "options" in (key or ""):
        return f"{subject}: each option must be a value or a mapping with `value` and `label`"
    return f"{subject}: {error.message}"


def _explain_required(error, subject, key, path):
    missing = error.message.split("'")[1]
    kind = error.instance.get("type") if isinstance(error.instance, dict) else None
    where = f" for a `{kind}` field" if kind and path and path[0] == "fields" else ""
    return f"`{missing}` is required{where}"


def _explain_unknown_keys(error, subject, key, path):
    if isinstance(error.instance, dict) and "type" in error.instance and path and path[0] == "fields":
        allowed = _allowed_keys(error.instance.get("type"), "columns" in path)
        unknown = sorted(set(error.instance) - allowed)
        if not unknown:
            return None
        return (f"{', '.join(f'`{u}`' for u in unknown)} "
                f"{'is not a key' if len(unknown) == 1 else 'are not keys'} of a `{error.instance['type']}` "
                f"field (allowed: {', '.join(sorted(allowed))})")
    unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
    return f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(f'`{u}`' for u in unknown)}"


def _explain_pattern(error, subject, key, path):
    if key == "name":
        return f"`name` `{error.instance}` must be letters, digits and `_`, not starting with a digit"
    return f"{subject} `{error.instance}` does not have the expected form ({error.validator_value})"


def _explain_min_items(error, subject, key, path):
    if error.validator_value == 1:
        return f"{subject} must not be empty"
    return f"{subject} needs at least {error.validator_value} items"


_EXPLAINERS = {
    "type": _explain_type,
    "anyOf": _explain_any_of,
    "enum": lambda e, subject, k, p: (f"{subject} must be one of: {', '.join(str(c) for c in e.validator_value)} "
                                      f"(got {json.dumps(e.instance, ensure_ascii=False)})"),
    "required": _explain_required,
    "unevaluatedProperties": _explain_unknown_keys,
    "additionalProperties": _explain_unknown_keys,
    "pattern": _explain_pattern,
    "minimum": lambda e, subject, k, p: f"{subject} must be at least {e.validator_value}",
    "exclusiveMinimum": lambda e, subject, k, p: f"{subject} must be greater than {e.validator_value}",
    "maximum": lambda e, subject, k, p: f"{subject} must be at most {e.validator_value}",
    "minItems": _explain_min_items,
    "maxItems": lambda e, subject, k, p: f"{subject} has more than {e.validator_value} items",
    "minLength": lambda e, subject, k, p: f"{subject} must not be empty",
    "maxLength": lambda e, subject, k, p: f"{subject} is too long",
    "minProperties": lambda e, subject, k, p: f"{subject} must not be empty",
}


# -- normalization -------------------------------------------------------------------------------------

def _options(values: list) -> list[dict]:
    return [dict(o) if isinstance(o, dict) else {"value": o, "label": str(o)} for o in values]


def parse_size(value) -> int:
    if isinstance(value, int):
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"`{value}` is not a size such as 10MB")
    unit = (match.group(2) or "B").upper()
    return int(float(match.group(1)) * {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}[unit])


def _normalize_field(f: dict) -> dict:
    f = copy.deepcopy(f)
    f.setdefault("label", f["name"])
    f.setdefault("required", False)
    f.setdefault("readonly", False)
    kind = f["type"]
    if "options" in f:
        f["options"] = _options(f["options"])
    if kind == "money":
        f.setdefault("currency", "CNY")
        f.setdefault("min", 0)
    elif kind == "rating":
        f.setdefault("max", 5)
    elif kind == "date_range":
        f.setdefault("unit", "days")
        f.setdefault("workdays", False)
        f.setdefault("with_time", f["unit"] == "hours")
    elif kind == "file":
        f.setdefault("max_files", 1)
        f.setdefault("accept", [])
        with contextlib.suppress(ValueError):  # a bad size is reported by _rule_problems
            f["max_size"] = parse_size(f.get("max_size", DEFAULT_MAX_FILE_SIZE))
    elif kind == "table":
        f.setdefault("min_rows", 0)
        f.setdefault("max_rows", 200)
        f.setdefault("sums", [])
        f["columns"] = [_normalize_field(c) for c in f["columns"]]
    elif kind == "quiz":
        f.setdefault("points", 1)
        if f.get("kind") == "true_false" and "options" not in f:
            f["options"] = [{"value": True, "label": {"zh": "对", "en": "True"}},
                            {"value": False, "label": {"zh": "错", "en": "False"}}]
        f.setdefault("label", f.get("question", f["name"]))
    elif kind in ("user", "department"):
        f.setdefault("multiple", False)
        f.setdefault("provider", "users" if kind == "user" else "departments")
    elif kind in ("select", "related"):
        f.setdefault("multiple", False)
    return f


def _normalized(data: dict) -> dict:
    data = dict(data)
    data["fields"] = [_normalize_field(f) for f in data["fields"]]
    if "scoring" in data or any(f["type"] == "quiz" for f in data["fields"]):
        scoring = dict(data.get("scoring") or {})
        scoring.setdefault("pass_mark", 80)
        scoring.setdefault("multiple", "all_or_nothing")
        scoring.setdefault("result_field", "quiz_result")
        data["scoring"] = scoring
    return data


# -- rules beyond the meta-schema ----------------------------------------------------------------------

def _rule_problems(data: dict, exprs: dict) -> list[str]:
    problems: list[str] = []
    names = [f["name"] for f in data["fields"]]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            problems.append(f"field `{name}`: the name is used twice")
        seen.add(name)
    value_names = {f["name"] for f in data["fields"] if f["type"] not in DISPLAY_TYPES}
    for f in data["fields"]:
        problems.extend(_field_problems(f, f"field `{f['name']}`", value_names, exprs, f["name"]))
        if f["type"] == "table":
            problems.extend(_table_problems(f, exprs))
    problems.extend(_formula_cycles(data["fields"], exprs))
    problems.extend(check_problems(data.get("checks") or [], value_names, exprs))
    result_field = (data.get("scoring") or {}).get("result_field")
    if result_field in seen:
        problems.append(f"scoring: `result_field` `{result_field}` is also the name of a field; "
                        "the quiz result would overwrite it")
    for node, rules in (data.get("access") or {}).items():
        listed: dict[str, str] = {}
        for mode in ("editable", "readonly", "hidden"):
            for name in rules.get(mode, []):
                if name not in seen:
                    problems.append(f"access `{node}`: `{name}` is not a field of this form")
                elif name in listed:
                    problems.append(f"access `{node}`: `{name}` is both {listed[name]} and {mode}")
                listed[name] = mode
    return problems


def _field_problems(f: dict, who: str, known: set[str], exprs: dict, key: str) -> list[str]:
    problems = _expression_problems(f, who, known, exprs, key) + _bound_problems(f, who)
    check = _TYPE_CHECKS.get(f["type"])
    if check is not None:
        problems.extend(f"{who}: {p}" for p in check(f))
    return problems


def _expression_problems(f: dict, who: str, known: set[str], exprs: dict, key: str) -> list[str]:
    problems = []
    for attr in ("visible_if", "required_if", "expression"):
        if attr not in f:
            continue
        try:
            tree = compile_expression(f[attr])
        except ExpressionError as exc:
            problems.append(f"{who}: `{attr}`: {exc}")
            continue
        unknown = sorted(names_used(tree) - known)
        if unknown:
            problems.append(f"{who}: `{attr}` uses unknown field{'s' if len(unknown) > 1 else ''} "
                            f"{', '.join(f'`{u}`' for u in unknown)}")
        exprs[f"{key}:{attr}"] = tree
    return problems


def _bound_problems(f: dict, who: str) -> list[str]:
    problems = []
    for low, high in (("min", "max"), ("min_length", "max_length"), ("min_rows", "max_rows"),
                      ("min_choices", "max_choices"), ("min_duration", "max_duration")):
        if isinstance(f.get(low), (int, float)) and isinstance(f.get(high), (int, float)) and f[low] > f[high]:
            problems.append(f"{who}: `{low}` ({f[low]}) is greater than `{high}` ({f[high]})")
    return problems


def _choice_problems(f: dict) -> list[str]:
    problems = []
    if "options" in f and "provider" in f:
        problems.append("give `options` or `provider`, not both")
    elif "options" not in f and "provider" not in f:
        problems.append(f"`options` or `provider` is required for a `{f['type']}` field")
    values = [json.dumps(o["value"]) for o in f.get("options", [])]
    if len(values) != len(set(values)):
        problems.append("an option value is listed twice")
    if f["type"] == "checkboxes" and isinstance(f.get("max_choices"), int) and f.get("options") \
            and f["max_choices"] > len(f["options"]):
        problems.append(f"`max_choices` is more than the {len(f['options'])} options")
    if "default" in f and f.get("options") and f["type"] != "checkboxes":
        allowed = [o["value"] for o in f["options"]]
        defaults = f["default"] if isinstance(f["default"], list) else [f["default"]]
        problems.extend(f"`default` `{value}` is not one of the options" for value in defaults
                        if value not in allowed)
    return problems


def _text_problems(f: dict) -> list[str]:
    if "pattern" not in f:
        return []
    try:
        re.compile(f["pattern"])
    except re.error as exc:
        return [f"`pattern` is not a valid regular expression: {exc}"]
    return []


def _date_problems(f: dict) -> list[str]:
    return [f"`{bound}` must be an ISO {f['type']} or `today` (got `{f[bound]}`)"
            for bound in ("min", "max") if bound in f and not _date_bound_ok(f[bound], f["type"])]


def _file_problems(f: dict) -> list[str]:
    problems = []
    if not isinstance(f.get("max_size"), int) or f["max_size"] <= 0:
        problems.append(f"`max_size` must be a size such as 10MB (got `{f.get('max_size')}`)")
    for item in f.get("accept", []):
        if not re.match(r"^(\.[A-Za-z0-9]+|[a-z]+/(\*|[A-Za-z0-9.+-]+))$", item):
            problems.append(f"`accept` entry `{item}` must be an extension (.pdf) or a type (image/*)")
    return problems


def _money_problems(f: dict) -> list[str]:
    if "min" in f and f["min"] < 0:
        return ["`min` must not be negative (amounts are shown in capital numerals)"]
    return []


def _range_problems(f: dict) -> list[str]:
    if f["unit"] == "hours" and not f["with_time"]:
        return ["`unit: hours` needs `with_time: true`"]
    return []


def _serial_problems(f: dict) -> list[str]:
    from forms.serial import parse_pattern
    try:
        parse_pattern(f["pattern"])
    except ValueError as exc:
        return [f"`pattern`: {exc}"]
    return []


def _quiz_problems(f: dict) -> list[str]:
    from forms.quiz import check_quiz_field
    prefix = f"field `{f['name']}`: "
    return [p[len(prefix):] if p.startswith(prefix) else p for p in check_quiz_field(f)]


_TYPE_CHECKS = {
    "select": _choice_problems, "radio": _choice_problems, "checkboxes": _choice_problems,
    "text": _text_problems, "date": _date_problems, "datetime": _date_problems, "file": _file_problems,
    "money": _money_problems, "date_range": _range_problems, "quiz": _quiz_problems,
    "serial": _serial_problems,
}


def _table_problems(table: dict, exprs: dict) -> list[str]:
    problems = []
    who = f"field `{table['name']}`"
    column_names = [c["name"] for c in table["columns"]]
    if len(column_names) != len(set(column_names)):
        problems.append(f"{who}: a column name is used twice")
    known = set(column_names)
    for column in table["columns"]:
        path = f"{table['name']}.{column['name']}"
        problems.extend(_field_problems(column, f"field `{path}`", known, exprs, path))
    numeric = {c["name"] for c in table["columns"] if c["type"] in NUMERIC_TYPES}
    for name in table["sums"]:
        if name not in known:
            problems.append(f"{who}: `sums` names `{name}`, which is not a column")
        elif name not in numeric:
            problems.append(f"{who}: `sums` names `{name}`, which is not a number, money or formula column")
    problems.extend(_formula_cycles(table["columns"], exprs, prefix=f"{table['name']}."))
    return problems


def _formula_cycles(fields: list[dict], exprs: dict, prefix: str = "") -> list[str]:
    graph = {f["name"]: names_used(exprs.get(f"{prefix}{f['name']}:expression", []))
             for f in fields if f["type"] == "formula"}
    problems, state = [], {}

    def visit(name, trail):
        if state.get(name) == "done" or name not in graph:
            return
        if state.get(name) == "open":
            cycle = trail[trail.index(name):] + [name]
            problems.append(f"field `{prefix}{name}`: formulas depend on each other in a loop: "
                            f"{' -> '.join(cycle)}")
            return
        state[name] = "open"
        for dep in sorted(graph[name]):
            visit(dep, trail + [name])
        state[name] = "done"
    for name in graph:
        visit(name, [])
    return problems


def formula_order(fields: list[dict], exprs: dict, prefix: str = "") -> list[str]:
    """Formula field names in an order where each comes after the formulas it reads."""
    graph = {f["name"]: names_used(exprs.get(f"{prefix}{f['name']}:expression", []))
             for f in fields if f["type"] == "formula"}
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name):
        if name in order or name in visiting or name not in graph:
            return  # loops were refused at load time; `visiting` only guards against them
        visiting.add(name)
        for dep in sorted(graph[name]):
            visit(dep)
        order.append(name)
    for name in graph:
        visit(name)
    return order


def _date_bound_ok(value, kind: str) -> bool:
    from datetime import date, datetime
    if value == "today":
        return True
    try:
        (date.fromisoformat if kind == "date" else datetime.fromisoformat)(str(value))
        return True
    except ValueError:
        return False


def label_text(label, lang: str = "zh") -> str:
    """The label in `lang`, falling back to the other language, or the string itself."""
    if isinstance(label, dict):
        return label.get(lang) or label.get("en") or label.get("zh") or ""
    return "" if label is None else str(label)
