"""`liaison external ...`: import parties, issue a link or a code (printed once), revoke."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from engine import runtime
from engine.data.external_models import ExternalGrant
from engine.external import grants, parties
from engine.external.errors import ExternalAccessError
from engine.packages import deployment
from tests.cli import runner
from tests.conftest import add_people
from tests.engine.conftest import flow, write_package


def liaison(url, *args):
    return runner.run(["external", *args], env={"LIAISON_DATABASE_URL": url, "LIAISON_BASE_URL": "https://l.example"})


@pytest.fixture
def instance_id(sessions, tmp_path):
    body = ('<bpmn:startEvent id="start"/><bpmn:userTask id="confirm" liaison:assignee="ann"/>'
            '<bpmn:endEvent id="end"/>' + flow("start", "confirm") + flow("confirm", "end"))
    package = deployment.load_package(write_package(tmp_path, "ext_cli", {"ext_cli": body}))
    with sessions() as session, session.begin():
        deployment.deploy(session, package, "admin")
    return runtime.start_instance(sessions, "ext_cli", {}, user="ann").instance_id


def _conn(sessions):
    return sessions.kw["bind"].connect()


def test_import_is_a_dry_run_until_apply(database_url, sessions, tmp_path):
    path = tmp_path / "parties.csv"
    path.write_text("类型,编码,名称,联系人,邮箱\n供应商,ACME,艾克米,王伟,wang@acme.example\n", encoding="utf-8-sig")
    dry = liaison(database_url, "import", path)
    assert dry.returncode == 0 and "dry run" in dry.stdout
    with _conn(sessions) as conn:
        assert parties.list_parties(conn) == []
    done = liaison(database_url, "import", path, "--apply")
    assert done.returncode == 0 and "applied" in done.stdout
    with _conn(sessions) as conn:
        assert [(p.key, p.contacts) for p in parties.list_parties(conn)] == [("ACME", 1)]


def test_import_with_bad_rows_exits_1_with_row_numbers(database_url, tmp_path):
    path = tmp_path / "parties.csv"
    path.write_text("kind,party_key,party_name\nvendor,X,X\n", encoding="utf-8")
    refused = liaison(database_url, "import", path, "--apply")
    assert refused.returncode == 1 and f"{path}:2: kind must be supplier or customer" in refused.stdout


def test_link_is_printed_once_and_opens_the_instance(database_url, sessions, instance_id):
    done = liaison(database_url, "link", "--instance", instance_id, "--days", "3")
    assert done.returncode == 0, done.stderr
    token = re.search(r"https://l\.example/portal/s/(\S+)", done.stdout).group(1)
    with _conn(sessions) as conn:
        assert grants.redeem_link(conn, token, datetime.now(UTC)).instance_id == instance_id
    missing = liaison(database_url, "link", "--instance", "999")
    assert missing.returncode == 1 and "There is no instance 999" in missing.stderr


def test_code_for_a_process_or_an_instance_then_revoke_the_grant(database_url, sessions, instance_id):
    by_process = liaison(database_url, "code", "--process", "ext_cli", "--json")
    assert by_process.returncode == 0, by_process.stderr
    by_instance = liaison(database_url, "code", "--instance", instance_id)
    code = re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}", by_instance.stdout).group(0)
    with _conn(sessions) as conn:
        principal = grants.redeem_code(conn, code, datetime.now(UTC))
        conn.commit()
    assert principal.scopes == ("view", "fill", "upload")
    assert liaison(database_url, "code", "--process", "nope").returncode == 1
    assert liaison(database_url, "code").returncode == 2  # usage: one of --process / --instance
    revoked = liaison(database_url, "revoke", "--grant", principal.grant_id)
    assert revoked.returncode == 0 and "withdrew" in revoked.stdout
    with _conn(sessions) as conn, pytest.raises(ExternalAccessError) as refused:
        grants.redeem_code(conn, code, datetime.now(UTC))
    assert refused.value.reason == "revoked"


def test_revoke_a_party_or_a_contact_by_address(database_url, sessions):
    with _conn(sessions) as conn:
        party_id = parties.create_party(conn, kind="supplier", key="ACME", name="艾克米")
        parties.add_contact(conn, party_id, name="Wang", email="wang@acme.example")
        conn.commit()
    contact = liaison(database_url, "revoke", "--contact", "WANG@acme.example")
    assert contact.returncode == 0 and "revoked 1 contact" in contact.stdout
    party = liaison(database_url, "revoke", "--party", "ACME")
    assert party.returncode == 0 and "revoked party ACME" in party.stdout
    with _conn(sessions) as conn:
        assert parties.party_by_key(conn, "ACME").active is False
    assert liaison(database_url, "revoke", "--party", "NOPE").returncode == 1


def test_a_code_for_a_process_with_a_host_field_names_its_issuer(database_url, sessions):
    add_people(sessions, "li")
    package = deployment.load_package(Path(__file__).resolve().parents[2] / "processes" / "visitor_booking")
    with sessions() as session, session.begin():
        deployment.deploy(session, package, "admin")
    nobody = liaison(database_url, "code", "--process", "visitor_booking")
    assert nobody.returncode == 2 and "--as USERNAME" in nobody.stderr
    assert liaison(database_url, "code", "--process", "visitor_booking", "--as", "nope").returncode == 1
    issued = liaison(database_url, "code", "--process", "visitor_booking", "--as", "li")
    code = re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}", issued.stdout).group(0)
    with _conn(sessions) as conn:
        principal = grants.redeem_code(conn, code, datetime.now(UTC))
        assert conn.scalar(select(ExternalGrant.created_by).where(ExternalGrant.id == principal.grant_id)) == "li"


def test_the_cli_allows_the_validity_the_pages_allow_and_no_more(database_url, instance_id):
    """One limit for a grant's days: the CLI's --days range is the engine's (the pages' and package.yaml's)."""
    from cli.external import MAX_DAYS
    from engine.packages.portal_checks import MAX_LINK_DAYS
    from engine.work.invitations import MAX_CODE_DAYS

    assert MAX_DAYS == MAX_LINK_DAYS == MAX_CODE_DAYS
    for command in ("link", "code"):
        too_long = liaison(database_url, command, "--instance", instance_id, "--days", str(MAX_DAYS + 1))
        assert too_long.returncode == 2 and str(MAX_DAYS) in too_long.stderr
        assert liaison(database_url, command, "--instance", instance_id, "--days", str(MAX_DAYS)).returncode == 0


