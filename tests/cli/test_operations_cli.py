"""`liaison task transfer` and `liaison instance urge|cc|withdraw|terminate`, as separate processes."""

from __future__ import annotations

import json

from sqlalchemy import select

from engine.data import db
from engine.data.models import AdminGrant, Person
from tests.engine.conftest import flow, write_package

from .test_cli import as_json, liaison

BODY = f"""
<bpmn:startEvent id="start"/>
<bpmn:userTask id="approve" name="Approve" liaison:assignee="boss"/>
<bpmn:endEvent id="done"/>
{flow("start", "approve")}{flow("approve", "done")}
"""


def _people(url: str) -> None:
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        for name in ("ann", "boss", "carl", "eve", "root"):
            session.add(Person(username=name, name=name.title()))
        session.flush()
        root = session.scalar(select(Person.id).where(Person.username == "root"))
        session.add(AdminGrant(person_id=root, department_id=None))
    engine.dispose()


def test_operations_from_the_command_line(tmp_path):
    # the CLI's wiring, once: the engine tests run the operations on both databases
    database_url = f"sqlite:///{tmp_path / 'cli.db'}"
    _people(database_url)
    liaison("deploy", str(write_package(tmp_path, "purchase", {"purchase": BODY})), url=database_url)
    started = as_json("start", "purchase", "--user", "ann", url=database_url)
    iid, task = str(started["instance_id"]), started["open_tasks"][0]["id"]

    refused = liaison("task", "transfer", task, "--to", "carl", "--as", "eve", url=database_url, expect=1)
    assert refused.stderr.strip() == f"error: only the assignee of task {task} or a super admin may transfer it"
    moved = as_json("task", "transfer", task, "--to", "carl", "--as", "boss", "--comment", "away", url=database_url)
    assert (moved["from_user"], moved["to_user"]) == ("boss", "carl")
    assert liaison("task", "transfer", task, "--to", "boss", "--as", "carl",
                   url=database_url).stdout.strip() == f"task {task}: transferred from carl to boss"

    urged = as_json("instance", "urge", iid, "--as", "ann", url=database_url)
    assert urged["tasks"][0]["recipients"] == ["boss"]
    again = as_json("instance", "urge", iid, "--as", "ann", url=database_url, expect=1)
    assert again["error"] == "UrgedTooSoonError" and "you may urge it again from" in again["message"]

    copied = as_json("instance", "cc", iid, "--to", "eve", "--to", "carl", "--as", "ann", url=database_url)
    assert (copied["added"], copied["skipped"]) == (["eve", "carl"], [])
    text = liaison("instance", "cc", iid, "--to", "eve", "--as", "ann", url=database_url).stdout
    assert text.strip() == f"instance {iid}: copied to nobody new (already copied before: eve)"

    refused = liaison("instance", "terminate", iid, "--as", "ann", "--reason", "x", url=database_url, expect=1)
    assert refused.stderr.strip() == f"error: only a super admin may terminate instance {iid}"
    withdrawn = as_json("instance", "withdraw", iid, "--as", "ann", "--comment", "not needed", url=database_url)
    assert withdrawn["status"] == "cancelled"

    second = str(as_json("start", "purchase", "--user", "ann", url=database_url)["instance_id"])
    ended = liaison("instance", "terminate", second, "--as", "root", "--reason", "duplicate", url=database_url)
    assert ended.stdout.startswith(f"instance {second}: cancelled")
    view = as_json("show", second, url=database_url)
    assert [(h["action"], h["actor"], h["comment"]) for h in view["history"]][-1] == (
        "terminated", "root", "duplicate")
    history = json.loads(liaison("show", iid, "--json", url=database_url).stdout)["history"]
    assert [h["action"] for h in history if h["action"] in ("transferred", "urged", "cc", "withdrawn")] == [
        "transferred", "transferred", "urged", "cc", "withdrawn"]


