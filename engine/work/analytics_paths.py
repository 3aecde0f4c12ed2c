"""Path frequencies of process analytics (issue 19): which sequence flows the instances took.

The engine's history has a `step` row for every element an instance passes (events, gateways, scripts)
and a `task_completed` row for each user task, in order. `rebuild` reads them for the instances a refresh
rebuilds and credits, for each element B, the flow A -> B from the element A passed most recently before
B (so parallel branches, whose rows interleave, still find their own flow); B without such a flow (a
boundary event, a jump by an admin) credits none. The user tasks not completed (open, or cancelled by a
withdrawal) come last: the token reached them, though no history row says so yet. One `analytics_flow_pass` row per instance and flow,
`passes` times taken (more than 1 only in loops). `flow_counts` reads them for one version's diagram.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from sqlalchemy import ARRAY, Integer, any_, bindparam, delete, func, insert, select
from sqlalchemy.orm import Session

from engine.bpmn.xmlsafe import parse_xml_bytes
from engine.caching import BoundedCache
from engine.data.analytics_models import AnalyticsFlowPass, AnalyticsInstance
from engine.data.models import HistoryEntry, ProcessInstance, ProcessVersion, WorkTask
from engine.errors import LiaisonError

PASSED = ("step", "task_completed")
_FLOWS: BoundedCache[dict[str, list[tuple[str, str]]]] = BoundedCache(256)  # version checksum -> target -> flows


def version_flows(bpmn: dict[str, str] | None) -> dict[str, list[tuple[str, str]]]:
    """The sequence flows of a version's BPMN files as target element -> [(source element, flow id)]."""
    into: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for text in (bpmn or {}).values():
        try:
            tree = parse_xml_bytes(text.encode("utf-8"))
        except LiaisonError:
            continue
        for node in tree.getroot().iter():
            if isinstance(node.tag, str) and node.tag.endswith("}sequenceFlow") and node.get("id"):
                into[node.get("targetRef", "")].append((node.get("sourceRef", ""), node.get("id")))
    return dict(into)


def flows_taken(path: list[str], into: dict[str, list[tuple[str, str]]]) -> Counter:
    """How many times each flow was taken along `path` (element ids in the order passed)."""
    taken: Counter = Counter()
    last_seen: dict[str, int] = {}
    for position, element in enumerate(path):
        candidates = [(last_seen[source], flow) for source, flow in into.get(element, ()) if source in last_seen]
        if candidates:
            taken[max(candidates)[1]] += 1
        last_seen[element] = position
    return taken


def among(session: Session, column, ids: list[int]):
    """`column IN ids` as SQL; on PostgreSQL `= ANY(array)`, one parameter instead of thousands (a batch of
    5,000 ids as 5,000 parameters costs more to bind than the statement takes to run)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, ids, type_=ARRAY(Integer), unique=True))
    return column.in_(ids)


def rebuild(session: Session, ids: list[int]) -> None:
    """Replace the flow rows of instances `ids` (their `analytics_instance` rows already rebuilt)."""
    session.execute(delete(AnalyticsFlowPass).where(among(session, AnalyticsFlowPass.instance_id, ids)))
    instances = {row.instance_id: row for row in session.execute(
        select(AnalyticsInstance.instance_id, AnalyticsInstance.process_key, AnalyticsInstance.version,
               AnalyticsInstance.initiator_department_id, AnalyticsInstance.started_at, ProcessVersion.checksum,
               ProcessVersion.id.label("version_id"))
        .join(ProcessInstance, ProcessInstance.id == AnalyticsInstance.instance_id)
        .join(ProcessVersion, ProcessVersion.id == ProcessInstance.version_id)
        .where(among(session, AnalyticsInstance.instance_id, ids)))}
    paths: dict[int, list[str]] = defaultdict(list)
    for instance_id, element in session.execute(
            select(HistoryEntry.instance_id, HistoryEntry.element_id)
            .where(among(session, HistoryEntry.instance_id, ids), HistoryEntry.action.in_(PASSED), HistoryEntry.element_id.is_not(None))
            .order_by(HistoryEntry.instance_id, HistoryEntry.id)):
        paths[instance_id].append(element)
    for instance_id, element in session.execute(  # tasks not done: the token reached them, no row says so yet
            select(WorkTask.instance_id, WorkTask.element_id)
            .where(among(session, WorkTask.instance_id, ids), WorkTask.status != "completed")
            .order_by(WorkTask.instance_id, WorkTask.created_at, WorkTask.id)):
        paths[instance_id].append(element)
    rows = []
    for instance_id, path in paths.items():
        found = instances.get(instance_id)
        if found is None:
            continue
        into = _FLOWS.get(found.checksum, lambda f=found: version_flows(
            session.scalar(select(ProcessVersion.bpmn).where(ProcessVersion.id == f.version_id))))
        rows += [{"instance_id": instance_id, "flow_id": flow, "process_key": found.process_key,
                  "version": found.version, "initiator_department_id": found.initiator_department_id,
                  "started_at": found.started_at, "passes": passes}
                 for flow, passes in flows_taken(path, into).items()]
    if rows:
        session.connection().execute(insert(AnalyticsFlowPass.__table__), rows)  # Core: no ORM bookkeeping


def flow_counts(session: Session, key: str, version: int, where=()) -> dict[str, dict]:
    """Per flow id of version `version` of `key`: instances that took it and passes, under the extra
    conditions `where` (the caller's scope and filters on `analytics_flow_pass`)."""
    f = AnalyticsFlowPass
    query = (select(f.flow_id, func.count(), func.sum(f.passes)).where(f.process_key == key, f.version == version, *where)
             .group_by(f.flow_id).order_by(f.flow_id))
    return {flow: {"instances": count, "passes": int(passes or 0)} for flow, count, passes in session.execute(query)}
