"""Every BPMN file Liaison ships or tests with opens in the designer's modeler (headless Chromium,
the built bundle under CSP script-src 'self') and saves back, with no edit, to the same XML tree:
nothing of liaison:*, camunda:* or extension elements is lost or added."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.bpmn.xmlsafe import read_xml_file
from engine.errors import UnreadableFileError
from tests.browser_support import chromium

from .harness import OPEN_AND_SAVE, serve_harness
from .xmltree import differences

pytestmark = pytest.mark.browser

BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
ROOT = Path(__file__).resolve().parents[2]
# Fixtures broken on purpose (engine tests of refusals): the modeler drops what cannot be held in its
# model. Each loss names what it is about (every lost or added fact contains it).
LOSSY = {
    "tests/fixtures/bpmn/odd/two_processes_same_id.bpmn": "process#p",  # duplicate id: an import warning
    "tests/fixtures/bpmn/odd/data_object_ref_bad.bpmn": "targetRef",  # reference to no element
    "tests/fixtures/bpmn/odd/io_spec_bad.bpmn": "loopDataInputRef",  # reference to no element
    "tests/fixtures/bpmn/odd/loop_max_bad.bpmn": "loopMaximum",  # "x" for an integer: NaN
}


def _readable(path: Path) -> bool:
    try:
        read_xml_file(str(path))
    except UnreadableFileError:  # hostile or malformed on purpose (XXE, billion laughs, truncated)
        return False
    return True


FILES = sorted(
    str(path.relative_to(ROOT))
    for folder in ("processes", "tests/fixtures", "engine/packages/templates")
    for path in (ROOT / folder).rglob("*.bpmn")
    if _readable(path)
)


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.fixture(scope="module")
def page(browser):
    page = browser.new_page()
    errors = serve_harness(page)
    yield page
    page.close()
    assert not [error for error in errors if "Content Security Policy" in error or "outside" in error], errors


def test_there_are_files_to_round_trip():
    assert len(FILES) >= 20


@pytest.mark.parametrize("name", FILES)
def test_file_saves_back_unchanged(page, name):
    xml = (ROOT / name).read_text(encoding="utf-8")
    result = page.evaluate(OPEN_AND_SAVE, [xml, "en"])
    lost, added = differences(xml, result["saved"])
    if result["laidOut"]:  # drawn on opening: the diagram (BPMNDI) is new, the process must not change
        added = [fact for fact in added if f"{{{BPMNDI}}}BPMNDiagram" not in fact]
    if name in LOSSY:
        assert lost and all(LOSSY[name] in fact for fact in lost + added), (lost, added)
        return
    assert (lost, added) == ([], []), f"{name}: lost {lost[:10]}, added {added[:10]}"


def _chain_documents() -> dict[str, str]:
    """The BPMN the chain editor writes (issue 16): the four chain templates and the test chains."""
    from engine.packages.chain import chain_to_bpmn
    from engine.packages.chain.templates import CHAIN_TEMPLATES
    from tests.engine.packages.test_chain import EVERY_KIND, EXAMPLE

    chains = {**{f"template {name}": template["chain"] for name, template in CHAIN_TEMPLATES.items()},
              "example": EXAMPLE, "every kind": EVERY_KIND}
    return {label: chain_to_bpmn(chain, "chain_trip")[0] for label, chain in chains.items()}


CHAIN_DOCUMENTS = _chain_documents()


@pytest.mark.parametrize("label", sorted(CHAIN_DOCUMENTS))
def test_chain_editor_bpmn_opens_in_the_modeler_and_saves_back_unchanged(page, label):
    xml = CHAIN_DOCUMENTS[label]
    result = page.evaluate(OPEN_AND_SAVE, [xml, "zh"])
    assert not result["laidOut"], "the chain writes its own top-to-bottom layout"
    assert differences(xml, result["saved"]) == ([], [])
