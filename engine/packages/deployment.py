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
from engine.bpmn.dmn import prepare_dmn
from engine.bpmn.expressions import check_expression
from engine.bpmn.normalize import normalize
from engine.bpmn.parser import BPMN_NS, parse_documents, read_liaison_attributes, schema_problems
from engine.bpmn.serialization import spec_to_json
from engine.bpmn.specs import MAP_RESULTS
from engine.bpmn.workflow import start_form, timer_literal_problem
from engine.bpmn.xmlsafe import parse_xml_bytes, read_xml_file
from engine.data.models import ProcessDefinition, ProcessVersion
from engine.data.retry import with_retries
from engine.errors import (
    InvalidPackageError,
    NotFoundError,
    Problem,
    TaskConflictError,
    UnreadableFileError,
    msg,
)
from engine.notify.render import notification_problems
from engine.packages.attribute_checks import check_liaison_attributes, check_service_tasks, messages_problems
from engine.packages.element_names import element_names_problems
from engine.packages.limits import MAX_FILES, MAX_PACKAGE_BYTES, MAX_YAML_BYTES, file_too_large, megabytes
from engine.packages.portal_checks import portal_problems
from engine.packages.trigger_checks import webhook_endpoint_warnings
from engine.people.starting import starters_problems
from engine.runtime.assignment_checks import admins_problems, rule_problems
from engine.runtime.cc_events import cc_org_warnings
from engine.runtime.submissions import form_problems
from engine.work.summary import summary_problems
from forms.schema import NoAliasLoader

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
    notes: list = field(default_factory=list)  # warnings and infos (`Problem`s) of a package that loads
    dmn: dict[str, str] = field(default_factory=dict)  # file name -> DMN XML text (decision tables)

    @property
    def checksum(self) -> str:
        """A digest of everything that defines behaviour; the same content never deploys twice."""
        parts = [self.meta, self.bpmn, self.forms, self.notifications, self.tests] + ([self.dmn] if self.dmn else [])
        content = json.dumps(parts, sort_keys=True, ensure_ascii=False)
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
    problems = normalize(tree.getroot(), path)
    problems += check_bpmn(tree, path, check_expression) + check_service_tasks(path, tree.getroot())
    problems += _timer_literal_problems(path, tree.getroot())
    if any(p.severity == "error" for p in problems):
        return problems
    problems += schema_problems(tree.getroot(), path)
    if any(p.severity == "error" for p in problems):
        return problems
    _, parse_problems = parse_documents({path: tree.getroot()})
    return problems + parse_problems


def load_package(path: str | Path) -> Package:
    """Read and validate a package folder, or a lone `.bpmn` file (a package of one process);
    raise InvalidPackageError listing every problem."""
    root = Path(path)
    problems: list[Problem] = []
    if root.is_file() and root.suffix.lower() == ".bpmn":
        meta, bpmn_files = _lone_bpmn_meta(root, problems), [root]
        root = root.parent
    elif root.is_dir():
        too_big = _folder_size_problems(root)
        if too_big:
            raise InvalidPackageError(too_big)
        meta = _read_yaml(root / "package.yaml", problems, required=True) or {}
        bpmn_files = sorted(root.glob("*.bpmn"))
    else:
        raise InvalidPackageError([Problem(str(root), None, None, "not a package folder or .bpmn file")])
    key = str(meta.get("id") or "").strip()
    problems.extend(_meta_problems(meta, key, root / "package.yaml"))
    documents, bpmn_text = _read_bpmn_files(bpmn_files, problems)
    decisions, dmn_text = _read_dmn_files(sorted(root.glob("*.dmn")), problems)
    problems.extend(_decision_ref_problems(documents, decisions))
    problems.extend(element_names_problems(meta.get("names"), documents, root / "package.yaml"))
    if not documents and not any(p.path.endswith(".bpmn") for p in problems):
        problems.append(Problem(str(root), None, None, "the package has no .bpmn file"))
    forms = _read_folder(root / "forms", problems)
    problems.extend(_formjs_forms(documents, forms, root))
    notifications = _read_folder(root / "notifications", problems)
    tests = _read_folder(root / "tests", problems)
    problems.extend(check_liaison_attributes(documents, forms, root))
    problems.extend(portal_problems(meta, documents, forms, root))  # package.yaml portal, liaison:external
    problems.extend(form_problems(forms, str(root / "forms")))
    problems.extend(Problem(str(root / "notifications"), None, None, message)
                    for message in notification_problems(notifications))
    if _has_errors(problems):
        raise InvalidPackageError(problems)
    parsed, parse_problems = parse_documents(documents, decisions)
    if parse_problems:
        raise InvalidPackageError(problems + parse_problems)
    main = _main_process(meta, key, parsed, problems, root)
    summary = _summary_problems(meta, parsed.specs[main], forms, root / "package.yaml")
    if summary:
        raise InvalidPackageError(problems + summary)
    package = Package(key, meta, main, bpmn_text, forms, notifications, tests, notes=problems, dmn=dmn_text)
    package.spec_json = spec_to_json(parsed.specs[main], parsed.subprocess_specs[main])
    return package


