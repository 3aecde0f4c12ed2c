"""The process list, drafts, the modeler page and the JSON the browser bundle talks to."""

from __future__ import annotations

from designer import bp  # noqa: F401
