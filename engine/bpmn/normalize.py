"""Rewrite what modellers draw into the BPMN SpiffWorkflow 3.2 runs, before any check or parse.

Each rewrite changes the parsed tree in place (never the stored text, which stays what the modeller
drew, so the viewer and the checksum are unchanged) and reports itself as an `info` Problem, so
`liaison validate` shows what the engine will run:

- ISO 8601 timer literals without quotes (`PT5M`, `R3/PT10M`, `2026-12-01T10:00:00`) are quoted;
- link events: each throwing link event gets a sequence flow to the catching link event with the
  same name in the same (sub)process; both become pass-through (none) intermediate events;
- an activity or event with several outgoing flows gets a gateway after it (parallel, or inclusive
  when a flow has a condition or the activity names a default flow);
- an embedded subprocess without a start event gets one, leading to every node without incoming flows;
- a node with no outgoing flow gets an end event after it (SpiffWorkflow would otherwise end the
  process without copying its data, or refuse a subprocess with no end event).

Inserted elements carry `liaison:synthetic="true"`: the history leaves them out.
"""

from __future__ import annotations

import re
from collections import defaultdict

from lxml import etree

from engine.errors import Problem, msg

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
LIAISON_NS = "https://liaison.dev/schema/bpmn/1.0"
SYNTHETIC = f"{{{LIAISON_NS}}}synthetic"

_ISO = re.compile(
    r"(R\d*/)?((\d{4}-\d{2}-\d{2}(T[\d:.]+)?(Z|[+-]\d{2}:?\d{2})?)/)?"
    r"(P(?=\d|T\d)(\d+[YMWD])*(T(\d+([.,]\d+)?[HMS])+)?|\d{4}-\d{2}-\d{2}(T[\d:.]+)?(Z|[+-]\d{2}:?\d{2})?)"
)
_CONTAINERS = ("process", "subProcess", "transaction", "adHocSubProcess")
_GATEWAYS = ("exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway")
_FLOW_NODES = frozenset(["startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent", "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask", "businessRuleTask", "subProcess", "transaction", "adHocSubProcess", "callActivity"]) | frozenset(_GATEWAYS)


def _q(local: str) -> str:
    return f"{{{BPMN_NS}}}{local}"


def _local(elem) -> str:
    tag = elem.tag if isinstance(elem.tag, str) else ""
    return tag[len(BPMN_NS) + 2:] if tag.startswith(f"{{{BPMN_NS}}}") else ""


def _children(elem, *names):
    return [c for c in elem if _local(c) and (not names or _local(c) in names)]


