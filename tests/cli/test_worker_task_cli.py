"""`liaison external-task ...` and `liaison validate` of a Camunda-style external service task."""

from __future__ import annotations

import json

from engine import runtime
from engine.packages import deployment
from tests.cli import runner
from tests.conftest import FIXTURES, add_people

CREDIT_CHECK = FIXTURES / "packages" / "credit_check"


def liaison(url, *args):
    return runner.run(list(args), env={"LIAISON_DATABASE_URL": url})


def test_validate_then_complete_and_fail_from_the_command_line(database_url, sessions):
    checked = liaison(database_url, "validate", CREDIT_CHECK)
    assert (checked.returncode, checked.stdout.strip()) == (0, f"{CREDIT_CHECK}: valid")
    add_people(sessions, "zhang", "li")
    with sessions() as session, session.begin():
        deployment.deploy(session, deployment.load_package(CREDIT_CHECK), "admin")
    first = runtime.start_instance(sessions, "credit_check", {"customer": "ACME"}, user="zhang").instance_id
    second = runtime.start_instance(sessions, "credit_check", {"customer": "Beta"}, user="zhang").instance_id
    listed = json.loads(liaison(database_url, "external-task", "list", "--status", "open", "--json").stdout)
    ids = {row["instance_id"]: row["id"] for row in listed}
    assert set(ids) == {first, second}
    done = liaison(database_url, "external-task", "complete", ids[first], "--worker", "cli", "--data", '{"score": 7}')
    assert done.returncode == 0 and f"instance {first} is running" in done.stdout
    assert runtime.complete_task(sessions, _review(sessions, first), "li", {}).status == "completed"
    again = liaison(database_url, "external-task", "complete", ids[first], "--worker", "cli")
    assert again.returncode == 1 and "already completed" in again.stderr
    failed = liaison(database_url, "external-task", "fail", ids[second], "--worker", "cli", "--message", "no bureau")
    assert failed.returncode == 0 and "incident" in failed.stdout
    refused = liaison(database_url, "external-task", "retry", ids[second], "--user", "zhang")
    assert refused.returncode == 1 and "super admin" in refused.stderr
    bad = liaison(database_url, "external-task", "complete", ids[second], "--worker", "cli", "--data", "[1]")
    assert bad.returncode == 2


def _review(sessions, instance_id: int) -> str:
    from sqlalchemy import select

    from engine.data.models import WorkTask
    with sessions() as session:
        return session.scalar(select(WorkTask.id).where(WorkTask.instance_id == instance_id,
                                                        WorkTask.status == "open"))
