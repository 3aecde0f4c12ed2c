"""Process analytics dashboards (issue 19): `/dashboards/` lists the processes the person may analyse,
`/dashboards/<key>` shows one process's volume, cycle time and its trend, nodes (with the heat map and
the path frequencies on its diagram), SLA and escalations, overdue tasks, workload and deputies, each
chart with its table; every table exports to CSV and XLSX. The numbers and the scope rule are the
engine's (`engine.work.analytics`, `analytics_views`, `engine.packages.analytics_scope.scope_of`)."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, time
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_babel import get_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from sqlalchemy import select

from engine.data.models import Department
from engine.errors import NotFoundError
from engine.packages.analytics_scope import may_analyse_any, scope_of
from engine.people import org
from engine.work import analytics, analytics_views

from . import vendor, work
from .auth import current_account
from .i18n import current_language, when

bp = Blueprint("dashboards", __name__)

FILTERS = ("since", "until", "period", "version", "department", "initiator_department", "lang")  # exports carry these
PERIODS = {"day": _l("Day"), "week": _l("Week"), "month": _l("Month")}
COLUMNS = {
    "period": _l("Period"), "started": _l("Started (requests)"), "finished": _l("Finished (requests)"), "running": _l("Running (requests)"),
    "withdrawn": _l("Withdrawn (requests)"), "rejected": _l("Rejected (requests)"), "measure": _l("Measure"), "value": _l("Value"),
    "element_id": _l("Step"), "median_h": _l("Median wait (h)"), "p90_h": _l("P90 wait (h)"),
    "waiting": _l("Waiting now"), "oldest_h": _l("Oldest wait (h)"), "instance_id": _l("Request"),
    "waits_for": _l("Waiting for"), "due_at": _l("Due"), "overdue_h": _l("Overdue (h)"), "person": _l("Person"),
    "open": _l("Open tasks"), "median_to_act_h": _l("Median time to act (h)"), "department_id": _l("Department"),
    "cycle_median_h": _l("Cycle time median (h)"), "cycle_p90_h": _l("Cycle time P90 (h)"),
    "approval_rate_pct": _l("Approval rate (%)"), "met": _l("Due date met"), "missed": _l("Due date missed"),
    "flow_id": _l("Flow"), "instances": _l("Requests that took it"),
    "passes": _l("Times taken"), "escalations": _l("Escalations fired"), "tasks": _l("Tasks escalated"),
    "week": _l("Week"), "done": _l("Tasks done"), "deputy": _l("Deputy"), "until": _l("Away until"),
}
TABLES = {"volume": _l("Requests per period"), "cycle": _l("Cycle time and approval rate"),
          "trend": _l("Cycle time trend (by period of finishing)"),
          "nodes": _l("Waiting time per step"), "flows": _l("Paths taken: requests per flow"),
          "sla": _l("Due dates met and missed, per step and department"),
          "escalations": _l("Escalations fired, per step and department"),
          "overdue": _l("Overdue tasks now"),
          "workload_people": _l("Workload per person"), "workload_departments": _l("Workload per department"),
          "done_weekly": _l("Tasks done per person per week"), "deputies": _l("Out-of-office deputies in effect")}


@bp.app_context_processor
def _helpers() -> dict:
    def may_analyse() -> bool:
        """Whether the home page's "Process dashboards" link is for this person."""
        with work.sessions()() as session:
            return may_analyse_any(scope_of(session, current_account().username))
    return {"may_analyse": may_analyse}


@bp.app_template_filter("period_label")
def period_label(value):
    """An ISO week ("2026-W49") as people say it ("2026 年第 49 周", "2026 week 49"); days and months as they are."""
    match = re.fullmatch(r"(\d{4})-W(\d{2})", str(value))
    return _("%(year)s week %(week)s", year=match[1], week=int(match[2])) if match else value


@bp.app_template_filter("dash_value")
def dash_value(value):
    """A dashboard number, or "—" when there is none (no finished wait yet)."""
    return "—" if value is None else value


