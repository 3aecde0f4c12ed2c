"""Deploy-time checks of package.yaml `portal` and the attributes liaison:external / liaison:milestone."""

from __future__ import annotations

import pytest
import yaml

from engine.bpmn.parser import read_liaison_attributes
from engine.bpmn.xmlsafe import parse_xml_bytes
from engine.errors import InvalidPackageError
from engine.packages import deployment as packages
from tests.engine.conftest import flow, write_package

PORTAL = {"party": "supplier", "party_field": "supplier", "visible_fields": ["po"]}
FORM = {"fields": [{"name": "po", "type": "text"}, {"name": "supplier", "type": "text"},
                   {"name": "email", "type": "text"}]}


def _package(tmp_path, task_attributes='liaison:external="supplier"', meta=None, lane=None):
    lanes = ""
    if lane is not None:
        lanes = (f'<bpmn:laneSet id="ls"><bpmn:lane id="outside" {lane}><bpmn:flowNodeRef>answer</bpmn:flowNodeRef>'
                 '</bpmn:lane></bpmn:laneSet>')
    body = (f'{lanes}<bpmn:startEvent id="start" liaison:form="order" liaison:milestone="true"/>'
            f'<bpmn:userTask id="answer" {task_attributes}/><bpmn:endEvent id="done"/>'
            f'{flow("start", "answer")}{flow("answer", "done")}')
    folder = write_package(tmp_path, "ext_order", {"ext_order": body}, meta={"portal": PORTAL} if meta is None else meta)
    (folder / "forms" / "order.yaml").write_text(yaml.safe_dump(FORM))
    return folder


def _problems(folder) -> list[str]:
    with pytest.raises(InvalidPackageError) as info:
        packages.load_package(folder)
    return [str(p) for p in info.value.problems]


def test_a_valid_external_package_loads(tmp_path):
    packages.load_package(_package(tmp_path))
    packages.load_package(_package(tmp_path / "lane", task_attributes="", lane='liaison:external="supplier"'))


def test_a_user_task_inherits_its_lanes_external_kind(tmp_path):
    xml = (_package(tmp_path, task_attributes="", lane='liaison:external="supplier"') / "ext_order.bpmn").read_bytes()
    root = parse_xml_bytes(xml)
    answer = root.xpath("//*[@id='answer']")[0]
    start = root.xpath("//*[@id='start']")[0]
    assert read_liaison_attributes(answer)["external"] == "supplier"
    assert "external" not in read_liaison_attributes(start)  # only user tasks inherit
    own = _package(tmp_path / "own", task_attributes='liaison:external="visitor"', lane='liaison:external="supplier"')
    answer = parse_xml_bytes((own / "ext_order.bpmn").read_bytes()).xpath("//*[@id='answer']")[0]
    assert read_liaison_attributes(answer)["external"] == "visitor"  # the task's own attribute wins


@pytest.mark.parametrize(("attributes", "lane", "expected"), [
    ('liaison:external="partner"', None, "answer: liaison:external partner is not one of supplier, customer, visitor"),
    ("", 'liaison:external="partner"', "outside: liaison:external partner is not one of"),
    ('liaison:external="supplier" liaison:approvers="initiator"', None,
     "answer: an external task takes no approver rule or approval mode (liaison:approvers)"),
    ('liaison:external="supplier" liaison:mode="all" liaison:candidateUsers="a,b"', None, "(liaison:mode)"),
    ('liaison:external="customer"', None, "answer: an external task of a customer in a package whose portal.party is supplier"),
    ('liaison:external="supplier" liaison:milestone="yes"', None, "answer: liaison:milestone must be true or false"),
])
def test_bad_external_attributes_are_refused_with_the_element(tmp_path, attributes, lane, expected):
    assert any(expected in p for p in _problems(_package(tmp_path, attributes, lane=lane)))


@pytest.mark.parametrize(("portal", "expected"), [
    ({**PORTAL, "colour": "red"}, "`portal` has an unknown key colour"),
    ({**PORTAL, "party": "partner"}, "`portal.party` must be one of supplier, customer, visitor"),
    ({"party": "supplier"}, "`portal.party_field` is required for a supplier"),
    ({"party": "visitor"}, "`portal.email_field` is required for a visitor"),
    ({**PORTAL, "party_field": "vendor"}, "`portal.party_field`: vendor is not a field of the package's forms"),
    ({**PORTAL, "visible_fields": ["po", "secret"]}, "`portal.visible_fields`: secret is not a field"),
    ({**PORTAL, "visible_fields": "po"}, "`portal.visible_fields` must be a list"),
    ({**PORTAL, "start": "yes"}, "`portal.start` must be true or false"),
    ({**PORTAL, "link_days": 0}, "`portal.link_days` must be a whole number of days from 1 to 365"),
    ({**PORTAL, "link_days": True}, "`portal.link_days` must be a whole number"),
    ("supplier", "`portal` must be a mapping"),
])
def test_bad_portal_sections_are_refused(tmp_path, portal, expected):
    problems = _problems(_package(tmp_path, meta={"portal": portal}))
    assert any(expected in p and "package.yaml" in p for p in problems), problems


def test_an_external_task_needs_a_portal_section(tmp_path):
    problems = _problems(_package(tmp_path, meta={}))
    assert any("answer: an external task needs a `portal` section in package.yaml" in p for p in problems)


def test_the_messages_are_translatable():
    from engine.packages.portal_checks import portal_section_problems
    [message] = portal_section_problems({**PORTAL, "link_days": 0}, {"order": FORM})
    assert message.msgid == "`portal.link_days` must be a whole number of days from 1 to %(max)s"
    assert message.params == {"max": 365}


def test_the_innermost_lane_decides():
    xml = b"""<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
        xmlns:liaison="https://liaison.dev/schema/bpmn/1.0" id="d" targetNamespace="x">
      <bpmn:process id="p"><bpmn:laneSet id="s">
        <bpmn:lane id="outer" liaison:external="customer">
          <bpmn:flowNodeRef>a</bpmn:flowNodeRef><bpmn:flowNodeRef>b</bpmn:flowNodeRef>
          <bpmn:childLaneSet id="c"><bpmn:lane id="inner" liaison:external="supplier">
            <bpmn:flowNodeRef>b</bpmn:flowNodeRef></bpmn:lane></bpmn:childLaneSet>
        </bpmn:lane>
        <bpmn:lane id="staff"><bpmn:flowNodeRef>c</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
      <bpmn:userTask id="a"/><bpmn:userTask id="b"/><bpmn:userTask id="c"/></bpmn:process></bpmn:definitions>"""
    root = parse_xml_bytes(xml)
    kinds = {i: read_liaison_attributes(root.xpath(f"//*[@id='{i}']")[0]).get("external") for i in "abc"}
    assert kinds == {"a": "customer", "b": "supplier", "c": None}
