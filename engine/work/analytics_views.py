"""Process analytics (issue 19), the views over `engine.work.analytics`'s reads: out-of-office deputies in
effect, the path frequencies of a version's diagram, and `tables`, every table of a process's dashboard as
the page, its charts and its CSV / XLSX exports show them (one place, so they cannot disagree)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from engine.data.analytics_models import AnalyticsFlowPass, AnalyticsNodeVisit
from engine.data.models import OutOfOffice, Person
from engine.people import org
from engine.work import analytics_paths
from engine.work.analytics import (
    Filters,
    _instances_where,
    _scoped,
    escalations,
    instance_counts,
    node_stats,
    overdue_now,
    sla,
    workload,
)


def deputies_in_effect(session: Session, scope, key: str, filters: Filters | None = None,
                       now: datetime | None = None) -> list[dict]:
    """People out of office at `now` who act on the process's tasks (as far as the viewer sees them), each
    with the deputy who receives their new tasks (`org.deputies_of`: chains followed), the window's end
    and their open tasks of the process; by person."""
    now = now or datetime.now(UTC)
    v, away = AnalyticsNodeVisit, aliased(Person)
    acts = _scoped(select(v.task_id).where(v.actor == away.username), scope, key, filters)
    if acts is None:
        return []
    windows = session.execute(select(away.username, OutOfOffice.ends_at)
                              .join(OutOfOffice, OutOfOffice.person_id == away.id)
                              .where(and_(OutOfOffice.starts_at <= now, OutOfOffice.ends_at > now), exists(acts))
                              .order_by(away.username, OutOfOffice.ends_at)).all()
    until = {name: ends for name, ends in windows}  # the latest-ending window of each
    deputies = org.deputies_of(session, until, now)
    open_tasks = dict(session.execute(_scoped(select(v.actor, func.count()).where(
        v.outcome == "open", v.actor.in_(list(until))).group_by(v.actor), scope, key, filters)).all()) if until else {}
    return [{"person": name, "deputy": deputies.get(name), "until": until[name], "open": open_tasks.get(name, 0)}
            for name in org.by_name(session, until)]


def path_frequencies(session: Session, scope, key: str, version: int, filters: Filters | None = None) -> dict:
    """Per sequence flow of version `version` of `key`: the instances (of those the viewer sees, started in
    the filters' range, by the initiator's department) that took it and how many times it was taken."""
    where = _instances_where(scope, key, replace(filters or Filters(), version=None), AnalyticsFlowPass)
    if where is None:
        return {}
    return analytics_paths.flow_counts(session, key, version, where)


def tables(session: Session, scope, key: str, period: str = "day", filters: Filters | None = None,
           now: datetime | None = None, nodes: list[dict] | None = None, flows: dict | None = None) -> dict[str, dict]:
    """Every table of a process's dashboard as {columns, rows}; durations in hours, rounded to 0.1. `nodes`:
    `node_stats` already read (the page also draws them as the heat map), `flows`: `path_frequencies` of
    the diagram's version (the page draws them on the flows; without them there is no flows table)."""
    now = now or datetime.now(UTC)
    counts = instance_counts(session, scope, key, period, filters)
    names = ("started", "finished", "running", "withdrawn", "rejected")
    nodes = node_stats(session, scope, key, filters, now) if nodes is None else nodes
    load = workload(session, scope, key, filters)
    # people in pinyin order of their names (the unassigned last), as every list of people
    people = org.by_name(session, {*load["open_by_person"], *load["median_to_act"],
                                   *(who for who, _ in load["done_per_week"])})
    rank = {who: i for i, who in enumerate(people)}
    return {
        "volume": {"columns": ["period", *names],
                   "rows": [[p, *(counts["rows"][p].get(n, 0) for n in names)] for p in counts["periods"]]},
        "cycle": {"columns": ["measure", "value"],
                  "rows": [["cycle_median_h", hours(counts["cycle_median"])],
                           ["cycle_p90_h", hours(counts["cycle_p90"])],
                           ["approval_rate_pct", counts["approval_rate"]]]},
        "trend": {"columns": ["period", "cycle_median_h", "cycle_p90_h", "finished"],
                  "rows": [[t["period"], hours(t["median"]), hours(t["p90"]), t["count"]] for t in counts["trend"]]},
        "nodes": {"columns": ["element_id", "median_h", "p90_h", "finished", "waiting", "oldest_h"],
                  "rows": [[n["element_id"], hours(n["median"]), hours(n["p90"]), n["finished"], n["waiting"],
                            hours(n["oldest"])] for n in nodes]},
        "flows": {"columns": ["flow_id", "instances", "passes"],
                  "rows": [[f, c["instances"], c["passes"]] for f, c in
                           sorted((flows or {}).items(), key=lambda item: (-item[1]["instances"], item[0]))]},
        "sla": {"columns": ["element_id", "department_id", "met", "missed"],
                "rows": [[r["element_id"], r["department_id"], r["met"], r["missed"]]
                         for r in sla(session, scope, key, filters)]},
        "escalations": {"columns": ["element_id", "department_id", "escalations", "tasks"],
                        "rows": [[r["element_id"], r["department_id"], r["escalations"], r["tasks"]]
                                 for r in escalations(session, scope, key, filters)]},
        "overdue": {"columns": ["instance_id", "element_id", "waits_for", "due_at", "overdue_h"],
                    "rows": [[o["instance_id"], o["element_id"], o["waits_for"], o["due_at"],
                              hours(o["overdue_seconds"])] for o in overdue_now(session, scope, key, filters, now)]},
        "workload_people": {"columns": ["person", "open", "median_to_act_h"],
                            "rows": [[who, load["open_by_person"].get(who, 0), hours(load["median_to_act"].get(who))]
                                     for who in people if who in load["open_by_person"] or who in load["median_to_act"]]},
        "workload_departments": {"columns": ["department_id", "open"],
                                 "rows": [[d, n] for d, n in load["open_by_department"].items()]},
        "done_weekly": {"columns": ["week", "person", "done"],
                        "rows": [[week, who, n] for (who, week), n in
                                 sorted(load["done_per_week"].items(), key=lambda item: (item[0][1], rank[item[0][0]]))]},
        "deputies": {"columns": ["person", "deputy", "until", "open"],
                     "rows": [[d["person"], d["deputy"], d["until"], d["open"]]
                              for d in deputies_in_effect(session, scope, key, filters, now)]},
    }


def hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 1)