def _scope(session, key: str | None = None) -> analytics.Scope:
    """What the person may analyse (of process `key`, when given); 403 for whoever may analyse none."""
    scope = scope_of(session, current_account().username)
    if not may_analyse_any(scope) or (key is not None and not scope.sees(key)):
        abort(403)
    return scope


def _zone() -> ZoneInfo:
    """The reader's time zone (Flask-Babel's is a pytz zone, whose offset is wrong in `datetime.combine`)."""
    return ZoneInfo(str(get_timezone()))


def _filters() -> tuple[dict, list[str]]:
    """The query string's filters, and a bilingual error for each one that is not understood (then ignored)."""
    errors, found = [], {"period": request.args.get("period", "day")}
    if found["period"] not in PERIODS:
        errors.append(_("Unknown period: %(value)s.", value=found["period"]))
        found["period"] = "day"
    for name, label in (("since", _("From")), ("until", _("To"))):
        value = request.args.get(name, "").strip()
        found[name] = None
        if value:
            try:
                day = datetime.strptime(value, "%Y-%m-%d").date()
                found[name] = datetime.combine(day, time(), _zone())  # the reader's day, not UTC's
            except ValueError:
                errors.append(_("%(field)s is not a date (YYYY-MM-DD): %(value)s.", field=label, value=value))
    for name in ("department", "initiator_department", "version"):
        value = request.args.get(name, "").strip()
        found[name] = None
        if value:
            if value.isdigit():
                found[name] = int(value)
            else:
                errors.append(_("Not a number: %(value)s.", value=value))
    if found["until"] is not None:
        found["until"] = found["until"].replace(hour=23, minute=59, second=59)
    if found["since"] is not None and found["until"] is not None and found["since"] > found["until"]:
        errors.append(_("From (%(since)s) is after To (%(until)s): nothing could match.",
                        since=request.args["since"].strip(), until=request.args["until"].strip()))
        found["since"] = found["until"] = None  # then ignored, as every filter that is not understood
    return found, errors


def _engine_filters(session, filters: dict) -> analytics.Filters:
    """The engine's filters: a department filter takes the department's whole subtree."""
    def subtree(department_id):
        return None if department_id is None else tuple(org.subtree_ids(session, department_id)) or (department_id,)
    return analytics.Filters(since=filters["since"], until=filters["until"], version=filters["version"], zone=_zone(),
                             departments=subtree(filters["department"]),
                             initiator_departments=subtree(filters["initiator_department"]))


def _tables(session, scope, key: str, filters: dict, nodes: list[dict] | None = None,
            flows: dict | None = None) -> dict:
    return analytics_views.tables(session, scope, key, filters["period"], _engine_filters(session, filters),
                                  nodes=nodes, flows=flows)


def _flows(session, scope, key: str, filters: dict, version: int) -> dict:
    return analytics_views.path_frequencies(session, scope, key, version, _engine_filters(session, filters))


@bp.get("/dashboards/")
def index():
    """The processes the person may analyse."""
    with work.sessions()() as session:
        scope = _scope(session)
        rows = analytics.processes(session, scope)
        numbers = analytics.overview(session, scope)
    return render_template("dashboards/index.html", rows=rows, numbers=numbers, hours=_h, lang=current_language())


