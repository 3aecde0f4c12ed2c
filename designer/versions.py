"""Version list, the diff of two versions and the migration of running instances.

- GET /designer/KEY/versions: the deployed versions (who, when, comment, running instances), pick two to diff;
- GET /designer/KEY/diff?a=1&b=2: added / removed / changed elements with their changed properties, and
  the diagrams of b (added, changed marked) and a (removed marked), drawn by `designer/static/versions.js`;
- GET /designer/KEY/versions/N.bpmn: a version's main BPMN file (for the viewer);
- GET /designer/KEY/migrate?from=N&to=M[&map=old=new...]: the dry run and the mapping form;
  POST: migrate, and show each instance's outcome.
Who may: `engine.packages.designer_access` ("edit" to look, "migrate" to plan and migrate).
"""

from __future__ import annotations

from flask import Response, current_app, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_login import current_user, login_required

from designer import bp
from engine.errors import InvalidTaskDataError, Message
from engine.packages import designer_access
from engine.packages.diff import (
    diff_draft,
    diff_versions,
    draft_diagram,
    package_names,
    version_diagram,
    version_list,
)
from engine.packages.migration import migrate_instances, plan_migration
from engine.people.org import display_names


def _sessions():
    return current_app.extensions["liaison_sessions"]


def text_of(message) -> str:
    """An engine message in the page's language (its msgid through the catalog, with its params)."""
    if isinstance(message, Message):
        params = {k: text_of(v) if isinstance(v, Message) else v for k, v in message.params.items()}
        return gettext(message.msgid, **params) if params else gettext(message.msgid)
    return str(message)


@bp.get("/<key>/versions")
@login_required
def versions(key: str):
    """The deployed versions of a package, and the forms to diff two and to migrate instances."""
    with _sessions()() as session:
        designer_access.require(session, current_user.username, key, "edit")
        rows = version_list(session, key)
        names = display_names(session, {r["deployed_by"] for r in rows if r["deployed_by"]}, _language())
        may_migrate = designer_access.may(session, current_user.username, key, "migrate")
        title = package_names(session, key)
    for row in rows:
        row["deployed_by_name"] = names.get(row["deployed_by"], row["deployed_by"]) if row["deployed_by"] else ""
    return render_template("designer/versions.html", key=key, versions=rows, may_migrate=may_migrate,
                           name=title.get(_language()) or title.get("zh") or key)


def _language() -> str:
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh"


def _number(name: str) -> int:
    value = request.args.get(name, type=int)
    if value is None:
        raise InvalidTaskDataError(gettext("Choose two versions."))
    return value


@bp.get("/<key>/diff")
@login_required
def diff(key: str):
    """The differences between versions a and b, listed and marked on the diagrams."""
    a = _number("a")
    draft = request.args.get("b") == "draft"  # what deploying the draft would change
    b = None if draft else _number("b")
    with _sessions()() as session:
        designer_access.require(session, current_user.username, key, "edit")
        result = diff_draft(session, key, a) if draft else diff_versions(session, key, a, b)
    markers = {"added": [e["id"] for e in result["added"]], "changed": [e["id"] for e in result["changed"]],
               "removed": [e["id"] for e in result["removed"]], "layout": result["layout"]}
    new_url = url_for("designer.draft_xml", key=key) if draft else url_for("designer.version_xml", key=key, number=b)
    return render_template("designer/versions_diff.html", key=key, diff=result, markers=markers, new_url=new_url,
                           b_label=gettext("draft") if draft else str(b))


@bp.get("/<key>/versions/<int:number>.bpmn")
@login_required
def version_xml(key: str, number: int):
    """A version's main BPMN file, for the diagram viewer."""
    with _sessions()() as session:
        designer_access.require(session, current_user.username, key, "edit")
        xml = version_diagram(session, key, number, _language())
    return Response(xml, mimetype="application/xml")


@bp.get("/<key>/draft.bpmn")
@login_required
def draft_xml(key: str):
    """The draft's main BPMN file, for the diff page's diagram."""
    with _sessions()() as session:
        designer_access.require(session, current_user.username, key, "edit")
        xml = draft_diagram(session, key, _language())
    return Response(xml, mimetype="application/xml")


def _mapping(values) -> dict[str, str]:
    mapping = {}
    for value in values:
        old, sep, new = value.partition("=")
        if sep and old.strip() and new.strip():
            mapping[old.strip()] = new.strip()
    return mapping


def _plan_rows(plans) -> list[dict]:
    return [{"instance_id": p.instance_id, "business_key": p.business_key, "initiator": p.initiator,
             "waiting": p.waiting, "movable": p.movable, "moved": p.moved,
             "reasons": [text_of(r) for r in p.reasons]} for p in plans]


@bp.route("/<key>/migrate", methods=["GET", "POST"])
@login_required
def migrate(key: str):
    """GET: the dry run with a mapping form for renamed elements; POST: migrate and show the outcome."""
    source = request.values.get("from", type=int)
    target = request.values.get("to", type=int)
    if source is None or target is None:
        return redirect(url_for("designer.versions", key=key))
    mapping = _mapping(request.values.getlist("map"))
    with _sessions()() as session:
        designer_access.require(session, current_user.username, key, "migrate")
        if request.method == "GET":
            plans = plan_migration(session, key, source, target, mapping, actor=current_user.username)
            result = diff_versions(session, key, source, target)
    if request.method == "POST":
        outcome = migrate_instances(_sessions(), current_user.username, key, source, target, mapping)
        return render_template("designer/versions_migrated.html", key=key, source=source, target=target,
                               rows=_plan_rows(outcome), mapping=mapping)
    rows = _plan_rows(plans)
    stuck = sorted({w["element_id"] for row in rows if not row["movable"] for w in row["waiting"]} | set(mapping))
    suggested = {r["old"]: r["new"] for r in result["renamed"]}
    choices = sorted({e["id"] for e in result["added"] if e["type"] != "sequenceFlow"})
    return render_template("designer/versions_migrate.html", key=key, source=source, target=target, rows=rows,
                           mapping=mapping, stuck=stuck, suggested=suggested, choices=choices,
                           movable=sum(1 for r in rows if r["movable"]))
