"""`liaison message send` / `list`, as separate processes."""

from __future__ import annotations

from tests.engine.conftest import flow, write_package

from .test_cli import as_json, liaison

BODY = f"""
<bpmn:startEvent id="start"/>
<bpmn:intermediateCatchEvent id="signed"><bpmn:messageEventDefinition messageRef="m"/></bpmn:intermediateCatchEvent>
<bpmn:endEvent id="done"/>
{flow("start", "signed")}{flow("signed", "done")}
"""


def test_message_send_delivers_keeps_and_refuses(tmp_path):
    # the CLI's wiring, once: the engine tests run the operations on both databases
    database_url = f"sqlite:///{tmp_path / 'cli.db'}"
    folder = write_package(tmp_path, "contract", {"contract": BODY},
                           definitions='<bpmn:message id="m" name="contract_signed"/>')
    liaison("deploy", str(folder), url=database_url)
    started = as_json("start", "contract", "--business-key", "DOC-1", url=database_url)
    kept = liaison("message", "send", "contract_signed", "--key", "DOC-2", url=database_url).stdout
    assert "message `contract_signed` for key `DOC-2`: no instance waits for it yet; kept until" in kept
    sent = as_json("message", "send", "contract_signed", "--key", "DOC-1", "--data", '{"by": "acme"}',
                   url=database_url)
    assert (sent["status"], sent["instance_id"]) == ("delivered", started["instance_id"])
    listed = as_json("message", "list", url=database_url)
    assert [(m["message_name"], m["correlation_key"]) for m in listed] == [("contract_signed", "DOC-2")]
    bad = liaison("message", "send", "contract_signed", "--data", "[1]", url=database_url, expect=2)
    assert "--data must be a JSON object" in bad.stderr
