"""Instance state: the process data is stored once, also for a finished workflow; formats are versioned."""

from __future__ import annotations

import json

import pytest
from lxml import etree

from engine.bpmn import workflow as wfa
from engine.bpmn.parser import parse_documents
from engine.bpmn.serialization import STATE_FORMAT, dump_state, load_state, new_workflow
from tests.engine.conftest import HEADER, flow

BODY = "\n".join(['<bpmn:startEvent id="start"/>', flow("start", "fill"), '<bpmn:userTask id="fill"/>',
                  flow("fill", "end"), '<bpmn:endEvent id="end"/>'])
NOTE = "x" * 5000


def _spec(body: str):
    """`(spec, subprocess specs)` of a process with `body`."""
    xml = HEADER.format(key="proc") + (
        f'<bpmn:process id="proc" isExecutable="true">\n{body}\n</bpmn:process>\n</bpmn:definitions>\n')
    parsed, problems = parse_documents({"proc.bpmn": etree.fromstring(xml.encode())})
    assert not problems, problems
    return parsed.specs["proc"], parsed.subprocess_specs["proc"]


def _finished():
    spec, subs = _spec(BODY)
    workflow = new_workflow(spec, subs, wfa.script_engine())
    wfa.set_start_data(workflow, {"amount": 3})
    wfa.run_engine(workflow)
    task = wfa.ready_user_tasks(workflow)[0]
    wfa.complete_user_task(workflow, str(task.id), {"note": NOTE, "order": {"qty": [1, 2]}})
    wfa.run_engine(workflow)
    assert wfa.is_completed(workflow)
    return workflow, spec, subs


def test_finished_workflow_state_holds_no_copy_of_the_process_data_and_restores_it():
    workflow, spec, subs = _finished()
    data = wfa.current_data(workflow)
    state = dump_state(workflow, data)
    assert NOTE not in state  # neither in the tasks nor in the workflow's own data
    restored = load_state(state, spec, subs, wfa.script_engine(), data)
    assert wfa.is_completed(restored)
    assert wfa.current_data(restored) == data == {"amount": 3, "note": NOTE, "order": {"qty": [1, 2]}}


def test_state_of_the_previous_format_still_loads():
    workflow, spec, subs = _finished()
    data = wfa.current_data(workflow)
    old = json.loads(dump_state(workflow, data))
    old["data"].update({key: data[key] for key in old.pop("liaison_shared")})  # as format 1 wrote it
    old["liaison_state_format"] = 1
    restored = load_state(json.dumps(old), spec, subs, wfa.script_engine(), data)
    assert wfa.current_data(restored) == data


def test_state_of_a_newer_format_is_refused():
    workflow, spec, subs = _finished()
    newer = json.loads(dump_state(workflow))
    newer["liaison_state_format"] = STATE_FORMAT + 1
    with pytest.raises(ValueError, match="newer"):
        load_state(json.dumps(newer), spec, subs, wfa.script_engine())
