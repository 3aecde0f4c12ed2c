"""Process packages: load a package folder, validate everything in it, deploy immutable versions.

A package is `package.yaml`, one or more `.bpmn` files, `forms/*.yaml|json`,
`notifications/*.yaml` and `tests/*.yaml` (see docs/architecture.md). Validation collects
every problem, with file, line and element id, before refusing; nothing half-valid deploys.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn.check import check_bpmn
from engine.bpmn.expressions import check_expression
from engine.bpmn.parser import BPMN_NS, parse_documents, read_liaison_attributes, schema_problems
from engine.bpmn.serialization import spec_to_json
from engine.bpmn.services import service_names
from engine.bpmn.workflow import duration
from engine.bpmn.xmlsafe import parse_xml_bytes, read_xml_file
from engine.data.models import ProcessDefinition, ProcessVersion
from engine.data.retry import with_retries
from engine.errors import InvalidPackageError, NotFoundError, Problem, TaskConflictError, UnreadableFileError
from engine.notify.render import notification_problems
from engine.people.starting import starters_problems
from engine.runtime.approvals import mode_problems
from engine.runtime.assignment import APPROVAL_ATTRIBUTES, admins_problems, rule_problems, start_fields_for
from engine.runtime.submissions import form_problems

MAX_YAML_BYTES = 1024 * 1024
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
_FORM_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class Package:
    """A validated package, ready to deploy."""

    key: str
    meta: dict
    main_process: str
    bpmn: dict[str, str]  # file name -> XML text
    forms: dict[str, dict] = field(default_factory=dict)
    notifications: dict[str, dict] = field(default_factory=dict)
    tests: dict[str, dict] = field(default_factory=dict)
    spec_json: str = ""

    @property
    def checksum(self) -> str:
        """A digest of everything that defines behaviour; the same content never deploys twice."""
        content = json.dumps([self.meta, self.bpmn, self.forms, self.notifications, self.tests],
                             sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(content.encode("utf-8")).hexdigest()


class ConflictingDeployError(TaskConflictError):
    """Another deployment of the same package kept winning the race."""


@dataclass
class DeployResult:
    """What `deploy` did: a new version, or the existing one when nothing changed."""

    key: str
    version: int
    version_id: int
    created: bool
    warnings: list = field(default_factory=list)  # "FILE: ELEMENT: message" the org chart raised (not refusals)


def check_bpmn_file(path: str | Path) -> list[Problem]:
    """Validate one BPMN file on its own (`liaison validate file.bpmn`).

    Raises UnreadableFileError when it cannot be read as XML at all.
    """
    path = str(path)
    tree = read_xml_file(path)
    problems = check_bpmn(tree, path, check_expression) + check_service_tasks(path, tree.getroot())
    if any(p.severity == "error" for p in problems):
        return problems
    problems += schema_problems(tree.getroot(), path)
    if any(p.severity == "error" for p in problems):
        return problems
    _, parse_problems = parse_documents({path: tree.getroot()})
    return problems + parse_problems


def load_package(path: str | Path) -> Package:
    """Read and validate a package folder; raise InvalidPackageError listing every problem."""
    root = Path(path)
    if not root.is_dir():
        raise InvalidPackageError([Problem(str(root), None, None, "not a package folder")])
    problems: list[Problem] = []
    meta = _read_yaml(root / "package.yaml", problems, required=True) or {}
    key = str(meta.get("id") or "").strip()
    if not key:
        problems.append(Problem(str(root / "package.yaml"), None, None, "`id` is required"))
    problems.extend(Problem(str(root / "package.yaml"), None, None, message)
                    for message in starters_problems(meta.get("starters")))
    problems.extend(Problem(str(root / "package.yaml"), None, None, message)
                    for message in messages_problems(meta.get("messages")))
    if "auto_approve" in meta and not isinstance(meta["auto_approve"], bool):
        problems.append(Problem(str(root / "package.yaml"), None, None,
                                "`auto_approve` must be true or false (approve a node automatically when the "
                                "person who just approved is its approver again)"))
    problems.extend(Problem(str(root / "package.yaml"), None, None, message)
                    for message in admins_problems(meta.get("admins")))
    documents, bpmn_text = {}, {}
    for file in sorted(root.glob("*.bpmn")):
        try:
            tree = read_xml_file(str(file))
        except UnreadableFileError as exc:
            problems.append(Problem(str(file), None, None, exc.reason))
            continue
        file_problems = check_bpmn(tree, str(file), check_expression) + check_service_tasks(str(file), tree.getroot())
        if not _has_errors(file_problems):
            file_problems += schema_problems(tree.getroot(), str(file))
        problems.extend(file_problems)
        documents[str(file)] = tree.getroot()
        bpmn_text[file.name] = etree.tostring(tree, encoding="unicode")
    if not documents and not any(p.path.endswith(".bpmn") for p in problems):
        problems.append(Problem(str(root), None, None, "the package has no .bpmn file"))
    forms = _read_folder(root / "forms", problems)
    notifications = _read_folder(root / "notifications", problems)
    tests = _read_folder(root / "tests", problems)
    problems.extend(_check_liaison_attributes(documents, forms, root))
    problems.extend(form_problems(forms, str(root / "forms")))
    problems.extend(Problem(str(root / "notifications"), None, None, message)
                    for message in notification_problems(notifications))
    if _has_errors(problems):
        raise InvalidPackageError(problems)
    parsed, parse_problems = parse_documents(documents)
    if parse_problems:
        raise InvalidPackageError(problems + parse_problems)
    main = str(meta.get("process") or key)
    if main not in parsed.specs:
        if len(parsed.specs) == 1 and not meta.get("process"):
            main = next(iter(parsed.specs))
        else:
            raise InvalidPackageError(problems + [Problem(
                str(root / "package.yaml"), None, main,
                f"main process `{main}` is not defined (found: {', '.join(sorted(parsed.specs))})")])
    package = Package(key, meta, main, bpmn_text, forms, notifications, tests)
    package.spec_json = spec_to_json(parsed.specs[main], parsed.subprocess_specs[main])
    return package


def deploy_package(sessions: sessionmaker[Session], package: Package, user: str | None = None,
                   notes: str | None = None) -> DeployResult:
    """Deploy in a transaction of its own; two deployments of one package at once both get an answer.

    The loser of a race on the version number (or on creating the definition) tries again and
    finds the winner's version: unchanged content reports it, changed content becomes the next one.
    """
    def once() -> DeployResult:
        with sessions() as session, session.begin():
            return deploy(session, package, user, notes)

    return with_retries(once, retry_on=lambda exc: isinstance(exc, IntegrityError), attempts=3,
                        give_up=lambda _exc: ConflictingDeployError(
                            f"`{package.key}` is being deployed by someone else right now; try again"))


def deploy(session: Session, package: Package, user: str | None = None, notes: str | None = None) -> DeployResult:
    """Store a validated package as the next immutable version (or reuse an identical latest one)."""
    definition = session.scalar(select(ProcessDefinition).where(ProcessDefinition.key == package.key))
    if definition is None:
        definition = ProcessDefinition(key=package.key)
        session.add(definition)
    definition.name = _names(package.meta)
    definition.category = package.meta.get("category")
    session.flush()
    latest = _latest_version(session, definition.id)
    checksum = package.checksum
    warnings = org_chart_warnings(session, package)
    if latest is not None and latest.checksum == checksum:
        return DeployResult(package.key, latest.number, latest.id, created=False, warnings=warnings)
    version = ProcessVersion(
        definition_id=definition.id,
        number=(latest.number + 1) if latest else 1,
        process_id=package.main_process,
        checksum=checksum,
        package={"meta": package.meta, "forms": package.forms,
                 "notifications": package.notifications, "tests": package.tests},
        bpmn=package.bpmn,
        spec_json=package.spec_json,
        notes=notes or package.meta.get("notes"),
        deployed_by=user,
    )
    session.add(version)
    session.flush()
    return DeployResult(package.key, version.number, version.id, created=True, warnings=warnings)


def org_chart_warnings(session: Session, package: Package) -> list[str]:
    """What the org chart says about the package's approver rules, as warnings naming the node: an
    unknown user, role or department, a manager level deeper than any reporting line. Not refusals:
    the org chart may be imported after the deploy."""
    warnings = []
    conn = session.connection()
    for name, xml in sorted(package.bpmn.items()):
        root = parse_xml_bytes(xml.encode("utf-8"), name).getroot()
        for node in root.iter(f"{{{BPMN_NS}}}userTask"):
            attributes = read_liaison_attributes(node)
            if "approvers" not in attributes:
                continue
            warnings += [f"{name}: {node.get('id')}: {message}"
                         for severity, message in rule_problems(conn, attributes) if severity == "warning"]
    return warnings


def latest_version(session: Session, key: str) -> ProcessVersion:
    """The newest deployed version of a process, or NotFoundError."""
    definition = session.scalar(select(ProcessDefinition).where(ProcessDefinition.key == key))
    version = _latest_version(session, definition.id) if definition else None
    if version is None:
        raise NotFoundError(f"no process `{key}` is deployed")
    return version


def _latest_version(session: Session, definition_id: int) -> ProcessVersion | None:
    number = session.scalar(select(func.max(ProcessVersion.number))
                            .where(ProcessVersion.definition_id == definition_id))
    if number is None:
        return None
    return session.scalar(select(ProcessVersion).where(ProcessVersion.definition_id == definition_id,
                                                       ProcessVersion.number == number))


def _names(meta: dict) -> dict:
    name = meta.get("name")
    if isinstance(name, dict):
        return {str(k): str(v) for k, v in name.items()}
    return {"en": str(name or meta.get("id")), "zh": str(name or meta.get("id"))}


def _has_errors(problems: list[Problem]) -> bool:
    return any(p.severity == "error" for p in problems)


def _read_yaml(path: Path, problems: list[Problem], required: bool = False):
    if not path.is_file():
        if required:
            problems.append(Problem(str(path), None, None, "file is missing"))
        return None
    if path.stat().st_size > MAX_YAML_BYTES:
        problems.append(Problem(str(path), None, None, f"file is larger than {MAX_YAML_BYTES} bytes"))
        return None
    try:
        text = path.read_text(encoding="utf-8")
        value = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        line = line + 1 if line is not None else getattr(exc, "lineno", None)
        problems.append(Problem(str(path), line, None, f"cannot read: {' '.join(str(exc).split())}"))
        return None
    if value is not None and not isinstance(value, dict):
        problems.append(Problem(str(path), None, None, "must hold a mapping at the top level"))
        return None
    return value or {}


def _read_folder(folder: Path, problems: list[Problem]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    if not folder.is_dir():
        return found
    for file in sorted(folder.iterdir()):
        if file.suffix in _FORM_SUFFIXES:
            value = _read_yaml(file, problems)
            if value is not None:
                found[file.stem] = value
    return found


def check_service_tasks(file: str, doc) -> list[Problem]:
    """Every service task must name an operation of the service registry."""
    problems = []
    for node in doc.iter(f"{{{BPMN_NS}}}serviceTask"):
        operation = read_liaison_attributes(node).get("operation")
        if operation is None:
            operator = node.find(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}serviceTaskOperator")
            operation = operator.get("id") if operator is not None else None
        if operation is None:
            problems.append(Problem(file, node.sourceline, node.get("id"),
                                    "service task needs liaison:operation naming a registered operation "
                                    f"(known: {', '.join(service_names())})"))
        elif operation not in service_names():
            problems.append(Problem(file, node.sourceline, node.get("id"),
                                    f"unknown service operation `{operation}` "
                                    f"(known: {', '.join(service_names())})"))
    return problems


_EXPRESSION_ATTRIBUTES = ("assignee", "candidateUsers", "candidateGroups", "dueDate")


def _return_problems(file: str, doc) -> list[Problem]:
    """A start event's `liaison:resubmit` names a user task of its process; `afterReturn` is rerun or direct."""
    problems = []
    for start in doc.iter(f"{{{BPMN_NS}}}startEvent"):
        attributes = read_liaison_attributes(start)
        after = attributes.get("afterReturn")
        if after is not None and after not in ("rerun", "direct"):
            problems.append(Problem(file, start.sourceline, start.get("id"),
                                    f"liaison:afterReturn `{after}` must be rerun or direct"))
        resubmit = attributes.get("resubmit")
        if resubmit is not None:
            process = start.getparent()
            tasks = {t.get("id") for t in process.iter(f"{{{BPMN_NS}}}userTask")}
            if resubmit not in tasks:
                problems.append(Problem(file, start.sourceline, start.get("id"),
                                        f"liaison:resubmit `{resubmit}` is not a user task of this process"))
    return problems


