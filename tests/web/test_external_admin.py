"""The external access admin pages over HTTP: parties and contacts, revoking at once, the import's dry run
and apply, the access log with its filters, invitation codes shown once, and the visitor blacklist."""

from __future__ import annotations

import io
import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.data import store
from engine.external import audit, grants, parties, passes
from engine.external import sessions as portal_sessions
from engine.external.errors import ExternalAccessError
from engine.packages import deployment as packages
from engine.work import portal
from tests.engine.portal.support import add_party, deploy_supplier_order_only, start_order

from .conftest import csrf_token, sign_in

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
BASE = "/admin/external"


@pytest.fixture
def admin(app, people):
    client = app.test_client()
    assert sign_in(client, "root").status_code == 302
    return client


def _post(client, path: str, data: dict | None = None, **kwargs):
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, BASE + "/")}, **kwargs)


def _party(sessions, key="ACME", kind="supplier", contacts=("anna@acme.example",)) -> int:
    with sessions() as db, db.begin():
        conn = db.connection()
        party_id = parties.create_party(conn, kind=kind, key=key, name=f"{key} 公司", name_en=f"{key} Ltd")
        for email in contacts:
            parties.add_contact(conn, party_id, name=email.split("@")[0].title(), email=email)
    return party_id


def test_only_super_admins_reach_the_pages(app, people):
    employee, department_admin = app.test_client(), app.test_client()
    sign_in(employee, "zhang")
    sign_in(department_admin, "li")
    for path in ("/", "/access-log", "/import", "/codes", "/blacklist"):
        assert employee.get(BASE + path).status_code == 403
        assert department_admin.get(BASE + path).status_code == 403
    assert app.test_client().get(BASE + "/").status_code == 302  # to the sign-in page


def test_the_admin_index_links_the_external_pages(admin):
    assert f'href="{BASE}/"' in admin.get("/admin/").get_data(as_text=True)


def test_a_party_is_added_searched_and_its_contact_added_edited_and_deactivated(admin, sessions):
    created = _post(admin, BASE + "/", {"kind": "customer", "key": "BETA", "name": "贝塔", "name_en": "Beta"})
    assert created.status_code == 303
    page = admin.get(created.location, query_string={"lang": "en"}).get_data(as_text=True)
    assert "Beta" in page and "No contacts yet." in page
    party_id = int(created.location.rsplit("/", 1)[1])
    assert _post(admin, f"{BASE}/parties/{party_id}/contacts",
                 {"name": "Bob", "email": "Bob@Beta.example", "locale": "en"}).status_code == 303
    assert _post(admin, BASE + "/", {"kind": "customer", "key": "BETA", "name": "x"}).status_code == 303
    listing = admin.get(BASE + "/", query_string={"q": "bet"}).get_data(as_text=True)
    assert 'data-party="BETA"' in listing and listing.count("data-party=") == 1
    assert "The party key BETA is taken." in listing  # the refused second add, flashed
    assert 'data-party="BETA"' not in admin.get(BASE + "/", query_string={"q": "zzz"}).get_data(as_text=True)
    with sessions() as db:
        [contact] = parties.contacts_of(db.connection(), party_id)
    assert contact.email == "bob@beta.example"
    _post(admin, f"{BASE}/contacts/{contact.id}/edit", {"name": "Bob Li", "phone": "123"})
    bad = _post(admin, f"{BASE}/contacts/{contact.id}/edit", {"email": "not-an-address"}, follow_redirects=True)
    assert "is not an e-mail address" in bad.get_data(as_text=True)
    _post(admin, f"{BASE}/contacts/{contact.id}/revoke")
    with sessions() as db:
        [contact] = parties.contacts_of(db.connection(), party_id)
    assert (contact.name, contact.phone, contact.active) == ("Bob Li", "123", False)
    _post(admin, f"{BASE}/contacts/{contact.id}/reactivate")
    with sessions() as db:
        assert parties.contacts_of(db.connection(), party_id)[0].active


