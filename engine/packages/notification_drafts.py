"""Notification templates of a draft in the designer (issue 15): list, check, preview and save them.

A package's `notifications/*.yaml` define events (format: docs/notifications.md); an event it does not
define is sent with the engine's built-in default (`engine.notify.render.DEFAULT_TEMPLATES`), which the
list shows so the owner sees what is sent today. Checking a template finds Jinja syntax errors (with their
line) and names that the renderer does not provide (with their line); the preview renders with the very
code that sends (`render_step` and `delivery.webhook_request`), on sample data taken from the package's
first scenario test, else made up from its forms' fields.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import PurePosixPath

import yaml
from jinja2 import TemplateSyntaxError, nodes
from jinja2 import meta as jinja_meta
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy.orm import Session

from engine.config import load_settings
from engine.data.models import PackageDraft
from engine.errors import msg
from engine.notify import delivery
from engine.notify.recipients import Directory, Person
from engine.notify.render import (
    CHANNELS,
    DEFAULT_TEMPLATES,
    EVENTS,
    LANGUAGES,
    TEMPLATE_KEYS,
    Event,
    StepFacts,
    channels_of,
    notification_problems,
    package_templates,
    render_step,
)
from engine.packages import drafts

FOLDER = "notifications/"
NEW_FILE = "notifications/templates.yaml"  # where an event the package did not define yet is written
ROBOTS = ("dingtalk", "feishu", "wecom")  # webhook endpoint formats that are chat robots
TASK_EVENTS = ("task_assigned", "task_due_soon", "task_overdue", "urged", "returned")
SAMPLE_ACTOR = Person("sample_actor", "王经理", "Manager Wang", "wang@example.com", "zh", True)
SAMPLE_READER = Person("sample_reader", "张三", "Zhang San", "zhang@example.com", "zh", True)
_PARSER = SandboxedEnvironment()  # the renderer's environments differ only in autoescaping, not in syntax
# events the issue names that the engine sends under another event
ALIASES = {"reminder": "task_due_soon", "escalation": "task_overdue"}

# the renderer's context (engine.notify.render._EventRenderer): name -> attributes
VARIABLES = {
    "process": ("key", "name", "name_zh", "name_en"),
    "instance": ("id", "business_key", "initiator"),
    "task": ("id", "element_id", "name", "due_at", "due"),
    "actor": (), "actor_username": (), "comment": (), "data": (), "link": (), "extra": (),
    "event": (), "lang": (), "now": (),
}


def _notification_files(files: dict[str, str]) -> dict[str, object]:
    """The draft's notification files parsed ({stem: YAML}); a file that does not parse maps to None."""
    parsed = {}
    for path, text in files.items():
        if path.startswith(FOLDER) and path.endswith((".yaml", ".yml")):
            try:
                parsed[PurePosixPath(path).stem] = yaml.safe_load(text)
            except yaml.YAMLError:
                parsed[PurePosixPath(path).stem] = None
    return parsed


def _file_of(files: dict[str, str], event: str) -> str | None:
    for path in sorted(files):
        if path.startswith(FOLDER) and path.endswith((".yaml", ".yml")):
            content = _notification_files({path: files[path]}).get(PurePosixPath(path).stem)
            if isinstance(content, dict) and event in content:
                return path
    return None


def _texts(definition: dict | None, lang: str) -> dict[str, str]:
    texts = (definition or {}).get(lang)
    texts = texts if isinstance(texts, dict) else {}
    return {part: str(texts.get(part) or "") for part in TEMPLATE_KEYS}


def template_list(files: dict[str, str]) -> list[dict]:
    """Every event with what the package sends: its own texts (or the built-in default), channels, webhooks."""
    defined = package_templates(_notification_files(files))
    listing = []
    for event in EVENTS:
        definition = defined.get(event)
        listing.append({
            "event": event, "defined": definition is not None, "file": _file_of(files, event),
            "channels": list(channels_of(definition)),
            "webhooks": [str(w) for w in (definition or {}).get("webhooks") or []],
            "texts": {lang: _texts(definition, lang) if definition else _texts(DEFAULT_TEMPLATES[event], lang)
                      for lang in LANGUAGES},
            "defaults": {lang: _texts(DEFAULT_TEMPLATES[event], lang) for lang in LANGUAGES},
        })
    return listing


