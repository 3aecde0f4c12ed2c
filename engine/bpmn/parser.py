"""SpiffWorkflow parser adapter: BPMN XML (already read safely) -> process specs.

Liaison's own attributes live in the `liaison:` namespace on user tasks, start events and
service tasks; the Camunda 7 attributes (`assignee`, `candidateUsers`, `candidateGroups`,
`formKey`, `dueDate`) are read too, so Camunda Modeler diagrams keep their assignment.
Both end up in the task spec's `extensions["liaison"]` dict, which the spec serializer keeps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator, full_tag
from SpiffWorkflow.bpmn.parser.event_parsers import (
    CANCEL_EVENT_XPATH,
    ERROR_EVENT_XPATH,
    ESCALATION_EVENT_XPATH,
    MESSAGE_EVENT_XPATH,
    SIGNAL_EVENT_XPATH,
    TERMINATION_EVENT_XPATH,
)
from SpiffWorkflow.bpmn.parser.task_parsers import ConditionalGatewayParser, GatewayParser
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference
from SpiffWorkflow.bpmn.specs.defaults import (
    BoundaryEvent,
    EndEvent,
    ExclusiveGateway,
    InclusiveGateway,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    ParallelGateway,
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
    BusinessRuleTaskParser,
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

from engine.bpmn.specs import (
    CollectionExpression,
    ExternalTask,
    LiaisonBusinessRuleTask,
    LiaisonParallelMultiInstanceTask,
    LiaisonSequentialMultiInstanceTask,
)
from engine.errors import Problem, msg

LIAISON_NS = "https://liaison.dev/schema/bpmn/1.0"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"

# Camunda attributes Liaison understands, mapped to Liaison's names.
_CAMUNDA_ATTRIBUTES = {
    "assignee": "assignee",
    "candidateUsers": "candidateUsers",
    "candidateGroups": "candidateGroups",
    "formKey": "form",
    "formRef": "form",  # Camunda 7.17+: the `id` of a form-js form of the deployment
    "dueDate": "dueDate",
    "type": "camundaType",  # service task: `external`
    "topic": "topic",
    "decisionRef": "decisionRef",
    "resultVariable": "resultVariable",
    "mapDecisionResult": "mapDecisionResult",
}
_LIST_ATTRIBUTES = {"candidateUsers", "candidateGroups"}
_FORM_KEY_PREFIXES = ("camunda-forms:bpmn:", "camunda-forms:deployment:", "camunda-forms:app:", "embedded:app:",
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
    if "external" not in found and node.tag == f"{{{BPMN_NS}}}userTask":
        inherited = lane_attribute(node, "external")  # a user task in a supplier / customer / visitor lane
        if inherited:
            found["external"] = inherited
    params = node.findall(f"{{{BPMN_NS}}}extensionElements/{{{LIAISON_NS}}}parameter")
    if params:
        found["parameters"] = {p.get("name"): p.get("value", "") for p in params}
    return found


def lane_attribute(node: etree._Element, name: str) -> str | None:
    """The `liaison:NAME` of the innermost lane whose `flowNodeRef` lists `node` (None: no such lane)."""
    node_id, process = node.get("id"), node.getparent()
    while process is not None and process.tag != f"{{{BPMN_NS}}}process":
        process = process.getparent()
    if not node_id or process is None:
        return None
    found = None
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):  # document order: outer lanes before inner ones
        refs = lane.findall(f"{{{BPMN_NS}}}flowNodeRef")
        value = lane.get(f"{{{LIAISON_NS}}}{name}")
        if value and any((ref.text or "").strip() == node_id for ref in refs):
            found = value
    return found


class _LiaisonExtensions:
    """Mixin: add the Liaison/Camunda attributes to the spec's `extensions`; Camunda multi-instance."""

    PARALLEL_MI_CLASS = LiaisonParallelMultiInstanceTask
    SEQUENTIAL_MI_CLASS = LiaisonSequentialMultiInstanceTask

    def parse_extensions(self, node=None):
        extensions = super().parse_extensions(node)
        attributes = read_liaison_attributes(self.node if node is None else node)
        if attributes:
            extensions["liaison"] = attributes
        return extensions

    def _add_multiinstance_task(self, loop_characteristics):
        """`camunda:collection` / `camunda:elementVariable` as the BPMN input collection and item."""
        collection = loop_characteristics.get(f"{{{CAMUNDA_NS}}}collection")
        if collection is None:
            return super()._add_multiinstance_task(loop_characteristics)
        element = loop_characteristics.get(f"{{{CAMUNDA_NS}}}elementVariable")
        text = collection.strip()
        name = text[2:-1].strip() if text.startswith("${") and text.endswith("}") else text
        data_input = TaskDataReference(name) if name.isidentifier() else CollectionExpression(
            f"{self.bpmn_id}.collection", text)
        condition = self.xpath("./bpmn:multiInstanceLoopCharacteristics/bpmn:completionCondition")
        original = self.spec.task_specs.pop(self.task.name)
        cls = self.SEQUENTIAL_MI_CLASS if loop_characteristics.get("isSequential") == "true" else self.PARALLEL_MI_CLASS
        self.task = cls(self.spec, original.name, task_spec="", data_input=data_input,
                        input_item=TaskDataReference(element) if element else None,
                        condition=condition[0].text if condition else None, description="Multi-instance")
        self._copy_task_attrs(original, loop_characteristics)


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
        if attributes.get("camundaType") == "external":
            return ExternalTask(self.spec, self.bpmn_id, **self.bpmn_attributes)
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