def test_add_and_remove_signer_from_the_command_line(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'cli.db'}"
    _people(database_url)
    body = BODY.replace('liaison:assignee="boss"', 'liaison:mode="all" liaison:candidateUsers="boss,carl"')
    liaison("deploy", str(write_package(tmp_path, "countersign", {"countersign": body})), url=database_url)
    task = as_json("start", "countersign", "--user", "ann", url=database_url)["open_tasks"][0]["id"]
    added = liaison("task", "add-signer", task, "--signer", "eve", "--place", "alongside", "--as", "boss",
                    url=database_url).stdout
    assert f"task {task}: eve added alongside boss" in added
    refused = liaison("task", "add-signer", task, "--signer", "eve", "--place", "before", "--as", "boss",
                      url=database_url, expect=1)
    assert "takes signers alongside you, not before" in refused.stderr
    removed = as_json("task", "remove-signer", task, "--signer", "eve", "--as", "boss", url=database_url)
    assert removed == {"task_id": task, "signer": "eve", "node_completed": False}


def test_return_and_take_back_from_the_command_line(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'cli.db'}"
    _people(database_url)
    body = BODY.replace('<bpmn:endEvent id="done"/>', '<bpmn:userTask id="check" liaison:assignee="carl"/>'
                        '<bpmn:endEvent id="done"/>').replace(
        flow("approve", "done"), flow("approve", "check") + flow("check", "done"))
    liaison("deploy", str(write_package(tmp_path, "twostep", {"twostep": body})), url=database_url)
    task = as_json("start", "twostep", "--user", "ann", url=database_url)["open_tasks"][0]["id"]
    liaison("complete", task, "--user", "boss", url=database_url)
    check = as_json("tasks", "--user", "carl", url=database_url)[0]["id"]
    refused = liaison("task", "return", check, "--as", "carl", url=database_url, expect=2)
    assert "--comment" in refused.stderr
    moved = as_json("task", "return", check, "--as", "carl", "--comment", "redo", url=database_url)
    assert [t["element_id"] for t in moved["open_tasks"]] == ["approve"]


JUMPY = f"""
<bpmn:startEvent id="start"/>
<bpmn:userTask id="first" name="First" liaison:assignee="boss"/>
<bpmn:exclusiveGateway id="gate"/>
<bpmn:userTask id="second" name="Second" liaison:assignee="boss"/>
<bpmn:endEvent id="done"/>
{flow("start", "first")}{flow("first", "gate")}{flow("gate", "second", "True")}{flow("gate", "done", "False")}
{flow("second", "done", flow_id="f_second_done")}
"""


def test_a_refused_jump_is_one_line_and_exit_1_also_with_json(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'cli.db'}"
    _people(database_url)
    liaison("deploy", str(write_package(tmp_path, "jumpy", {"jumpy": JUMPY})), url=database_url)
    started = as_json("start", "jumpy", "--as", "ann", url=database_url)
    task = started["open_tasks"][0]["id"]
    for target in ("gate", "no_such_node"):
        refused = liaison("task", "jump", task, "--to", target, "--as", "root", "--comment", "why",
                          url=database_url, expect=1)
        assert refused.stdout == "" and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert refused.stderr.startswith("error: ") and target in refused.stderr
        as_payload = as_json("task", "jump", task, "--to", target, "--as", "root", "--comment", "why",
                             url=database_url, expect=1)
        assert as_payload["error"] == "TokenMoveError" and target in as_payload["message"]
    as_json("instance", "terminate", str(started["instance_id"]), "--as", "root", "--reason", "done",
            url=database_url)
    finished = as_json("task", "jump", task, "--to", "second", "--as", "root", "--comment", "why",
                       url=database_url, expect=1)
    assert finished["error"] == "TaskConflictError"
    # --user and --as are one option
    assert liaison("task", "jump", task, "--to", "second", "--user", "root", "--comment", "why",
                   url=database_url, expect=1).stderr.count("\n") == 1
