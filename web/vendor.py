"""Browser libraries installed from npm at setup (`node_modules/`, never committed), served read-only.

Only the files listed in VENDOR_FILES are reachable, so nothing else under node_modules is exposed.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, send_from_directory

NODE_MODULES = Path(__file__).resolve().parents[1] / "node_modules"
VENDOR_FILES = {
    "bpmn-viewer.js": "bpmn-js/dist/bpmn-navigated-viewer.production.min.js",
    "bpmn-js.css": "bpmn-js/dist/assets/bpmn-js.css",
    "diagram-js.css": "bpmn-js/dist/assets/diagram-js.css",
    "chart.js": "chart.js/dist/chart.umd.min.js",
    "sortable.js": "sortablejs/Sortable.min.js",  # the project board (web/projects.py)
}

bp = Blueprint("vendor", __name__, url_prefix="/vendor")


@bp.get("/<name>")
def asset(name: str):
    relative = VENDOR_FILES.get(name)
    if relative is None or not (NODE_MODULES / relative).is_file():
        abort(404)
    return send_from_directory(NODE_MODULES, relative, max_age=86400)


def available() -> bool:
    """True when `make setup` installed the npm packages (the diagram viewer needs them)."""
    return (NODE_MODULES / VENDOR_FILES["bpmn-viewer.js"]).is_file()
