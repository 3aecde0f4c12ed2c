"""BPMN -> chain: read a process back into the chain it was written from, or say which element does not fit.

The shape read is the one `chain/writer.py` writes (see its docstring); element ids of the derived
elements (`X_decided`, `X_rejected`, `B_join`, `end`) are not part of the chain and may be anything.
"""

from __future__ import annotations

import ast

from lxml import etree

from engine.bpmn.check import BPMN_NS, CAMUNDA_NS
from engine.bpmn.parser import LIAISON_NS
from engine.bpmn.xmlsafe import parse_xml_bytes
from engine.errors import msg
from engine.packages.chain.conditions import ConditionShapeError, python_to_condition
from engine.packages.chain.model import APPROVER_ATTRIBUTES, FIELD_MODES, TASK_ATTRIBUTES, ChainShapeError

GATEWAY_KINDS = {"exclusiveGateway": "condition", "parallelGateway": "parallel", "inclusiveGateway": "inclusive"}
FLOW_NODES = frozenset({"startEvent", "endEvent", "userTask", "serviceTask", "intermediateThrowEvent",
                        "intermediateCatchEvent", *GATEWAY_KINDS})
IGNORED = frozenset({"sequenceFlow", "documentation", "extensionElements", "laneSet", "textAnnotation",
                     "association"})
KNOWN_ATTRIBUTES = {"startEvent": ("form",), "userTask": TASK_ATTRIBUTES + APPROVER_ATTRIBUTES,
                    "intermediateThrowEvent": ("cc", "ccWhen"), "serviceTask": ("operation", "resultVariable")}
_REJECTED = "approved==False"
_NOT_JOINED = msg("the branches of this gateway do not join in one gateway of its kind")


def _local(element) -> str:
    if not isinstance(element.tag, str):
        return ""
    qname = etree.QName(element)
    return qname.localname if qname.namespace == BPMN_NS else ""


def _children(element, name: str) -> list:
    return element.findall(f"{{{BPMN_NS}}}{name}")


class _Process:
    """One process's flow nodes and flows, in document order."""

    def __init__(self, process, root, meta: dict, forms: dict):
        self.root, self.names, self.forms = root, (meta.get("names") or {}), forms
        self.elements, self.flows = {}, {}
        self.outgoing: dict[str, list[dict]] = {}
        self.incoming: dict[str, list[dict]] = {}
        self.visited: set[str] = set()
        self.start_form: str | None = None
        for child in process:
            name = _local(child)
            if not name or name in IGNORED:
                continue
            if name not in FLOW_NODES or _children(child, "multiInstanceLoopCharacteristics") or \
                    _children(child, "standardLoopCharacteristics"):
                raise ChainShapeError(child.get("id"), msg("a %(what)s cannot be shown in a chain",
                                                           what=_what(child)))
            self.elements[child.get("id")] = child
        for flow in _children(process, "sequenceFlow"):
            condition = flow.find(f"{{{BPMN_NS}}}conditionExpression")
            entry = {"id": flow.get("id"), "source": flow.get("sourceRef"), "target": flow.get("targetRef"),
                     "name": flow.get("name"), "condition": (condition.text or "").strip() if condition is not None
                     else None}
            self.flows[entry["id"]] = entry
            self.outgoing.setdefault(entry["source"], []).append(entry)
            self.incoming.setdefault(entry["target"], []).append(entry)

    def name(self, element_id: str, element=None):
        """The node's name: the package's names entry, else the BPMN name."""
        if element_id in self.names:
            return self.names[element_id]
        return element.get("name") if element is not None else None

    def one_out(self, element_id: str, join: bool = False) -> str:
        """The element after element_id, which has one outgoing flow (and one incoming unless a join)."""
        flows = self.outgoing.get(element_id, [])
        if len(flows) != 1:
            raise ChainShapeError(element_id, msg("it needs exactly one outgoing flow (a gateway splits flows)"))
        if not join and len(self.incoming.get(element_id, [])) > 1:
            raise ChainShapeError(element_id, msg("flows join here but only a gateway may join branches"))
        return flows[0]["target"]