def data_fields(files: dict[str, str]) -> dict[str, dict]:
    """Every field of the package's forms: name -> {type, label {zh, en}} (the process data they fill)."""
    fields: dict[str, dict] = {}
    for path in sorted(files):
        if not (path.startswith("forms/") and path.endswith((".yaml", ".yml", ".json"))):
            continue
        try:
            schema = yaml.safe_load(files[path])  # JSON is YAML too
        except yaml.YAMLError:
            continue
        fields_of = schema.get("fields") if isinstance(schema, dict) else None
        for field in fields_of if isinstance(fields_of, list) else []:
            if isinstance(field, dict) and field.get("name") and str(field["name"]) not in fields:
                label = field.get("label")
                label = label if isinstance(label, dict) else {"zh": str(label or field["name"])}
                fields[str(field["name"])] = {"type": str(field.get("type") or "text"),
                                              "label": {"zh": str(label.get("zh") or label.get("en") or field["name"]),
                                                        "en": str(label.get("en") or label.get("zh") or field["name"])}}
    return fields


def variables(files: dict[str, str], event: str) -> list[dict]:
    """The names a template of `event` may use: [{name, group}] (group: process, task, data...)."""
    found = []
    for name, attributes in VARIABLES.items():
        if name == "task" and event not in TASK_EVENTS:
            continue
        if attributes:
            found += [{"name": f"{name}.{a}", "group": name} for a in attributes]
        elif name == "data":
            found += [{"name": f"data.{f}", "group": "data"} for f in data_fields(files)]
        elif name == "extra":
            if event == "external_link":
                found += [{"name": f"extra.{a}", "group": "extra"} for a in ("title", "text", "link", "emails")]
        else:
            found.append({"name": name, "group": "step"})
    return found


def _line_of(ast: nodes.Template, name: str) -> int:
    return next((n.lineno for n in ast.find_all(nodes.Name) if n.name == name and n.ctx == "load"), 1)


def check_template(source: str, html: bool, known_data: set[str] | None = None) -> list[dict]:
    """What is wrong with one template: [{line, message, severity}] — a syntax error with its line, names the
    renderer does not provide (error), `data.X` fields no form of the package has (warning)."""
    del html  # the HTML part is parsed alike (autoescaping changes output, not syntax)
    try:
        ast = _PARSER.parse(source)
    except TemplateSyntaxError as exc:
        return [{"line": exc.lineno, "severity": "error",
                 "message": msg("template syntax error on line %(line)s: %(reason)s", line=exc.lineno,
                                reason=exc.message or "")}]
    problems = []
    for name in sorted(jinja_meta.find_undeclared_variables(ast) - set(VARIABLES), key=lambda n: _line_of(ast, n)):
        line = _line_of(ast, name)
        problems.append({"line": line, "severity": "error",
                         "message": msg("line %(line)s: `%(name)s` is not a variable of notifications", line=line,
                                        name=name)})
    if known_data is not None:
        for node in ast.find_all(nodes.Getattr):
            if isinstance(node.node, nodes.Name) and node.node.name == "data" and node.attr not in known_data:
                problems.append({"line": node.lineno, "severity": "warning",
                                 "message": msg("line %(line)s: no form of the package has a field `%(name)s`",
                                                line=node.lineno, name=node.attr)})
    return problems


def check_texts(files: dict[str, str], texts: dict) -> dict[str, list[dict]]:
    """The problems of an event's texts ({lang: {title, text, html}}), keyed `lang.part`; empty parts of
    title / text are errors (both are required)."""
    known = set(data_fields(files)) | set(sample_data(files))
    found: dict[str, list[dict]] = {}
    for lang in LANGUAGES:
        for part in TEMPLATE_KEYS:
            source = str(((texts or {}).get(lang) or {}).get(part) or "")
            if not source.strip():
                if part != "html":
                    found[f"{lang}.{part}"] = [{"line": 1, "severity": "error", "message": msg("this text is required")}]
                continue
            problems = check_template(source, part == "html", known)
            if problems:
                found[f"{lang}.{part}"] = problems
    return found


_SAMPLES = {"number": 3, "integer": 3, "money": 1280.5, "date": "2026-03-02", "datetime": "2026-03-02T09:30:00",
            "checkbox": True, "checkboxes": [], "rating": 4, "user": "zhang", "users": ["zhang"], "file": [],
            "table": []}


def sample_data(files: dict[str, str]) -> dict:
    """Process data for previews: the first scenario test's start data (tests/*.yaml) over values made up
    from the forms' fields."""
    data = {name: _SAMPLES.get(field["type"], field["label"]["zh"]) for name, field in data_fields(files).items()}
    for path in sorted(files):
        if path.startswith("tests/") and path.endswith((".yaml", ".yml")):
            try:
                scenario = yaml.safe_load(files[path])
            except yaml.YAMLError:
                continue
            start = scenario.get("start") if isinstance(scenario, dict) else None
            if isinstance(start, dict) and isinstance(start.get("data"), dict):
                return {**data, **start["data"]}
    return data