class LiaisonBusinessRuleTaskParser(_LiaisonExtensions, BusinessRuleTaskParser):
    """`camunda:decisionRef` (or SpiffWorkflow's `calledDecisionId`) names a decision of the package."""

    def create_task(self):
        return LiaisonBusinessRuleTask(self.spec, self.bpmn_id,
                                       dmnEngine=self.process_parser.parser.get_engine(
                                           self.get_decision_ref(self.node), self.node),
                                       **self.bpmn_attributes)

    @staticmethod
    def get_decision_ref(node):
        return node.get(f"{{{CAMUNDA_NS}}}decisionRef") or BusinessRuleTaskParser.get_decision_ref(node)


class LiaisonEndEventParser(_liaison(SpiffEndEventParser)):
    """End events throw signals too (SpiffWorkflow 3.2's end event parser drops signal definitions)."""

    def create_task(self):
        definition = self.get_event_definition([MESSAGE_EVENT_XPATH, SIGNAL_EVENT_XPATH, CANCEL_EVENT_XPATH,
                                                ERROR_EVENT_XPATH, ESCALATION_EVENT_XPATH, TERMINATION_EVENT_XPATH])
        task = self._create_task(definition)
        task.connect(self.spec.end)
        return task


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
        full_tag("endEvent"): (LiaisonEndEventParser, EndEvent),
        full_tag("businessRuleTask"): (LiaisonBusinessRuleTaskParser, LiaisonBusinessRuleTask),
        full_tag("boundaryEvent"): (_liaison(SpiffBoundaryEventParser), BoundaryEvent),
        full_tag("intermediateCatchEvent"): (_liaison(SpiffIntermediateCatchEventParser), IntermediateCatchEvent),
        full_tag("intermediateThrowEvent"): (_liaison(SpiffIntermediateThrowEventParser), IntermediateThrowEvent),
        full_tag("sendTask"): (_liaison(SpiffSendTaskParser), SendTask),
        full_tag("receiveTask"): (_liaison(SpiffReceiveTaskParser), ReceiveTask),
        # gateways too, so a gateway the normalizer inserted carries liaison:synthetic
        full_tag("exclusiveGateway"): (_liaison(ConditionalGatewayParser), ExclusiveGateway),
        full_tag("inclusiveGateway"): (_liaison(ConditionalGatewayParser), InclusiveGateway),
        full_tag("parallelGateway"): (_liaison(GatewayParser), ParallelGateway),
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
                    msg("not valid BPMN 2.0: %(detail)s", detail=_one_line(error.message))) for error in schema.error_log]


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


def parse_documents(documents: dict[str, etree._Element], decisions: dict[str, etree._Element] | None = None,
                    ) -> tuple[ParsedProcesses | None, list[Problem]]:
    """Parse already-checked BPMN documents (file name -> root element) into specs; `decisions` are the
    package's DMN decisions (id -> translated one-decision document, see `dmn.prepare_dmn`).

    Returns problems instead of raising: a SpiffWorkflow validation error names the element and line.
    """
    parser = LiaisonParser()
    for decision_id, root in (decisions or {}).items():
        parser.add_dmn_xml(root, filename=decision_id)
    files: dict[str, str] = {}
    problems: list[Problem] = []
    for name, root in documents.items():
        _mark_executable(root)
        try:
            parser.add_bpmn_xml(etree.ElementTree(root), filename=name)
        except ValidationException as exc:
            problems.append(_problem_from_validation(exc, name, root))
            continue
        except Exception as exc:  # noqa: BLE001 - SpiffWorkflow raises plain errors for odd files
            problems.append(Problem(name, None, None, msg("cannot read process: %(detail)s", detail=str(exc))))
            continue
        for process_id in _process_ids(root):
            if process_id in files:
                problems.append(Problem(name, None, process_id,
                                        msg("process id `%(id)s` is also defined in %(file)s", id=process_id,
                                            file=files[process_id])))
            files[process_id] = name
    if problems:
        return None, problems
    specs, subprocess_specs = {}, {}
    for process_id, name in files.items():
        try:
            specs[process_id] = parser.get_spec(process_id)
            subprocess_specs[process_id] = parser.get_subprocess_specs(process_id)
        except ValidationException as exc:
            problems.append(_problem_from_validation(exc, name, documents.get(name)))
        except Exception as exc:  # noqa: BLE001
            problems.append(Problem(name, _line_of(documents.get(name), process_id), process_id, _one_line(str(exc))))
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


def _problem_from_validation(exc: ValidationException, default_file: str, root: etree._Element | None = None,
                             ) -> Problem:
    """A SpiffWorkflow validation error as `PATH:LINE: ID: message` (SpiffWorkflow gives no line for lxml
    nodes, and appends ". " + notes to every message)."""
    message = _one_line(exc.args[0] if exc.args else str(exc))
    message = re.sub(r"<Element \{[^}]*\}(\w+) at 0x[0-9a-f]+>", r"<\1>", message)
    element = getattr(exc, "id", None) or None
    missing = re.match(r"The process '([^']*)' was not found", message)
    if missing:
        message = msg("calls process `%(process)s`, which is not in this package", process=missing.group(1))
        element = element or _caller_of(root, missing.group(1))
    line = getattr(exc, "line_number", None)
    if not isinstance(line, int):
        line = _line_of(root, element)
    return Problem(getattr(exc, "file_name", None) or default_file, line, element, message)


def _caller_of(root, process_id: str) -> str | None:
    for node in root.iter(f"{{{BPMN_NS}}}callActivity") if root is not None else ():
        if node.get("calledElement") == process_id:
            return node.get("id")
    return None


def _line_of(root, element_id: str | None) -> int | None:
    if root is None or not element_id:
        return None
    found = root.xpath("//*[@id=$id]", id=element_id)
    return found[0].sourceline if found else None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, result = set(), []
    for problem in problems:
        if str(problem) not in seen:
            seen.add(str(problem))
            result.append(problem)
    return result
