"""Static checks of one parsed BPMN 2.0 document, run before SpiffWorkflow sees it.

Every finding is a `Problem` with the element id and line, so a modeller can fix the drawing.
The lists of supported elements follow what SpiffWorkflow 3.2's parsers actually run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from lxml import etree

from engine.bpmn import juel
from engine.errors import Problem, msg

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"

ExpressionChecker = Callable[[str, str], str | None]


def _names(text: str) -> frozenset[str]:
    """Set of the blank-separated element names in `text`."""
    return frozenset(text.split())


FLOW_NODES = _names("""
    startEvent endEvent intermediateCatchEvent intermediateThrowEvent boundaryEvent task userTask manualTask
    scriptTask serviceTask sendTask receiveTask exclusiveGateway parallelGateway inclusiveGateway
    eventBasedGateway subProcess transaction adHocSubProcess callActivity businessRuleTask""")
CONTAINERS = frozenset({"process", "subProcess", "transaction", "adHocSubProcess"})
SUPPORTED = FLOW_NODES | _names("""
    definitions process sequenceFlow conditionExpression incoming outgoing documentation extensionElements
    script expression formalExpression dataObject dataObjectReference dataStore dataStoreReference dataState
    itemDefinition ioSpecification dataInput dataOutput inputSet outputSet dataInputRefs dataOutputRefs
    optionalInputRefs optionalOutputRefs whileExecutingInputRefs whileExecutingOutputRefs inputSetRefs
    outputSetRefs dataInputAssociation dataOutputAssociation sourceRef targetRef laneSet lane childLaneSet
    flowNodeRef textAnnotation text association group category categoryValue standardLoopCharacteristics
    loopCondition multiInstanceLoopCharacteristics loopCardinality loopDataInputRef loopDataOutputRef
    inputDataItem outputDataItem completionCondition collaboration participant participantMultiplicity
    messageFlow message signal error escalation interface operation inMessageRef outMessageRef errorRef
    operationRef correlationProperty correlationPropertyRetrievalExpression messagePath correlationKey
    correlationPropertyRef messageEventDefinition signalEventDefinition timerEventDefinition timeDate
    timeDuration timeCycle errorEventDefinition escalationEventDefinition terminateEventDefinition
    cancelEventDefinition conditionalEventDefinition condition linkEventDefinition""")
# Valid BPMN the engine does not read: reported as a warning so nobody relies on it.
IGNORED = _names("""
    humanPerformer potentialOwner performer resourceRole resourceRef resource resourceParameter
    resourceParameterBinding resourceAssignmentExpression rendering auditing monitoring import assignment
    transformation from to property partnerEntity partnerRole correlationSubscription
    correlationPropertyBinding dataPath endPoint endPointRef interfaceRef ioBinding supportedInterfaceRef
    supports extension relationship source target messageFlowAssociation participantAssociation
    innerParticipantRef outerParticipantRef""")
_CHOREO = msg("choreographies are not supported by the engine")
_CONVERSATION = msg("conversations are not supported by the engine: draw message flows instead")
_GLOBAL_TASK = msg("global tasks are not supported by the engine: use a call activity to a process")
REFUSED: dict[str, str] = {
    "complexGateway": msg("complexGateway is not supported by the engine: use an inclusive or exclusive gateway"),
    "compensateEventDefinition": msg("compensation events are not supported by the engine"),
    "eventDefinitionRef": msg("shared event definitions (eventDefinitionRef) are not supported by the engine"),
    "implicitThrowEvent": msg("implicitThrowEvent is not supported by the engine"),
    "choreography": _CHOREO, "choreographyTask": _CHOREO, "subChoreography": _CHOREO,
    "callChoreography": _CHOREO, "globalChoreographyTask": _CHOREO,
    "conversation": _CONVERSATION, "subConversation": _CONVERSATION, "callConversation": _CONVERSATION,
    "globalConversation": _CONVERSATION, "conversationLink": _CONVERSATION,
    "conversationAssociation": _CONVERSATION,
    "globalTask": _GLOBAL_TASK, "globalUserTask": _GLOBAL_TASK, "globalManualTask": _GLOBAL_TASK,
    "globalScriptTask": _GLOBAL_TASK, "globalBusinessRuleTask": _GLOBAL_TASK,
}
# Flow nodes that are refused but still valid flow targets (so their flows are not reported twice).
REFUSED_FLOW_NODES = frozenset({"complexGateway", "choreographyTask",
                                "subChoreography", "callChoreography", "implicitThrowEvent"})
SPLITTERS = frozenset({"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway",
                       "startEvent"})
CONDITIONAL_GATEWAYS = frozenset({"exclusiveGateway", "inclusiveGateway"})
NO_INCOMING_OK = frozenset({"startEvent", "boundaryEvent"})
EVENT_DEFINITIONS = {
    "messageEventDefinition": "message", "signalEventDefinition": "signal", "timerEventDefinition": "timer",
    "errorEventDefinition": "error", "escalationEventDefinition": "escalation",
    "terminateEventDefinition": "terminate", "cancelEventDefinition": "cancel",
    "conditionalEventDefinition": "conditional",
}
# Triggers SpiffWorkflow 3.2's event parsers read for each kind of event (others are silently dropped).
ALLOWED_TRIGGERS = {
    "startEvent": frozenset({"message", "signal", "timer", "conditional"}),
    "endEvent": frozenset({"message", "signal", "cancel", "error", "escalation", "terminate"}),
    "intermediateCatchEvent": frozenset({"message", "signal", "timer", "conditional"}),
    "intermediateThrowEvent": frozenset({"message", "signal", "escalation"}),
    "boundaryEvent": frozenset({"cancel", "error", "escalation", "message", "signal", "timer", "conditional"}),
}
# The events and triggers as a message names them (plural events: "timer end events are not supported").
EVENT_LABELS = {"startEvent": msg("start events"), "endEvent": msg("end events"),
                "boundaryEvent": msg("boundary events"), "intermediateCatchEvent": msg("intermediate catch events"),
                "intermediateThrowEvent": msg("intermediate throw events")}
TRIGGER_WORDS = {"message": msg("message"), "signal": msg("signal"), "timer": msg("timer"), "error": msg("error"),
                 "escalation": msg("escalation"), "terminate": msg("terminate"), "cancel": msg("cancel"),
                 "conditional": msg("conditional")}
# "... has no messageRef and no name": one sentence per trigger that waits for a name.
NAMELESS = {
    "message": msg("message event has no messageRef and no name: it would wait for a nameless message"),
    "signal": msg("signal event has no signalRef and no name: it would wait for a nameless signal"),
}
REF_TARGETS = {"messageRef": "message", "signalRef": "signal", "errorRef": "error",
               "escalationRef": "escalation"}
EXPRESSION_KINDS = {
    "conditionExpression": "condition", "loopCondition": "condition", "condition": "condition",
    "script": "script", "loopCardinality": "cardinality", "completionCondition": "completion",
    "timeDuration": "timer", "timeDate": "timer", "timeCycle": "timer",
}
PYTHON_LANGUAGES = frozenset({"python", "python3", "text/x-python", "application/x-python"})
_ID_NAMESPACES = frozenset({BPMN_NS, BPMNDI_NS, DI_NS, DC_NS})


def _split(tag: object) -> tuple[str | None, str]:
    """Split '{ns}local' into (ns, local); comments and PIs give (None, '')."""
    if not isinstance(tag, str):
        return None, ""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return None, tag


def _local(elem: etree._Element | None) -> str:
    """Local name of a BPMN element, '' for anything else (or None)."""
    if elem is None:
        return ""
    ns, local = _split(elem.tag)
    return local if ns == BPMN_NS else ""


def _bpmn_children(elem: etree._Element, *names: str) -> list[etree._Element]:
    """Direct BPMN children of `elem`, optionally only those with the given local names."""
    return [c for c in elem if _local(c) and (not names or _local(c) in names)]


def _owner_id(elem: etree._Element) -> str | None:
    """Id of the element itself or of its nearest ancestor that has one."""
    node: etree._Element | None = elem
    while node is not None:
        if node.get("id"):
            return node.get("id")
        node = node.getparent()
    return None


def _excerpt(text: str, limit: int = 60) -> str:
    """First line of an expression or script, shortened for a one-line message."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _condition_text(flow: etree._Element) -> str:
    """Text of a sequence flow's condition, '' when it has none."""
    cond = _bpmn_children(flow, "conditionExpression")
    return (cond[0].text or "").strip() if cond else ""


