"""The process graph a chain becomes, laid out top to bottom while it is built.

`Graph` collects flow nodes, sequence flows, shapes and edge waypoints; `chain/writer.py` turns it
into BPMN XML. The layout is a column: each node is centred on the column's x; a branch node puts
its branches' columns side by side below its split gateway and joins them in a gateway below the
longest branch. Sizes are those bpmn-js draws (task 100x80, gateway 50x50, event 36x36), so the
diagram opens in bpmn-js and Camunda Modeler with nothing on top of anything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SIZES = {"task": (100, 80), "gateway": (50, 50), "event": (36, 36)}
GAP = 40  # between consecutive elements of a column
BRANCH_GAP = 50  # between a split / join gateway and its branches
COLUMN_GAP = 30  # between two branches' columns
WIDTH = {"approver": 240, "handler": 160, "cc": 160, "delay": 160, "trigger": 160}
HEIGHT = {"approver": 80 + GAP + 50, "handler": 80, "cc": 36, "delay": 36}
MARGIN = 60

Point = tuple[float, float]


@dataclass
class Pending:
    """A flow leaving `source` whose target is not placed yet: its first waypoints and its properties."""

    source: str
    points: list[Point]
    flow_id: str | None = None
    name: object = None
    condition: str | None = None
    default: bool = False


@dataclass
class Graph:
    """Flow nodes (id, BPMN tag, attributes, node), flows and the diagram, in document order."""

    nodes: list[dict] = field(default_factory=list)
    flows: list[dict] = field(default_factory=list)
    shapes: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    edges: dict[str, list[Point]] = field(default_factory=dict)

    def add(self, element_id: str, tag: str, kind: str, cx: float, top: float, **extra) -> tuple[float, float]:
        """Place a flow node centred on cx with its top at `top`; returns its (width, height)."""
        width, height = SIZES[kind]
        self.nodes.append({"id": element_id, "tag": tag, **extra})
        self.shapes[element_id] = (cx - width / 2, top, width, height)
        return width, height

    def connect(self, pending: Pending, target: str, entry: Point, horizontal_entry: bool = False) -> None:
        """Finish a pending flow at `target`, entering at `entry` (with one corner when needed)."""
        points = list(pending.points)
        last = points[-1]
        if last[0] != entry[0] and last[1] != entry[1]:
            points.append((last[0], entry[1]) if horizontal_entry else (entry[0], last[1]))
        points.append(entry)
        flow_id = pending.flow_id or f"f_{pending.source}_{target}"
        self.flows.append({"id": flow_id, "source": pending.source, "target": target, "name": pending.name,
                           "condition": pending.condition, "default": pending.default})
        self.edges[flow_id] = points


def node_width(node: dict) -> float:
    """The width of the column a node needs."""
    if node.get("kind") in ("condition", "parallel", "inclusive"):
        branches = node.get("branches") or []
        return max(160.0, sum(branch_width(b) for b in branches) + COLUMN_GAP * max(0, len(branches) - 1))
    return WIDTH.get(node.get("kind"), 160)


def branch_width(branch: dict) -> float:
    """The width of one branch's column."""
    return max([160.0] + [node_width(n) for n in branch.get("nodes") or []])


def node_height(node: dict) -> float:
    """The height a node takes in its column."""
    kind = node.get("kind")
    if kind in ("condition", "parallel", "inclusive"):
        tallest = max([0.0] + [series_height(b.get("nodes") or []) for b in node.get("branches") or []])
        return 50 + BRANCH_GAP * 2 + tallest + 50
    if kind == "trigger":
        return 36 if node.get("message") else 80
    return HEIGHT.get(kind, 80)


def series_height(nodes: list[dict]) -> float:
    """The height of a column of nodes."""
    return sum(node_height(n) for n in nodes) + GAP * max(0, len(nodes) - 1)


def branch_columns(node: dict, cx: float) -> list[float]:
    """The centre x of each branch of a branch node centred on cx."""
    widths = [branch_width(b) for b in node.get("branches") or []]
    left = cx - (sum(widths) + COLUMN_GAP * max(0, len(widths) - 1)) / 2
    centres = []
    for width in widths:
        centres.append(left + width / 2)
        left += width + COLUMN_GAP
    return centres


def side_exit(cx: float, centre_y: float, column: float) -> Point:
    """Where a flow from a gateway centred at (cx, centre_y) to a column leaves it: left, right or bottom."""
    if column < cx:
        return (cx - 25, centre_y)
    if column > cx:
        return (cx + 25, centre_y)
    return (cx, centre_y + 25)


def side_entry(cx: float, centre_y: float, column: float) -> tuple[Point, bool]:
    """Where a flow from a column enters a gateway centred at (cx, centre_y); True when from the side."""
    if column < cx:
        return (cx - 25, centre_y), True
    if column > cx:
        return (cx + 25, centre_y), True
    return (cx, centre_y - 25), False
