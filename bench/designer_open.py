"""Designer opening time: a generated 60-element diagram opened in the designer bundle in headless
Chromium (/usr/bin/chromium), 5 fresh pages; prints the median of each measure.

- `load`: the page's navigation start to DOMContentLoaded (the bundle, a blocking script in <head>,
  fetched, parsed and run, the CSS loaded) plus `open`: time to interactive on a page that opens the
  diagram at once;
- `open`: `LiaisonDesigner.open(container, xml)` alone, to the same first frame.

    .venv/bin/python bench/designer_open.py [--runs 5] [--elements 60]

Needs the bundle (`make bundle`). The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.browser_support import CHROMIUM  # noqa: E402
from tests.designer.harness import bundle_built, serve_harness  # noqa: E402

MEASURE = """async (xml) => {
  const host = document.getElementById('host');
  const started = performance.now();
  await window.LiaisonDesigner.open(host, xml, { lang: 'zh' });
  await new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  const done = performance.now();
  const ready = performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd;
  return { load: ready + done - started, open: done - started };
}"""


def diagram(elements: int = 60) -> str:
    """A start event, user tasks with Liaison attributes, an end event, and the flows between them, laid
    out 10 to a row: `elements` counts the shapes and the flows."""
    shapes = elements // 2 + 1
    nodes, flows, di = [], [], []
    for index in range(shapes):
        node_id = f"n{index}"
        x, y = 100 + (index % 10) * 160, 100 + (index // 10) * 160
        if index == 0:
            nodes.append(f'<bpmn:startEvent id="{node_id}" name="Start" liaison:form="start"/>')
            di.append(f'<bpmndi:BPMNShape id="{node_id}_di" bpmnElement="{node_id}">'
                      f'<dc:Bounds x="{x + 32}" y="{y + 22}" width="36" height="36"/></bpmndi:BPMNShape>')
        elif index == shapes - 1:
            nodes.append(f'<bpmn:endEvent id="{node_id}" name="End"/>')
            di.append(f'<bpmndi:BPMNShape id="{node_id}_di" bpmnElement="{node_id}">'
                      f'<dc:Bounds x="{x + 32}" y="{y + 22}" width="36" height="36"/></bpmndi:BPMNShape>')
        else:
            nodes.append(f'<bpmn:userTask id="{node_id}" name="Approval {index}" liaison:form="review" '
                         f'liaison:approvers="manager:{1 + index % 3}" liaison:mode="any"/>')
            di.append(f'<bpmndi:BPMNShape id="{node_id}_di" bpmnElement="{node_id}">'
                      f'<dc:Bounds x="{x}" y="{y}" width="100" height="80"/></bpmndi:BPMNShape>')
    for index in range(1, shapes):
        if len(nodes) + len(flows) >= elements:
            break
        flow_id, source, target = f"f{index}", f"n{index - 1}", f"n{index}"
        flows.append(f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}"/>')
        sx, sy = 100 + ((index - 1) % 10) * 160 + 100, 100 + ((index - 1) // 10) * 160 + 40
        tx, ty = 100 + (index % 10) * 160, 100 + (index // 10) * 160 + 40
        di.append(f'<bpmndi:BPMNEdge id="{flow_id}_di" bpmnElement="{flow_id}">'
                  f'<di:waypoint x="{sx}" y="{sy}"/><di:waypoint x="{tx}" y="{ty}"/></bpmndi:BPMNEdge>')
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
            'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" '
            'xmlns:liaison="https://liaison.dev/schema/bpmn/1.0" id="bench" targetNamespace="http://liaison.dev/bench">'
            f'<bpmn:process id="bench_process" isExecutable="true">{"".join(nodes)}{"".join(flows)}</bpmn:process>'
            '<bpmndi:BPMNDiagram id="d"><bpmndi:BPMNPlane id="p" bpmnElement="bench_process">'
            f'{"".join(di)}</bpmndi:BPMNPlane></bpmndi:BPMNDiagram></bpmn:definitions>')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--elements", type=int, default=60)
    args = parser.parse_args()
    if not bundle_built() or not Path(CHROMIUM).exists():
        sys.exit("needs the designer bundle (make bundle) and Chromium at " + CHROMIUM)
    from playwright.sync_api import sync_playwright

    xml = diagram(args.elements)
    runs = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for run in range(args.runs):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            serve_harness(page)
            runs.append(page.evaluate(MEASURE, xml))
            page.close()
            print(f"run {run + 1}: load {runs[-1]['load']:.0f} ms, open {runs[-1]['open']:.0f} ms")
        browser.close()
    print(json.dumps({"elements": args.elements, "runs": args.runs,
                      "load_ms": round(statistics.median(run["load"] for run in runs)),
                      "open_ms": round(statistics.median(run["open"] for run in runs))}))


if __name__ == "__main__":
    main()