def preview(files: dict[str, str], key: str, event: str, texts: dict, lang: str) -> dict:
    """The event rendered as each channel sends it, in `lang`, with sample data: {inapp, email, dingtalk,
    feishu, wecom, webhook, errors}. A template with errors shows them (the engine would send the default)."""
    if event not in EVENTS:
        event = ALIASES.get(event, "task_assigned")
    errors = {where: problems for where, problems in check_texts(files, texts).items()
              if where.startswith(lang) and any(p["severity"] == "error" for p in problems)}
    try:
        package_meta = yaml.safe_load(files.get("package.yaml") or "") or {}
    except yaml.YAMLError:
        package_meta = {}
    definition = {"channels": list(CHANNELS), "webhooks": ["preview"],
                  **{code: {p: v for p, v in (texts.get(code) or {}).items() if p in TEMPLATE_KEYS and v}
                     for code in LANGUAGES}}
    now = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
    task = {"id": "sample-task", "element_id": "approval", "name": "审批" if lang == "zh" else "Approval",
            "due_at": "2026-03-04T10:00:00+00:00"} if event in TASK_EVENTS else None
    extra = {"emails": []}
    if event == "external_link":
        extra.update({"link": "https://liaison.example.com/portal/s/sample", "emails": []})
    sample = Event(event, recipients=[SAMPLE_READER.username], task=task, actor=SAMPLE_ACTOR.username,
                   comment="同意" if lang == "zh" else "OK", extra=extra)
    facts = StepFacts(key, {"meta": package_meta if isinstance(package_meta, dict) else {},
                            "notifications": {"preview": {event: definition}}},
                      42, SAMPLE_READER.username, "SQ-2026-0042", sample_data(files), [sample])
    reader = dataclasses.replace(SAMPLE_READER, locale=lang)
    directory = Directory(people={reader.username: reader, SAMPLE_ACTOR.username: SAMPLE_ACTOR})
    settings = dataclasses.replace(load_settings(), locale=lang, base_url="https://liaison.example.com")
    outbox, inapp = render_step(None, facts, now, settings=settings, directory=directory)
    email = next(r for r in outbox if r["channel"] == "email")["payload"]
    hook = next(r for r in outbox if r["channel"] == "webhook")
    result = {"errors": errors, "inapp": {"title": inapp[0]["title"], "text": inapp[0]["body"]},
              "email": {"subject": email["subject"], "text": email["text"], "html": email["html"]},
              "webhook": hook["payload"]}
    row = {"id": 1, "instance_id": 42, "event": event, "payload": hook["payload"]}
    for robot in ROBOTS:
        _, body, _ = delivery.webhook_request(row, {"name": robot, "url": "https://robot.example.com/send",
                                                    "secret": "", "format": robot}, now)
        result[robot] = json.loads(body)
    return result


def save_event(session: Session, username: str, key: str, revision: int, event: str, definition: dict | None
               ) -> PackageDraft:
    """Write one event's definition into the draft (where the package defines it, else notifications/
    templates.yaml) as its next revision; None removes it (the default is sent again). Refused with
    DraftFileError when the package's notifications would not deploy, DraftConflictError when stale."""
    draft = drafts.current_draft(session, key)
    if event not in EVENTS:
        raise drafts.DraftFileError(msg("unknown notification event %(event)s", event=event))
    files = dict(draft.files)
    path = _file_of(files, event) or NEW_FILE
    try:
        content = yaml.safe_load(files.get(path) or "") or {}
    except yaml.YAMLError as exc:
        raise drafts.DraftFileError(msg("%(file)s is not readable YAML: %(reason)s", file=path,
                                        reason=str(exc))) from exc
    if not isinstance(content, dict):
        content = {}
    if definition is None:
        content.pop(event, None)
    else:
        content[event] = _clean(definition)
    if content:
        files[path] = yaml.safe_dump(content, allow_unicode=True, sort_keys=False, width=1000)
    else:
        files.pop(path, None)
    problems = notification_problems({k: v for k, v in _notification_files(files).items()})
    if problems:
        raise drafts.DraftFileError(msg("the notifications cannot be saved: %(problems)s",
                                        problems="; ".join(problems)))
    return drafts.save_draft(session, username, key, revision, files)


def _clean(definition: dict) -> dict:
    """The event's definition as the YAML holds it: channels and webhooks only when set, empty html left out."""
    clean: dict = {}
    channels = definition.get("channels")
    if isinstance(channels, list) and (list(channels) != ["inapp", "email"] or definition.get("webhooks")):
        clean["channels"] = [str(c) for c in channels]
    webhooks = [str(w).strip() for w in definition.get("webhooks") or [] if str(w).strip()]
    if webhooks:
        clean["webhooks"] = webhooks
    for lang in LANGUAGES:
        texts = definition.get(lang) if isinstance(definition.get(lang), dict) else {}
        clean[lang] = {part: str(texts[part]) for part in TEMPLATE_KEYS
                       if isinstance(texts.get(part), str) and (texts[part].strip() or part != "html")}
    return clean