def test_revoking_a_party_ends_its_sessions_and_grants_at_once_and_it_can_be_reactivated(admin, sessions):
    party_id = _party(sessions)
    now = datetime.now(UTC)
    with sessions() as db, db.begin():
        conn = db.connection()
        grant_id, code = grants.issue_code(conn, scopes=["view"], valid_until=now + timedelta(days=3),
                                           party_id=party_id, label="ACME 门户码", now=now)
    with sessions() as db, db.begin():
        principal = grants.redeem_code(db.connection(), code, now, client="10.0.0.9")
        token = portal_sessions.start(db.connection(), principal, ip="10.0.0.9", user_agent="t", now=now)
    page = admin.get(f"{BASE}/parties/{party_id}").get_data(as_text=True)
    assert f'data-grant="{grant_id}"' in page and "ACME 门户码" in page and "10.0.0.9" in page
    done = _post(admin, f"{BASE}/parties/{party_id}/revoke", follow_redirects=True, query_string={"lang": "en"})
    assert "Access revoked: 1 links or codes withdrawn, 1 sessions ended." in done.get_data(as_text=True)
    with sessions() as db:
        assert portal_sessions.load(db.connection(), token, datetime.now(UTC)) is None
        assert not parties.get_party(db.connection(), party_id).active
    with sessions() as db, pytest.raises(ExternalAccessError) as refused:
        grants.redeem_code(db.connection(), code, datetime.now(UTC), client="10.0.0.9")
    assert refused.value.reason == "revoked"
    _post(admin, f"{BASE}/parties/{party_id}/reactivate")
    with sessions() as db:
        assert parties.get_party(db.connection(), party_id).active


def test_one_grant_is_withdrawn_from_the_party_page(admin, sessions):
    party_id = _party(sessions)
    now = datetime.now(UTC)
    with sessions() as db, db.begin():
        grant_id, _token = grants.issue_link(db.connection(), scopes=["view"], valid_until=now + timedelta(days=1),
                                             party_id=party_id, now=now)
    back = f"{BASE}/parties/{party_id}"
    response = _post(admin, f"{BASE}/grants/{grant_id}/revoke", {"back": back})
    assert response.status_code == 303 and response.location.endswith(back)
    with sessions() as db:
        [grant] = grants.grants_of(db.connection(), party_id=party_id)
    assert grant.revoked_at is not None and grant.revoked_by == "root"
    assert _post(admin, f"{BASE}/grants/999999/revoke").status_code == 404
    elsewhere = _post(admin, f"{BASE}/grants/{grant_id}/revoke", {"back": "https://evil.example/"})
    assert elsewhere.location.endswith(BASE + "/")  # never sent off the admin pages


CSV_OK = ("kind,party_key,party_name,contact_name,email,locale\n"
          "supplier,ACME,艾克米,Anna,anna@acme.example,zh\n"
          "customer,GAMMA,伽马,Gail,gail@gamma.example,en\n")
CSV_BAD = ("kind,party_key,party_name,contact_name,email\n"
           "supplier,ACME,艾克米,Anna,anna@acme.example\n"
           "vendor,ZED,Zed,Zed,zed@zed.example\n"
           "supplier,ACME,艾克米,Zoe,not-an-address\n")


def _upload(client, text: str, name: str = "parties.csv"):
    return client.post(BASE + "/import", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, BASE + "/import"), "file": (io.BytesIO(text.encode()), name)},
        query_string={"lang": "en"})


def test_an_import_is_previewed_then_applied(admin, sessions):
    preview = _upload(admin, CSV_OK)
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "New parties: 2" in page and "New contacts: 2" in page
    with sessions() as db:
        assert parties.list_parties(db.connection()) == []  # a dry run writes nothing
    token = re.search(r'name="token" value="([0-9a-f]+)"', page).group(1)
    assert _post(admin, BASE + "/import/apply", {"token": "0" * 32}).status_code == 400
    applied = _post(admin, BASE + "/import/apply", {"token": token}, follow_redirects=True)
    assert "GAMMA" in applied.get_data(as_text=True)
    with sessions() as db:
        assert [(p.key, p.kind, p.contacts) for p in parties.list_parties(db.connection())] == [
            ("ACME", "supplier", 1), ("GAMMA", "customer", 1)]
    assert _post(admin, BASE + "/import/apply", {"token": token}).status_code == 400  # used once