def _folder_size_problems(root: Path) -> list[Problem]:
    """A package folder's own caps (the ones a zip has too): at most MAX_FILES files of
    MAX_PACKAGE_BYTES together, each file within the cap of its kind (see `limits`)."""
    files = []
    for folder in (root, root / "forms", root / "notifications", root / "tests"):
        if folder.is_dir():
            files += [file for file in folder.iterdir() if file.is_file()]
            if len(files) > MAX_FILES:
                return [Problem(str(root), None, None, f"the package holds more than {MAX_FILES} files")]
    sizes = {file: file.stat().st_size for file in files}
    total = sum(sizes.values())
    if total > MAX_PACKAGE_BYTES:
        return [Problem(str(root), None, None,
                        f"the package's files are {total:,} bytes; the limit is {megabytes(MAX_PACKAGE_BYTES)}")]
    return [Problem(str(file), None, None, message) for file, size in sorted(sizes.items())
            if file.suffix.lower() in _CAPPED_SUFFIXES and (message := file_too_large(file, size))]


_CAPPED_SUFFIXES = {".bpmn", ".dmn", ".yaml", ".yml", ".json", ".form"}


def _meta_problems(meta: dict, key: str, where: Path) -> list[Problem]:
    """package.yaml's own checks: id, starters, messages, auto_approve, admins."""
    messages = [] if key else ["`id` is required"]
    messages += starters_problems(meta.get("starters")) + messages_problems(meta.get("messages"))
    if "auto_approve" in meta and not isinstance(meta["auto_approve"], bool):
        messages.append("`auto_approve` must be true or false (approve a node automatically when the "
                        "person who just approved is its approver again)")
    messages += admins_problems(meta.get("admins"))
    return [Problem(str(where), None, None, message) for message in messages]


def _read_bpmn_files(files: list[Path], problems: list[Problem]) -> tuple[dict, dict]:
    """Each BPMN file read safely, normalized (implicit splits, starts and ends, links, unquoted
    timers) and checked: `({path: root element}, {file name: XML as drawn})`."""
    documents, text = {}, {}
    for file in files:
        try:
            tree = read_xml_file(str(file))
        except UnreadableFileError as exc:
            problems.append(Problem(str(file), None, None, exc.reason))
            continue
        text[file.name] = etree.tostring(tree, encoding="unicode")  # what the modeller drew
        found = normalize(tree.getroot(), str(file))  # what the engine runs
        found += check_bpmn(tree, str(file), check_expression) + check_service_tasks(str(file), tree.getroot())
        found += _timer_literal_problems(str(file), tree.getroot())
        if not _has_errors(found):
            found += schema_problems(tree.getroot(), str(file))
        problems.extend(found)
        documents[str(file)] = tree.getroot()
    return documents, text


