"""Simulating a draft (issue 15): the real engine in a sandbox database, a session saved as a scenario
test that then passes under the scenario runner, and the sandbox removed at the end."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path, PurePosixPath

import pytest
import yaml

from engine.data import db
from engine.data.models import AdminGrant, PersonRole, Role
from engine.errors import NotPermittedError
from engine.packages import drafts, simulation, simulation_scenario
from engine.packages.scenarios import run_package_scenarios
from engine.people import accounts
from tests.web.conftest import PASSWORD, csrf_token, sign_in
from web import create_app

PACKAGE = Path(__file__).resolve().parents[1] / "fixtures" / "packages" / "order_review"
PEOPLE = (("owner", "负责人", "Owner"), ("zhang", "张三", "Zhang San"), ("wang", "王库管", "Keeper Wang"),
          ("qian", "钱会计", "Accountant Qian"), ("li", "李经理", "Manager Li"))


def package_files() -> dict[str, str]:
    """The order_review fixture as a draft's files, without its own tests, its main diagram drawn (BPMN DI)
    as the modeler would save it."""
    files = {PurePosixPath(p.relative_to(PACKAGE)).as_posix(): p.read_text(encoding="utf-8")
             for p in sorted(PACKAGE.rglob("*")) if p.is_file() and p.relative_to(PACKAGE).parts[0] != "tests"}
    files["order_review.bpmn"] = with_diagram(files["order_review.bpmn"])
    return files


def with_diagram(xml: str) -> str:
    """A plain left-to-right drawing of a process without one: a shape per node, a straight edge per flow."""
    nodes = re.findall(r'<bpmn:(startEvent|endEvent|userTask|scriptTask|callActivity|parallelGateway|'
                       r'exclusiveGateway) id="([^"]+)"', xml)
    flows = re.findall(r'<bpmn:sequenceFlow id="([^"]+)" sourceRef="([^"]+)" targetRef="([^"]+)"', xml)
    places, shapes = {}, []
    for index, (kind, node) in enumerate(nodes):
        width, height = (100, 80) if kind in ("userTask", "scriptTask", "callActivity") else (36, 36)
        x, y = 100 + 150 * index, 100 + (index % 2) * 120
        places[node] = (x + width // 2, y + height // 2)
        shapes.append(f'<bpmndi:BPMNShape id="{node}_di" bpmnElement="{node}"><dc:Bounds x="{x}" y="{y}" '
                      f'width="{width}" height="{height}"/></bpmndi:BPMNShape>')
    edges = [f'<bpmndi:BPMNEdge id="{flow}_di" bpmnElement="{flow}">'
             f'<di:waypoint x="{places[a][0]}" y="{places[a][1]}"/><di:waypoint x="{places[b][0]}" y="{places[b][1]}"/>'
             f'</bpmndi:BPMNEdge>' for flow, a, b in flows]
    diagram = ('<bpmndi:BPMNDiagram id="diagram" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
               'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI">'
               '<bpmndi:BPMNPlane id="plane" bpmnElement="order_review">' + "".join(shapes + edges)
               + "</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>")
    return xml.replace("</bpmn:definitions>", diagram + "</bpmn:definitions>")


def seed(sessions) -> None:
    """owner (super admin) and four employees, qian in the finance role; the order_review draft."""
    with sessions() as session, session.begin():
        made = {u: accounts.create_person_account(session, u, n, PASSWORD, name_en=e) for u, n, e in PEOPLE}
        session.flush()
        finance = Role(key="finance", name="财务", name_en="Finance")
        session.add(finance)
        session.flush()
        session.add(PersonRole(person_id=made["qian"].id, role_id=finance.id))
        session.add(AdminGrant(person_id=made["owner"].id, department_id=None))
        drafts.store_draft(session, "owner", "order_review", package_files(), "import")


@pytest.fixture
def database(tmp_path):
    url = f"sqlite:///{tmp_path / 'main.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    factory = db.make_session_factory(engine)
    seed(factory)
    yield url, factory
    engine.dispose()


@pytest.fixture
def sessions(database):
    return database[1]


def run_draft_tests(sessions, tmp_path) -> list:
    """The draft's scenario tests under the same runner as `liaison test PATH`."""
    with sessions() as session:
        files = drafts.get_draft(session, "order_review").files
    root = tmp_path / "exported" / "order_review"
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return run_package_scenarios(root)