def test_reception_issues_a_code_on_behalf_of_a_host_and_nobody_else_may(database_url, sessions):
    """`--as zhou --host li`: the invitations rule (`may_name_host`) as on /invitations/: the receptionist is the
    issuer, li the host; an employee who is not reception is refused."""
    from engine.data.models import Person, PersonRole, Role

    add_people(sessions, "li", "wu")
    with sessions() as session, session.begin():
        zhou, role = Person(username="zhou", name="周前台"), Role(key="reception", name="前台")
        session.add_all([zhou, role])
        session.flush()
        session.add(PersonRole(person_id=zhou.id, role_id=role.id))
        deployment.deploy(session, deployment.load_package(
            Path(__file__).resolve().parents[2] / "processes" / "visitor_booking"), "admin")
    issued = liaison(database_url, "code", "--process", "visitor_booking", "--as", "zhou", "--host", "li")
    assert issued.returncode == 0, issued.stderr
    code = re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}", issued.stdout).group(0)
    with _conn(sessions) as conn:
        principal = grants.redeem_code(conn, code, datetime.now(UTC))
        assert grants.host_of_code(conn, principal.grant_id) == "li"
        assert conn.scalar(select(ExternalGrant.created_by).where(ExternalGrant.id == principal.grant_id)) == "zhou"
    assert liaison(database_url, "code", "--process", "visitor_booking", "--as", "wu", "--host", "li").returncode == 1
    assert liaison(database_url, "code", "--process", "visitor_booking", "--as", "zhou", "--host", "nope").returncode == 1
    assert liaison(database_url, "code", "--process", "visitor_booking", "--host", "li").returncode == 2


def test_a_code_for_a_process_filing_under_a_company_names_one_of_its_kind(database_url, sessions):
    """The pages' rule (`invitations.party_of_code`): customer_request files each request under the customer its
    code names, so the CLI refuses a code without one (the portal would refuse the form) or with a supplier."""
    package = deployment.load_package(Path(__file__).resolve().parents[2] / "processes" / "customer_request")
    with sessions() as session, session.begin():
        deployment.deploy(session, package, "admin")
    with _conn(sessions) as conn:
        parties.create_party(conn, kind="customer", key="HX", name="华信")
        parties.create_party(conn, kind="supplier", key="ACME", name="艾克米")
        conn.commit()
    none = liaison(database_url, "code", "--process", "customer_request")
    assert none.returncode == 1 and "Choose the company the code is for." in none.stderr
    assert liaison(database_url, "code", "--process", "customer_request", "--party", "ACME").returncode == 1
    issued = liaison(database_url, "code", "--process", "customer_request", "--party", "HX")
    assert issued.returncode == 0, issued.stderr
    with _conn(sessions) as conn:
        assert conn.scalar(select(ExternalGrant.party_id).where(ExternalGrant.kind == "code")) is not None