def _check_liaison_attributes(documents: dict, forms: dict, root: Path) -> list[Problem]:
    """Form references must exist in the package; `${...}` attribute expressions must be safe."""
    problems = []
    for file, doc in documents.items():
        problems.extend(_return_problems(file, doc))
        for node in doc.iter():
            if not isinstance(node.tag, str) or not node.tag.startswith(f"{{{BPMN_NS}}}"):
                continue
            attributes = read_liaison_attributes(node)
            form = attributes.get("form")
            if form and form not in forms:
                problems.append(Problem(
                    file, node.sourceline, node.get("id"),
                    f"form `{form}` is not in {root / 'forms'} (expected {form}.yaml)"))
            for name in _EXPRESSION_ATTRIBUTES:
                value = attributes.get(name)
                if isinstance(value, str) and value.strip().startswith("${"):
                    message = check_expression(value.strip(), "condition")
                    if message:
                        problems.append(Problem(file, node.sourceline, node.get("id"),
                                                f"{name} expression `{value}`: {message}"))
            problems.extend(Problem(file, node.sourceline, node.get("id"), message)
                            for message in _timer_attribute_problems(attributes) + mode_problems(attributes))
            if APPROVAL_ATTRIBUTES & attributes.keys():  # approver rules: syntax and start-form fields
                fields = start_fields_for(node, forms, lambda start: read_liaison_attributes(start).get("form"))
                problems.extend(Problem(file, node.sourceline, node.get("id"), message, severity)
                                for severity, message in rule_problems(None, attributes, start_fields=fields))
    return problems


