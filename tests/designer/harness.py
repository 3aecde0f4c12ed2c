"""A page that loads the designer bundle (designer/static/build, made by `make bundle`) under the
app's Content-Security-Policy (`script-src 'self'`: no eval), served through Playwright's routing:
no app, no network (requests outside the page's origin are aborted)."""

from __future__ import annotations

from pathlib import Path

from tests.browser_support import unavailable
from web import CONTENT_SECURITY_POLICY as CSP  # the app's own policy: script-src 'self', no eval

BUILD = Path(__file__).resolve().parents[2] / "designer" / "static" / "build"
ORIGIN = "http://designer.test"
PAGE = """<!doctype html><html><head><meta charset="utf-8">
<meta name="csrf-token" content="test-token">
<link rel="stylesheet" href="/build/designer.css"><script src="/build/designer.js"></script></head>
<body><div id="host" style="width:1200px;height:800px"></div></body></html>"""
TYPES = {".js": "text/javascript", ".css": "text/css", ".map": "application/json"}


def bundle_built() -> bool:
    return (BUILD / "designer.js").is_file() and (BUILD / "designer.css").is_file()


def serve_harness(page, extra=None, body=None):
    """Route ORIGIN to the harness page and the bundle; `extra(route, path)` may answer other paths
    (JSON endpoints) and returns True when it did. Everything else outside ORIGIN is aborted."""
    if not bundle_built():
        unavailable("the designer bundle: `make bundle` (needs npm)")
    page_html = PAGE if body is None else PAGE.replace('<div id="host" style="width:1200px;height:800px"></div>', body)

    errors: list[str] = []

    def handle(route):
        url = route.request.url
        if not url.startswith(ORIGIN):
            errors.append(f"request outside the page's origin: {url}")
            route.abort()
            return
        path = url[len(ORIGIN):].split("?")[0]
        if path.startswith("/build/"):
            file = BUILD / path[len("/build/"):]
            if file.is_file():
                route.fulfill(status=200, body=file.read_bytes(),
                              headers={"Content-Type": TYPES.get(file.suffix, "application/octet-stream")})
                return
        elif path in ("/", "/harness.html"):
            route.fulfill(status=200, body=page_html, headers={"Content-Type": "text/html; charset=utf-8",
                                                          "Content-Security-Policy": CSP})
            return
        if extra is None or not extra(route, path):
            route.fulfill(status=404, body="not found")

    page.route("**/*", handle)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{ORIGIN}/harness.html")
    page.wait_for_function("window.LiaisonDesigner !== undefined")
    return errors


OPEN_AND_SAVE = """async ([xml, lang]) => {
  const host = document.getElementById('host');
  host.replaceChildren();
  const { modeler, warnings, laidOut } = await window.LiaisonDesigner.open(host, xml, { lang });
  const { xml: saved } = await modeler.saveXML({ format: false });
  modeler.destroy();
  return { saved, laidOut, warnings: warnings.map(warning => warning.message) };
}"""

OPEN = """async ([xml, lang, draft]) => {
  const host = document.getElementById('host');
  host.replaceChildren();
  const { modeler } = await window.LiaisonDesigner.open(host, xml, { lang, draft });
  window.modeler = modeler;
}"""
# Select until the panel shows the element: the panel subscribes to selection changes in an effect
# after its first render, so a selection made right after the import can go unseen: select again.
SELECTED = """id => {
  const element = window.modeler.get('elementRegistry').get(id);
  const selection = window.modeler.get('selection');
  const field = document.getElementById('bio-properties-panel-id');
  if (field !== null && field.value === id) return true;
  selection.select(null);
  selection.select(element);
  return false;
}"""


def select(page, element_id):
    try:
        page.wait_for_function(SELECTED, arg=element_id, polling=100, timeout=10000)
    except Exception as exc:
        state = page.evaluate("""() => ({
          selected: window.modeler.get('selection').get().map(e => e.id),
          field: (document.getElementById('bio-properties-panel-id') || {}).value,
          header: (document.querySelector('.bio-properties-panel-header-label') || {}).textContent,
          panel: (document.querySelector('.ld-panel') || {}).innerHTML?.slice(0, 300)})""")
        raise AssertionError(f"{element_id} not shown in the panel: {state}") from exc
SAVE = "async () => (await window.modeler.saveXML({ format: false })).xml"


def open_group(page, group_id):
    """Open a properties-panel group (groups start closed) by clicking its header."""
    header = page.locator(f'[data-group-id="group-{group_id}"] .bio-properties-panel-group-header')
    if "open" not in (header.get_attribute("class") or ""):
        header.click()


def saved_when(page, text: str, attempts: int = 100) -> str:
    """The saved XML once it contains `text` (the panel's text fields write after a debounce)."""
    for _ in range(attempts):
        xml = page.evaluate(SAVE)
        if text in xml:
            return xml
        page.wait_for_timeout(100)
    return xml
