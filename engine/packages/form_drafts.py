"""The forms of a designer draft, for the form builder (issue 15): read, check, write back, where used.

A draft's form lives in `forms/NAME.yaml` (or `.json`). `read_form` gives its text and schema dict,
`form_problems` the forms engine's own checks (meta-schema and rules) with the YAML line of each problem,
`check_expression` one `visible_if`/`required_if`/formula expression with the forms compiler,
`save_form` writes the form back as YAML (stable key order) as the draft's next revision, and
`form_nodes` lists the start event and user tasks of the draft's BPMN that name the form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml
from sqlalchemy.orm import Session

from engine.bpmn.parser import BPMN_NS, read_liaison_attributes
from engine.bpmn.xmlsafe import parse_xml_bytes
from engine.data.models import PackageDraft
from engine.errors import NotFoundError, UnreadableFileError, msg
from engine.packages.drafts import DraftFileError, current_draft, main_bpmn_name, save_draft
from engine.packages.limits import file_too_large
from forms.expr import ExpressionError, compile_expression, names_used
from forms.formjs import import_formjs
from forms.formjs_export import export_formjs
from forms.schema import SchemaError, load_schema, read_document

FORM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
FORM_KEYS = ("title", "description", "scoring", "access", "fields")
FIELD_KEYS = ("name", "type", "kind", "label", "question", "content", "help", "placeholder", "required",
              "required_if", "visible_if", "readonly", "default", "default_from", "min", "max", "step", "integer",
              "min_length", "max_length", "pattern", "pattern_message", "rows", "currency", "options", "provider",
              "multiple", "min_choices", "max_choices", "answer", "points", "expression", "decimals", "columns",
              "min_rows", "max_rows", "sums")
_FIELD_REF = re.compile(r"^field `([^`.]+)(?:\.([^`]+))?`(?:: `([^`]+)`)?")
_ACCESS_REF = re.compile(r"^access `([^`]+)`")
_LINE_REF = re.compile(r"^line (\d+): ")


@dataclass(frozen=True)
class FormProblem:
    """One problem of a form: its 1-based YAML line (None: not known) and message."""

    line: int | None
    message: str


@dataclass(frozen=True)
class DraftForm:
    """A draft's form: its file path, text and schema dict (None when the text is not readable)."""

    name: str
    path: str
    text: str
    schema: dict | None


def form_path(files: dict[str, str], name: str) -> str | None:
    """The draft file holding form `name` (`forms/NAME.yaml`, `.yml` or `.json`), or None."""
    for suffix in (".yaml", ".yml", ".json"):
        if f"forms/{name}{suffix}" in files:
            return f"forms/{name}{suffix}"
    return None


def form_names(files: dict[str, str]) -> list[str]:
    """The names of the draft's forms, sorted."""
    return sorted({path[6:].rsplit(".", 1)[0] for path in files
                   if path.startswith("forms/") and path.endswith((".yaml", ".yml", ".json"))})


def read_form(draft: PackageDraft, name: str) -> DraftForm:
    """The draft's form `name`; NotFoundError when the draft has none by that name."""
    path = form_path(draft.files, name)
    if path is None:
        raise NotFoundError(msg("there is no form %(name)s in this draft", name=name))
    text = draft.files[path]
    try:
        schema = read_document(text)
    except SchemaError:
        schema = None
    return DraftForm(name, path, text, schema if isinstance(schema, dict) else None)


def form_problems(text: str) -> list[FormProblem]:
    """Every problem the forms engine finds in a form's YAML/JSON text, each with its line where known."""
    try:
        data = read_document(text)
        load_schema(data)
    except SchemaError as exc:
        lines = _line_index(text)
        return [_located(problem, lines) for problem in exc.problems]
    return []


def schema_problems(schema: dict) -> list[FormProblem]:
    """The problems of a schema dict, with lines in the YAML `dump_form` writes for it."""
    return form_problems(dump_form(schema))


def check_expression(expression: str, fields: list[str]) -> str | None:
    """None when `expression` compiles with the forms compiler and uses only `fields`; else the reason."""
    try:
        tree = compile_expression(str(expression))
    except ExpressionError as exc:
        return str(exc)
    unknown = sorted(names_used(tree) - set(fields))
    if unknown:
        return f"unknown field{'s' if len(unknown) > 1 else ''} " + ", ".join(f"`{u}`" for u in unknown)
    return None


