"""The form builder of a package: palette, field properties, per-node access, live preview, YAML source (issue 15)."""

from __future__ import annotations

from designer import bp  # noqa: F401