@bp.get("/dashboards/<key>")
def process(key: str):
    """One process's dashboard: every table with its chart, the heat map, filters and exports."""
    lang = current_language()
    with work.sessions()() as session:
        scope = _scope(session, key)
        found = next((p for p in analytics.processes(session, scope) if p["key"] == key), None)
        if found is None:
            abort(404)
        filters, errors = _filters()
        if filters["version"] is not None and filters["version"] not in found["versions"]:
            errors.append(_("There is no version %(number)s of this process.", number=filters["version"]))
            filters["version"] = None
        nodes = analytics.node_stats(session, scope, key, _engine_filters(session, filters))
        diagram = analytics.version_diagram(session, key, filters["version"], lang)
        flows = _flows(session, scope, key, filters, diagram["version"])
        data = _tables(session, scope, key, filters, nodes, flows)
        heat = {e: {"level": h["level"], "title": _("%(step)s: median %(median)s h, P90 %(p90)s h, %(waiting)s waiting now",
                                                     step=diagram["labels"].get(e, e), median=_h(h["median"]),
                                                     p90=_h(h["p90"]), waiting=h["waiting"])}
                for e, h in analytics.heat(nodes).items()}
        top = max((c["instances"] for c in flows.values()), default=0)
        flow_marks = {f: {"count": c["instances"], "width": 1 + round(3 * c["instances"] / top) if top else 1,
                          "title": _("%(count)s requests took this flow (%(passes)s times)",
                                     count=c["instances"], passes=c["passes"])} for f, c in flows.items()}
        people = org.display_names(session, {r[0] for r in data["workload_people"]["rows"] if r[0]}
                                   | {r[2] for r in data["overdue"]["rows"] if r[2]}
                                   | {r[1] for r in data["done_weekly"]["rows"] if r[1]}
                                   | {r[i] for r in data["deputies"]["rows"] for i in (0, 1) if r[i]}, lang)
        departments = org.in_chart_order(session.execute(select(Department.id, Department.parent_id,
                                                                Department.sort_key, Department.name,
                                                                Department.name_en)).all())
        weekly_people = org.by_name(session, {r[1] for r in data["done_weekly"]["rows"]})
    department_names = {d.id: (d.name_en or d.name) if lang == "en" else d.name for d in departments}
    display = {"cycle": [str(COLUMNS[r[0]]) for r in data["cycle"]["rows"]],
               "nodes": [diagram["labels"].get(r[0], r[0]) for r in data["nodes"]["rows"]],
               "people": [people.get(r[0], r[0]) if r[0] else _("Unassigned") for r in data["workload_people"]["rows"]],
               "departments": [department_names.get(r[0], _("No department")) for r in data["workload_departments"]["rows"]],
               "sla": [f"{diagram['labels'].get(r[0], r[0])} · {department_names.get(r[1], _('No department'))}"
                       for r in data["sla"]["rows"]],
               "escalations": [f"{diagram['labels'].get(r[0], r[0])} · {department_names.get(r[1], _('No department'))}"
                               for r in data["escalations"]["rows"]],
               "flows": [_flow_name(diagram["flows"], diagram["labels"], r[0]) for r in data["flows"]["rows"]],
               "weeks": sorted({r[0] for r in data["done_weekly"]["rows"]}),
               "weekly_people": weekly_people}
    done = {(week, who): n for week, who, n in data["done_weekly"]["rows"]}
    display["weekly_series"] = [{"label": people.get(who, who), "values": [done.get((week, who), 0)
                                                                           for week in display["weeks"]]}
                                for who in display["weekly_people"]]
    return render_template("dashboards/process.html", process=found, key=key, data=data, filters=filters,
                           errors=errors, heat=heat, flow_marks=flow_marks, labels=diagram["labels"], people=people,
                           departments=departments, department_names=department_names, lang=lang, display=display,
                           export_args={k: request.args[k] for k in FILTERS if request.args.get(k)},
                           periods=PERIODS, columns=COLUMNS, titles=TABLES, diagram_available=vendor.available(),
                           diagram_url=url_for("dashboards.diagram_xml", key=key, version=diagram["version"])), \
        400 if errors else 200


def _flow_name(flows: dict[str, tuple[str, str]], labels: dict[str, str], flow_id: str) -> str:
    """A flow as "source → target" by the elements' labels (the flow's id when the diagram lacks it)."""
    if flow_id not in flows:
        return flow_id
    source, target = flows[flow_id]
    return f"{labels.get(source, source)} → {labels.get(target, target)}"


def _h(value):
    return "—" if value is None else round(value / 3600, 1)


