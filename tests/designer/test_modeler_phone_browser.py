"""The diagram page on a phone (390 px): the diagram opens (the canvas once got no width beside the properties
panel and bpmn-js failed with a non-finite scale), nothing is wider than the screen, and the problems list
sits below the modeler, in Chinese on a Chinese page."""

from __future__ import annotations

import pytest

from tests.designer.flow_pages import new_process
from tests.designer.test_flow_browser import site  # noqa: F401 (fixture)
from tests.web.test_browser_approval import Person as Browser
from tests.web.test_browser_approval import browser  # noqa: F401 (fixture)

from .harness import bundle_built

pytestmark = pytest.mark.browser


def test_the_diagram_opens_at_390_px_with_the_problems_below(browser, site):  # noqa: F811
    if not bundle_built():
        pytest.skip("the designer bundle: `make bundle`")
    base, _sessions = site
    person = Browser(browser, base, "owner", "zh")
    page = person.page
    new_process(page, base, "phone", "手机", category="hr")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/designer/phone/edit")
    page.wait_for_selector(".ld-canvas .djs-container")
    page.wait_for_selector("#designer-problems .ld-problem-list", state="attached")
    status = page.locator("#designer-status").inner_text()
    assert "无法打开流程图" not in status, status
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    canvas = page.locator(".ld-canvas").bounding_box()
    panel = page.locator(".ld-panel").bounding_box()
    problems = page.locator(".designer-problems-panel").bounding_box()
    assert canvas["width"] > 300 and canvas["height"] > 300, canvas
    assert panel["y"] >= canvas["y"] + canvas["height"] - 1, (canvas, panel)  # the panel below the canvas
    assert problems["y"] >= panel["y"] + panel["height"] - 1 and problems["width"] > 300, (panel, problems)
    person.close()
