"""Deploying packages: immutable numbered versions, and every kind of refusal with its reason."""

from __future__ import annotations

import pytest

from engine import runtime
from engine.data.models import ProcessInstance, ProcessVersion
from engine.errors import InvalidPackageError
from engine.packages import deployment as packages
from tests.engine.conftest import flow, write_package

SIMPLE = "\n".join(['<bpmn:startEvent id="start"/>', flow("start", "fill"),
                    '<bpmn:userTask id="fill" liaison:form="request"/>', flow("fill", "end"),
                    '<bpmn:endEvent id="end"/>'])


def _refusal(path) -> str:
    with pytest.raises(InvalidPackageError) as caught:
        packages.load_package(path)
    return str(caught.value)


def test_package_with_missing_form_is_refused_naming_form_and_element(tmp_path):
    message = _refusal(write_package(tmp_path, "req", {"req": SIMPLE}))
    assert "form `request`" in message and ": fill: " in message and "req.bpmn:" in message


def test_package_calling_an_unknown_process_is_refused(tmp_path):
    body = "\n".join(['<bpmn:startEvent id="start"/>', flow("start", "call"),
                      '<bpmn:callActivity id="call" calledElement="nowhere"/>', flow("call", "end"),
                      '<bpmn:endEvent id="end"/>'])
    message = _refusal(write_package(tmp_path, "caller", {"caller": body}))
    assert "nowhere" in message


def test_package_with_duplicate_ids_is_refused(tmp_path):
    body = SIMPLE.replace('<bpmn:endEvent id="end"/>', '<bpmn:endEvent id="end"/><bpmn:task id="fill"/>')
    message = _refusal(write_package(tmp_path, "dup", {"dup": body}, forms=("request",)))
    assert "fill" in message and "duplicate" in message.lower()


@pytest.mark.parametrize("condition, expected", [
    ("amount >", "amount >"),
    ("().__class__.__bases__[0].__subclasses__()", "_"),
    ("__import__('os').system('id')", "_"),
])
def test_package_with_broken_or_unsafe_condition_is_refused(tmp_path, condition, expected):
    body = "\n".join(['<bpmn:startEvent id="start"/>', flow("start", "gw"),
                      '<bpmn:exclusiveGateway id="gw" default="f_b"/>',
                      flow("gw", "a", condition, flow_id="f_a"), flow("gw", "b", flow_id="f_b"),
                      '<bpmn:endEvent id="a"/>', '<bpmn:endEvent id="b"/>'])
    message = _refusal(write_package(tmp_path, "cond", {"cond": body}))
    assert "f_a" in message and expected in message


def test_unsafe_assignee_expression_is_refused_at_deploy(tmp_path):
    body = SIMPLE.replace('liaison:form="request"', 'liaison:assignee="${().__class__}"')
    message = _refusal(write_package(tmp_path, "who", {"who": body}))
    assert ": fill: " in message


def test_package_without_package_yaml_is_refused(tmp_path):
    folder = write_package(tmp_path, "bare", {"bare": SIMPLE}, forms=("request",))
    (folder / "package.yaml").unlink()
    assert "package.yaml" in _refusal(folder)


def test_redeploying_same_content_keeps_the_version_and_a_change_adds_one(sessions, tmp_path):
    folder = write_package(tmp_path, "req", {"req": SIMPLE}, forms=("request",))
    with sessions() as session, session.begin():
        first = packages.deploy(session, packages.load_package(folder), "admin")
    started = runtime.start_instance(sessions, "req", {})
    with sessions() as session, session.begin():
        again = packages.deploy(session, packages.load_package(folder), "admin")
    (folder / "req.bpmn").write_text((folder / "req.bpmn").read_text().replace(
        '<bpmn:endEvent id="end"/>', '<bpmn:endEvent id="end" name="Done"/>'))
    with sessions() as session, session.begin():
        changed = packages.deploy(session, packages.load_package(folder), "admin")
    assert (first.version, first.created) == (1, True)
    assert (again.version, again.created) == (1, False)
    assert (changed.version, changed.created) == (2, True)
    with sessions() as session:
        instance = session.get(ProcessInstance, started.instance_id)
        assert session.get(ProcessVersion, instance.version_id).number == 1  # stays on its version
    newer = runtime.start_instance(sessions, "req", {})
    with sessions() as session:
        instance = session.get(ProcessInstance, newer.instance_id)
        assert session.get(ProcessVersion, instance.version_id).number == 2


def test_file_that_breaks_the_bpmn_schema_is_refused_with_line(tmp_path):
    body = SIMPLE.replace('<bpmn:endEvent id="end"/>', '<bpmn:endEvent id="end" isInterrupting="maybe"/>')
    body = body.replace('<bpmn:startEvent id="start"/>', '<bpmn:startEvent id="start" isInterrupting="maybe"/>')
    message = _refusal(write_package(tmp_path, "xsd", {"xsd": body}, forms=("request",)))
    assert "not valid BPMN 2.0" in message and "isInterrupting" in message


def test_package_with_hostile_bpmn_file_is_refused_in_one_line(tmp_path):
    folder = write_package(tmp_path, "evil", {"evil": SIMPLE}, forms=("request",))
    (folder / "evil.bpmn").write_text(
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        "<definitions>&lol2;</definitions>")
    message = _refusal(folder)
    assert len(message.splitlines()) == 1 and "DOCTYPE" in message and "evil.bpmn" in message


def test_unquoted_timer_expression_is_read_as_a_literal_and_said_so(tmp_path):
    body = SIMPLE + "\n" + (
        '<bpmn:boundaryEvent id="too_slow" attachedToRef="fill"><bpmn:timerEventDefinition>'
        "<bpmn:timeDuration>PT48H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>"
        + flow("too_slow", "late") + '<bpmn:endEvent id="late"/>')
    package = packages.load_package(write_package(tmp_path, "timed", {"timed": body}, forms=("request",)))
    [note] = [p for p in package.notes if p.element_id == "too_slow"]
    assert note.severity == "info" and "PT48H" in note.message
    quoted = write_package(tmp_path / "ok", "timed", {"timed": body.replace(">PT48H<", '>"PT48H"<')},
                           forms=("request",))
    assert "\\\"PT48H\\\"" in package.spec_json and "\\\"PT48H\\\"" in packages.load_package(quoted).spec_json



def test_a_yaml_alias_bomb_in_package_yaml_is_refused_before_it_expands(tmp_path):
    folder = write_package(tmp_path, "bomb", {"bomb": SIMPLE}, forms=("request",))
    lines = ["id: bomb", 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 10)]
    (folder / "package.yaml").write_text("\n".join(lines) + "\n")
    message = _refusal(folder)  # 9**10 strings if expanded: refused at the first alias instead
    assert "package.yaml:3" in message and "aliases" in message