def _check_lanes(lane_set) -> None:
    """Lanes are not part of a chain (the editor writes the BPMN anew, without them): a lane that carries
    a liaison:* attribute (say liaison:external, which its tasks inherit) would be lost, so it is refused."""
    for lane in lane_set.iter(f"{{{BPMN_NS}}}lane"):
        for attribute in lane.attrib:
            qname = etree.QName(attribute)
            if qname.namespace == LIAISON_NS:
                raise ChainShapeError(lane.get("id"), msg(
                    "lane %(lane)s carries liaison:%(attribute)s, which a chain cannot keep (the chain editor "
                    "drops lanes): edit this process in the diagram editor",
                    lane=lane.get("id"), attribute=qname.localname))


def bpmn_to_chain(bpmn_xml: str, meta: dict | None = None, forms: dict | None = None) -> dict:
    """The chain a BPMN process draws; ChainShapeError naming the first element that does not fit.

    `meta` (package.yaml: `names`, `starters`) and `forms` (their `access`) complete it with what the
    engine keeps outside the BPMN; without them names are the BPMN names and field permissions absent."""
    meta, forms = meta or {}, forms or {}
    root = parse_xml_bytes(bpmn_xml.encode("utf-8")).getroot()
    processes = _children(root, "process")
    for lane_set in (lane_set for process in processes for lane_set in _children(process, "laneSet")):
        _check_lanes(lane_set)  # before the pools: name the lane whose setting the chain would drop
    if len(processes) != 1 or _children(root, "collaboration"):
        raise ChainShapeError(processes[1].get("id") if len(processes) > 1 else None,
                              msg("a chain is one process, without pools"))
    graph = _Process(processes[0], root, meta, forms)
    starts = [e for e in graph.elements.values() if _local(e) == "startEvent"]
    if len(starts) != 1:
        raise ChainShapeError(starts[1].get("id") if starts else None, msg("a chain has exactly one start event"))
    start = _start(graph, starts[0], meta)
    graph.start_form = start.get("form")
    graph.visited.add(start["id"])
    nodes, stop = _series(graph, graph.one_out(start["id"]))
    if _local(graph.elements[stop]) != "endEvent":
        raise ChainShapeError(stop, msg("flows join here but nothing split them"))
    return {"start": start, "nodes": nodes}


def _start(graph: _Process, element, meta: dict) -> dict:
    _check_attributes(element)
    if len(element) and any(_local(c).endswith("EventDefinition") for c in element):
        raise ChainShapeError(element.get("id"), msg("a chain starts when a person submits the start form"))
    start = {"id": element.get("id")}
    _put(start, "name", graph.name(start["id"], element))
    _put(start, "form", element.get(f"{{{LIAISON_NS}}}form"))
    _put(start, "starters", meta.get("starters"))
    return start


def _series(graph: _Process, element_id: str) -> tuple[list[dict], str]:
    """Read nodes from element_id on; returns them and the id of the end event or join that stopped it."""
    nodes = []
    while True:
        element = graph.elements.get(element_id)
        if element is None:
            raise ChainShapeError(element_id, msg("a flow leads to an element that is not in the process"))
        tag = _local(element)
        if tag in GATEWAY_KINDS and len(graph.incoming.get(element_id, [])) > 1:
            return nodes, element_id
        if element_id in graph.visited:
            raise ChainShapeError(element_id, msg("the flow comes back here (a loop)"))
        graph.visited.add(element_id)
        if tag == "endEvent":
            if any(_local(c).endswith("EventDefinition") for c in element):
                raise ChainShapeError(element_id, msg("a chain ends with a plain end event"))
            return nodes, element_id
        node, element_id = _node(graph, element, tag)
        nodes.append(node)


