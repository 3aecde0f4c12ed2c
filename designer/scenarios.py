"""The package's scenario tests: edit, run against the draft in a throwaway database, results on the diagram (issue 15)."""

from __future__ import annotations

from designer import bp  # noqa: F401