def test_a_three_step_session_through_the_gateway_is_saved_as_a_test_that_passes(sessions, tmp_path):
    with sessions() as session, session.begin():
        sim = simulation.begin(session, "owner", "order_review")
    state = simulation.state(sim, "owner", "zh")
    assert not state["started"] and [f["name"] for f in state["start_fields"]] == ["item", "amount", "manager"]

    simulation.start(sim, "owner", "zhang", {"item": "laptop", "amount": 5000, "manager": "li"})
    state = simulation.state(sim, "owner", "zh")
    assert state["tokens"] == ["finance_check", "stock_check"]
    finance = next(t for t in state["tasks"] if t["element_id"] == "finance_check")
    assert finance["people"] == [{"username": "qian", "name": "钱会计"}]  # the finance role, from the org chart
    assert [f["name"] for f in finance["fields"]] == ["finance_ok"]  # in_stock is hidden at this node

    stock = next(t for t in state["tasks"] if t["element_id"] == "stock_check")
    simulation.act(sim, "owner", stock["id"], "wang", "complete", {"in_stock": 3})
    simulation.act(sim, "owner", finance["id"], "qian", "complete", {"finance_ok": True})
    state = simulation.state(sim, "owner", "en")
    assert state["tokens"] == ["manager_approve"] and state["data"]["in_stock"] == 3
    assert "amount_gateway" in state["path"]
    manager = state["tasks"][0]
    assert manager["people"] == [{"username": "li", "name": "Manager Li"}]
    simulation.act(sim, "owner", manager["id"], "li", "approve", {})
    state = simulation.state(sim, "owner", "en")
    assert (state["status"], state["end_event"], state["tokens"]) == ("completed", "end_signed", [])
    assert [e["kind"] for e in state["log"]] == ["start", "task", "task", "task"]

    with sessions() as session, session.begin():
        revision = drafts.get_draft(session, "order_review").revision
        _draft, path = simulation_scenario.save_as_test(session, "owner", "order_review", revision, sim,
                                                        "large_order_sim")
    assert path == "tests/large_order_sim.yaml"
    with sessions() as session:
        saved = yaml.safe_load(drafts.get_draft(session, "order_review").files[path])
    assert [s["task"] for s in saved["steps"]] == ["stock_check", "finance_check", "manager_approve"]
    assert saved["steps"][1]["groups"] == ["finance"] and saved["expect"]["end_event"] == "end_signed"

    results = run_draft_tests(sessions, tmp_path)
    assert [(r.file, r.failures) for r in results] == [("large_order_sim", [])]

    simulation.end(sim, "owner")
    assert not simulation.exists(sim) and not (simulation.ROOT / sim).exists()


def test_a_session_belongs_to_who_began_it(sessions):
    with sessions() as session, session.begin():
        sim = simulation.begin(session, "owner", "order_review")
    try:
        with pytest.raises(NotPermittedError):
            simulation.state(sim, "zhang")
    finally:
        simulation.end(sim, "owner")


def test_old_sandboxes_are_swept(sessions):
    with sessions() as session, session.begin():
        sim = simulation.begin(session, "owner", "order_review")
    assert simulation.sweep(max_age=simulation.MAX_AGE) == 0 and simulation.exists(sim)
    assert simulation.sweep(max_age=timedelta(seconds=-60)) >= 1
    assert not simulation.exists(sim)


def test_a_session_with_a_fired_timer_is_not_saved_as_a_test():
    outcome = {"log": [{"kind": "start", "user": "zhang", "data": {}}, {"kind": "timer", "element_id": "wait"}],
               "status": "running", "end_event": None, "path": [], "data": {}, "open_tasks": []}
    with pytest.raises(simulation_scenario.UnsavableSimulationError):
        simulation_scenario.as_scenario(outcome, "timer")


def test_the_json_routes_step_refuse_and_save(database):
    url, sessions = database
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test"})
    owner = app.test_client()
    assert sign_in(owner, "owner").status_code == 302
    page = owner.get("/designer/order_review/simulate")
    assert page.status_code == 200 and 'id="simulate"' in page.get_data(as_text=True)
    headers = {"X-CSRFToken": csrf_token(owner, "/designer/order_review/simulate")}
    began = owner.post("/designer/order_review/simulate/sessions", json={}, headers=headers).get_json()
    sim = began["id"]
    base = f"/designer/order_review/simulate/{sim}"
    try:
        assert owner.post(f"{base}/start", json={"initiator": "zhang", "data": {"item": "pen"}},
                          headers=headers).status_code == 422  # the start form wants an amount
        state = owner.post(f"{base}/start", json={"initiator": "zhang", "data": {"item": "pen", "amount": 20}},
                           headers=headers).get_json()
        stock = next(t for t in state["tasks"] if t["element_id"] == "stock_check")
        refused = owner.post(f"{base}/act", json={"task": stock["id"], "user": "qian", "action": "complete"},
                             headers=headers)
        assert refused.status_code == 403 and refused.get_json()["error"]
        assert owner.post(f"{base}/save", json={"name": "bad name!"}, headers=headers).status_code == 422

        employee = app.test_client()
        assert sign_in(employee, "zhang").status_code == 302
        assert employee.get(base).status_code == 403
        assert owner.post(f"{base}/start", json={}).status_code == 400  # no CSRF header
    finally:
        assert owner.delete(base, json={}, headers=headers).get_json() == {"ended": True}
    assert not simulation.exists(sim)


def test_a_refused_start_form_is_explained_in_the_page_language(database):
    url, _sessions = database
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test"})
    owner = app.test_client()
    assert sign_in(owner, "owner").status_code == 302
    headers = {"X-CSRFToken": csrf_token(owner, "/designer/order_review/simulate")}
    sim = owner.post("/designer/order_review/simulate/sessions", json={}, headers=headers).get_json()["id"]
    base = f"/designer/order_review/simulate/{sim}"
    try:
        refused = owner.post(f"{base}/start", json={"initiator": "zhang", "data": {"item": "pen", "amount": "lots"}},
                             headers=headers)
        assert refused.status_code == 422
        error = refused.get_json()["error"]
        assert "refused the submission" not in error and "表单" in error and "amount" in error, error
    finally:
        owner.delete(base, json={}, headers=headers)
