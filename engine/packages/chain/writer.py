"""A chain -> standard BPMN 2.0 with Liaison attributes and a top-to-bottom diagram.

Element ids come from the chain's ids: a node is the element of its id; an approver `X` is
followed by the exclusive gateway `X_decided` whose flow `X_no` (`approved == False`) goes to the
terminate end event `X_rejected` (a rejection ends the whole request, also inside a parallel
branch) and whose default flow goes on; a branch node `B` is the split gateway `B` and the join
gateway `B_join`; the flow entering a branch has the branch's id; the chain ends at `end`; every
other flow is `f_SOURCE_TARGET`.
"""

from __future__ import annotations

from lxml import etree

from engine.bpmn.check import BPMN_NS, BPMNDI_NS, DC_NS, DI_NS
from engine.bpmn.parser import LIAISON_NS
from engine.packages.chain.conditions import condition_to_python
from engine.packages.chain.layout import (
    BRANCH_GAP,
    GAP,
    MARGIN,
    Graph,
    Pending,
    branch_columns,
    node_height,
    node_width,
    series_height,
    side_entry,
    side_exit,
)
from engine.packages.chain.model import APPROVER_ATTRIBUTES, END_ID, TASK_ATTRIBUTES, walk

XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {"bpmn": BPMN_NS, "bpmndi": BPMNDI_NS, "dc": DC_NS, "di": DI_NS, "xsi": XSI_NS, "liaison": LIAISON_NS}
GATEWAYS = {"condition": "exclusiveGateway", "parallel": "parallelGateway", "inclusive": "inclusiveGateway"}
FIXED_NAMES = {"decided": {"zh": "是否同意？", "en": "Approved?"}, "rejected": {"zh": "已驳回", "en": "Rejected"},
               "no": {"zh": "驳回", "en": "rejected"}, "join": {"zh": "汇合", "en": "Join"},
               "end": {"zh": "结束", "en": "End"}}


def chain_to_bpmn(chain: dict, key: str, names: dict | None = None) -> tuple[str, dict]:
    """The BPMN XML of a chain for process `key`, and the package's `names` (element id -> {zh, en})
    updated with the chain's names (`names` given: the package's current map, e.g. the process's name)."""
    graph = Graph()
    width = max(node_width(n) for n in [{"kind": "handler"}, *chain.get("nodes", [])])
    cx = MARGIN + width / 2
    start = chain["start"]
    graph.add(start["id"], "startEvent", "event", cx, MARGIN, attrs=_attrs(start, ("form",)))
    pending = Pending(start["id"], [(cx, MARGIN + 36)])
    pending, bottom = _series(graph, chain.get("nodes", []), cx, MARGIN + 36 + GAP, pending)
    graph.add(END_ID, "endEvent", "event", cx, bottom + GAP)
    graph.connect(pending, END_ID, (cx, bottom + GAP))
    all_names = dict(names or {})
    all_names.update(_names(chain, graph))
    return _xml(graph, key, all_names), all_names


def _series(graph: Graph, nodes: list[dict], cx: float, top: float, pending: Pending) -> tuple[Pending, float]:
    """Place a column of nodes from `top`; returns the flow leaving the last one and the column's bottom."""
    bottom = top - GAP
    for node in nodes:
        pending = _node(graph, node, cx, top, pending)
        bottom = top + node_height(node)
        top = bottom + GAP
    return pending, bottom


def _node(graph: Graph, node: dict, cx: float, top: float, pending: Pending) -> Pending:
    kind, node_id = node["kind"], node["id"]
    if kind in GATEWAYS:
        return _branches(graph, node, cx, top, pending)
    if kind in ("approver", "handler"):
        keys = TASK_ATTRIBUTES + (APPROVER_ATTRIBUTES if kind == "approver" else ())
        graph.add(node_id, "userTask", "task", cx, top, attrs=_attrs(node, keys))
        graph.connect(pending, node_id, (cx, top))
        if kind == "handler":
            return Pending(node_id, [(cx, top + 80)])
        return _decision(graph, node_id, cx, top + 80 + GAP)
    if kind == "trigger" and not node.get("message"):
        attrs = _attrs(node, ("operation",))
        if node.get("result"):
            attrs["resultVariable"] = node["result"]
        graph.add(node_id, "serviceTask", "task", cx, top, attrs=attrs, parameters=node.get("parameters") or {})
        graph.connect(pending, node_id, (cx, top))
        return Pending(node_id, [(cx, top + 80)])
    tag, extra = _event(node)
    graph.add(node_id, tag, "event", cx, top, **extra)
    graph.connect(pending, node_id, (cx, top))
    return Pending(node_id, [(cx, top + 36)])


