"""A package `trip` deployed in two versions that differ in known ways (diff and migration tests).

Version 1: start -> gw0 routes by `where`: "keep" -> review -> gw (amount > 100 -> boss -> end, else end);
"old" -> old_check -> end; "rename" -> draft -> end.
Version 2: old_check is removed ("old" goes straight to the end), draft is renamed draft2 (same name),
review's approver rule and reminder change, the condition to boss changes (amount > 50), and a new task
`archive` follows boss.
"""

from __future__ import annotations

from engine.packages import deployment as packages
from tests.engine.conftest import flow, write_package

V1 = "\n".join([
    '<bpmn:startEvent id="start"/>', flow("start", "gw0"),
    '<bpmn:exclusiveGateway id="gw0"/>',
    flow("gw0", "review", 'where == "keep"'), flow("gw0", "old_check", 'where == "old"'),
    flow("gw0", "draft", 'where == "rename"'),
    '<bpmn:userTask id="review" name="Review" liaison:approvers="initiator" liaison:remindAfter="PT1H"/>',
    flow("review", "gw"),
    '<bpmn:exclusiveGateway id="gw" default="f_gw_end"/>',
    flow("gw", "boss", "amount > 100", flow_id="f_gw_boss"), flow("gw", "end", flow_id="f_gw_end"),
    '<bpmn:userTask id="boss" name="Boss" liaison:approvers="initiator"/>', flow("boss", "end"),
    '<bpmn:userTask id="old_check" name="Old check" liaison:approvers="initiator"/>', flow("old_check", "end"),
    '<bpmn:userTask id="draft" name="Draft" liaison:approvers="initiator"/>', flow("draft", "end"),
    '<bpmn:endEvent id="end"/>',
])

V2 = "\n".join([
    '<bpmn:startEvent id="start"/>', flow("start", "gw0"),
    '<bpmn:exclusiveGateway id="gw0"/>',
    flow("gw0", "review", 'where == "keep"'), flow("gw0", "end", 'where == "old"'),
    flow("gw0", "draft2", 'where == "rename"'),
    '<bpmn:userTask id="review" name="Review" liaison:approvers="initiator" liaison:remindAfter="PT2H"/>',
    flow("review", "gw"),
    '<bpmn:exclusiveGateway id="gw" default="f_gw_end"/>',
    flow("gw", "boss", "amount > 50", flow_id="f_gw_boss"), flow("gw", "end", flow_id="f_gw_end"),
    '<bpmn:userTask id="boss" name="Boss" liaison:approvers="initiator"/>', flow("boss", "archive"),
    '<bpmn:userTask id="archive" name="Archive" liaison:approvers="initiator"/>', flow("archive", "end"),
    '<bpmn:userTask id="draft2" name="Draft" liaison:approvers="initiator"/>', flow("draft2", "end"),
    '<bpmn:endEvent id="end"/>',
])


def deploy_two_versions(sessions, tmp_path, v2_body: str = V2, v2_meta: dict | None = None, between=None):
    """Deploy `trip` version 1 and then version 2; `between()` runs in between (to start instances on
    version 1) and its result is returned."""
    result = None
    for number, body, meta in ((1, V1, None), (2, v2_body, v2_meta)):
        if number == 2 and between is not None:
            result = between()
        folder = write_package(tmp_path / str(number), "trip", {"trip": body}, meta=meta)
        package = packages.load_package(folder)
        with sessions() as session, session.begin():
            packages.deploy(session, package, "admin", notes=f"version {number}")
    return result
