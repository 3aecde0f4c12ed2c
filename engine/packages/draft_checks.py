"""Checking and deploying a designer draft, and what the modeler needs to know about it.

`check_draft` runs the same validation as `liaison validate` (the package loaded from a temporary
folder) plus the org chart's deploy warnings, each problem with its file (relative to the package),
line and element id. `deploy_draft` refuses a draft with errors and deploys the others as the next
version, with the comment as the version's notes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePosixPath

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bpmn.parser import BPMN_NS, read_liaison_attributes
from engine.bpmn.services import service_names
from engine.bpmn.xmlsafe import parse_xml_bytes
from engine.data.models import PackageDraft, Role
from engine.errors import InvalidPackageError, Message, Problem, UnreadableFileError, msg
from engine.packages import designer_access as access
from engine.packages.deployment import DeployResult, Package, deploy, load_package
from engine.packages.drafts import conflict, current_draft, main_bpmn_name, record
from engine.packages.trigger_checks import webhook_endpoint_problems
from engine.runtime.assignment_checks import rule_problems


def check_draft(session: Session, key: str) -> list[Problem]:
    """The draft's problems (errors, warnings, infos), paths relative to the package (`trip.bpmn`)."""
    _package, problems = load_draft(session, current_draft(session, key))
    return problems


def load_draft(session: Session, draft: PackageDraft) -> tuple[Package | None, list[Problem]]:
    """The draft as a validated Package (None when it has errors) and every problem found."""
    with tempfile.TemporaryDirectory(prefix="liaison-draft-") as scratch:
        root = Path(scratch) / draft.key
        for path, text in draft.files.items():
            target = root.joinpath(*PurePosixPath(path).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        try:
            package = load_package(root)
        except InvalidPackageError as exc:
            return None, [_relative(p, root) for p in exc.problems]
        except UnreadableFileError as exc:
            return None, [_relative(Problem(exc.path, None, None, exc.reason), root)]
        problems = [_relative(p, root) for p in package.notes]
    if package.key != draft.key:
        problems.append(Problem("package.yaml", None, None,
                                msg("the id in package.yaml must stay %(key)s", key=draft.key)))
        return None, problems
    return package, problems + org_chart_problems(session, package) + webhook_endpoint_problems(session, package)


# What makes a user task somebody's: an approver rule, Camunda's assignee / candidates, or an external party.
_ASSIGNING = {"approvers", "assignee", "candidateUsers", "candidateGroups", "external"}
NOBODY_HANDLES = msg("nobody handles this step: set its approvers, or a request will wait here with nobody to act on it")


def org_chart_problems(session: Session, package: Package) -> list[Problem]:
    """`deployment.org_chart_warnings` as Problems that keep the element's id and line (the modeler marks
    the element) and the translatable message; a user task nobody handles is a warning too."""
    problems = []
    conn = session.connection()
    for name, xml in sorted(package.bpmn.items()):
        root = parse_xml_bytes(xml.encode("utf-8"), name).getroot()
        for node in root.iter(f"{{{BPMN_NS}}}userTask"):
            attributes = read_liaison_attributes(node)
            if not _ASSIGNING.intersection(attributes):  # it would wait with nobody to handle it
                problems.append(Problem(name, node.sourceline, node.get("id"), NOBODY_HANDLES, "warning"))
            if "approvers" in attributes:
                problems += [Problem(name, node.sourceline, node.get("id"), message, "warning")
                             for severity, message in rule_problems(conn, attributes) if severity == "warning"]
    return problems


def has_errors(problems: list[Problem]) -> bool:
    """Whether any problem refuses the deploy."""
    return any(p.severity == "error" for p in problems)


def deploy_draft(session: Session, username: str, key: str, revision: int, comment: str | None) -> DeployResult:
    """Deploy the draft (at `revision`) as the next version with `comment` as its notes; InvalidPackageError
    with every problem when it has errors. The draft stays, now equal to the version it deployed."""
    access.require(session, username, key, "deploy")
    draft = current_draft(session, key)
    if draft.revision != revision:
        raise conflict(draft)
    package, problems = load_draft(session, draft)
    if package is None or has_errors(problems):
        raise InvalidPackageError(problems)
    comment = (comment or "").strip() or None
    result = deploy(session, package, username, notes=comment)
    draft.based_on_version = result.version
    record(session, username, key, "deploy", {"version": result.version, "revision": revision,
                                             "created": result.created, "comment": comment})
    return result


def editor_context(session: Session, draft: PackageDraft, lang: str) -> dict:
    """What the modeler's panels offer: the package's forms and their fields, the start form's fields, the
    roles and the service-task operations."""
    forms = {}
    for path, text in sorted(draft.files.items()):
        if path.startswith("forms/") and path.endswith((".yaml", ".yml", ".json")):
            forms[PurePosixPath(path).stem] = _fields(text, lang)
    roles = [{"key": r.key, "label": (r.name_en if lang == "en" and r.name_en else r.name)}
             for r in session.scalars(select(Role).order_by(Role.key))]
    bpmn_file = main_bpmn_name(draft.files, draft.key)
    start_form = _start_form(draft.files.get(bpmn_file) or "", bpmn_file)
    return {"bpmn_file": bpmn_file, "forms": forms, "start_fields": forms.get(start_form or "", []),
            "roles": roles, "operations": service_names()}


def _fields(text: str, lang: str) -> list[dict]:
    try:
        schema = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    fields = schema.get("fields") if isinstance(schema, dict) else None
    found = []
    for field in fields if isinstance(fields, list) else ():
        if isinstance(field, dict) and field.get("name"):
            label = field.get("label")
            if isinstance(label, dict):
                label = label.get(lang) or label.get("zh") or label.get("en")
            entry = {"name": str(field["name"]), "type": str(field.get("type") or "text"),
                     "label": str(label or field["name"])}
            options = _option_values(field.get("options"))
            if options:
                entry["options"] = options
            found.append(entry)
    return found


def _option_values(options) -> list:
    """A choice field's option values (an option is a value or a mapping with `value`), for sample data."""
    if not isinstance(options, list):
        return []
    values = [o.get("value") if isinstance(o, dict) else o for o in options]
    return [v for v in values if isinstance(v, (str, int, float, bool))]


def _start_form(xml: str, name: str) -> str | None:
    try:
        root = parse_xml_bytes(xml.encode("utf-8"), name).getroot()
    except UnreadableFileError:
        return None
    for start in root.iter(f"{{{BPMN_NS}}}startEvent"):
        form = read_liaison_attributes(start).get("form")
        if form:
            return str(form)
    return None


def _relative(problem: Problem, root: Path) -> Problem:
    """The problem with its path relative to the package folder (`forms/trip.yaml`), never /tmp/..."""
    path = str(problem.path)
    prefix = str(root)
    if path == prefix:
        path = ""
    elif path.startswith(prefix + "/"):
        path = path[len(prefix) + 1:]
    return Problem(path, problem.line, problem.element_id, _unquoted(problem.message, prefix), problem.severity)


def _unquoted(message, prefix: str):
    """`message` without the package's temporary folder `prefix` (a reader's message may quote a file's
    path); a translatable `Message` stays one, its params rewritten."""
    if isinstance(message, Message):
        params = {name: _unquoted(value, prefix) for name, value in message.params.items()}
        return Message(message.msgid, **params) if params != message.params else message
    if isinstance(message, str) and prefix in message:
        return message.replace(prefix + "/", "").replace(prefix, ".")
    return message