def _event(node: dict) -> tuple[str, dict]:
    """The event a CC, delay or message trigger node is: its tag and what it carries."""
    if node["kind"] == "cc":
        attrs = {"cc": ";".join(node.get("to") or [])}
        if node.get("when"):
            attrs["ccWhen"] = node["when"]
        return "intermediateThrowEvent", {"attrs": attrs}
    if node["kind"] == "delay":
        if node.get("duration"):
            return "intermediateCatchEvent", {"timer": ("timeDuration", repr(str(node["duration"])))}
        return "intermediateCatchEvent", {"timer": ("timeDate", node["date_field"])}
    return "intermediateThrowEvent", {"message": node["message"]}


def _decision(graph: Graph, node_id: str, cx: float, top: float) -> Pending:
    """An approver's `approved == False` exit to its terminate end; returns the default flow on."""
    decided, rejected = f"{node_id}_decided", f"{node_id}_rejected"
    graph.add(decided, "exclusiveGateway", "gateway", cx, top, default=f"{node_id}_on")
    graph.connect(Pending(node_id, [(cx, top - GAP)]), decided, (cx, top))
    graph.add(rejected, "endEvent", "event", cx + 25 + 45 + 18, top + 7, terminate=True)
    graph.connect(Pending(decided, [(cx + 25, top + 25)], flow_id=f"{node_id}_no", condition="approved == False"),
                  rejected, (cx + 25 + 45, top + 25))
    return Pending(decided, [(cx, top + 50)], flow_id=f"{node_id}_on", default=True)


def _branches(graph: Graph, node: dict, cx: float, top: float, pending: Pending) -> Pending:
    node_id, tag = node["id"], GATEWAYS[node["kind"]]
    branches = node.get("branches") or []
    default = next((b["id"] for b in branches if node["kind"] != "parallel" and b.get("condition") is None), None)
    extra = {"default": default} if default else {}
    graph.add(node_id, tag, "gateway", cx, top, **extra)
    graph.connect(pending, node_id, (cx, top))
    join_top = top + 50 + BRANCH_GAP * 2 + max([0.0] + [series_height(b.get("nodes") or []) for b in branches])
    join = f"{node_id}_join"
    leaving = []
    for branch, column in zip(branches, branch_columns(node, cx), strict=True):
        condition = branch.get("condition")
        start = Pending(node_id, [side_exit(cx, top + 25, column)], flow_id=branch["id"], name=branch.get("name"),
                        condition=condition_to_python(condition) if condition and node["kind"] != "parallel" else None,
                        default=branch["id"] == default)
        if not branch.get("nodes"):
            if start.points[-1][0] != column:
                start.points.append((column, top + 25))
            leaving.append((start, column))
            continue
        out, _bottom = _series(graph, branch["nodes"], column, top + 50 + BRANCH_GAP, start)
        leaving.append((out, column))
    graph.add(join, tag, "gateway", cx, join_top)
    for out, column in leaving:
        entry, horizontal = side_entry(cx, join_top + 25, column)
        graph.connect(out, join, entry, horizontal_entry=horizontal)
    return Pending(join, [(cx, join_top + 50)])


def _attrs(node: dict, keys: tuple[str, ...]) -> dict:
    return {k: str(node[k]) for k in keys if node.get(k) is not None}


def _names(chain: dict, graph: Graph) -> dict:
    """Display names of the elements: the chain's names, fixed ones for the derived elements."""
    names = {END_ID: FIXED_NAMES["end"]}
    if chain["start"].get("name"):
        names[chain["start"]["id"]] = _name(chain["start"]["name"])
    for node in walk(chain.get("nodes", [])):
        if node.get("name"):
            names[node["id"]] = _name(node["name"])
        if node["kind"] == "approver":
            names[f"{node['id']}_decided"] = FIXED_NAMES["decided"]
            names[f"{node['id']}_rejected"] = FIXED_NAMES["rejected"]
            names[f"{node['id']}_no"] = FIXED_NAMES["no"]
        for branch in node.get("branches") or []:
            if branch.get("name"):
                names[branch["id"]] = _name(branch["name"])
        if node.get("branches") is not None:
            names[f"{node['id']}_join"] = FIXED_NAMES["join"]
    return names


def _name(name) -> dict | None:
    if not name:
        return None
    return dict(name) if isinstance(name, dict) else {"zh": str(name), "en": str(name)}


def _label(name) -> str | None:
    if isinstance(name, dict):
        return name.get("zh") or name.get("en")
    return name or None


