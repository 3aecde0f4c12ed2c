"""What the headless-Chromium tests share: serving the app on a free port, launching Chromium,
and failing (in CI) or skipping (locally) when the browser is missing."""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"


def unavailable(reason: str):
    """Fail in CI (CI=true), skip locally: a browser test never silently passes without its browser."""
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"the browser tests need {reason} in CI (`make setup` installs it)")
    pytest.skip(f"no browser test: {reason}")


@contextmanager
def serving(app):
    """The app on a free local port, in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def chromium():
    """Generator for a module-scoped `browser` fixture: Debian's Chromium driven by Playwright."""
    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable(f"playwright ({exc})")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()