def _node(graph: _Process, element, tag: str) -> tuple[dict, str]:
    """One chain node starting at element, and the id of the element after it."""
    element_id = element.get("id")
    _check_attributes(element)
    if tag in GATEWAY_KINDS:
        return _branches(graph, element, tag)
    if tag == "userTask":
        return _task(graph, element)
    node = {"kind": None, "id": element_id}
    _put(node, "name", graph.name(element_id, element))
    attrs = _liaison(element)
    if tag == "serviceTask":
        node.update(kind="trigger", operation=attrs.get("operation"))
        if not node["operation"]:
            raise ChainShapeError(element_id, msg("a service task without liaison:operation"))
        parameters = {p.get("name"): p.get("value", "") for p in
                      element.findall(f"{{{BPMN_NS}}}extensionElements/{{{LIAISON_NS}}}parameter")}
        _put(node, "parameters", parameters or None)
        _put(node, "result", attrs.get("resultVariable"))
    elif tag == "intermediateCatchEvent":
        node.update(_delay(element))
    else:
        node.update(_throw(graph, element, attrs))
    return node, graph.one_out(element_id)


def _task(graph: _Process, element) -> tuple[dict, str]:
    element_id = element.get("id")
    after = graph.one_out(element_id)
    decided = _decision(graph, after)
    node = {"kind": "approver" if decided else "handler", "id": element_id}
    _put(node, "name", graph.name(element_id, element))
    attrs = _liaison(element)
    for key in TASK_ATTRIBUTES + APPROVER_ATTRIBUTES:
        _put(node, key, attrs.get(key))
    _put(node, "fields", _fields(graph.forms, attrs.get("form"), graph.start_form, element_id))
    if decided:
        graph.visited.update((after, decided[1]))
        return node, decided[0]
    return node, after


def _decision(graph: _Process, gateway_id: str) -> tuple[str, str] | None:
    """For an approver's decision gateway: (the element after it, the rejected end); else None."""
    gateway = graph.elements.get(gateway_id)
    flows = graph.outgoing.get(gateway_id, [])
    if gateway is None or _local(gateway) != "exclusiveGateway" or len(flows) != 2 or \
            len(graph.incoming.get(gateway_id, [])) != 1:
        return None
    default = gateway.get("default")
    rejected = [f for f in flows if f["id"] != default and "".join((f["condition"] or "").split()) == _REJECTED]
    onward = [f for f in flows if f["id"] == default and not f["condition"]]
    if not rejected or not onward:
        return None
    end = graph.elements.get(rejected[0]["target"])
    if end is None or _local(end) != "endEvent" or not _children(end, "terminateEventDefinition"):
        return None
    return onward[0]["target"], end.get("id")


def _branches(graph: _Process, element, tag: str) -> tuple[dict, str]:
    element_id, kind = element.get("id"), GATEWAY_KINDS[tag]
    if len(graph.incoming.get(element_id, [])) != 1:
        raise ChainShapeError(element_id, msg("flows join here but nothing split them"))
    flows = graph.outgoing.get(element_id, [])
    if len(flows) < 2:
        raise ChainShapeError(element_id, msg("a gateway of a chain splits into two branches or more"))
    node = {"kind": kind, "id": element_id}
    _put(node, "name", graph.name(element_id, element))
    default, branches, joins = element.get("default"), [], set()
    for position, flow in enumerate(flows):
        branch = {"id": flow["id"]}
        _put(branch, "name", graph.name(flow["id"]) or flow["name"])
        if kind != "parallel":
            branch["condition"] = _condition(flow, default, position == len(flows) - 1)
        elif flow["condition"]:
            raise ChainShapeError(flow["id"], msg("parallel branches take no condition"))
        branch["nodes"], stop = _series(graph, flow["target"])
        if _local(graph.elements[stop]) == "endEvent":
            raise ChainShapeError(element_id, _NOT_JOINED)
        joins.add(stop)
        branches.append(branch)
    join = joins.pop() if len(joins) == 1 else None
    if join is None or _local(graph.elements[join]) != tag or len(graph.incoming[join]) != len(flows):
        raise ChainShapeError(element_id, _NOT_JOINED)
    graph.visited.add(join)
    node["branches"] = branches
    return node, graph.one_out(join, join=True)


