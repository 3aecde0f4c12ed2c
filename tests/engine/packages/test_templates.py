"""The designer's package templates (engine/packages/templates): each, made into a package with a key,
loads, deploys, passes its own scenario tests, names every element in zh and en and has a diagram
bpmn-js can show (every element drawn, left to right, nothing on top of anything else)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from lxml import etree

from engine.bpmn.parser import BPMN_NS
from engine.errors import NotFoundError
from engine.packages import deployment as packages
from engine.packages.scenarios import run_package_scenarios
from engine.packages.templates import PLACEHOLDER, TEMPLATES, template_files

BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DI = "http://www.omg.org/spec/DD/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
FLOW_NODES = ("startEvent", "endEvent", "userTask", "exclusiveGateway", "parallelGateway", "serviceTask",
              "intermediateCatchEvent", "boundaryEvent", "callActivity", "scriptTask", "manualTask")
NAMED = sorted(name for name in TEMPLATES if name != "blank")


def _write(tmp_path: Path, name: str, key: str, names: dict | None = None) -> Path:
    root = tmp_path / key
    for relative, text in template_files(name, key, names).items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")
    return root


def _bpmn(root: Path):
    (file,) = root.glob("*.bpmn")
    return etree.parse(str(file)).getroot()


def test_the_designer_offers_the_five_templates_named_in_both_languages():
    assert list(TEMPLATES) == ["blank", "approval", "countersign", "notice", "booking"]
    assert all(label.get("zh") and label.get("en") for label in TEMPLATES.values())
    with pytest.raises(NotFoundError):
        template_files("nope", "x")


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_a_template_made_into_a_package_loads_clean_and_deploys(name, tmp_path, sessions):
    root = _write(tmp_path, name, f"my_{name}", {"zh": "我的流程", "en": "My process"})
    assert not any(PLACEHOLDER in path.name or PLACEHOLDER in path.read_text(encoding="utf-8")
                   for path in root.rglob("*") if path.is_file())
    package = packages.load_package(root)
    assert (package.key, package.main_process) == (f"my_{name}", f"my_{name}")
    assert package.notes == []  # not even a warning
    assert package.meta["name"] == {"zh": "我的流程", "en": "My process"}
    assert package.meta["names"][f"my_{name}"] == {"zh": "我的流程", "en": "My process"}
    with sessions() as session, session.begin():
        result = packages.deploy(session, package, "owner")
    assert (result.version, result.created) == (1, True)


@pytest.mark.parametrize("name", NAMED)
def test_a_template_s_scenarios_pass(name, tmp_path, database_url):
    root = _write(tmp_path, name, f"tpl_{name}")
    results = run_package_scenarios(root, database_url)
    assert len(results) >= 2, "every template tests its ways through"
    failures = [f"{r.file}: {failure}" for r in results for failure in r.failures]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_a_template_names_every_element_in_zh_and_en(name, tmp_path):
    root = _write(tmp_path, name, f"n_{name}")
    names = yaml.safe_load((root / "package.yaml").read_text(encoding="utf-8"))["names"]
    doc = _bpmn(root)
    wanted = {node.get("id") for node in doc.iter(*(f"{{{BPMN_NS}}}{t}" for t in (*FLOW_NODES, "process")))}
    wanted |= {flow.get("id") for flow in doc.iter(f"{{{BPMN_NS}}}sequenceFlow") if flow.get("name")}
    assert wanted <= set(names), f"not named: {sorted(wanted - set(names))}"
    assert all(entry.get("zh") and entry.get("en") for entry in names.values())


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_a_template_s_diagram_draws_everything_left_to_right_without_overlaps(name, tmp_path):
    doc = _bpmn(_write(tmp_path, name, f"d_{name}"))
    shapes = {}
    for shape in doc.iter(f"{{{BPMNDI}}}BPMNShape"):
        bounds = shape.find(f"{{{DC}}}Bounds")
        shapes[shape.get("bpmnElement")] = tuple(float(bounds.get(k)) for k in ("x", "y", "width", "height"))
    nodes = {node.get("id") for node in doc.iter(*(f"{{{BPMN_NS}}}{t}" for t in FLOW_NODES))}
    assert nodes == set(shapes), "every flow node has exactly one shape"
    boxes = sorted(shapes.items())
    for i, (a, (ax, ay, aw, ah)) in enumerate(boxes):
        for b, (bx, by, bw, bh) in boxes[i + 1:]:
            assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay, f"{a} overlaps {b}"
    edges = {edge.get("bpmnElement"): edge for edge in doc.iter(f"{{{BPMNDI}}}BPMNEdge")}
    for flow in doc.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        points = [(float(p.get("x")), float(p.get("y"))) for p in edges[flow.get("id")].iter(f"{{{DI}}}waypoint")]
        assert len(points) >= 2
        source, target = shapes[flow.get("sourceRef")], shapes[flow.get("targetRef")]
        assert source[0] < target[0], f"{flow.get('id')} goes right to left"
        assert _on_border(points[0], source) and _on_border(points[-1], target), flow.get("id")


def _on_border(point, box) -> bool:
    (px, py), (x, y, w, h) = point, box
    inside = x <= px <= x + w and y <= py <= y + h
    return inside and (px in (x, x + w) or py in (y, y + h))