class _Checker:
    """Collects the problems of one document."""

    def __init__(self, path: str, check_expression: ExpressionChecker | None):
        self.path = path
        self.check_expression = check_expression
        self.problems: list[Problem] = []
        self.ids: dict[str, etree._Element] = {}

    def add(self, elem: etree._Element, message: str, severity: str = "error",
            element_id: str | None = None) -> None:
        """Record one problem located at `elem`."""
        self.problems.append(Problem(self.path, elem.sourceline, element_id or _owner_id(elem), message, severity))

    def run(self, root: etree._Element) -> None:
        """Check the whole document."""
        self._index_ids(root)
        if not _bpmn_children(root, "process"):
            self.add(root, msg("the file contains no process"))
        self._walk(root)

    def _index_ids(self, root: etree._Element) -> None:
        """Remember every BPMN/DI id and report duplicates."""
        for elem in root.iter():
            ns, _ = _split(elem.tag)
            elem_id = elem.get("id")
            if ns not in _ID_NAMESPACES or not elem_id:
                continue
            if elem_id in self.ids:
                first = self.ids[elem_id].sourceline
                self.add(elem, msg("duplicate id `%(id)s` (first used at line %(line)s)", id=elem_id, line=first), element_id=elem_id)
            else:
                self.ids[elem_id] = elem

    def _walk(self, elem: etree._Element) -> None:
        """Visit BPMN children; foreign (extension, DI) content is skipped entirely."""
        for child in elem:
            name = _local(child)
            if not name:
                continue
            if name in REFUSED:
                self.add(child, REFUSED[name])
            elif name in IGNORED:
                self.add(child, msg("%(name)s is ignored by the engine", name=name), "warning")
            elif name not in SUPPORTED:
                self.add(child, msg("%(name)s is not supported by the engine", name=name))
            else:
                self._visit(child, name)
                self._walk(child)

    def _visit(self, elem: etree._Element, name: str) -> None:
        """Run the checks that belong to one supported element."""
        if name in CONTAINERS:
            self._check_container(elem, name)
        if name in EVENT_LABELS:
            self._check_event(elem, name)
        if name in EXPRESSION_KINDS:
            self._check_text(elem, name)
        checks = {
            "scriptTask": self._check_script_task,
            "callActivity": self._check_call_activity,
            "multiInstanceLoopCharacteristics": self._check_multi_instance,
            "standardLoopCharacteristics": self._check_standard_loop,
            "conditionExpression": self._check_condition_language,
        }
        if name in checks:
            checks[name](elem)

    def _check_container(self, container: etree._Element, name: str) -> None:
        """Check the flows and nodes directly inside a process or subprocess."""
        nodes = {c.get("id"): c for c in _bpmn_children(container, *FLOW_NODES, *REFUSED_FLOW_NODES)
                 if c.get("id")}
        flows = _bpmn_children(container, "sequenceFlow")
        incoming, outgoing = self._check_flows(flows, nodes)
        exempt = name == "adHocSubProcess"
        for node_id, node in nodes.items():
            if _local(node) not in REFUSED_FLOW_NODES:
                self._check_node(node, incoming[node_id], outgoing[node_id], exempt)
        self._check_start_end(container, name)

    def _check_flows(self, flows: list[etree._Element], nodes: dict[str, etree._Element]
                     ) -> tuple[defaultdict[str, list], defaultdict[str, list]]:
        """Report dangling flows and conditions that are ignored; index flows by node."""
        incoming: defaultdict[str, list] = defaultdict(list)
        outgoing: defaultdict[str, list] = defaultdict(list)
        for flow in flows:
            for attr, index in (("sourceRef", outgoing), ("targetRef", incoming)):
                ref = flow.get(attr)
                if ref in nodes:
                    index[ref].append(flow)
                elif not ref:
                    self.add(flow, msg("sequence flow has no %(attr)s", attr=attr))
                elif ref in self.ids:
                    self.add(flow, msg("%(attr)s `%(ref)s` is not a flow node of the same process or subprocess", attr=attr, ref=ref))
                else:
                    self.add(flow, msg("%(attr)s `%(ref)s` names an element that does not exist", attr=attr, ref=ref))
            source = nodes.get(flow.get("sourceRef") or "")
            if _condition_text(flow) and _local(source) not in CONDITIONAL_GATEWAYS | REFUSED_FLOW_NODES | {""}:
                self.add(flow, msg("condition is ignored: only flows leaving an exclusive or inclusive gateway "
                             "are conditional"), "warning")
        return incoming, outgoing

    def _check_node(self, node: etree._Element, inc: list, out: list, in_ad_hoc: bool) -> None:
        """Check the incoming and outgoing flows of one flow node."""
        name = _local(node)
        event_sub = node.get("triggeredByEvent") == "true"
        unreachable_ok = in_ad_hoc or event_sub or name in NO_INCOMING_OK or node.get("isForCompensation") == "true"
        if not inc and not unreachable_ok:
            self.add(node, msg("%(name)s has no incoming sequence flow; it can never be reached", name=name), "warning")
        if name == "endEvent" and out:
            self.add(node, msg("end event has an outgoing sequence flow"))
        elif not out and not (in_ad_hoc or event_sub or name == "endEvent"):
            if name == "boundaryEvent":
                self.add(node, msg("boundary event has no outgoing sequence flow; this path ends here"), "warning")
            else:
                self.add(node, msg("%(name)s has no outgoing sequence flow; the process would stop here", name=name))
        elif len(out) > 1 and name not in SPLITTERS:
            self.add(node, msg("%(name)s has %(count)s outgoing sequence flows; only gateways may split the flow: "
                         "add a parallel or exclusive gateway", name=name, count=len(out)))
        if name in CONDITIONAL_GATEWAYS:
            self._check_gateway(node, name, out)
        elif name == "eventBasedGateway":
            for flow in out:
                target = self.ids.get(flow.get("targetRef") or "")
                if _local(target) not in ("intermediateCatchEvent", "receiveTask"):
                    self.add(flow, msg("sequence flow `%(flow)s` leaves an event-based gateway but does not lead to an "
                                 "intermediate catch event or receive task", flow=flow.get("id")))

    def _check_gateway(self, gateway: etree._Element, name: str, out: list[etree._Element]) -> None:
        """Every non-default flow leaving a split exclusive/inclusive gateway needs a condition."""
        default = gateway.get("default")
        if default and default not in {f.get("id") for f in out}:
            self.add(gateway, msg("default flow `%(flow)s` is not an outgoing sequence flow of this gateway", flow=default))
        if len(out) < 2:
            return
        for flow in out:
            if flow.get("id") != default and not _condition_text(flow):
                self.add(flow, msg("sequence flow `%(flow)s` leaves %(name)s `%(gateway)s` without a condition and is "
                             "not the gateway's default flow", flow=flow.get("id"), name=name,
                             gateway=gateway.get("id")), element_id=flow.get("id"))

    def _check_start_end(self, container: etree._Element, name: str) -> None:
        """Start and end events each kind of container needs (as SpiffWorkflow requires)."""
        starts = _bpmn_children(container, "startEvent")
        ends = _bpmn_children(container, "endEvent")
        if name == "process":
            if not starts:
                self.add(container, msg("process has no start event"))
        elif name == "adHocSubProcess":
            if starts or ends:
                self.add(container, msg("an ad hoc subprocess may not contain start or end events"))
            if (container.get("ordering") or "").lower() == "sequential":
                self.add(container, msg("sequential ad hoc subprocesses are not supported by the engine"))
        else:
            if len(starts) != 1:
                self.add(container, msg("%(name)s must contain exactly one start event (found %(count)s)", name=name, count=len(starts)))
            if not ends:
                self.add(container, msg("%(name)s must contain at least one end event", name=name))
            if container.get("triggeredByEvent") == "true":
                for start in starts:
                    if not _bpmn_children(start, *EVENT_DEFINITIONS):
                        self.add(start, msg("the start event of an event subprocess needs a message, signal, "
                                            "timer or conditional trigger"))

    def _check_event(self, event: etree._Element, name: str) -> None:
        """Refuse triggers the engine would silently drop; check boundary attachment and refs."""
        label = EVENT_LABELS[name]
        definitions = _bpmn_children(event, *EVENT_DEFINITIONS)
        for definition in definitions:
            trigger = EVENT_DEFINITIONS[_local(definition)]
            if trigger not in ALLOWED_TRIGGERS[name]:
                self.add(definition, msg("%(trigger)s %(events)s are not supported by the engine",
                                         trigger=TRIGGER_WORDS[trigger], events=label), element_id=event.get("id"))
            self._check_refs(definition)
            if trigger == "timer":
                times = [t for t in _bpmn_children(definition, "timeDate", "timeDuration", "timeCycle")
                         if (t.text or "").strip()]
                if len(times) != 1:
                    self.add(definition, msg("a timer needs exactly one of timeDuration, timeDate or timeCycle, with a "
                                 "value"), element_id=event.get("id"))
            if trigger == "signal" and definition.get("signalRef") in self.ids:
                target = self.ids[definition.get("signalRef")]
                if _local(target) == "signal" and not (target.get("name") or "").strip():
                    self.add(definition, msg("signal `%(ref)s` has no name: signals reach other instances by name",
                                             ref=definition.get("signalRef")), element_id=event.get("id"))
            ref = {"message": "messageRef", "signal": "signalRef"}.get(trigger)
            if ref and not definition.get(ref) and not (event.get("name") or "").strip():
                self.add(definition, NAMELESS[trigger], element_id=event.get("id"))
        if name == "boundaryEvent":
            self._check_boundary(event, definitions)

    def _check_boundary(self, event: etree._Element, definitions: list[etree._Element]) -> None:
        """A boundary event needs a trigger and an activity to sit on."""
        if not _bpmn_children(event, *EVENT_DEFINITIONS, *REFUSED):
            self.add(event, msg("boundary event has no event definition"))
        ref = event.get("attachedToRef") or ""
        activity = self.ids.get(ref)
        if activity is None or _local(activity) not in FLOW_NODES:
            self.add(event, msg("attachedToRef `%(ref)s` names no activity", ref=ref))
        elif activity.getparent() is not event.getparent():
            self.add(event, msg("attachedToRef `%(ref)s` is not in the same process or subprocess", ref=ref))
        elif any(_local(d) == "cancelEventDefinition" for d in definitions) and _local(activity) != "transaction":
            self.add(event, msg("cancel boundary events may only be attached to a transaction"))

    def _check_refs(self, elem: etree._Element) -> None:
        """messageRef/signalRef/errorRef/escalationRef must name an element of the right kind."""
        for attr, kind in REF_TARGETS.items():
            ref = elem.get(attr)
            if ref and _local(self.ids.get(ref)) != kind:
                self.add(elem, msg("%(attr)s `%(ref)s` names no %(kind)s of this file", attr=attr, ref=ref,
                                   kind=TRIGGER_WORDS[kind]))

    def _check_script_task(self, task: etree._Element) -> None:
        """A script task needs exactly one non-empty Python script."""
        scripts = _bpmn_children(task, "script")
        if len(scripts) != 1 or not (scripts[0].text or "").strip():
            self.add(task, msg("script task must contain exactly one non-empty script"))
        fmt = task.get("scriptFormat")
        if fmt and fmt.strip().lower() not in PYTHON_LANGUAGES:
            self.add(task, msg("scriptFormat `%(format)s` is not supported: scripts are Python", format=fmt))
        self._check_refs(task)

    def _check_condition_language(self, expr: etree._Element) -> None:
        """A condition written in another language than Python cannot run."""
        language = expr.get("language")
        if language and language.strip().lower() not in PYTHON_LANGUAGES:
            self.add(expr, msg("expression language `%(language)s` is not supported: conditions are Python", language=language))

    def _check_call_activity(self, task: etree._Element) -> None:
        """A call activity must name the process it calls."""
        if not (task.get("calledElement") or "").strip():
            self.add(task, msg("call activity has no calledElement"))

    def _check_multi_instance(self, loop: etree._Element) -> None:
        """Exactly one of loopCardinality, loopDataInputRef and camunda:collection (the parser reads it)."""
        collection = loop.get(f"{{{CAMUNDA_NS}}}collection")
        found = len(_bpmn_children(loop, "loopCardinality", "loopDataInputRef")) + (collection is not None)
        if found != 1:
            self.add(loop, msg("multi-instance needs exactly one of loopCardinality, loopDataInputRef or "
                               "camunda:collection"))
        if loop.get(f"{{{CAMUNDA_NS}}}elementVariable") and collection is None:
            self.add(loop, msg("camunda:elementVariable needs camunda:collection"))
        if collection and self.check_expression is not None:
            message = self.check_expression(collection.strip(), "condition")
            if message:
                self.add(loop, msg("camunda:collection `%(text)s`: %(message)s", text=_excerpt(collection),
                                   message=message))

    def _check_standard_loop(self, loop: etree._Element) -> None:
        """A standard loop needs a loopMaximum (an integer) or a loopCondition."""
        maximum = loop.get("loopMaximum")
        if maximum is not None and not maximum.strip().isdigit():
            self.add(loop, msg("loopMaximum `%(value)s` is not a whole number", value=maximum))
        elif maximum is None and not _bpmn_children(loop, "loopCondition"):
            self.add(loop, msg("standard loop needs a loopMaximum or a loopCondition"))

    def _check_text(self, elem: etree._Element, name: str) -> None:
        """Hand an expression, script or timer text to the caller's checker."""
        if self.check_expression is None:
            return
        if name == "condition" and _local(elem.getparent()) != "conditionalEventDefinition":
            return
        kind = EXPRESSION_KINDS[name]
        raw = elem.text or ""
        if not raw.strip():
            return
        text = raw if kind == "script" else raw.strip()
        message = self.check_expression(text, kind)
        if message:
            self.add(elem, msg("expression `%(text)s`: %(message)s", text=_excerpt(text), message=" ".join(str(message).split())))
        elif kind != "script" and text.lstrip().startswith("${"):
            self.add(elem, msg("JUEL `%(text)s` runs as Python `%(python)s`", text=_excerpt(text),
                               python=_excerpt(juel.translate(text), 80)), "info")


def check_bpmn(tree: etree._ElementTree | etree._Element, path: str,
               check_expression: ExpressionChecker | None = None) -> list[Problem]:
    """Check one parsed BPMN document; return its problems ordered by line.

    `check_expression(text, kind)` (kind: condition, script, cardinality, completion, timer) returns an error or None.
    """
    root = tree.getroot() if isinstance(tree, etree._ElementTree) else tree
    ns, local = _split(root.tag)
    if ns != BPMN_NS or local != "definitions":
        shown = f"{root.prefix}:{local}" if root.prefix else local
        if ns and local == "definitions":
            message = msg("not a BPMN 2.0 file: root element is <%(root)s> in namespace %(ns)s", root=shown, ns=ns)
        else:
            message = msg("not a BPMN 2.0 file: root element is <%(root)s>", root=shown)
        return [Problem(path, root.sourceline, root.get("id"), message)]
    checker = _Checker(path, check_expression)
    checker.run(root)
    return sorted(checker.problems, key=lambda p: p.line if p.line is not None else 0)