def _condition(flow: dict, default: str | None, last: bool) -> dict | None:
    if flow["id"] == default:
        if not last:
            raise ChainShapeError(flow["id"], msg("the default flow (other cases) must be the last branch"))
        return None
    if not flow["condition"]:
        raise ChainShapeError(flow["id"], msg("a branch without a condition must be the gateway's default flow"))
    try:
        return python_to_condition(flow["condition"])
    except ConditionShapeError as exc:
        raise ChainShapeError(flow["id"], msg("its condition %(expression)s is not a field condition: %(reason)s",
                                              expression=flow["condition"], reason=str(exc))) from None


def _delay(element) -> dict:
    timer = element.find(f"{{{BPMN_NS}}}timerEventDefinition")
    if timer is None or len([c for c in element if _local(c).endswith("EventDefinition")]) != 1:
        raise ChainShapeError(element.get("id"), msg("a chain waits only on timers"))
    duration, date = timer.find(f"{{{BPMN_NS}}}timeDuration"), timer.find(f"{{{BPMN_NS}}}timeDate")
    if duration is not None and duration.text:
        try:
            value = ast.literal_eval(duration.text.strip())
        except (ValueError, SyntaxError):
            value = None
        if isinstance(value, str):
            return {"kind": "delay", "duration": value}
    if date is not None and (date.text or "").strip().isidentifier():
        return {"kind": "delay", "date_field": date.text.strip()}
    raise ChainShapeError(element.get("id"), msg("a delay waits a fixed duration or until the date in a field"))


def _throw(graph: _Process, element, attrs: dict) -> dict:
    definitions = [c for c in element if _local(c).endswith("EventDefinition")]
    if not definitions and attrs.get("cc"):
        node = {"kind": "cc", "to": [rule for rule in attrs["cc"].split(";") if rule]}
        _put(node, "when", attrs.get("ccWhen"))
        return node
    if len(definitions) == 1 and _local(definitions[0]) == "messageEventDefinition":
        ref = definitions[0].get("messageRef")
        message = next((m.get("name") for m in _children(graph.root, "message") if m.get("id") == ref), None)
        if message:
            return {"kind": "trigger", "message": message}
    raise ChainShapeError(element.get("id"), msg("a chain throws only messages (or copies people with liaison:cc)"))


def _fields(forms: dict, form: str | None, start_form: str | None, element_id: str) -> dict | None:
    """The node's field permissions: its entries in the start form's and its own form's `access`."""
    fields = {}
    for name in dict.fromkeys((start_form, form)):
        rules = ((forms.get(name) or {}).get("access") or {}).get(element_id) if name else None
        fields.update({field: mode for mode in FIELD_MODES for field in (rules or {}).get(mode) or []})
    return fields or None


def _liaison(element) -> dict:
    return {etree.QName(k).localname: v for k, v in element.attrib.items() if etree.QName(k).namespace == LIAISON_NS}


def _check_attributes(element) -> None:
    known = KNOWN_ATTRIBUTES.get(_local(element), ())
    for key in element.attrib:
        qname = etree.QName(key)
        if qname.namespace == CAMUNDA_NS or (qname.namespace == LIAISON_NS and qname.localname not in known):
            raise ChainShapeError(element.get("id"), msg("the chain has no setting for its attribute %(attribute)s",
                                                         attribute=qname.localname))


_WHAT = {"boundaryEvent": msg("boundary event"), "subProcess": msg("subprocess"),
         "callActivity": msg("call activity"), "eventBasedGateway": msg("event-based gateway"),
         "scriptTask": msg("script task"), "manualTask": msg("manual task")}


def _what(element) -> str:
    return _WHAT.get(_local(element), _local(element))


def _put(target: dict, key: str, value) -> None:
    if value is not None and value != {}:
        target[key] = value