def dump_form(schema: dict) -> str:
    """The schema as YAML: form keys, then field keys in a stable order (the rest alphabetically)."""
    return yaml.safe_dump(_tidy(_ordered_form(schema)), allow_unicode=True, sort_keys=False,
                          default_flow_style=None, width=100)


def save_form(session: Session, username: str, key: str, revision: int, name: str, *,
              schema: dict | None = None, text: str | None = None) -> PackageDraft:
    """Write form `name` (a schema dict, or YAML text kept as typed) into the draft as its next revision.
    DraftFileError for a bad name or unreadable text; DraftConflictError when `revision` is stale."""
    if not FORM_NAME.match(name or ""):
        raise DraftFileError(msg("a form name is letters, digits, _ and -: %(name)s", name=name))
    if text is None:
        if not isinstance(schema, dict):
            raise DraftFileError(msg("the form is not a mapping"))
        text = dump_form(schema)
    else:
        try:
            data = read_document(text)
        except SchemaError as exc:
            raise DraftFileError("; ".join(exc.problems)) from None
        if not isinstance(data, dict):
            raise DraftFileError(msg("the form is not a mapping"))
    files = dict(current_draft(session, key).files)
    old = form_path(files, name)
    if old is not None and old != f"forms/{name}.yaml":
        files.pop(old)  # a .json or .yml form is written back as forms/NAME.yaml
    files[f"forms/{name}.yaml"] = text
    return save_draft(session, username, key, revision, files)


def new_form(session: Session, username: str, key: str, name: str) -> PackageDraft:
    """Add form `name` (a title and one text field) to the draft; DraftFileError when it exists or is misnamed."""
    draft = current_draft(session, key)
    if form_path(draft.files, name) is not None:
        raise DraftFileError(msg("there is already a form %(name)s", name=name))
    schema = {"title": {"zh": name, "en": name}, "fields": [{"name": "title", "type": "text"}]}
    return save_form(session, username, key, draft.revision, name, schema=schema)


def import_formjs_form(session: Session, username: str, key: str, name: str, data: bytes) -> list[str]:
    """Add form `name` to the draft from a form-js schema (Camunda Modeler's `.form`; the converter of
    `liaison import-formjs`); returns one line per component that could not be mapped exactly.
    DraftFileError when the file is not a form-js document, is too large or the name is taken."""
    problem = file_too_large(f"{name}.form", len(data))
    if problem:
        raise DraftFileError(msg("the form-js file was refused: %(problem)s", problem=problem))
    try:
        result = import_formjs(data)
    except ValueError as exc:
        raise DraftFileError(msg("not a form-js form: %(reason)s", reason=str(exc))) from exc
    draft = current_draft(session, key)
    if form_path(draft.files, name) is not None:
        raise DraftFileError(msg("there is already a form %(name)s", name=name))
    save_form(session, username, key, draft.revision, name, schema=result.schema)
    return list(result.problems)


def export_formjs_form(draft: PackageDraft, name: str, lang: str) -> tuple[dict, list[str]]:
    """The draft's form `name` as a form-js document (labels in `lang`) and what was left out;
    DraftFileError when the form does not read as a schema."""
    form = read_form(draft, name)
    if form.schema is None:
        raise DraftFileError(msg("the form %(name)s has problems; fix them before exporting", name=name))
    result = export_formjs(form.schema, lang)
    return result.document, result.problems


def form_nodes(files: dict[str, str], key: str, name: str) -> list[dict]:
    """The start events and user tasks of the draft's main BPMN naming form `name`:
    `[{"id", "name", "kind": "start"|"task"}]` in document order."""
    bpmn_file = main_bpmn_name(files, key)
    try:
        root = parse_xml_bytes((files.get(bpmn_file) or "").encode("utf-8"), bpmn_file).getroot()
    except UnreadableFileError:
        return []
    found = []
    for element in root.iter(f"{{{BPMN_NS}}}startEvent", f"{{{BPMN_NS}}}userTask"):
        if read_liaison_attributes(element).get("form") == name:
            kind = "start" if element.tag.endswith("startEvent") else "task"
            found.append({"id": element.get("id") or "", "name": element.get("name") or element.get("id") or "",
                          "kind": kind})
    return found


