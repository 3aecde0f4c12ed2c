"""The process designer (`/designer/...`): process owners draw, check, version and deploy packages.

One blueprint, split by concern: `editor` (the process list, drafts, the modeler page and its JSON),
`versions` (version list, diff, migration of running instances). The browser bundle's sources are in
`designer/src/`, built by `make setup` into `designer/static/build/` (never committed). Views are thin:
the rules live in `engine.packages` (drafts, access, diff) and `engine.runtime` (migration).
Below `web` in the layers: nothing here imports `web`.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("designer", __name__, url_prefix="/designer", template_folder="templates",
               static_folder="static", static_url_path="/static")

from designer import (  # noqa: E402,F401  (their routes register on `bp`)
    editor,
    flow,
    forms,
    notifications,
    scenarios,
    simulate,
    tabs,
    versions,
)
