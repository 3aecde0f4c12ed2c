"""The tabs of one package in the designer (diagram, approval flow, forms, notifications, tests,
simulate, versions): each page of the package shows them, so a process owner moves between the parts of
one package without a file. A tab shows only when its view is registered."""

from __future__ import annotations

from flask import current_app, request, url_for
from flask_babel import lazy_gettext as _l

from designer import bp

# endpoint -> label, in the order shown
TABS = (
    ("designer.flow", _l("Approval flow")),
    ("designer.edit", _l("Diagram")),
    ("designer.forms", _l("Forms")),
    ("designer.notifications", _l("Notifications")),
    ("designer.scenarios", _l("Tests")),
    ("designer.simulate", _l("Simulate")),
    ("designer.versions", _l("Versions")),
)


@bp.app_context_processor
def _package_tabs():
    return {"package_tabs": package_tabs}


def package_tabs(key: str) -> list[dict]:
    """The package's tabs: [{url, label, current}] for the views that exist."""
    views = current_app.view_functions
    return [{"url": url_for(endpoint, key=key), "label": label, "current": request.endpoint == endpoint}
            for endpoint, label in TABS if endpoint in views]
