"""Step through the draft with the real engine in a sandbox database; save the session as a scenario test (issue 15)."""

from __future__ import annotations

from designer import bp  # noqa: F401
