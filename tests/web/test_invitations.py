"""Invite a visitor (`/invitations`) over HTTP: an employee issues a code shown once, the visitor enters it
in the portal with the employee as host, only its issuer withdraws it, and who may is the engine's rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.data import store
from engine.packages import deployment as packages
from tests.engine.portal.support import deploy_supplier_order_only

from .conftest import csrf_token, sign_in

VISITOR_BOOKING = Path(__file__).resolve().parents[2] / "processes" / "visitor_booking"
CODE = re.compile(r"data-code>([A-Z0-9]{4}-[A-Z0-9]{4})<")


def _client(app, username: str):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def _post(client, path: str, data: dict | None = None, **kwargs):
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, "/invitations/")}, **kwargs)


@pytest.fixture
def visits(sessions, people):
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(VISITOR_BOOKING), "admin")


def test_an_employee_invites_a_visitor_who_asks_for_the_visit_with_the_code(app, sessions, visits):
    zhang = _client(app, "zhang")
    start = zhang.get("/start", query_string={"lang": "en"}).get_data(as_text=True)
    assert 'href="/invitations/"' in start and "Invite a visitor with a code" in start
    form = zhang.get("/invitations/", query_string={"lang": "zh"}).get_data(as_text=True)
    assert "邀请访客" in form and 'value="visitor_booking"' in form and "访客预约" in form
    issued = _post(zhang, "/invitations/", {"process": "visitor_booking", "label": "Anna Berg", "days": "2"})
    assert issued.status_code == 200
    code = CODE.search(issued.get_data(as_text=True)).group(1)
    listed = zhang.get("/invitations/").get_data(as_text=True)
    assert code not in listed and "Anna Berg" in listed and listed.count("data-grant=") == 1  # listed, never shown again

    visitor = app.test_client()
    entered = visitor.post("/portal/code", data={"code": code, "csrf_token": csrf_token(visitor, "/portal/")})
    assert entered.status_code == 302 and entered.headers["Location"].endswith("/portal/new/visitor_booking")
    sent = visitor.post("/portal/new/visitor_booking", data={
        "visitor_name": "Anna Berg", "visitor_company": "Nordic AB", "visitor_phone": "+46 70 123 45 67",
        "visitor_email": "anna@example.com", "visit_start": "2030-05-21T14:00", "visit_end": "2030-05-21T15:30",
        "purpose": "Audit", "csrf_token": csrf_token(visitor, "/portal/new/visitor_booking")})
    assert sent.status_code == 302, sent.get_data(as_text=True)
    with sessions() as session:
        assert store.read_process_data(session, int(sent.headers["Location"].rsplit("/", 1)[1]))["host"] == "zhang"


def test_another_employee_cannot_withdraw_the_code_its_issuer_can(app, sessions, visits):
    zhang, li = _client(app, "zhang"), _client(app, "li")
    issued = _post(zhang, "/invitations/", {"process": "visitor_booking", "label": "Anna", "days": "2"})
    grant_id = int(re.search(r'data-grant="(\d+)"', issued.get_data(as_text=True)).group(1))
    assert _post(li, f"/invitations/{grant_id}/withdraw").status_code == 404
    assert "data-grant" not in li.get("/invitations/").get_data(as_text=True)
    assert 'class="tag danger"' not in zhang.get("/invitations/").get_data(as_text=True)
    done = _post(zhang, f"/invitations/{grant_id}/withdraw", follow_redirects=True, query_string={"lang": "en"})
    assert "Withdrawn." in done.get_data(as_text=True) and 'class="tag danger"' in done.get_data(as_text=True)


def test_an_employee_the_package_does_not_let_invite_is_refused(app, sessions, people):
    deploy_supplier_order_only(sessions)  # a portal, but for suppliers, and no `invite: employees`
    zhang = _client(app, "zhang")
    assert "/invitations/" not in zhang.get("/start").get_data(as_text=True)
    page = zhang.get("/invitations/", query_string={"lang": "en"}).get_data(as_text=True)
    assert "No process lets you invite visitors with a code." in page and 'name="process"' not in page
    refused = _post(zhang, "/invitations/", {"process": "supplier_order", "label": "x", "days": "2"},
                    query_string={"lang": "en"})
    assert refused.status_code == 403 and "data-code" not in refused.get_data(as_text=True)
    assert "You may not issue invitation codes for this process." in refused.get_data(as_text=True)


def test_a_validity_out_of_range_is_refused_in_the_pages_language(app, visits):
    zhang = _client(app, "zhang")
    refused = _post(zhang, "/invitations/", {"process": "visitor_booking", "label": "Anna", "days": "400"},
                    query_string={"lang": "zh"})
    assert refused.status_code == 422 and "有效期请选择 1 至 365 天。" in refused.get_data(as_text=True)
    assert "data-code" not in refused.get_data(as_text=True)


def test_every_form_needs_its_csrf_token(app, visits):
    zhang = _client(app, "zhang")
    assert 'name="csrf_token"' in zhang.get("/invitations/").get_data(as_text=True)
    assert zhang.post("/invitations/", data={"process": "visitor_booking", "days": "2"}).status_code == 400
    assert zhang.post("/invitations/1/withdraw").status_code == 400


def test_the_admin_codes_page_names_the_employee_who_issued_each_code(app, visits):
    _post(_client(app, "zhang"), "/invitations/", {"process": "visitor_booking", "label": "Anna", "days": "2"})
    admin = _client(app, "root")
    page = admin.get("/admin/external/codes", query_string={"process": "visitor_booking", "lang": "zh"})
    assert "由 张三 发放" in page.get_data(as_text=True) and "zhang" not in page.get_data(as_text=True)
