"""Version list, the diff of two versions and the migration of running instances."""

from __future__ import annotations

from designer import bp  # noqa: F401
