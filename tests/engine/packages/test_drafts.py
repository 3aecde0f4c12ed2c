"""Designer drafts: create, save with a revision check, check, deploy, import, permissions, audit."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import yaml

from engine.data.models import AdminGrant, Person, PersonRole, ProcessVersion, Role
from engine.errors import InvalidPackageError, NotFoundError, NotPermittedError, UnreadableFileError
from engine.packages import designer_access, draft_checks, draft_import, drafts
from engine.packages.archive import export_version

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def gateway_bpmn(key: str, condition: str) -> str:
    """start -> exclusive gateway -> (condition) end_a | (default) end_b."""
    condition = condition.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs_{key}"
                  targetNamespace="https://liaison.dev/test">
  <bpmn:process id="{key}" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="gate"/>
    <bpmn:exclusiveGateway id="gate" default="f_other"/>
    <bpmn:sequenceFlow id="f_large" sourceRef="gate" targetRef="end_a">
      <bpmn:conditionExpression>{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_other" sourceRef="gate" targetRef="end_b"/>
    <bpmn:endEvent id="end_a"/>
    <bpmn:endEvent id="end_b"/>
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture
def staff(sessions):
    """root: super admin; owner: process owner of category `hr` (edit + deploy); zhang: an employee;
    clerk: holds the role `hr_clerks`, granted edit on `hr`."""
    with sessions() as session, session.begin():
        people = {name: Person(username=name, name=f"{name} name") for name in ("root", "owner", "zhang", "clerk")}
        session.add_all(people.values())
        role = Role(key="hr_clerks", name="人事文员")
        session.add(role)
        session.flush()
        session.add_all([AdminGrant(person_id=people["root"].id, department_id=None),
                         PersonRole(person_id=people["clerk"].id, role_id=role.id)])
        designer_access.grant(session, "root", "hr", "owner", edit=True, deploy=True)
        designer_access.grant(session, "root", "hr", "hr_clerks", edit=True, role=True)
    return sessions


def test_blank_draft_saves_and_a_stale_revision_names_who_saved(staff):
    with staff() as session, session.begin():
        draft = drafts.create_draft(session, "owner", "trip", {"zh": "出差", "en": "Trip"}, "hr", "blank")
        assert (draft.revision, draft.category, draft.name["en"]) == (1, "hr", "Trip")
        assert drafts.main_bpmn_name(draft.files, "trip") == "trip.bpmn"
    with staff() as session, session.begin():
        saved = drafts.save_draft(session, "owner", "trip", 1, gateway_bpmn("trip", "amount > 10"))
        assert saved.revision == 2
    with staff() as session, session.begin(), pytest.raises(drafts.DraftConflictError) as refused:
        drafts.save_draft(session, "clerk", "trip", 1, gateway_bpmn("trip", "amount > 20"))
    assert refused.value.revision == 2
    assert "owner" in str(refused.value) and refused.value.args[0].params["person"] == "owner"


def test_unreadable_xml_is_refused_and_the_draft_is_kept(staff):
    with staff() as session, session.begin():
        drafts.create_draft(session, "owner", "trip", {"en": "Trip"}, "hr")
    for bad in ("<bpmn:definitions", (FIXTURES / "bpmn" / "billion_laughs.bpmn").read_text()):
        with staff() as session, session.begin(), pytest.raises(UnreadableFileError):
            drafts.save_draft(session, "owner", "trip", 1, bad)
    with staff() as session:
        draft = drafts.get_draft(session, "trip")
        assert draft.revision == 1 and "flow_start_end" in draft.files["trip.bpmn"]


def test_too_large_xml_is_refused(staff):
    with staff() as session, session.begin():
        drafts.create_draft(session, "owner", "trip", {"en": "Trip"}, "hr")
    with staff() as session, session.begin(), pytest.raises(drafts.DraftTooLargeError):
        drafts.save_draft(session, "owner", "trip", 1, "<a>" + "x" * (11 * 1024 * 1024) + "</a>")


def test_check_names_the_flow_of_a_broken_condition_with_a_relative_path(staff):
    with staff() as session, session.begin():
        drafts.create_draft(session, "owner", "trip", {"en": "Trip"}, "hr")
        drafts.save_draft(session, "owner", "trip", 1, gateway_bpmn("trip", "amount >"))
    with staff() as session:
        problems = draft_checks.check_draft(session, "trip")
    errors = [p for p in problems if p.severity == "error"]
    assert any(p.element_id == "f_large" and p.path == "trip.bpmn" and p.line for p in errors), problems
    assert not any("/tmp" in p.path or "liaison-draft" in str(p.message) for p in problems)


def test_deploy_is_refused_with_errors_then_deploys_with_the_comment(staff):
    with staff() as session, session.begin():
        drafts.create_draft(session, "owner", "trip", {"en": "Trip"}, "hr")
        drafts.save_draft(session, "owner", "trip", 1, gateway_bpmn("trip", "amount >"))
    with staff() as session, session.begin(), pytest.raises(InvalidPackageError) as refused:
        draft_checks.deploy_draft(session, "owner", "trip", 2, "first")
    assert any(p.element_id == "f_large" for p in refused.value.problems)
    with staff() as session, session.begin():
        drafts.save_draft(session, "owner", "trip", 2, gateway_bpmn("trip", "amount > 1000"))
        result = draft_checks.deploy_draft(session, "owner", "trip", 3, "first version")
        assert (result.version, result.created) == (1, True)
    with staff() as session:
        version = session.query(ProcessVersion).one()
        assert (version.notes, version.deployed_by) == ("first version", "owner")
        assert drafts.get_draft(session, "trip").based_on_version == 1
        actions = [row.action for row in drafts.audit(session, "trip")]
        assert actions == ["deploy", "save", "create"]  # the run of saves by one person is one row
    with staff() as session, session.begin(), pytest.raises(NotPermittedError):
        draft_checks.deploy_draft(session, "clerk", "trip", 3, "clerks may only edit")


def test_open_shows_the_latest_version_as_an_unsaved_draft(staff):
    from engine.packages.deployment import deploy, load_package
    with staff() as session, session.begin():
        deploy(session, load_package(FIXTURES / "packages" / "order_review"), "root")
    with staff() as session, session.begin():
        designer_access.grant(session, "root", "purchasing", "owner", edit=True, deploy=True)
        draft = drafts.open_draft(session, "owner", "order_review")
        assert (draft.based_on_version, draft.revision) == (1, drafts.UNSAVED)
        assert {"package.yaml", "order_review.bpmn", "manager_signoff.bpmn", "forms/check.yaml"} <= set(draft.files)
    with staff() as session, session.begin():
        assert not draft_checks.has_errors(draft_checks.check_draft(session, "order_review"))
        result = draft_checks.deploy_draft(session, "owner", "order_review", drafts.UNSAVED, "unchanged")
        assert (result.version, result.created) == (1, False)  # the same content is the same version


def _order_review_opened(staff):
    """order_review deployed, `owner` may edit it and opened it in the designer (saving nothing)."""
    from engine.packages.deployment import deploy, load_package
    with staff() as session, session.begin():
        deploy(session, load_package(FIXTURES / "packages" / "order_review"), "root")
        designer_access.grant(session, "root", "purchasing", "owner", edit=True, deploy=True)
    with staff() as session, session.begin():
        return drafts.open_draft(session, "owner", "order_review")


def test_opening_a_process_in_the_designer_stores_no_draft(staff):
    opened = _order_review_opened(staff)
    with staff() as session:
        [row] = [r for r in drafts.designable(session, "owner") if r.key == "order_review"]
        assert not row.has_draft and drafts.audit(session, "order_review") == []
        with pytest.raises(NotFoundError):
            drafts.get_draft(session, "order_review")
        assert drafts.export_draft(session, "order_review")  # the latest version's files
    assert opened.files["order_review.bpmn"]


def test_the_first_save_stores_the_draft_and_a_stale_first_save_conflicts(staff):
    opened = _order_review_opened(staff)
    bpmn = drafts.main_bpmn_name(opened.files, "order_review")
    with staff() as session, session.begin():
        saved = drafts.save_draft(session, "owner", "order_review", drafts.UNSAVED,
                                  opened.files[bpmn].replace("</bpmn:process>", "<!-- edited --></bpmn:process>", 1))
        assert (saved.revision, saved.based_on_version, saved.created_by) == (1, 1, "owner")
    with staff() as session:
        [row] = [r for r in drafts.designable(session, "owner") if r.key == "order_review"]
        assert (row.has_draft, row.draft_revision) == (True, 1)
        assert [a.action for a in drafts.audit(session, "order_review")] == ["save", "create"]
        assert "<!-- edited -->" in drafts.get_draft(session, "order_review").files[bpmn]
    with staff() as session, session.begin(), pytest.raises(drafts.DraftConflictError) as refused:
        drafts.save_draft(session, "root", "order_review", drafts.UNSAVED, opened.files[bpmn])
    assert refused.value.revision == 1 and refused.value.args[0].params["person"] == "owner"


def test_adding_a_form_to_an_unsaved_draft_stores_it(staff):
    from engine.packages import form_drafts
    _order_review_opened(staff)
    with staff() as session, session.begin():
        saved = form_drafts.new_form(session, "owner", "order_review", "extra")
        assert saved.revision == 1 and "forms/extra.yaml" in saved.files


def test_import_zip_and_lone_bpmn_and_refuse_hostile_xml(staff):
    with staff() as session, session.begin():
        from engine.packages.deployment import deploy, load_package
        deploy(session, load_package(FIXTURES / "packages" / "order_review"), "root")
        data = export_version(session, "order_review")
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            name = info.filename.replace("order_review", "order_copy", 1)
            content = source.read(info)
            if name.endswith("package.yaml"):
                meta = yaml.safe_load(content)
                meta["id"] = "order_copy"
                content = yaml.safe_dump(meta).encode()
            target.writestr(name, content)
    with staff() as session, session.begin():
        zipped = draft_import.import_draft(session, "root", "order_copy.zip", buffer.getvalue())
        assert zipped.key == "order_copy" and "forms/check.json" in zipped.files
        lone = draft_import.import_draft(session, "owner", "leave.bpmn",
                                         (FIXTURES / "bpmn" / "camunda_leave_request.bpmn").read_bytes(), "hr")
        assert lone.category == "hr" and f"{lone.key}.bpmn" in lone.files
        assert [row.action for row in drafts.audit(session, lone.key)] == ["import"]
    with staff() as session, session.begin(), pytest.raises(UnreadableFileError):
        draft_import.import_draft(session, "owner", "x.bpmn", (FIXTURES / "bpmn" / "xxe_file.bpmn").read_bytes(), "hr")


def test_grants_limit_process_owners_to_their_category(staff):
    with staff() as session, session.begin():
        drafts.create_draft(session, "root", "payroll", {"en": "Payroll"}, "finance")
        drafts.create_draft(session, "clerk", "trip", {"en": "Trip"}, "hr")
        with pytest.raises(NotPermittedError):
            drafts.create_draft(session, "owner", "budget", {"en": "Budget"}, "finance")
    with staff() as session:
        assert [row.key for row in drafts.designable(session, "owner")] == ["trip"]
        assert [row.key for row in drafts.designable(session, "root")] == ["payroll", "trip"]
        assert drafts.designable(session, "zhang") == []
        assert not designer_access.may(session, "owner", "payroll", "edit")
        assert designer_access.may(session, "clerk", "trip", "edit")
        assert not designer_access.may(session, "clerk", "trip", "deploy")
        assert designer_access.may_design(session, "clerk") and not designer_access.may_design(session, "zhang")
    with staff() as session, session.begin(), pytest.raises(NotPermittedError):
        drafts.open_draft(session, "owner", "payroll")
    with staff() as session, session.begin():
        assert designer_access.revoke(session, "root", "hr", "hr_clerks", role=True)
        assert not designer_access.may(session, "clerk", "trip", "edit")
        assert [row.action for row in drafts.audit(session)][:1] == ["revoke"]


def test_process_admins_of_the_latest_version_may_design_it(staff, tmp_path):
    from engine.packages.deployment import deploy, load_package
    from tests.engine.conftest import write_package
    body = '<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="e"/><bpmn:endEvent id="e"/>'
    with staff() as session, session.begin():
        deploy(session, load_package(write_package(tmp_path / "v1", "visit", {"visit": body},
                                                   meta={"admins": ["zhang"]})), "root")
    with staff() as session:
        assert designer_access.may_design(session, "zhang") and designer_access.may(session, "zhang", "visit", "deploy")
        assert [row.key for row in drafts.designable(session, "zhang")] == ["visit"]
    with staff() as session, session.begin():
        deploy(session, load_package(write_package(tmp_path / "v2", "visit", {"visit": body},
                                                   meta={"admins": ["owner"]})), "root")
    with staff() as session:
        assert not designer_access.may_design(session, "zhang")
        assert designer_access.administered_keys(session, "owner") == {"visit"}


def test_two_saves_of_one_revision_at_once_one_wins_the_other_conflicts(postgres_url):
    """The revision check holds under a real race: the second UPDATE waits for the first and then
    matches no row (PostgreSQL row lock, re-checked WHERE)."""
    import threading

    from engine.data import db
    engine = db.make_engine(postgres_url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        session.add(Person(username="owner", name="owner"))
        session.add(Person(username="root", name="root"))
        session.flush()
        session.add(AdminGrant(person_id=session.query(Person).filter_by(username="root").one().id,
                               department_id=None))
        designer_access.grant(session, "root", "hr", "owner", edit=True)
        drafts.create_draft(session, "owner", "trip", {"en": "Trip"}, "hr")
    outcome = {}

    def second():
        with sessions() as session:
            try:
                with session.begin():
                    drafts.save_draft(session, "root", "trip", 1, gateway_bpmn("trip", "amount > 2"))
                outcome["second"] = "saved"
            except drafts.DraftConflictError as exc:
                outcome["second"] = exc.revision

    with sessions() as first, first.begin():
        drafts.save_draft(first, "owner", "trip", 1, gateway_bpmn("trip", "amount > 1"))
        racer = threading.Thread(target=second)
        racer.start()
        racer.join(timeout=1)  # blocked on the row lock until this transaction ends
        assert racer.is_alive()
    racer.join(timeout=30)
    engine.dispose()
    assert outcome == {"second": 2}


def test_two_first_saves_at_once_one_stores_the_draft_the_other_conflicts(postgres_url):
    """Two editors opened an unsaved draft and save together: the second INSERT waits on the key's unique
    index, then fails inside its savepoint and is refused like any stale revision (PostgreSQL)."""
    import threading

    from engine.data import db
    from engine.packages.deployment import deploy, load_package
    engine = db.make_engine(postgres_url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        session.add_all([Person(username="owner", name="owner"), Person(username="root", name="root")])
        session.flush()
        session.add(AdminGrant(person_id=session.query(Person).filter_by(username="root").one().id,
                               department_id=None))
        deploy(session, load_package(FIXTURES / "packages" / "order_review"), "root")
        designer_access.grant(session, "root", "purchasing", "owner", edit=True)
        files = dict(drafts.open_draft(session, "owner", "order_review").files)
    outcome = {}

    def second():
        with sessions() as session:
            try:
                with session.begin():
                    drafts.save_draft(session, "root", "order_review", drafts.UNSAVED, files)
                outcome["second"] = "saved"
            except drafts.DraftConflictError as exc:
                outcome["second"] = exc.revision

    with sessions() as first, first.begin():
        drafts.save_draft(first, "owner", "order_review", drafts.UNSAVED, files)
        racer = threading.Thread(target=second)
        racer.start()
        racer.join(timeout=1)  # blocked on the unique key until this transaction ends
        assert racer.is_alive()
    racer.join(timeout=30)
    engine.dispose()
    assert outcome == {"second": 1}


@pytest.mark.parametrize("name, key", [("signavio_travel_request.bpmn", "travel_request"),
                                       ("bizagi_purchase_request.bpmn", "purchase_request")])
def test_signavio_and_bizagi_exports_import_check_clean_and_deploy(staff, name, key):
    """Exports of the other mainstream modelers (their own namespaces, pools and lanes, GUID ids) import
    as a draft named for their process, check without an error and deploy."""
    with staff() as session, session.begin():
        draft = draft_import.import_draft(session, "owner", name, (FIXTURES / "modelers" / name).read_bytes(), "hr")
        assert draft.key == key
    with staff() as session, session.begin():
        problems = draft_checks.check_draft(session, key)
        assert not draft_checks.has_errors(problems), [str(p) for p in problems]
        assert draft_checks.deploy_draft(session, "owner", key, draft.revision, "imported").version == 1