def test_a_preview_nobody_applied_is_forgotten_after_a_day(admin, app):
    page = _upload(admin, CSV_OK).get_data(as_text=True)
    token = re.search(r'name="token" value="([0-9a-f]+)"', page).group(1)
    folder = Path(app.config["LIAISON_UPLOAD_DIR"]).parent / "party-imports"
    day_old = time.time() - 25 * 3600
    os.utime(folder / token, (day_old, day_old))
    _upload(admin, CSV_OK)
    assert not (folder / token).exists() and len(list(folder.iterdir())) == 1


def test_an_import_with_errors_shows_each_row_and_offers_no_apply(admin, sessions):
    response = _upload(admin, CSV_BAD)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "kind must be supplier or customer" in page and "not-an-address" in page
    assert "<td>3</td>" in page and "<td>4</td>" in page and "Apply the import" not in page
    with sessions() as db:
        assert parties.list_parties(db.connection()) == []


def test_the_access_log_lists_accesses_and_refusals_newest_first_by_party_and_outcome(admin, sessions):
    acme, beta = _party(sessions), _party(sessions, "BETA", "customer", ())
    with sessions() as db, db.begin():
        conn = db.connection()
        audit.record(conn, action="enter_code", outcome="ok", party_id=acme, ip="10.1.1.1")
        audit.record(conn, action="view", outcome="ok", party_id=beta, ip="10.2.2.2")
        audit.record(conn, action="enter_code", outcome="expired", party_id=acme, ip="10.3.3.3")
    page = admin.get(BASE + "/access-log", query_string={"lang": "en"}).get_data(as_text=True)
    assert page.index("10.3.3.3") < page.index("10.2.2.2") < page.index("10.1.1.1")
    assert "expired" in page and "Entered a code" in page
    only_acme = admin.get(BASE + "/access-log", query_string={"party": acme}).get_data(as_text=True)
    assert "10.1.1.1" in only_acme and "10.2.2.2" not in only_acme
    refused = admin.get(BASE + "/access-log", query_string={"outcome": "refused"}).get_data(as_text=True)
    assert "10.3.3.3" in refused and "10.1.1.1" not in refused


def test_the_access_log_names_every_refusal_and_action_the_portal_records(admin, sessions):
    with sessions() as db, db.begin():
        for outcome in ("not_found", "no_session", "closed", "invalid"):
            audit.record(db.connection(), action="view", outcome=outcome, ip="10.4.4.4")
        audit.record(db.connection(), action="pass", outcome="ok", ip="10.4.4.4")
        audit.record(db.connection(), action="sign_out", outcome="ok", ip="10.4.4.4")
    page = admin.get(BASE + "/access-log", query_string={"lang": "zh"}).get_data(as_text=True)
    for word in ("无权查看或不存在", "未登录", "步骤已关闭", "表单有误", "打开访客通行证", "退出登录"):
        assert word in page
    assert not re.search(r">\s*(not_found|no_session|closed|invalid|pass|sign_out)\s*<", page)


def test_the_access_log_pages_on(admin, sessions):
    with sessions() as db, db.begin():
        for n in range(55):
            audit.record(db.connection(), action="view", outcome="ok", ip=f"10.9.0.{n}")
    first = admin.get(BASE + "/access-log").get_data(as_text=True)
    assert first.count("data-access=") == 50 and "10.9.0.54" in first and "10.9.0.4<" not in first
    older = re.search(r'href="(/admin/external/access-log\?[^"]*before=\d+)"', first).group(1)
    second = admin.get(older.replace("&amp;", "&")).get_data(as_text=True)
    assert second.count("data-access=") == 5 and "10.9.0.0<" in second