def _read_dmn_files(files: list[Path], problems: list[Problem]) -> tuple[dict, dict]:
    """DMN decision tables with their FEEL cells translated to sandboxed Python:
    `({decision id: one-decision document}, {file name: XML as written})`."""
    decisions: dict[str, etree._Element] = {}
    text: dict[str, str] = {}
    for file in files:
        try:
            tree = read_xml_file(str(file))
        except UnreadableFileError as exc:
            problems.append(Problem(str(file), None, None, exc.reason))
            continue
        text[file.name] = etree.tostring(tree, encoding="unicode")
        singles, dmn_problems = prepare_dmn(tree.getroot(), str(file))
        problems.extend(dmn_problems)
        for single in singles:
            decision_id = single.find("{*}decision").get("id")
            if decision_id in decisions:
                problems.append(Problem(str(file), None, decision_id, f"decision `{decision_id}` is defined twice"))
            decisions[decision_id] = single
    return decisions, text


def _summary_problems(meta: dict, spec, forms: dict, where: Path) -> list[Problem]:
    """package.yaml `summary`: fields of the main process's start form (engine.work.summary)."""
    form = forms.get(start_form(spec) or "")
    fields = [f for f in form.get("fields") or () if isinstance(f, dict)] if isinstance(form, dict) else None
    return [Problem(str(where), None, None, message) for message in summary_problems(meta.get("summary"), fields)]


def _main_process(meta: dict, key: str, parsed, problems: list[Problem], root: Path) -> str:
    main = str(meta.get("process") or key)
    if main in parsed.specs:
        return main
    if len(parsed.specs) == 1 and not meta.get("process"):
        return next(iter(parsed.specs))
    raise InvalidPackageError(problems + [Problem(
        str(root / "package.yaml"), None, main,
        msg("main process `%(process)s` is not defined (found: %(found)s)", process=main,
            found=", ".join(sorted(parsed.specs))))])


def _timer_literal_problems(file: str, doc) -> list[Problem]:
    """Quoted timer texts SpiffWorkflow cannot parse (`"PT5X"`) are refused at deploy, not at run time."""
    problems = []
    for kind in ("timeDuration", "timeDate", "timeCycle"):
        for node in doc.iter(f"{{{BPMN_NS}}}{kind}"):
            message = timer_literal_problem(kind, node.text or "")
            if message:
                event = node.getparent().getparent()
                problems.append(Problem(file, node.sourceline, event.get("id"), message))
    return problems


def _formjs_forms(documents: dict, forms: dict, root: Path) -> list[Problem]:
    """Forms the BPMN names (`camunda:formKey="camunda-forms:...:x.form"`, `camunda:formRef="id"`) that are
    not in forms/ but are form-js files (`*.form`, beside the BPMN or in forms/): converted into `forms`
    with `forms.formjs.import_formjs`, keys kept; each component it could not map exactly is a warning."""
    from forms.formjs import import_formjs
    wanted = {read_liaison_attributes(node).get("form") for doc in documents.values() for node in doc.iter()
              if isinstance(node.tag, str)} - set(forms) - {None}
    if not wanted:
        return []
    found: dict[str, tuple[Path, dict]] = {}
    for file in sorted([*root.glob("*.form"), *(root / "forms").glob("*.form")]):
        try:
            if file.stat().st_size > MAX_YAML_BYTES:
                continue  # a lone .bpmn's folder is not size-checked as a whole: skip, reported if named
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            continue  # reported below only if a task names it
        for name in (file.stem, data.get("id") if isinstance(data, dict) else None):
            if name in wanted and name not in found:
                found[name] = (file, data)
    problems = []
    for name, (file, data) in sorted(found.items()):
        try:
            result = import_formjs(data, title=name)
        except ValueError as exc:
            problems.append(Problem(str(file), None, name, f"not a form-js form: {exc}"))
            continue
        forms[name] = result.schema
        problems.append(Problem(str(file), None, name, f"form-js form converted into form `{name}`", "info"))
        problems.extend(Problem(str(file), None, name, message, "warning") for message in result.problems)
    return problems


