"""Process analytics dashboards (issue 19): `/dashboards/` lists the processes the person may analyse,
`/dashboards/<key>` shows one process's volume, cycle time, nodes (with the heat map on its diagram),
overdue tasks and workload, each chart with its table; every table exports to CSV and XLSX. The numbers
and the scope rule are the engine's (`engine.work.analytics`, `designer_access.analysable_keys`)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from sqlalchemy import select

from engine.data.models import Department
from engine.errors import NotFoundError
from engine.packages.designer_access import analysable_keys
from engine.people import org
from engine.work import analytics

from . import vendor, work
from .auth import current_account
from .i18n import current_language

bp = Blueprint("dashboards", __name__)

FILTERS = ("since", "until", "period", "version", "department", "lang")  # what the exports carry over
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
}
TABLES = {"volume": _l("Requests per period"), "cycle": _l("Cycle time and approval rate"),
          "nodes": _l("Waiting time per step"), "sla": _l("Due dates met and missed, per step and department"),
          "overdue": _l("Overdue tasks now"),
          "workload_people": _l("Workload per person"), "workload_departments": _l("Workload per department")}


@bp.app_context_processor
def _helpers() -> dict:
    def may_analyse() -> bool:
        """Whether the home page's "Process dashboards" link is for this person."""
        with work.sessions()() as session:
            keys = analysable_keys(session, current_account().username)
        return keys is None or bool(keys)
    return {"may_analyse": may_analyse}


@bp.app_template_filter("dash_value")
def dash_value(value):
    """A dashboard number, or "—" when there is none (no finished wait yet)."""
    return "—" if value is None else value


def _keys(session):
    """The keys the person may analyse (None: all); 403 for whoever may analyse none."""
    keys = analysable_keys(session, current_account().username)
    if keys is not None and not keys:
        abort(403)
    return keys


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
                found[name] = datetime.combine(day, time(), UTC)
            except ValueError:
                errors.append(_("%(field)s is not a date (YYYY-MM-DD): %(value)s.", field=label, value=value))
    for name in ("department", "version"):
        value = request.args.get(name, "").strip()
        found[name] = None
        if value:
            if value.isdigit():
                found[name] = int(value)
            else:
                errors.append(_("Not a number: %(value)s.", value=value))
    if found["until"] is not None:
        found["until"] = found["until"].replace(hour=23, minute=59, second=59)
    return found, errors


def _tables(session, keys, key: str, filters: dict, nodes: list[dict] | None = None) -> dict:
    return analytics.tables(session, keys, key, filters["period"], filters["since"], filters["until"],
                            filters["department"], filters["version"], nodes=nodes)


@bp.get("/dashboards/")
def index():
    """The processes the person may analyse."""
    with work.sessions()() as session:
        rows = analytics.processes(session, _keys(session))
    return render_template("dashboards/index.html", rows=rows, lang=current_language())


