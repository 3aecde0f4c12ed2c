"""The notification templates of a package, per event and channel, zh and en, with preview (issue 15)."""

from __future__ import annotations

from designer import bp  # noqa: F401