def _xml(graph: Graph, key: str, names: dict) -> str:
    root = etree.Element(f"{{{BPMN_NS}}}definitions", nsmap=NSMAP, id=f"Definitions_{key}",
                         targetNamespace="https://liaison.dev/processes")
    messages = sorted({n["message"] for n in graph.nodes if n.get("message")})
    for name in messages:
        etree.SubElement(root, f"{{{BPMN_NS}}}message", id=f"Message_{name}", name=name)
    process = etree.SubElement(root, f"{{{BPMN_NS}}}process", id=key, isExecutable="true")
    if _label(names.get(key)):
        process.set("name", _label(names[key]))
    incoming, outgoing = {}, {}
    for flow in graph.flows:
        outgoing.setdefault(flow["source"], []).append(flow["id"])
        incoming.setdefault(flow["target"], []).append(flow["id"])
    for node in graph.nodes:
        _flow_node(process, node, names, incoming.get(node["id"], []), outgoing.get(node["id"], []))
    for flow in graph.flows:
        element = etree.SubElement(process, f"{{{BPMN_NS}}}sequenceFlow", id=flow["id"], sourceRef=flow["source"],
                                   targetRef=flow["target"])
        if _label(flow["name"]) or _label(names.get(flow["id"])):
            element.set("name", _label(flow["name"]) or _label(names.get(flow["id"])))
        if flow["condition"]:
            expression = etree.SubElement(element, f"{{{BPMN_NS}}}conditionExpression")
            expression.set(f"{{{XSI_NS}}}type", "bpmn:tFormalExpression")
            expression.text = flow["condition"]
    _diagram(root, graph, key)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True).decode("utf-8")


def _flow_node(process, node: dict, names: dict, incoming: list[str], outgoing: list[str]) -> None:
    element = etree.SubElement(process, f"{{{BPMN_NS}}}{node['tag']}", id=node["id"])
    if _label(names.get(node["id"])):
        element.set("name", _label(names[node["id"]]))
    if node.get("default"):
        element.set("default", node["default"])
    for name, value in (node.get("attrs") or {}).items():
        element.set(f"{{{LIAISON_NS}}}{name}", value)
    if node.get("parameters"):
        extensions = etree.SubElement(element, f"{{{BPMN_NS}}}extensionElements")
        for name, value in node["parameters"].items():
            etree.SubElement(extensions, f"{{{LIAISON_NS}}}parameter", name=name, value=str(value))
    for flow_id in incoming:
        etree.SubElement(element, f"{{{BPMN_NS}}}incoming").text = flow_id
    for flow_id in outgoing:
        etree.SubElement(element, f"{{{BPMN_NS}}}outgoing").text = flow_id
    if node.get("terminate"):
        etree.SubElement(element, f"{{{BPMN_NS}}}terminateEventDefinition", id=f"{node['id']}_terminate")
    if node.get("timer"):
        definition = etree.SubElement(element, f"{{{BPMN_NS}}}timerEventDefinition", id=f"{node['id']}_timer")
        what, text = node["timer"]
        expression = etree.SubElement(definition, f"{{{BPMN_NS}}}{what}")
        expression.set(f"{{{XSI_NS}}}type", "bpmn:tFormalExpression")
        expression.text = text
    if node.get("message"):
        etree.SubElement(element, f"{{{BPMN_NS}}}messageEventDefinition", id=f"{node['id']}_message",
                         messageRef=f"Message_{node['message']}")


def _diagram(root, graph: Graph, key: str) -> None:
    diagram = etree.SubElement(root, f"{{{BPMNDI_NS}}}BPMNDiagram", id=f"Diagram_{key}")
    plane = etree.SubElement(diagram, f"{{{BPMNDI_NS}}}BPMNPlane", id=f"Plane_{key}", bpmnElement=key)
    for element_id, (x, y, width, height) in graph.shapes.items():
        shape = etree.SubElement(plane, f"{{{BPMNDI_NS}}}BPMNShape", id=f"{element_id}_di", bpmnElement=element_id)
        if _is_gateway(graph, element_id):
            shape.set("isMarkerVisible", "true")
        etree.SubElement(shape, f"{{{DC_NS}}}Bounds", x=_n(x), y=_n(y), width=_n(width), height=_n(height))
    for flow_id, points in graph.edges.items():
        edge = etree.SubElement(plane, f"{{{BPMNDI_NS}}}BPMNEdge", id=f"{flow_id}_di", bpmnElement=flow_id)
        for px, py in points:
            etree.SubElement(edge, f"{{{DI_NS}}}waypoint", x=_n(px), y=_n(py))


def _is_gateway(graph: Graph, element_id: str) -> bool:
    return any(n["id"] == element_id and n["tag"] == "exclusiveGateway" for n in graph.nodes)


def _n(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