@bp.get("/dashboards/<key>")
def process(key: str):
    """One process's dashboard: every table with its chart, the heat map, filters and exports."""
    lang = current_language()
    with work.sessions()() as session:
        keys = _keys(session)
        if keys is not None and key not in keys:
            abort(403)
        found = next((p for p in analytics.processes(session, keys) if p["key"] == key), None)
        if found is None:
            abort(404)
        filters, errors = _filters()
        if filters["version"] is not None and filters["version"] not in found["versions"]:
            errors.append(_("There is no version %(number)s of this process.", number=filters["version"]))
            filters["version"] = None
        nodes = analytics.node_stats(session, keys, key, filters["version"])
        data = _tables(session, keys, key, filters, nodes)
        diagram = analytics.version_diagram(session, key, filters["version"], lang)
        heat = {e: {"level": h["level"], "title": _("%(step)s: median %(median)s h, P90 %(p90)s h, %(waiting)s waiting now",
                                                     step=diagram["labels"].get(e, e), median=_h(h["median"]),
                                                     p90=_h(h["p90"]), waiting=h["waiting"])}
                for e, h in analytics.heat(nodes).items()}
        people = org.display_names(session, {r[0] for r in data["workload_people"]["rows"] if r[0]}
                                   | {r[2] for r in data["overdue"]["rows"] if r[2]}, lang)
        departments = session.execute(select(Department.id, Department.name, Department.name_en)
                                      .order_by(Department.path)).all()
    department_names = {d.id: (d.name_en or d.name) if lang == "en" else d.name for d in departments}
    display = {"cycle": [str(COLUMNS[r[0]]) for r in data["cycle"]["rows"]],
               "nodes": [diagram["labels"].get(r[0], r[0]) for r in data["nodes"]["rows"]],
               "people": [people.get(r[0], r[0]) if r[0] else _("Unassigned") for r in data["workload_people"]["rows"]],
               "departments": [department_names.get(r[0], _("No department")) for r in data["workload_departments"]["rows"]],
               "sla": [f"{diagram['labels'].get(r[0], r[0])} · {department_names.get(r[1], _('No department'))}"
                       for r in data["sla"]["rows"]]}
    return render_template("dashboards/process.html", process=found, key=key, data=data, filters=filters,
                           errors=errors, heat=heat, labels=diagram["labels"], people=people,
                           departments=departments, department_names=department_names, lang=lang, display=display,
                           export_args={k: request.args[k] for k in FILTERS if request.args.get(k)},
                           periods=PERIODS, columns=COLUMNS, titles=TABLES, diagram_available=vendor.available(),
                           diagram_url=url_for("dashboards.diagram_xml", key=key, version=diagram["version"])), \
        400 if errors else 200


def _h(value):
    return "—" if value is None else round(value / 3600, 1)


@bp.get("/dashboards/<key>/diagram.xml")
def diagram_xml(key: str):
    """The BPMN XML of a version of the process, for the heat map."""
    with work.sessions()() as session:
        keys = _keys(session)
        if keys is not None and key not in keys:
            abort(403)
        try:
            xml = analytics.version_diagram(session, key, request.args.get("version", type=int),
                                            current_language())["xml"]
        except NotFoundError:
            abort(404)
    return xml, 200, {"Content-Type": "application/xml; charset=utf-8"}


def _named(session, key: str, version: int | None, found: dict) -> list[list]:
    """A table's rows for an export: people by display name, steps and departments by their names in the
    page's language, times as ISO text."""
    lang = current_language()
    columns = found["columns"]
    labels = analytics.version_diagram(session, key, version, lang)["labels"]
    people = org.display_names(session, {row[i] for row in found["rows"] for i, c in enumerate(columns)
                                         if c in ("person", "waits_for") and row[i]}, lang)
    departments = {d.id: (d.name_en or d.name) if lang == "en" else d.name
                   for d in session.execute(select(Department.id, Department.name, Department.name_en))}
    named = {"person": lambda v: people.get(v, v), "waits_for": lambda v: people.get(v, v),
             "element_id": lambda v: labels.get(v, v), "department_id": lambda v: departments.get(v, v)}
    return [[v.isoformat() if isinstance(v, datetime) else named[c](v) if c in named and v is not None else v
             for c, v in zip(columns, row, strict=True)] for row in found["rows"]]


@bp.get("/dashboards/<key>/<table>.<fmt>")
def export(key: str, table: str, fmt: str):
    """One table of the dashboard, with the page's filters, as CSV or XLSX (headers in the page's language)."""
    if table not in TABLES or fmt not in ("csv", "xlsx"):
        abort(404)
    with work.sessions()() as session:
        keys = _keys(session)
        if keys is not None and key not in keys:
            abort(403)
        filters, errors = _filters()
        if errors:
            abort(400)
        found = _tables(session, keys, key, filters)[table]
        rows = _named(session, key, filters["version"], found)
    header = [str(COLUMNS.get(c, c)) for c in found["columns"]]
    name = f"{key}-{table}.{fmt}"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
        body, mime = "\ufeff" + out.getvalue(), "text/csv; charset=utf-8"  # the BOM: Excel reads UTF-8
    else:
        book = Workbook()
        sheet = book.active
        sheet.title = table[:31]
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        buffer = io.BytesIO()
        book.save(buffer)
        body, mime = buffer.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(body, mimetype=mime, headers={"Content-Disposition": f'attachment; filename="{name}"'})
