"""SpiffWorkflow parser adapter: BPMN XML (already read safely) -> process specs.

Liaison's own attributes live in the `liaison:` namespace on user tasks, start events and
service tasks; the Camunda 7 attributes (`assignee`, `candidateUsers`, `candidateGroups`,
`formKey`, `dueDate`) are read too, so Camunda Modeler diagrams keep their assignment.
Both end up in the task spec's `extensions["liaison"]` dict, which the spec serializer keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator, full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import (
    BoundaryEvent,
    EndEvent,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    StartEvent,
)
from SpiffWorkflow.spiff.parser.event_parsers import (
    SpiffBoundaryEventParser,
    SpiffEndEventParser,
    SpiffIntermediateCatchEventParser,
    SpiffIntermediateThrowEventParser,
    SpiffReceiveTaskParser,
    SpiffSendTaskParser,
    SpiffStartEventParser,
)
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import (
    CallActivityParser,
    ScriptTaskParser,
    ServiceTaskParser,
    SpiffTaskParser,
    SubWorkflowParser,
    UserTaskParser,
)
from SpiffWorkflow.spiff.specs.defaults import (
    CallActivity,
    ManualTask,
    NoneTask,
    ReceiveTask,
    ScriptTask,
    SendTask,
    ServiceTask,
    SubWorkflowTask,
    TransactionSubprocess,
    UserTask,
)

from engine.errors import Problem

LIAISON_NS = "https://liaison.dev/schema/bpmn/1.0"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"

# Camunda attributes Liaison understands, mapped to Liaison's names.
_CAMUNDA_ATTRIBUTES = {
    "assignee": "assignee",
    "candidateUsers": "candidateUsers",
    "candidateGroups": "candidateGroups",
    "formKey": "form",
    "dueDate": "dueDate",
}
_LIST_ATTRIBUTES = {"candidateUsers", "candidateGroups"}
_FORM_KEY_PREFIXES = ("camunda-forms:bpmn:", "camunda-forms:deployment:", "embedded:app:",
                      "embedded:deployment:", "app:", "deployment:")


def normalize_form_key(value: str) -> str:
    """Turn a Camunda form key (`embedded:app:forms/leave.html`) into a package form name (`leave`)."""
    for prefix in _FORM_KEY_PREFIXES:
        if value.startswith(prefix):
            value = value[len(prefix):]
    value = value.rsplit("/", 1)[-1]
    for suffix in (".html", ".form", ".yaml", ".yml", ".json"):
        if value.endswith(suffix):
            value = value[: -len(suffix)]
    return value


def read_liaison_attributes(node: etree._Element) -> dict:
    """Collect `liaison:*` and the understood `camunda:*` attributes of one BPMN element."""
    found: dict = {}
    for key, value in node.attrib.items():
        qname = etree.QName(key)
        if qname.namespace == CAMUNDA_NS and qname.localname in _CAMUNDA_ATTRIBUTES:
            found.setdefault(_CAMUNDA_ATTRIBUTES[qname.localname], value)
        elif qname.namespace == LIAISON_NS:
            found[qname.localname] = value  # Liaison's own attribute wins over Camunda's
    for name in _LIST_ATTRIBUTES & found.keys():
        value = found[name]
        if isinstance(value, str) and not value.strip().startswith("${"):
            found[name] = [part.strip() for part in value.split(",") if part.strip()]
    if "form" in found:
        found["form"] = normalize_form_key(found["form"])
    params = node.findall(f"{{{BPMN_NS}}}extensionElements/{{{LIAISON_NS}}}parameter")
    if params:
        found["parameters"] = {p.get("name"): p.get("value", "") for p in params}
    return found


class _LiaisonExtensions:
    """Mixin: add the Liaison/Camunda attributes to the spec's `extensions`."""

    def parse_extensions(self, node=None):
        extensions = super().parse_extensions(node)
        attributes = read_liaison_attributes(self.node if node is None else node)
        if attributes:
            extensions["liaison"] = attributes
        return extensions


def _liaison(parser_cls):
    return type(f"Liaison{parser_cls.__name__}", (_LiaisonExtensions, parser_cls), {})


class LiaisonServiceTaskParser(_LiaisonExtensions, ServiceTaskParser):
    """A service task names an operation of the service registry: `liaison:operation="name"`.

    Parameters are `<liaison:parameter name="x" value="python expression"/>` children of
    `extensionElements`; the result goes to `liaison:resultVariable` (default `<id>_result`).
    The `spiffworkflow:serviceTaskOperator` form is accepted too.
    """

    def create_task(self):
        attributes = read_liaison_attributes(self.node)
        operation = attributes.get("operation")
        if operation is None:
            return super().create_task()
        params = {name: {"value": expr, "type": "any"}
                  for name, expr in attributes.get("parameters", {}).items()}
        extensions = self.parse_extensions()
        return self.spec_class(
            self.spec, self.bpmn_id,
            operation_name=operation,
            operation_params=params,
            result_variable=attributes.get("resultVariable") or f"{self.bpmn_id}_result",
            prescript=extensions.get("preScript"),
            postscript=extensions.get("postScript"),
            **self.bpmn_attributes,
        )


