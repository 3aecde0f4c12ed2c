"""A chain's BPMN opens in bpmn-js (the viewer the designer and the instance page use): no import warnings,
every element drawn, the diagram taller than wide (laid out top to bottom)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.packages.chain import chain_to_bpmn
from engine.packages.chain.templates import CHAIN_TEMPLATES, chain_template
from tests.browser_support import chromium, unavailable
from tests.engine.packages.test_chain import EVERY_KIND, EXAMPLE

VIEWER = Path(__file__).resolve().parents[3] / "node_modules/bpmn-js/dist/bpmn-viewer.development.js"
IMPORT = """async (xml) => {
  const viewer = new BpmnJS({container: document.getElementById('canvas')});
  const result = await viewer.importXML(xml);
  const registry = viewer.get('elementRegistry');
  const box = viewer.get('canvas').viewbox().inner;
  return {warnings: result.warnings.map(w => w.message), ids: registry.getAll().map(e => e.id),
          width: box.width, height: box.height};
}"""


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.fixture(scope="module")
def page(browser):
    if not VIEWER.exists():
        unavailable(f"bpmn-js at {VIEWER} (npm ci)")
    page = browser.new_page()
    page.set_content('<div id="canvas" style="width: 1200px; height: 900px"></div>')
    page.add_script_tag(path=str(VIEWER))
    yield page
    page.close()


@pytest.mark.parametrize("name", ["example", "every_kind", *CHAIN_TEMPLATES])
def test_a_chain_s_bpmn_opens_in_bpmn_js_without_warnings(page, name):
    chain = {"example": EXAMPLE, "every_kind": EVERY_KIND}.get(name) or chain_template(name)["chain"]
    xml, _names = chain_to_bpmn(chain, "viewed")
    result = page.evaluate(IMPORT, xml)
    assert result["warnings"] == []
    assert {chain["start"]["id"], "end"} <= set(result["ids"])
    assert result["height"] > result["width"]  # a column, top to bottom