@bp.get("/dashboards/<key>/diagram.xml")
def diagram_xml(key: str):
    """The BPMN XML of a version of the process, for the heat map."""
    with work.sessions()() as session:
        _scope(session, key)
        try:
            xml = analytics.version_diagram(session, key, request.args.get("version", type=int),
                                            current_language())["xml"]
        except NotFoundError:
            abort(404)
    return xml, 200, {"Content-Type": "application/xml; charset=utf-8"}


def _named(session, key: str, version: int | None, found: dict) -> list[list]:
    """A table's rows for an export: people by display name, steps, flows, departments and measures by their
    names in the page's language (as the page says them, "Unassigned" included), weeks as the page says
    them, times as local "YYYY-MM-DD HH:MM" text."""
    lang = current_language()
    columns = found["columns"]
    diagram = analytics.version_diagram(session, key, version, lang)
    labels = diagram["labels"]
    people = org.display_names(session, {row[i] for row in found["rows"] for i, c in enumerate(columns)
                                         if c in ("person", "waits_for", "deputy") and row[i]}, lang)
    departments = {d.id: (d.name_en or d.name) if lang == "en" else d.name
                   for d in session.execute(select(Department.id, Department.name, Department.name_en))}
    named = {"person": lambda v: people.get(v, v), "waits_for": lambda v: people.get(v, v),
             "deputy": lambda v: people.get(v, v), "element_id": lambda v: labels.get(v, v),
             "department_id": lambda v: departments.get(v, v),
             "flow_id": lambda v: _flow_name(diagram["flows"], labels, v), "measure": lambda v: str(COLUMNS.get(v, v)),
             "period": period_label, "week": period_label}  # "2026 年第 49 周" as on the page, not "2026-W49"
    missing = {"person": _("Unassigned"), "department_id": _("No department")}  # the page's words for an empty cell
    return [[when(v) if isinstance(v, datetime)
             else named[c](v) if c in named and v is not None else missing.get(c, v) if v is None else v
             for c, v in zip(columns, row, strict=True)] for row in found["rows"]]


def _sheet_title(title: str) -> str:
    """The table's title as an Excel sheet name: without the characters Excel refuses, at most 31 long."""
    return re.sub(r"[\\/?*\[\]:]", " ", title).strip()[:31].rstrip()


@bp.get("/dashboards/<key>/<table>.<fmt>")
def export(key: str, table: str, fmt: str):
    """One table of the dashboard, with the page's filters, as CSV or XLSX (headers in the page's language)."""
    if table not in TABLES or fmt not in ("csv", "xlsx"):
        abort(404)
    with work.sessions()() as session:
        scope = _scope(session, key)
        filters, errors = _filters()
        if errors:
            abort(400)
        flows = None
        if table == "flows":
            flows = _flows(session, scope, key, filters,
                           analytics.version_diagram(session, key, filters["version"], current_language())["version"])
        found = _tables(session, scope, key, filters, flows=flows)[table]
        rows = _named(session, key, filters["version"], found)
        names = next((p["name"] for p in analytics.processes(session, scope) if p["key"] == key), {})
    header = [str(COLUMNS.get(c, c)) for c in found["columns"]]
    title = f"{names.get(current_language()) or names.get('zh') or key}-{TABLES[table]}"
    name = re.sub(r'[\\/:*?"<>|\s]+', " ", title).strip() + f".{fmt}"  # the file as the page names it
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
        body, mime = "\ufeff" + out.getvalue(), "text/csv; charset=utf-8"  # the BOM: Excel reads UTF-8
    else:
        book = Workbook()
        sheet = book.active
        sheet.title = _sheet_title(str(TABLES[table]))
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        buffer = io.BytesIO()
        book.save(buffer)
        body, mime = buffer.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = Response(body, mimetype=mime)
    # filename*: the page's language (RFC 6266); filename: an ASCII fallback for old clients
    response.headers["Content-Disposition"] = f"attachment; filename=\"{key}-{table}.{fmt}\"; filename*=UTF-8''{quote(name)}"
    return response