class LiaisonParser(SpiffBpmnParser):
    """SpiffWorkflow's parser with Liaison's and Camunda's attributes read into `extensions`."""

    OVERRIDE_PARSER_CLASSES = {
        full_tag("task"): (_liaison(SpiffTaskParser), NoneTask),
        full_tag("userTask"): (_liaison(UserTaskParser), UserTask),
        full_tag("manualTask"): (_liaison(SpiffTaskParser), ManualTask),
        full_tag("scriptTask"): (_liaison(ScriptTaskParser), ScriptTask),
        full_tag("subProcess"): (_liaison(SubWorkflowParser), SubWorkflowTask),
        full_tag("transaction"): (_liaison(SubWorkflowParser), TransactionSubprocess),
        full_tag("callActivity"): (_liaison(CallActivityParser), CallActivity),
        full_tag("serviceTask"): (LiaisonServiceTaskParser, ServiceTask),
        full_tag("startEvent"): (_liaison(SpiffStartEventParser), StartEvent),
        full_tag("endEvent"): (_liaison(SpiffEndEventParser), EndEvent),
        full_tag("boundaryEvent"): (_liaison(SpiffBoundaryEventParser), BoundaryEvent),
        full_tag("intermediateCatchEvent"): (_liaison(SpiffIntermediateCatchEventParser), IntermediateCatchEvent),
        full_tag("intermediateThrowEvent"): (_liaison(SpiffIntermediateThrowEventParser), IntermediateThrowEvent),
        full_tag("sendTask"): (_liaison(SpiffSendTaskParser), SendTask),
        full_tag("receiveTask"): (_liaison(SpiffReceiveTaskParser), ReceiveTask),
    }


_VALIDATOR: BpmnValidator | None = None


def schema_problems(root: etree._Element, path: str) -> list[Problem]:
    """Check a document against the BPMN 2.0 XML schema (SpiffWorkflow's copy); every error, with its line.

    SpiffWorkflow itself skips this unless given a validator, and then reports only the last error.
    """
    global _VALIDATOR
    if _VALIDATOR is None:
        _VALIDATOR = BpmnValidator()  # loads the XSD shipped inside SpiffWorkflow, never the network
    _VALIDATOR.preprocess(root)
    schema = _VALIDATOR.validator
    if schema.validate(root):
        return []
    return [Problem(path, error.line, _element_id_at(root, error.line),
                    f"not valid BPMN 2.0: {_one_line(error.message)}") for error in schema.error_log]


def _element_id_at(root: etree._Element, line: int) -> str | None:
    for node in root.iter():
        if isinstance(node.tag, str) and node.sourceline == line and node.get("id"):
            return node.get("id")
    return None


@dataclass
class ParsedProcesses:
    """The specs of every process found in a set of BPMN files."""

    specs: dict  # process id -> BpmnProcessSpec, top-level only, each with its dependencies resolved
    subprocess_specs: dict  # process id -> {called process id -> spec} for every process in `specs`
    files: dict  # process id -> file name that defines it


def parse_documents(documents: dict[str, etree._Element]) -> tuple[ParsedProcesses | None, list[Problem]]:
    """Parse already-checked BPMN documents (file name -> root element) into specs.

    Returns problems instead of raising: a SpiffWorkflow validation error names the element and line.
    """
    parser = LiaisonParser()
    files: dict[str, str] = {}
    problems: list[Problem] = []
    for name, root in documents.items():
        _mark_executable(root)
        try:
            parser.add_bpmn_xml(etree.ElementTree(root), filename=name)
        except ValidationException as exc:
            problems.append(_problem_from_validation(exc, name))
            continue
        except Exception as exc:  # noqa: BLE001 - SpiffWorkflow raises plain errors for odd files
            problems.append(Problem(name, None, None, f"cannot read process: {exc}"))
            continue
        for process_id in _process_ids(root):
            if process_id in files:
                problems.append(Problem(name, None, process_id,
                                        f"process id `{process_id}` is also defined in {files[process_id]}"))
            files[process_id] = name
    if problems:
        return None, problems
    specs, subprocess_specs = {}, {}
    for process_id, name in files.items():
        try:
            specs[process_id] = parser.get_spec(process_id)
            subprocess_specs[process_id] = parser.get_subprocess_specs(process_id)
        except ValidationException as exc:
            problems.append(_problem_from_validation(exc, name))
        except Exception as exc:  # noqa: BLE001
            problems.append(Problem(name, None, process_id, _one_line(str(exc))))
    if problems:
        return None, _dedupe(problems)
    return ParsedProcesses(specs, subprocess_specs, files), []


def _mark_executable(root: etree._Element) -> None:
    """bpmn-js writes `isExecutable="false"` by default; a process with a start event is run anyway.

    Pools that only draw an outside party (no start event) stay non-executable and are ignored.
    """
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        if process.get("isExecutable") == "false" and process.find(f"{{{BPMN_NS}}}startEvent") is not None:
            process.set("isExecutable", "true")


def _process_ids(root: etree._Element) -> list[str]:
    return [p.get("id") for p in root.iter(full_tag("process"))
            if p.get("id") and p.get("isExecutable") != "false"]


def _problem_from_validation(exc: ValidationException, default_file: str) -> Problem:
    message = _one_line(getattr(exc, "error", None) or str(exc))
    if "unknown" in message.lower() and "spec" in message.lower() or "could not be found" in message:
        message = f"calls a process that is not in this package: {message}"
    return Problem(getattr(exc, "file_name", None) or default_file, getattr(exc, "line_number", None),
                   getattr(exc, "id", None), message)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, result = set(), []
    for problem in problems:
        if str(problem) not in seen:
            seen.add(str(problem))
            result.append(problem)
    return result
