"""`liaison:allow` from the command line: the CLI refuses what the node does not allow, like the pages."""

from __future__ import annotations

from tests.engine.conftest import flow, write_package

from .test_cli import as_json, liaison
from .test_operations_cli import _people

BODY = f"""
<bpmn:startEvent id="start"/>
<bpmn:userTask id="approve" name="Approve" liaison:mode="sequential" liaison:candidateUsers="boss,carl"
               liaison:allow="return"/>
<bpmn:endEvent id="done"/>
{flow("start", "approve")}{flow("approve", "done")}
"""


def test_the_cli_refuses_transfer_and_add_signer_where_the_node_allows_return_only(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'cli.db'}"
    _people(database_url)
    liaison("deploy", str(write_package(tmp_path, "onlyreturn", {"onlyreturn": BODY})), url=database_url)
    task = as_json("start", "onlyreturn", "--user", "ann", url=database_url)["open_tasks"][0]["id"]
    for actor in ("boss", "root"):  # the holder, a super admin
        refused = liaison("task", "transfer", task, "--to", "eve", "--as", actor, url=database_url, expect=1)
        assert refused.stderr.strip() == "error: step approve does not allow transfer"
    refused = liaison("task", "add-signer", task, "--signer", "eve", "--place", "after", "--as", "boss",
                      url=database_url, expect=1)
    assert refused.stderr.strip() == "error: step approve does not allow adding signers"
    payload = as_json("task", "transfer", task, "--to", "eve", "--as", "boss", url=database_url, expect=1)
    assert payload["error"] == "NotPermittedError"
    assert [t["id"] for t in as_json("tasks", "--user", "boss", url=database_url)] == [task]  # still boss's


def test_validate_names_the_element_with_an_unknown_operation(tmp_path):
    folder = write_package(tmp_path, "bad", {"bad": BODY.replace('liaison:allow="return"',
                                                                 'liaison:allow="return,approve"')})
    refused = liaison("validate", str(folder), expect=1)
    output = refused.stdout + refused.stderr
    assert "approve" in output and "liaison:allow `return,approve`: unknown operation approve" in output
