"""The "Names" group in headless Chromium: an element's zh/en names are edited in the panel, saved with
the XML (PUT `names`, then package.yaml), shown on the canvas in the page's language, and leave the
BPMN `name` alone unless it was empty."""

from __future__ import annotations

import pytest
import yaml

from engine.data import db
from engine.data.models import AdminGrant
from engine.packages import drafts
from engine.people import accounts
from tests.browser_support import chromium, serving
from tests.web.test_browser_approval import PASSWORD, Person
from web import create_app

from .harness import OPEN, SAVE, open_group, select, serve_harness
from .test_modeler_editor import CONTAINER as EDITOR_CONTAINER
from .test_modeler_editor import EDITOR, DraftEndpoints
from .test_modeler_panel import DRAFT, XML

pytestmark = pytest.mark.browser
NAMED = {**DRAFT, "names": {"approve": {"zh": "经理审批", "en": "Manager approval"}}}
LABEL = """id => [...document.querySelectorAll(
  `g[data-element-id="${id}"] text.djs-label, g[data-element-id="${id}_label"] text.djs-label`)]
  .map(node => node.textContent).join(' ')"""
NAMES = "() => window.modeler.get('liaisonNames').toJSON()"


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = serve_harness(page)
    yield page
    page.close()
    assert errors == []


def _bpmn_name(page, element_id):
    return page.evaluate(f"() => window.modeler.get('elementRegistry').get('{element_id}').businessObject.name")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_canvas_shows_the_name_in_the_page_language_and_the_xml_keeps_its_own(page, lang):
    page.evaluate(OPEN, [XML, lang, NAMED])
    assert page.evaluate(LABEL, "approve") == ("经理审批" if lang == "zh" else "Manager approval")
    assert page.evaluate(LABEL, "start") == "Requested"  # no names: the BPMN name
    assert 'name="Approve"' in page.evaluate(SAVE)


def test_editing_names_in_the_panel_updates_the_map_the_label_and_undo(page):
    page.evaluate(OPEN, [XML, "zh", NAMED])
    select(page, "approve")
    open_group(page, "liaison-names")
    assert page.input_value("#bio-properties-panel-liaison-name-zh") == "经理审批"
    page.fill("#bio-properties-panel-liaison-name-zh", "部门经理审批")
    page.wait_for_function(f"() => ({NAMES})().approve.zh === '部门经理审批'", polling=100, timeout=5000)
    page.wait_for_function(f"() => ({LABEL})('approve') === '部门经理审批'", polling=100, timeout=5000)
    assert _bpmn_name(page, "approve") == "Approve"  # a drawn name is not overwritten
    page.evaluate("() => window.modeler.get('commandStack').undo()")
    assert page.evaluate(NAMES)["approve"]["zh"] == "经理审批"


def test_an_empty_bpmn_name_takes_the_name_typed_and_an_id_change_keeps_the_names(page):
    page.evaluate(OPEN, [XML.replace(' name="Approve"', ""), "en", DRAFT])
    select(page, "approve")
    open_group(page, "liaison-names")
    page.fill("#bio-properties-panel-liaison-name-en", "Manager approval")
    page.wait_for_function("() => window.modeler.get('elementRegistry').get('approve').businessObject.name"
                           " === 'Manager approval'", polling=100, timeout=5000)
    page.fill("#bio-properties-panel-liaison-name-zh", "经理审批")
    page.wait_for_function(f"() => ({NAMES})().approve?.zh === '经理审批'", polling=100, timeout=5000)
    assert _bpmn_name(page, "approve") == "Manager approval"
    page.evaluate("""() => window.modeler.get('modeling').updateProperties(
      window.modeler.get('elementRegistry').get('approve'), { id: 'manager_approval' })""")
    assert page.evaluate(NAMES) == {"manager_approval": {"en": "Manager approval", "zh": "经理审批"}}


def test_a_name_only_change_is_autosaved_with_the_names(browser):
    endpoints = DraftEndpoints()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = serve_harness(page, extra=endpoints, body=EDITOR_CONTAINER.format(lang="en"))
    page.evaluate(EDITOR)
    select(page, "approve")
    open_group(page, "liaison-names")
    page.fill("#bio-properties-panel-liaison-name-zh", "经理审批")
    page.wait_for_function("() => document.getElementById('designer-status').dataset.state === 'saved'"
                           " && document.getElementById('designer-status').textContent.includes('Saved')",
                           polling=100, timeout=10000)
    for _ in range(50):
        if [r for r in endpoints.requests if r["method"] == "PUT"]:
            break
        page.wait_for_timeout(100)
    puts = [r for r in endpoints.requests if r["method"] == "PUT"]
    assert puts and puts[-1]["body"]["names"] == {"approve": {"zh": "经理审批"}}
    assert 'name="Approve"' in puts[-1]["body"]["xml"]
    page.close()
    assert [e for e in errors if not e.startswith("Failed to load resource")] == []


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A served app with one super admin (owner) and the draft `trip`: a start event and the task `approve`."""
    folder = tmp_path_factory.mktemp("names")
    url = f"sqlite:///{folder / 'liaison.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        owner = accounts.create_person_account(session, "owner", "负责人", PASSWORD, name_en="Owner")
        session.flush()
        session.add(AdminGrant(person_id=owner.id, department_id=None))
        drafts.create_draft(session, "owner", "trip", {"zh": "出差", "en": "Trip"}, "hr", "blank")
        drafts.save_draft(session, "owner", "trip", 1, XML.replace("purchase", "trip"))
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "browser-test"})
    with serving(app) as base:
        yield base, sessions
    engine.dispose()


def test_names_edited_on_the_editor_page_land_in_the_drafts_package_yaml(browser, site):
    base, sessions = site
    person = Person(browser, base, "owner", "zh")
    page = person.page
    task = "approve"
    with sessions() as session:
        revision = drafts.get_draft(session, "trip").revision
    page.goto(f"{base}/designer/trip/edit")
    page.wait_for_function("window.LiaisonDesigner && window.LiaisonDesigner.editor")
    page.evaluate(EDITOR)
    select(page, task)
    open_group(page, "liaison-names")
    page.fill("#bio-properties-panel-liaison-name-zh", "提交出差申请")
    page.fill("#bio-properties-panel-liaison-name-en", "Submit the trip")
    for _ in range(100):
        with sessions() as session:
            meta = yaml.safe_load(drafts.get_draft(session, "trip").files["package.yaml"])
        if (meta.get("names") or {}).get(task) == {"zh": "提交出差申请", "en": "Submit the trip"}:
            break
        page.wait_for_timeout(100)
    assert meta["names"][task] == {"zh": "提交出差申请", "en": "Submit the trip"}
    assert meta["id"] == "trip" and meta["category"] == "hr"
    with sessions() as session:
        assert drafts.get_draft(session, "trip").revision > revision
    assert page.evaluate(LABEL, task) == "提交出差申请"
    assert page.evaluate(LABEL, "start") == "开始"  # an external label, from the template's names
    person.close()