def test_a_start_form_code_is_shown_once_bound_to_the_process_and_the_issuing_host(admin, sessions):
    packages.deploy_package(sessions, packages.load_package(PROCESSES / "visitor_booking"), "admin")
    form = admin.get(BASE + "/codes").get_data(as_text=True)
    assert 'value="visitor_booking"' in form
    issued = _post(admin, BASE + "/codes", {"process": "visitor_booking", "days": "7", "label": "王访客"})
    page = issued.get_data(as_text=True)
    code = re.search(r"data-code>([A-Z0-9]{4}-[A-Z0-9]{4})<", page).group(1)
    with sessions() as db:
        [grant] = grants.grants_of(db.connection(), process_key="visitor_booking")
        principal = grants.redeem_code(db.connection(), code, datetime.now(UTC), client="10.0.0.1")
    assert (grant.kind, grant.created_by, grant.label) == ("code", "root", "王访客")
    assert timedelta(days=6) < grant.valid_until.replace(tzinfo=UTC) - datetime.now(UTC) <= timedelta(days=7)
    assert principal.process_key == "visitor_booking" and principal.allows("submit")
    instance_id = portal.start_request(sessions, principal, "visitor_booking", {
        "visitor_name": "王访客", "visitor_phone": "13800138000", "visitor_email": "v@example.com",
        "visit_start": "2030-05-20T09:00", "visit_end": "2030-05-20T11:00", "purpose": "评审", "host": "zhang"}, "zh")
    with sessions() as db:
        assert store.read_process_data(db.connection(), instance_id)["host"] == "root"  # the code's issuer hosts
    again = admin.get(BASE + "/codes", query_string={"process": "visitor_booking"}).get_data(as_text=True)
    assert code not in again and f'data-grant="{grant.id}"' in again  # listed, never shown again
    refused = _post(admin, BASE + "/codes", {"process": "visitor_booking", "days": "0"})
    assert "data-code" not in refused.get_data(as_text=True)
    assert _post(admin, BASE + "/codes", {"process": "no_such", "days": "3"}).get_data(as_text=True).count(
        "data-code") == 0


def test_the_blacklist_is_listed_added_to_and_removed_from(admin, sessions):
    _post(admin, BASE + "/blacklist", {"name": "赵黑", "phone": "+86 139 0000 0000", "company": "某公司",
                                       "reason": "曾闹事"})
    missing = _post(admin, BASE + "/blacklist", {"name": "", "reason": ""}, follow_redirects=True,
                    query_string={"lang": "en"})
    assert "Give a name and a reason." in missing.get_data(as_text=True)
    with sessions() as db:
        [entry] = passes.blacklist(db.connection())
        assert passes.blacklist_match(db.connection(), "别人", "13900000000", None).id == entry.id
    page = admin.get(BASE + "/blacklist").get_data(as_text=True)
    assert "赵黑" in page and "曾闹事" in page
    assert _post(admin, f"{BASE}/blacklist/{entry.id}/remove").status_code == 303
    assert _post(admin, f"{BASE}/blacklist/{entry.id}/remove").status_code == 404
    with sessions() as db:
        assert passes.blacklist(db.connection()) == []


def test_every_form_needs_its_csrf_token(admin, sessions):
    party_id = _party(sessions)
    for path in (BASE + "/", f"{BASE}/parties/{party_id}/revoke", f"{BASE}/parties/{party_id}/contacts",
                 BASE + "/blacklist", BASE + "/codes", BASE + "/import/apply"):
        assert admin.post(path, data={"name": "x"}).status_code == 400
    with sessions() as db:
        assert parties.get_party(db.connection(), party_id).active


def test_the_parties_list_pages_on(admin, sessions):
    with sessions() as db, db.begin():
        for n in range(101):
            parties.create_party(db.connection(), kind="supplier", key=f"S{n:03d}", name=f"供应商{n}")
    first = admin.get(BASE + "/").get_data(as_text=True)
    assert first.count("data-party=") == 100 and 'data-party="S100"' not in first
    second = admin.get(BASE + "/", query_string={"page": 2}).get_data(as_text=True)
    assert second.count("data-party=") == 1 and 'data-party="S100"' in second


def test_a_partys_links_name_their_step_in_the_pages_language(admin, sessions):
    deploy_supplier_order_only(sessions)
    party_id = add_party(sessions, key="ACME")
    start_order(sessions)
    page = admin.get(f"{BASE}/parties/{party_id}", query_string={"lang": "zh"}).get_data(as_text=True)
    assert "确认订单" in page and "Confirm order" not in page
    english = admin.get(f"{BASE}/parties/{party_id}", query_string={"lang": "en"}).get_data(as_text=True)
    assert "Confirm order" in english


def test_the_codes_of_a_process_are_headed_by_its_name(admin, sessions):
    deploy_supplier_order_only(sessions)
    page = admin.get(BASE + "/codes", query_string={"process": "supplier_order", "lang": "zh"}).get_data(as_text=True)
    assert "采购订单（供应商确认） 的邀请码" in page and "supplier_order 的邀请码" not in page
