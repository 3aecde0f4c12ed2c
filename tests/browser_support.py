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


def signed_in(browser, base: str, username: str, password: str, viewport: dict, lang: str | None = None):
    """A new browser context signed in as `username` (Chinese browser locale; phone emulation below 500 px
    wide), and its page; `lang` picks the page language as `?lang=` does. Close the context when done."""
    import re

    phone = viewport["width"] < 500
    context = browser.new_context(viewport=viewport, locale="zh-CN", device_scale_factor=2 if phone else 1,
                                  is_mobile=phone, has_touch=phone)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{base}/login" + (f"?lang={lang}" if lang else ""))
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"^(?!.*/login).*$"))
    return context, page


SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def screenshot(page, name: str, full_page: bool = True) -> None:
    """docs/screenshots/NAME when LIAISON_SCREENSHOTS=1 (refreshing the docs' pictures), else nothing."""
    if os.environ.get("LIAISON_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)