_DURATION_ATTRIBUTES = ("remindAfter", "escalateAfter", "timeoutAfter")


def _timer_attribute_problems(attributes: dict) -> list[str]:
    """A user task's reminder / escalation / timeout settings: ISO 8601 durations and a known action;
    a correlation key expression must be safe."""
    problems = []
    for name in _DURATION_ATTRIBUTES:
        value = attributes.get(name)
        if value is not None and _bad_duration(value):
            problems.append(f"liaison:{name} `{value}` is not an ISO 8601 duration such as PT4H or P2D")
    action = attributes.get("timeoutAction")
    if action is not None and action not in ("approve", "reject"):
        problems.append(f"liaison:timeoutAction `{action}` must be approve or reject")
    if action is not None and attributes.get("timeoutAfter") is None:
        problems.append("liaison:timeoutAction needs liaison:timeoutAfter (when to decide)")
    key = attributes.get("correlationKey")
    if key is not None:
        message = check_expression(key.strip(), "condition")
        if message:
            problems.append(f"liaison:correlationKey `{key}`: {message}")
    return problems


def _bad_duration(value: str) -> bool:
    try:
        duration(value)
    except ValueError:
        return True
    return False


def messages_problems(messages) -> list[str]:
    """package.yaml `messages`: `{name: {early: keep|refuse, keep_for: ISO duration}}`."""
    if messages is None:
        return []
    if not isinstance(messages, dict):
        return ["`messages` must map message names to {early: keep|refuse, keep_for: duration}"]
    problems = []
    for name, rule in messages.items():
        if not isinstance(rule, dict):
            problems.append(f"messages.{name}: must be a mapping with `early` and/or `keep_for`")
            continue
        unknown = sorted(set(rule) - {"early", "keep_for"})
        if unknown:
            problems.append(f"messages.{name}: unknown key(s) {', '.join(unknown)} (known: early, keep_for)")
        if rule.get("early", "keep") not in ("keep", "refuse"):
            problems.append(f"messages.{name}.early: `{rule.get('early')}` must be keep or refuse")
        if rule.get("keep_for") is not None and _bad_duration(rule["keep_for"]):
            problems.append(f"messages.{name}.keep_for: `{rule['keep_for']}` is not an ISO 8601 duration")
    return problems