def with_access(schema: dict, grid: dict[str, dict[str, str]]) -> dict:
    """The schema with its `access` written from a grid node -> {field: editable|readonly|hidden}; a node
    whose fields are all editable needs no rule and is left out."""
    names = [f.get("name") for f in schema.get("fields") or [] if isinstance(f, dict)]
    access = {}
    for node, modes in sorted(grid.items()):
        if all(modes.get(n, "editable") == "editable" for n in names):
            continue
        rule = {"editable": [n for n in names if modes.get(n, "editable") == "editable"]}
        hidden = [n for n in names if modes.get(n) == "hidden"]
        if hidden:
            rule["hidden"] = hidden
        access[node] = rule
    result = {k: v for k, v in schema.items() if k != "access"}
    if access:
        result["access"] = access
    return result


# -- helpers -----------------------------------------------------------------------------------------

def _ordered_form(schema: dict) -> dict:
    result = {k: schema[k] for k in FORM_KEYS if k in schema and k != "fields"}
    result.update({k: schema[k] for k in sorted(schema) if k not in FORM_KEYS})
    if "fields" in schema:
        fields = schema["fields"]
        result["fields"] = [_ordered_field(f) for f in fields] if isinstance(fields, list) else fields
    return result


_SMALL_ORDERS = (("zh", "en"), ("value", "label"))


def _tidy(value):
    """Labels as {zh, en} and options as {value, label}, whatever order they came in (JSON sorts keys)."""
    if isinstance(value, list):
        return [_tidy(v) for v in value]
    if not isinstance(value, dict):
        return value
    for order in _SMALL_ORDERS:
        if value and set(value) <= set(order):
            return {k: _tidy(value[k]) for k in order if k in value}
    return {k: _tidy(v) for k, v in value.items()}


def _ordered_field(spec):
    if not isinstance(spec, dict):
        return spec
    result = {k: spec[k] for k in FIELD_KEYS if k in spec}
    result.update({k: spec[k] for k in sorted(spec) if k not in FIELD_KEYS})
    if isinstance(result.get("columns"), list):
        result["columns"] = [_ordered_field(c) for c in result["columns"]]
    return result


@dataclass
class _Lines:
    fields: dict[str, int]
    keys: dict[tuple[str, str], int]
    columns: dict[tuple[str, str], int]
    access: dict[str, int]


def _line_index(text: str) -> _Lines:
    """The lines of the fields (by name), table columns and access rules in the text, as far as readable."""
    lines = _Lines({}, {}, {}, {})
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines
    if not isinstance(root, yaml.MappingNode):
        return lines
    for key_node, value in root.value:
        if key_node.value == "fields" and isinstance(value, yaml.SequenceNode):
            for item in value.value:
                name = _scalar(item, "name")
                if name:
                    lines.fields.setdefault(name, item.start_mark.line + 1)
                    for field_key, _value in item.value:
                        lines.keys.setdefault((name, str(field_key.value)), field_key.start_mark.line + 1)
                    for column in _sequence(item, "columns"):
                        column_name = _scalar(column, "name")
                        if column_name:
                            lines.columns.setdefault((name, column_name), column.start_mark.line + 1)
        elif key_node.value == "access" and isinstance(value, yaml.MappingNode):
            for node_key, _rule in value.value:
                lines.access.setdefault(str(node_key.value), node_key.start_mark.line + 1)
    return lines


def _scalar(node, key: str) -> str | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            if key_node.value == key and isinstance(value, yaml.ScalarNode):
                return value.value
    return None


def _sequence(node, key: str) -> list:
    if isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            if key_node.value == key and isinstance(value, yaml.SequenceNode):
                return value.value
    return []


def _located(problem: str, lines: _Lines) -> FormProblem:
    found = _LINE_REF.match(problem)
    if found:
        return FormProblem(int(found.group(1)), problem[found.end():])
    found = _FIELD_REF.match(problem)
    if found:
        field, column, key = found.groups()
        line = lines.columns.get((field, column)) if column else lines.keys.get((field, key or ""))
        return FormProblem(line or lines.fields.get(field), problem)
    found = _ACCESS_REF.match(problem)
    if found:
        return FormProblem(lines.access.get(found.group(1)), problem)
    return FormProblem(None, problem)
