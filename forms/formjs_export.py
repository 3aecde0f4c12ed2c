"""Export a Liaison form schema as a bpmn.io form-js document (what Camunda Modeler's form editor opens),
where the field types map; the reverse of `forms.formjs.import_formjs` for those types.

`export_formjs(schema, lang)` returns an `ExportResult`: `document` is the form-js dict and `problems`
holds one line per field that was left out or exported with a loss (every line names the field).

=====================  ===================================================================
Liaison                form-js
=====================  ===================================================================
text                   textfield (max_length -> validate.maxLength, pattern -> validate.pattern)
textarea               textarea
number, money          number (decimals -> decimalDigits; money reported: no currency)
date / datetime        datetime, subtype date / datetime
select                 select; multiple -> taglist
radio / checkboxes     radio / checklist
file                   filepicker (accept joined; max_files other than 1 -> multiple)
notice                 text (content)
table                  dynamiclist; its columns of the types above become its components
anything else          left out (reported): user, department, date_range, rating, quiz,
                       serial, related, formula
=====================  ===================================================================

Labels and help are taken in `lang` (else the other language); required -> validate.required,
min/max -> validate.min/max, default -> defaultValue, readonly -> readonly. Conditions (visible_if,
required_if) are Python expressions here and FEEL there: they are left out and reported.
Stdlib only, like the importer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ExportResult", "export_formjs"]

SCHEMA_VERSION = 16
_SIMPLE = {"text": "textfield", "textarea": "textarea", "number": "number", "money": "number",
           "radio": "radio", "checkboxes": "checklist", "notice": "text", "file": "filepicker"}


@dataclass
class ExportResult:
    document: dict
    problems: list[str] = field(default_factory=list)


def export_formjs(schema: dict, lang: str = "en") -> ExportResult:
    """The form-js document of `schema` (field labels in `lang`) and what could not be exported."""
    problems: list[str] = []
    components = [c for c in (_component(f, lang, problems) for f in schema.get("fields") or []) if c]
    title = _text(schema.get("title"), lang)
    document = {"type": "default", "id": _identifier(title or "Form"), "components": components,
                "schemaVersion": SCHEMA_VERSION, "exporter": {"name": "Liaison", "version": "1"}}
    return ExportResult(document, problems)


def _text(value: Any, lang: str) -> str:
    if isinstance(value, dict):
        other = "zh" if lang == "en" else "en"
        return str(value.get(lang) or value.get(other) or "")
    return str(value or "")


def _identifier(text: str) -> str:
    cleaned = "".join(ch if ch.isalnum() else "_" for ch in text).strip("_")
    return f"Form_{cleaned}" if cleaned and cleaned.isascii() else "Form_1"


def _component(item: dict, lang: str, problems: list[str]) -> dict | None:
    name, kind = str(item.get("name") or ""), item.get("type")
    where = f"field `{name}` (type `{kind}`)"
    if kind in ("date", "datetime"):
        made = {"type": "datetime", "subtype": kind, "dateLabel": _text(item.get("label"), lang)}
        if kind == "datetime":  # Liaison keeps local date-times, without a zone
            made["timeSerializingFormat"] = "no_timezone"
    elif kind == "select":
        made = {"type": "taglist" if item.get("multiple") else "select"}
    elif kind == "table":
        made = {"type": "dynamiclist", "path": name, "isRepeating": True,
                "components": [c for c in (_component(col, lang, problems) for col in item.get("columns") or []) if c]}
    elif kind in _SIMPLE:
        made = {"type": _SIMPLE[kind]}
    else:
        problems.append(f"{where}: form-js has no such field; left out")
        return None
    made["id"] = f"Field_{name}"
    if kind == "notice":
        made["text"] = _text(item.get("content") or item.get("label"), lang)
        return made
    if kind != "table":
        made["key"] = name
    if kind not in ("date", "datetime"):
        label = _text(item.get("label"), lang)
        if label:
            made["label"] = label
    _common(item, made, lang)
    _specific(item, kind, made, where, problems, lang)
    for condition in ("visible_if", "required_if"):
        if item.get(condition):
            problems.append(f"{where}: {condition} `{item[condition]}` is Python, form-js needs FEEL; left out")
    return made


def _common(item: dict, made: dict, lang: str) -> None:
    help_text = _text(item.get("help"), lang)
    if help_text:
        made["description"] = help_text
    validate = {key: item[source] for source, key in (("min", "min"), ("max", "max"), ("max_length", "maxLength"),
                                                       ("min_length", "minLength"), ("pattern", "pattern"))
                if isinstance(item.get(source), int | float | str) and not isinstance(item.get(source), bool)}
    if item.get("required") is True:
        validate["required"] = True
    if validate:
        made["validate"] = validate
    if item.get("default") is not None and not isinstance(item.get("default"), dict | list):
        made["defaultValue"] = item["default"]
    if item.get("readonly") is True:
        made["readonly"] = True


def _value(option: Any, lang: str) -> dict:
    """A form-js option: options are `{value, label}` or a bare value (its own label)."""
    if isinstance(option, dict):
        return {"label": _text(option.get("label"), lang) or str(option.get("value")), "value": option.get("value")}
    return {"label": str(option), "value": option}


def _specific(item: dict, kind: str, made: dict, where: str, problems: list[str], lang: str) -> None:
    if kind in ("select", "radio", "checkboxes"):
        if item.get("provider"):
            made["valuesKey"] = str(item["provider"])
        else:
            made["values"] = [_value(option, lang) for option in item.get("options") or []]
    elif kind in ("number", "money"):
        if isinstance(item.get("decimals"), int):
            made["decimalDigits"] = item["decimals"]
        elif item.get("integer") is True:
            made["decimalDigits"] = 0
        if kind == "money":
            problems.append(f"{where}: exported as a number (form-js has no money field)")
    elif kind == "file":
        accept = item.get("accept")
        if isinstance(accept, list) and accept:
            made["accept"] = ",".join(str(a) for a in accept)
        made["multiple"] = item.get("max_files") != 1
