"""Issue 10 item 3, "Done when": one Camunda-Modeler-style package using every construct of the item,
run end to end through the public engine functions and the CLI on SQLite and PostgreSQL: a DMN table
choosing the approver by amount, JUEL conditions, a signal thrown by one instance that moves another,
link events, `camunda:collection` multi-instance, an external task completed by `liaison
external-task complete`, and an unquoted ISO timer (the clock moved as the timer tests do)."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from engine import runtime
from engine.data.models import utcnow
from engine.data.signal_models import SignalSubscription
from engine.packages import deployment
from engine.runtime import LIVE_WORKFLOWS, timers
from engine.work import queries
from tests.cli import runner
from tests.conftest import FIXTURES

PACKAGE = FIXTURES / "packages" / "camunda_modeler"


def _liaison(url: str, *args: str):
    return runner.run(list(args), env={"LIAISON_DATABASE_URL": url})


def _view(sessions, instance_id: int) -> dict:
    with sessions() as session:
        return queries.instance_view(session, instance_id)


def _path(sessions, instance_id: int) -> list[str]:
    with sessions() as session:
        return queries.path_taken(session, instance_id)


def _open(sessions, instance_id: int) -> list[dict]:
    return [t for t in _view(sessions, instance_id)["tasks"] if t["status"] == "open"]


def test_a_camunda_modeler_package_runs_every_construct_end_to_end(sessions, database_url):
    validated = _liaison(database_url, "validate", str(PACKAGE))
    assert validated.returncode == 0 and validated.stdout.strip().endswith(f"{PACKAGE}: valid"), validated.stdout
    assert "JUEL" in validated.stdout and "PT5M" in validated.stdout and "link `wrap_up`" in validated.stdout
    with sessions() as session, session.begin():
        deployment.deploy(session, deployment.load_package(PACKAGE), "admin")

    # B: a small purchase; the DMN table picks the lead, and after approval it waits for the budget
    waiting = runtime.start_instance(sessions, "camunda_purchase", {"amount": 500, "kind": "wait",
                                                                    "reviewers": ["rev1", "rev2"]}, user="zed")
    [approve] = waiting.open_tasks
    assert approve["assignee"] == "lead"
    LIVE_WORKFLOWS.clear()
    assert runtime.complete_task(sessions, approve["id"], "lead", {}).open_tasks == []
    with sessions() as session:  # waiting on the signal
        assert session.scalars(select(SignalSubscription.element_id)
                               .where(SignalSubscription.instance_id == waiting.instance_id)).all() == \
            ["Event_wait_budget"]

    # A: a large one goes to the CFO; approved, it releases the budget (a signal) and ends by a link
    releasing = runtime.start_instance(sessions, "camunda_purchase", {"amount": 5000, "kind": "release",
                                                                      "reviewers": []}, user="zed")
    [approve] = releasing.open_tasks
    assert approve["assignee"] == "cfo"
    LIVE_WORKFLOWS.clear()
    assert runtime.complete_task(sessions, approve["id"], "cfo", {}).status == "completed"
    assert _path(sessions, releasing.instance_id) == [
        "StartEvent_requested", "Activity_choose_approver", "Activity_approve", "Gateway_kind",
        "Event_release_budget", "Event_to_wrap_up_1", "Event_wrap_up", "EndEvent_done"]

    # the signal moved B into the collection multi-instance review: one task per reviewer
    reviews = _open(sessions, waiting.instance_id)
    assert sorted(t["assignee"] for t in reviews) == ["rev1", "rev2"]
    for task in reviews:
        LIVE_WORKFLOWS.clear()
        runtime.complete_task(sessions, task["id"], task["assignee"], {"ok": True})

    # the external task: completed by an outside worker through the CLI
    listed = json.loads(_liaison(database_url, "external-task", "list", "--status", "open", "--json").stdout)
    [order] = [row for row in listed if row["instance_id"] == waiting.instance_id]
    assert order["topic"] == "purchase-order"
    done = _liaison(database_url, "external-task", "complete", str(order["id"]), "--worker", "cli",
                    "--data", '{"order_no": "PO-7"}')
    assert done.returncode == 0, done.stderr
    assert _view(sessions, waiting.instance_id)["status"] == "running"  # the unquoted PT5M timer waits

    # move the clock past the timer: B runs through the link to its end
    LIVE_WORKFLOWS.clear()
    assert timers.claim_due(sessions, utcnow() + timedelta(minutes=1)) == []
    later = utcnow() + timedelta(minutes=6)
    fired = [timers.fire(sessions, timer_id, later) for timer_id in timers.claim_due(sessions, later)]
    assert fired == ["fired"]
    view = _view(sessions, waiting.instance_id)
    assert view["status"] == "completed"
    assert view["data"]["order_no"] == "PO-7" and view["data"]["approver"] == "lead"
    assert _path(sessions, waiting.instance_id) == [  # (the path shows user tasks and events, not the order's)
        "StartEvent_requested", "Activity_choose_approver", "Activity_approve", "Gateway_kind", "Event_wait_budget",
        "Activity_review", "Activity_review", "Activity_review", "Event_cooling_off", "Event_to_wrap_up_2",
        "Event_wrap_up", "EndEvent_done"]
    assert [h["action"] for h in view["history"] if h["action"] == "signal_received"] == ["signal_received"]
