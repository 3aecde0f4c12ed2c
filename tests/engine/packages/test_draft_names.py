"""The elements' zh/en names of a designer draft: read from and written into package.yaml `names`."""

from __future__ import annotations

import pytest
import yaml

from engine.packages import draft_checks, drafts
from tests.engine.packages.test_drafts import gateway_bpmn, staff  # noqa: F401


@pytest.fixture
def trip(staff):  # noqa: F811
    """The draft `trip` (owner's, category hr) at revision 2 with the gateway diagram."""
    with staff() as session, session.begin():
        drafts.create_draft(session, "owner", "trip", {"zh": "出差", "en": "Trip"}, "hr", "blank")
    with staff() as session, session.begin():
        drafts.save_draft(session, "owner", "trip", 1, gateway_bpmn("trip", "amount > 10"))
    return staff


def meta(sessions) -> dict:
    with sessions() as session:
        return yaml.safe_load(drafts.get_draft(session, "trip").files["package.yaml"])


def test_names_are_saved_with_the_xml_in_one_revision_and_other_keys_kept(trip):
    before = meta(trip)
    with trip() as session, session.begin():
        saved = drafts.save_draft(session, "owner", "trip", 2, gateway_bpmn("trip", "amount > 10"),
                                  {"gate": {"zh": " 金额大吗？ ", "en": "Large?"}, "end_a": {"zh": "大额"}})
        assert saved.revision == 3
    after = meta(trip)
    assert after["names"] == {"gate": {"zh": "金额大吗？", "en": "Large?"}, "end_a": {"zh": "大额"}}
    assert list(after)[:len(before)] == list(before)
    assert {k: v for k, v in after.items() if k != "names"} == {k: v for k, v in before.items() if k != "names"}
    with trip() as session:
        assert drafts.element_names(drafts.get_draft(session, "trip").files)["gate"]["en"] == "Large?"
        problems = draft_checks.check_draft(session, "trip")
    assert not [p for p in problems if p.path == "package.yaml"], problems


def test_names_of_deleted_elements_and_blank_names_are_dropped(trip):
    xml = gateway_bpmn("trip", "amount > 10").replace('<bpmn:endEvent id="end_a"/>', "")
    xml = xml.replace('targetRef="end_a"', 'targetRef="end_b"')
    with trip() as session, session.begin():
        drafts.save_draft(session, "owner", "trip", 2, xml,
                          {"end_a": {"zh": "大额"}, "gate": {"zh": "  ", "en": "Large?"}, "start": {"zh": ""}})
    assert meta(trip)["names"] == {"gate": {"en": "Large?"}}
    with trip() as session, session.begin():
        drafts.save_draft(session, "owner", "trip", 3, xml, {})
    assert "names" not in meta(trip)


def test_without_names_or_with_the_same_names_package_yaml_is_left_as_it_was(trip):
    with trip() as session:
        names = drafts.element_names(drafts.get_draft(session, "trip").files)
    assert names["start"] == {"zh": "开始", "en": "Start"}  # the blank template's
    with trip() as session, session.begin():
        drafts.save_draft(session, "owner", "trip", 2, gateway_bpmn("trip", "amount > 20"), names)
        text = drafts.get_draft(session, "trip").files["package.yaml"]
        assert "end" not in drafts.element_names(drafts.get_draft(session, "trip").files)  # no such element now
    with trip() as session, session.begin():
        drafts.save_draft(session, "owner", "trip", 3, gateway_bpmn("trip", "amount > 30"))
        drafts.save_draft(session, "owner", "trip", 4, gateway_bpmn("trip", "amount > 40"), names)
    with trip() as session:
        assert drafts.get_draft(session, "trip").files["package.yaml"] == text


@pytest.mark.parametrize("names", [
    ["gate"], {"gate": "金额"}, {"gate": {"fr": "Grand?"}}, {"gate": {"zh": 3}}, {"gate": {"zh": "x" * 301}},
    {str(n): {"zh": "x"} for n in range(5001)},
])
def test_a_malformed_names_map_is_refused_and_nothing_is_saved(trip, names):
    before = meta(trip)
    with trip() as session, session.begin(), pytest.raises(drafts.DraftFileError):
        drafts.save_draft(session, "owner", "trip", 2, gateway_bpmn("trip", "amount > 10"), names)
    with trip() as session:
        assert drafts.get_draft(session, "trip").revision == 2
    assert meta(trip) == before


def test_element_names_reads_only_well_formed_entries():
    files = {"package.yaml": "id: trip\nnames:\n  gate: {zh: 金额大吗？, en: \"Large?\"}\n  bad: oops\n"
                             "  odd: {fr: Grand}\n"}
    assert drafts.element_names(files) == {"gate": {"zh": "金额大吗？", "en": "Large?"}}
    assert drafts.element_names({"package.yaml": ": not yaml ["}) == {}
