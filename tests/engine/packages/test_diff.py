"""The semantic diff of two package versions names every added, removed and changed element."""

from __future__ import annotations

import pytest

from engine.errors import NotFoundError
from engine.packages.diff import diff_contents, diff_versions
from tests.engine.versioned_package import deploy_two_versions


@pytest.fixture
def diff(sessions, tmp_path):
    deploy_two_versions(sessions, tmp_path, v2_meta={"notes": "second", "admins": ["ann"]})
    with sessions() as session:
        return diff_versions(session, "trip", 1, 2)


def _changes(result, element_id):
    element = next(e for e in result["changed"] if e["id"] == element_id)
    return {c["property"]: (c["old"], c["new"]) for c in element["changes"]}


def test_added_and_removed_elements_are_named(diff):
    assert {e["id"] for e in diff["added"]} == {"archive", "draft2", "f_boss_archive", "f_archive_end",
                                                "f_draft2_end", "f_gw0_draft2", "f_gw0_end"}
    assert {e["id"] for e in diff["removed"]} == {"old_check", "draft", "f_old_check_end", "f_draft_end",
                                                  "f_gw0_old_check", "f_gw0_draft", "f_boss_end"}
    archive = next(e for e in diff["added"] if e["id"] == "archive")
    assert archive == {"id": "archive", "type": "userTask", "name": "Archive", "file": "trip.bpmn"}


def test_a_renamed_id_is_offered_as_a_rename(diff):
    assert {"old": "draft", "new": "draft2", "type": "userTask", "name": "Draft"} in diff["renamed"]


def test_changed_attributes_conditions_and_flow_targets_are_named(diff):
    assert _changes(diff, "review") == {"liaison:remindAfter": ("PT1H", "PT2H")}
    assert _changes(diff, "f_gw_boss") == {"conditionExpression": ("amount > 100", "amount > 50")}
    assert {e["id"] for e in diff["changed"]} == {"review", "f_gw_boss"}
    assert diff["layout"] == []


def test_package_files_are_compared_with_a_summary(diff):
    files = {f["file"]: f for f in diff["files"]}
    assert files["trip.bpmn"]["status"] == "changed"
    assert files["package.yaml"]["status"] == "changed"
    assert files["package.yaml"]["summary"]["keys"] == ["admins", "notes"]


def test_unknown_version_is_not_found(sessions, tmp_path):
    deploy_two_versions(sessions, tmp_path)
    with sessions() as session, pytest.raises(NotFoundError):
        diff_versions(session, "trip", 1, 9)


HEAD = ('<?xml version="1.0"?><definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d"><process id="p">')


def _doc(timer: str, assignee: str, x: str, flow_target: str = "t") -> dict:
    return {"p.bpmn": HEAD + (
        f'<userTask id="t" name="T" camunda:assignee="{assignee}"/>'
        f'<intermediateCatchEvent id="wait"><timerEventDefinition id="TimerEventDefinition_{x}">'
        f'<timeDuration>{timer}</timeDuration></timerEventDefinition></intermediateCatchEvent>'
        f'<sequenceFlow id="f" sourceRef="wait" targetRef="{flow_target}"/><task id="u"/>'
        '</process><bpmndi:BPMNDiagram id="dia"><bpmndi:BPMNPlane id="pl" bpmnElement="p">'
        f'<bpmndi:BPMNShape id="s_t" bpmnElement="t"><dc:Bounds x="{x}" y="0" width="10" height="10"/>'
        '</bpmndi:BPMNShape></bpmndi:BPMNPlane></bpmndi:BPMNDiagram></definitions>')}


def test_timers_camunda_attributes_flow_targets_and_layout_of_two_file_maps():
    result = diff_contents(_doc('"PT1H"', "ann", "1"), _doc('"PT2H"', "bob", "5", flow_target="u"))
    assert _changes(result, "wait") == {"timerEventDefinition > timeDuration": ('"PT1H"', '"PT2H"')}
    assert _changes(result, "t") == {"camunda:assignee": ("ann", "bob")}
    assert _changes(result, "f") == {"targetRef": ("t", "u")}
    assert result["added"] == [] and result["removed"] == []
    moved = diff_contents(_doc('"PT1H"', "ann", "1"), _doc('"PT1H"', "ann", "7"))
    assert moved["changed"] == [] and moved["layout"] == ["t"]
