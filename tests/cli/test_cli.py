"""The `liaison` command: in this process (tests.cli.runner), and as separate processes where a test
proves that every call starts cold and reads the database."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.data import db
from tests.cli import runner
from tests.conftest import FIXTURES, add_people

LIAISON = str(Path(sys.executable).parent / "liaison")
ORDER_REVIEW = str(FIXTURES / "packages" / "order_review")
BPMN = FIXTURES / "bpmn"


def liaison(*args, url=None, expect=0, instance=None, cold=False):
    """Run `liaison ARGS`: in process, or as its own process with `cold=True`; check the exit code."""
    env = {}
    if instance:
        env["LIAISON_INSTANCE_DIR"] = str(instance)
    if url:
        env["LIAISON_DATABASE_URL"] = url
    if cold:
        proc = subprocess.run([LIAISON, *args], capture_output=True, text=True, env={**os.environ, **env},
                              timeout=120)
    else:
        proc = runner.run(list(args), env=env)
    assert proc.returncode == expect, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc


def as_json(*args, url, expect=0, cold=False):
    return json.loads(liaison(*args, "--json", url=url, expect=expect, cold=cold).stdout)


def _directory(url: str, *usernames: str) -> None:
    engine = db.make_engine(url)
    try:
        add_people(db.make_session_factory(engine), *usernames)
    finally:
        engine.dispose()


def test_deploy_start_complete_show_as_separate_processes(database_url):
    cold = database_url.startswith("sqlite")  # one cold run proves it; PostgreSQL's runs in process
    assert liaison("validate", ORDER_REVIEW, cold=cold).stdout.strip().endswith("valid")
    deployed = as_json("deploy", ORDER_REVIEW, "--user", "admin", url=database_url, cold=cold)
    assert deployed["version"] == 1 and deployed["created"] is True
    _directory(database_url, "li")
    started = as_json("start", "order_review", "--user", "zhang", "--business-key", "PO-7",
                      "--data", json.dumps({"item": "desk", "amount": 2500, "manager": "li"}), url=database_url, cold=cold)
    assert started["status"] == "running"

    stock = as_json("tasks", "--user", "wang", url=database_url, cold=cold)
    assert [t["element_id"] for t in stock] == ["stock_check"]
    as_json("complete", stock[0]["id"], "--user", "wang", "--data", '{"in_stock": 2}', url=database_url, cold=cold)
    finance = as_json("tasks", "--user", "qian", "--group", "finance", url=database_url, cold=cold)
    as_json("complete", finance[0]["id"], "--user", "qian", "--group", "finance", "--data", "{}",
            url=database_url, cold=cold)
    manager = as_json("tasks", "--user", "li", url=database_url, cold=cold)
    assert [t["element_id"] for t in manager] == ["manager_approve"]
    done = as_json("complete", manager[0]["id"], "--user", "li", "--data", '{"approved": true}',
                   "--comment", "ok", url=database_url, cold=cold)
    assert done["status"] == "completed" and done["end_event"] == "end_signed"

    view = as_json("show", str(started["instance_id"]), url=database_url, cold=cold)
    assert view["status"] == "completed" and view["business_key"] == "PO-7"
    assert view["data"]["in_stock"] == 2 and view["data"]["approved"] is True
    assert [h["actor"] for h in view["history"] if h["action"] == "task_completed"] == ["wang", "qian", "li"]
    text = liaison("show", str(started["instance_id"]), url=database_url, cold=cold).stdout
    assert "completed at end_signed" in text and "task_completed" in text

    again = liaison("complete", manager[0]["id"], "--user", "li", url=database_url, expect=1, cold=cold)
    assert "already completed" in again.stderr


def test_cli_reports_bad_json_and_unknown_process_without_traceback(database_url):
    assert "not valid JSON" in liaison("start", "x", "--data", "{nope", url=database_url, expect=2).stderr
    assert "no process `ghost`" in liaison("start", "ghost", url=database_url, expect=1).stderr
    error = as_json("start", "ghost", url=database_url, expect=1)
    assert error["error"] == "NotFoundError"


@pytest.mark.parametrize("name", ["billion_laughs.bpmn", "xxe_file.bpmn", "xxe_network.bpmn",
                                  "truncated.bpmn", "xhtml_page.xml"])
def test_validate_hostile_or_broken_file_prints_one_line(name):
    proc = liaison("validate", str(BPMN / name), expect=2 if name != "xhtml_page.xml" else 1)
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(str(BPMN / name) + ":")
    assert "root:" not in proc.stdout  # nothing of /etc/passwd


def test_validate_large_file_is_refused_without_reading_it(tmp_path):
    big = tmp_path / "big.bpmn"
    with big.open("wb") as handle:
        handle.write(b"<?xml version='1.0'?><definitions>")
        handle.write(b"<!-- padding -->" * (50 * 1024 * 1024 // 16))
        handle.write(b"</definitions>")
    proc = liaison("validate", str(big), expect=2)
    assert len(proc.stdout.strip().splitlines()) == 1


def test_validate_reports_unsupported_element_with_line(tmp_path):
    proc = liaison("validate", str(BPMN / "complex_gateway.bpmn"), expect=1)
    first = proc.stdout.strip().splitlines()[0]
    path, line, element, message = first.split(":", 3)
    assert path == str(BPMN / "complex_gateway.bpmn") and int(line) > 0
    assert "complexGateway" in message


def test_validate_camunda_modeler_file_is_valid():
    proc = liaison("validate", str(BPMN / "camunda_leave_request.bpmn"))
    assert "valid" in proc.stdout


def test_several_instances_by_cli_keep_their_own_paths_and_data(database_url):
    as_json("deploy", ORDER_REVIEW, url=database_url)
    _directory(database_url, "li")
    small = as_json("start", "order_review", "--user", "a", "--data", '{"item": "pen", "amount": 5}',
                    url=database_url)
    large = as_json("start", "order_review", "--user", "b", "--data",
                    '{"item": "car", "amount": 90000, "manager": "li"}', url=database_url)
    dropped = as_json("start", "order_review", "--user", "c", "--data", '{"item": "x", "amount": 1}',
                      url=database_url)
    assert as_json("cancel", str(dropped["instance_id"]), "--user", "c", "--reason", "typo",
                   url=database_url)["status"] == "cancelled"
    for task in as_json("tasks", "--user", "wang", url=database_url):
        as_json("complete", task["id"], "--user", "wang", url=database_url)
    for task in as_json("tasks", "--user", "qian", "--group", "finance", url=database_url):
        as_json("complete", task["id"], "--user", "qian", "--group", "finance", url=database_url)
    small_view = as_json("show", str(small["instance_id"]), url=database_url)
    large_view = as_json("show", str(large["instance_id"]), url=database_url)
    dropped_view = as_json("show", str(dropped["instance_id"]), url=database_url)
    assert (small_view["status"], small_view["end_event"]) == ("completed", "end_auto")
    assert small_view["data"]["approval_note"] == "under limit: 5"
    assert large_view["status"] == "running" and large_view["data"]["item"] == "car"
    assert [t["element_id"] for t in large_view["tasks"] if t["status"] == "open"] == ["manager_approve"]
    assert dropped_view["status"] == "cancelled" and dropped_view["history"][-1]["comment"] == "typo"
    assert [t["element_id"] for t in as_json("tasks", "--user", "li", url=database_url)] == ["manager_approve"]


def test_liaison_test_runs_package_scenarios():
    proc = liaison("test", ORDER_REVIEW, str(Path(__file__).resolve().parents[2] / "processes" / "leave_request"))
    assert "4 passed, 0 failed" in proc.stdout


def test_validate_package_folder_lists_every_problem(tmp_path):
    folder = tmp_path / "broken"
    shutil.copytree(ORDER_REVIEW, folder)
    (folder / "forms" / "signoff.yaml").unlink()
    text = (folder / "order_review.bpmn").read_text().replace("amount &gt; 1000", "amount &gt;")
    (folder / "order_review.bpmn").write_text(text)
    proc = liaison("validate", str(folder), expect=1)
    lines = proc.stdout.strip().splitlines()
    assert any(": f_large: " in line and "amount >" in line for line in lines)
    assert any(": manager_approve: " in line and "form `signoff`" in line for line in lines)
    assert all(line.split(":")[1].isdigit() for line in lines)


def test_export_and_deploy_zip_by_cli(database_url, tmp_path):
    as_json("deploy", ORDER_REVIEW, url=database_url)
    target = tmp_path / "order_review.zip"
    assert "wrote" in liaison("export", "order_review", "-o", str(target), url=database_url).stdout
    again = as_json("deploy", str(target), url=database_url)
    assert (again["version"], again["created"]) == (1, False)


def test_demo_deploys_the_shipped_packages_once(database_url, tmp_path):
    first = liaison("demo", url=database_url, instance=tmp_path).stdout
    assert "deployed: leave_request version 1" in first
    assert "deployed: visitor_booking version 1" in first
    assert "deployed: supplier_order version 1" in first and "demo supplier: ACME" in first
    assert "deployed: customer_request version 1" in first and "demo customer: HUAXIN" in first
    accounts = dict(line.split("\t") for line in (tmp_path / "demo-accounts.txt").read_text().splitlines())
    assert {"admin", "li", "zhang", "wang", "hu", "zhou", "zhao"} <= set(accounts) and len(accounts) == 61 and (tmp_path / "demo-accounts.txt").stat().st_mode & 0o077 == 0
    from engine.data import calendar
    from engine.data.models import utcnow
    if utcnow().year in calendar.package_years():  # the workday calendar of this year is filled once
        assert f"calendar {utcnow().year}: " in first
    second = liaison("demo", url=database_url, instance=tmp_path).stdout
    assert "already deployed: leave_request version 1" in second and "demo accounts exist" in second
    assert "calendar " not in second
    assert "demo supplier" not in second and "demo customer" not in second  # made once
    _check_demo_parties(database_url)
    from sqlalchemy import select

    from engine.data import db
    from engine.data.models import Role
    engine = db.make_engine(database_url)
    try:
        with engine.connect() as conn:  # the demo roles have names, so no page offers a bare key
            named = dict(conn.execute(select(Role.key, Role.name)).all())
    finally:
        engine.dispose()
    assert named["finance"] == "财务" and named["general_manager"] == "总经理"
    assert all(name != key for key, name in named.items()), named


def _check_demo_parties(database_url):
    """The demo parties were made through engine.external.parties: a customer with a contact who may
    submit a customer request in the portal, and the service desk role for the triage."""
    from engine.data import db
    from engine.external import parties, scope
    from engine.external.identity import Principal, contact_identity
    engine = db.make_engine(database_url)
    try:
        with engine.connect() as conn:
            customer = parties.party_by_key(conn, "HUAXIN")
            assert (customer.kind, customer.contacts) == ("customer", 1)
            contact = parties.contacts_of(conn, customer.id)[0]
            assert contact.email == "it@huaxin.example.com"
            principal = Principal(identity=contact_identity(contact.id), kind="customer", party_id=customer.id,
                                  contact_id=contact.id)
            assert scope.may_start(conn, principal, "customer_request")
            assert not scope.may_start(conn, principal, "supplier_order")
            assert parties.party_by_key(conn, "ACME").kind == "supplier"
    finally:
        engine.dispose()


def test_refused_form_submission_lists_each_field(database_url):
    url = database_url
    as_json("deploy", ORDER_REVIEW, url=url)
    refused = as_json("start", "order_review", "--data", json.dumps({"amount": "-3", "color": "red"}),
                      url=url, expect=1)
    assert refused["error"] == "FormInvalidError"
    assert refused["errors"] == {"color": ["Unknown field."], "item": ["This field is required."],
                                 "amount": ["Must not be negative."]}
    text = liaison("start", "order_review", "--data", '{"item": "pen"}', url=url, expect=1).stderr
    assert "form `order_start` refused the submission" in text and "amount: This field is required." in text


def test_import_formjs_writes_a_form_that_loads_and_lists_what_it_dropped(tmp_path):
    out = tmp_path / "invoice.yaml"
    proc = liaison("import-formjs", str(FIXTURES / "formjs" / "invoice.form"), "-o", str(out))
    assert "type `image`): images are not supported; skipped" in proc.stderr
    from forms.schema import load_schema
    assert load_schema(out).field("invoiceNumber")["type"] == "text"  # the key the BPMN uses, kept
    (tmp_path / "bad.form").write_text('{"type": "default"}')
    assert "no `components` list" in liaison("import-formjs", str(tmp_path / "bad.form"), expect=2).stderr


def test_cli_start_and_complete_check_people_against_the_directory(database_url):
    """Issue 11 item 2: `liaison start` refuses an unknown person and the requester as their own approver."""
    leave = str(Path(__file__).resolve().parents[2] / "processes" / "leave_request")
    as_json("deploy", leave, url=database_url)
    _directory(database_url, "zhang", "li")
    data = {"leave_type": "annual", "days": 1}
    unknown = liaison("start", "leave_request", "--user", "zhang", "--data",
                      json.dumps({**data, "manager": "nobody_here"}), url=database_url, expect=1)
    assert "`nobody_here` is not a known user." in unknown.stderr + unknown.stdout
    itself = liaison("start", "leave_request", "--user", "zhang", "--data",
                     json.dumps({**data, "manager": "zhang"}), url=database_url, expect=1)
    assert "You cannot pick yourself as your approver." in itself.stderr + itself.stdout
    started = as_json("start", "leave_request", "--user", "zhang", "--data", json.dumps({**data, "manager": "li"}),
                      url=database_url)
    task = as_json("tasks", "--user", "li", url=database_url)[0]
    assert task["instance_id"] == started["instance_id"]
    refused = liaison("task", "transfer", task["id"], "--to", "zhang", "--as", "li", url=database_url, expect=1)
    assert "they started this request" in refused.stderr + refused.stdout


def test_cli_complete_checks_the_next_approver_against_the_directory(database_url, tmp_path):
    """Issue 11 item 2: `liaison complete` refuses the initiator (and unknown people) as the next approver."""
    import yaml

    from tests.engine.conftest import write_package
    from tests.web.test_start_people import PICKS
    folder = write_package(tmp_path, "picks", {"picks": PICKS})
    (folder / "forms" / "request.yaml").write_text(yaml.safe_dump({"fields": [{"name": "approver", "type": "user"}]}))
    (folder / "forms" / "pick_next.yaml").write_text(yaml.safe_dump({"fields": [
        {"name": "next_approver", "type": "user", "required": True}]}))
    as_json("deploy", str(folder), url=database_url)
    _directory(database_url, "zhang", "li", "wang")
    as_json("start", "picks", "--user", "zhang", "--data", '{"approver": "li"}', url=database_url)
    task = as_json("tasks", "--user", "li", url=database_url)[0]
    itself = liaison("complete", task["id"], "--user", "li", "--data", '{"next_approver": "zhang"}',
                     url=database_url, expect=1)
    assert "You cannot pick yourself as your approver." in itself.stderr + itself.stdout
    unknown = liaison("complete", task["id"], "--user", "li", "--data", '{"next_approver": "nobody_here"}',
                      url=database_url, expect=1)
    assert "`nobody_here` is not a known user." in unknown.stderr + unknown.stdout
    as_json("complete", task["id"], "--user", "li", "--data", '{"next_approver": "wang"}', url=database_url)
    assert [t["element_id"] for t in as_json("tasks", "--user", "wang", url=database_url)] == ["second"]