def _decision_ref_problems(documents: dict, decisions: dict) -> list[Problem]:
    """Every business rule task names a decision (`camunda:decisionRef`) of the package's .dmn files."""
    problems = []
    for file, doc in documents.items():
        for node in doc.iter(f"{{{BPMN_NS}}}businessRuleTask"):
            ref = read_liaison_attributes(node).get("decisionRef")
            if not ref:
                problems.append(Problem(file, node.sourceline, node.get("id"),
                                        msg("business rule task needs camunda:decisionRef naming a decision")))
            elif ref not in decisions:
                problems.append(Problem(file, node.sourceline, node.get("id"),
                                        msg("decision `%(ref)s` is not in a .dmn file of this package "
                                            "(found: %(found)s)", ref=ref,
                                            found=", ".join(sorted(decisions)) or msg("none"))))
            how = read_liaison_attributes(node).get("mapDecisionResult")
            if how and how not in MAP_RESULTS:
                problems.append(Problem(file, node.sourceline, node.get("id"),
                                        msg("camunda:mapDecisionResult `%(value)s` is not one of %(known)s",
                                            value=how, known=", ".join(MAP_RESULTS))))
    return problems


def _lone_bpmn_meta(file: Path, problems: list[Problem]) -> dict:
    """package.yaml of a lone .bpmn: key = the id of its one runnable process, name = its name."""
    try:
        root = read_xml_file(str(file)).getroot()
    except UnreadableFileError:
        return {}  # reported again when the file is read as the package's BPMN
    runnable = [p for p in root.iter(f"{{{BPMN_NS}}}process")
                if p.get("id") and p.find(f"{{{BPMN_NS}}}startEvent") is not None]
    called = {c.get("calledElement") for c in root.iter(f"{{{BPMN_NS}}}callActivity")}
    main = [p for p in runnable if p.get("id") not in called] or runnable
    if len(main) != 1:
        found = ", ".join(p.get("id") for p in main) or "none"
        problems.append(Problem(str(file), root.sourceline, None,
                                f"a lone .bpmn file deploys as a package of one process, but it has {len(main)} "
                                f"processes with a start event that no call activity calls ({found}); put it in a "
                                "folder with a package.yaml naming `process`"))
        return {}
    process = main[0]
    name = (process.get("name") or process.get("id")).strip()
    return {"id": process.get("id"), "name": {"en": name, "zh": name}, "process": process.get("id")}


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
    warnings = org_chart_warnings(session, package) + webhook_endpoint_warnings(session, package)
    if latest is not None and latest.checksum == checksum:
        return DeployResult(package.key, latest.number, latest.id, created=False, warnings=warnings)
    version = ProcessVersion(
        definition_id=definition.id,
        number=(latest.number + 1) if latest else 1,
        process_id=package.main_process,
        checksum=checksum,
        package={"meta": package.meta, "forms": package.forms, "notifications": package.notifications,
                 "tests": package.tests, **({"dmn": package.dmn} if package.dmn else {})},
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
        for node in root.iter(f"{{{BPMN_NS}}}intermediateThrowEvent"):
            warnings += [f"{name}: {node.get('id')}: {message}"
                         for message in cc_org_warnings(conn, read_liaison_attributes(node))]
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
    too_large = file_too_large(path, path.stat().st_size)
    if too_large:
        problems.append(Problem(str(path), None, None, too_large))
        return None
    try:
        text = path.read_text(encoding="utf-8")
        value = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=NoAliasLoader)  # noqa: S506
    except RecursionError:
        problems.append(Problem(str(path), None, None, "cannot read: nested too deeply"))
        return None
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