class _Normalizer:
    def __init__(self, root, path: str):
        self.root = root
        self.path = path
        self.notes: list[Problem] = []
        self.ids = {e.get("id") for e in root.iter() if isinstance(e.tag, str) and e.get("id")}

    def note(self, elem, message: str, severity: str = "info") -> None:
        self.notes.append(Problem(self.path, elem.sourceline, elem.get("id") or _owner(elem), message, severity))

    def new_id(self, base: str) -> str:
        candidate, n = base, 1
        while candidate in self.ids:
            n += 1
            candidate = f"{base}_{n}"
        self.ids.add(candidate)
        return candidate

    def make(self, container, local: str, origin, after=None, **attrs):
        """A synthetic BPMN element in `container`, placed after `after` (else before the first flow element)."""
        elem = etree.Element(_q(local), {k: v for k, v in attrs.items() if v is not None})
        elem.set(SYNTHETIC, "true")
        elem.sourceline = origin.sourceline  # problems about it point at what the modeller drew
        if after is not None:
            after.addnext(elem)
        else:
            first = next((c for c in container if _local(c) in _FLOW_NODES | {"sequenceFlow"}), None)
            if first is not None:
                first.addprevious(elem)
            else:
                container.append(elem)
        return elem

    def flow(self, container, source: str, target: str, origin, after=None):
        return self.make(container, "sequenceFlow", origin, after, id=self.new_id(f"{source}__to__{target}"),
                         sourceRef=source, targetRef=target)

    # -- the rewrites ---------------------------------------------------------------------------

    def quote_timers(self) -> None:
        for local in ("timeDuration", "timeDate", "timeCycle"):
            for elem in self.root.iter(_q(local)):
                text = (elem.text or "").strip()
                if _ISO.fullmatch(text):
                    elem.text = f'"{text}"'
                    self.note(elem.getparent().getparent(), msg("timer `%(text)s` read as the text \"%(text)s\"", text=text))

    def links(self) -> None:
        for container in self._containers():
            throws, catches = defaultdict(list), defaultdict(list)
            for node in _children(container, "intermediateThrowEvent", "intermediateCatchEvent"):
                link = next(iter(_children(node, "linkEventDefinition")), None)
                if link is None:
                    continue
                name = (link.get("name") or node.get("name") or "").strip()
                (throws if _local(node) == "intermediateThrowEvent" else catches)[name].append((node, link))
            for caught, found in catches.items():
                if len(found) > 1:
                    for node, _ in found[1:]:
                        self.note(node, msg("link `%(name)s` is caught by more than one link event here "
                                            "(first: `%(first)s`)", name=caught, first=found[0][0].get("id")), "error")
            for name, found in throws.items():
                target = catches.get(name)
                for node, link in found:
                    if not target:
                        self.note(node, msg("link `%(name)s` has no catching link event with that name in the same "
                                            "process or subprocess", name=name), "error")
                        node.remove(link)  # reported here; the check need not refuse it again
                        continue
                    catch = target[0][0]
                    node.remove(link)
                    self.flow(container, node.get("id"), catch.get("id"), node, after=node)
                    self.note(node, msg("link `%(name)s` runs as a sequence flow to `%(target)s`", name=name,
                                        target=catch.get("id")))
            for found in catches.values():
                for node, link in found[:1]:
                    node.remove(link)
                    node.tag = _q("intermediateThrowEvent")  # a none intermediate event just passes on

    def implicit_starts(self) -> None:
        for container in self._containers("subProcess", "transaction"):
            if container.get("triggeredByEvent") == "true" or _children(container, "startEvent"):
                continue
            nodes, incoming, _ = self._graph(container)
            sources = [n for n in nodes if not incoming[n.get("id")] and _local(n) != "boundaryEvent"
                       and n.get("isForCompensation") != "true" and n.get("triggeredByEvent") != "true"]
            if not sources:
                continue
            start = self.make(container, "startEvent", container, id=self.new_id(f"{container.get('id')}__start"))
            for node in sources:
                self.flow(container, start.get("id"), node.get("id"), node, after=start)
            listed = ", ".join(f"`{n.get('id')}`" for n in sources)
            self.note(container, msg("no start event: the subprocess starts at %(nodes)s", nodes=listed))

    def implicit_splits(self) -> None:
        for container in self._containers():
            nodes, _, outgoing = self._graph(container)
            for node in nodes:
                out = outgoing[node.get("id")]
                if len(out) < 2 or _local(node) in _GATEWAYS or _local(node) == "startEvent":
                    continue
                default = node.get("default")
                conditional = default or any(_children(f, "conditionExpression") for f in out)
                kind = "inclusiveGateway" if conditional else "parallelGateway"
                gateway = self.make(container, kind, node, after=node, id=self.new_id(f"{node.get('id')}__split"))
                if default:
                    gateway.set("default", default)
                    del node.attrib["default"]
                for f in out:
                    f.set("sourceRef", gateway.get("id"))
                self.flow(container, node.get("id"), gateway.get("id"), node, after=gateway)
                if conditional:
                    self.note(node, msg("%(count)s outgoing flows run as an inclusive (conditional) split",
                                        count=len(out)))
                else:
                    self.note(node, msg("%(count)s outgoing flows run as a parallel split", count=len(out)))

    def implicit_ends(self) -> None:
        for container in self._containers("process", "subProcess", "transaction"):
            nodes, _, outgoing = self._graph(container)
            for node in nodes:
                name = _local(node)
                if outgoing[node.get("id")] or name == "endEvent" or node.get("triggeredByEvent") == "true" \
                        or node.get("isForCompensation") == "true":
                    continue
                end = self.make(container, "endEvent", node, after=node, id=self.new_id(f"{node.get('id')}__end"))
                self.flow(container, node.get("id"), end.get("id"), node, after=end)
                if name != "boundaryEvent":  # a boundary path that just stops is common and already warned about
                    self.note(node, msg("%(name)s has no outgoing flow: this path ends here", name=name))

    # -- helpers --------------------------------------------------------------------------------

    def _containers(self, *names):
        wanted = tuple(names or _CONTAINERS)
        return [e for e in self.root.iter() if _local(e) in wanted]

    def _graph(self, container):
        nodes = [n for n in _children(container) if _local(n) in _FLOW_NODES and n.get("id")]
        incoming, outgoing = defaultdict(list), defaultdict(list)
        for f in _children(container, "sequenceFlow"):
            incoming[f.get("targetRef")].append(f)
            outgoing[f.get("sourceRef")].append(f)
        return nodes, incoming, outgoing


def _owner(elem) -> str | None:
    while elem is not None:
        if elem.get("id"):
            return elem.get("id")
        elem = elem.getparent()
    return None


def normalize(root, path: str) -> list[Problem]:
    """Rewrite `root` (a BPMN definitions element) in place; return one `info` Problem per rewrite
    (an `error` for a link that cannot be resolved)."""
    normalizer = _Normalizer(root, path)
    normalizer.quote_timers()
    normalizer.links()
    normalizer.implicit_starts()
    normalizer.implicit_splits()
    normalizer.implicit_ends()
    return sorted(normalizer.notes, key=lambda p: p.line or 0)
