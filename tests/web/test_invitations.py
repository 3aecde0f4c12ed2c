"""Invite a visitor (`/invitations`) over HTTP: an employee issues a code shown once, the visitor enters it
in the portal with the employee as host, only its issuer (or the host it was issued for) withdraws it, and who
may is the engine's rule."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.data import store
from engine.data.external_models import ExternalGrant
from engine.data.models import PersonRole, Role, WorkTask
from engine.packages import deployment as packages
from engine.people import accounts
from engine.work import invitations
from tests.engine.portal.support import deploy_supplier_order_only

from .conftest import PASSWORD, csrf_token, sign_in

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


def _receptionist(sessions) -> None:
    """zhou (周前台) holds the role `reception`."""
    with sessions() as session, session.begin():
        zhou = accounts.create_person_account(session, "zhou", "周前台", PASSWORD, datetime.now(UTC))
        role = Role(key="reception", name="前台")
        session.add(role)
        session.flush()
        session.add(PersonRole(person_id=zhou.id, role_id=role.id))


def test_reception_issues_a_code_on_behalf_of_the_host_it_picks(app, sessions, visits):
    """The receptionist is recorded as the issuer; the employee picked is the visit's host, and decides."""
    _receptionist(sessions)
    zhou = _client(app, "zhou")
    form = zhou.get("/invitations/", query_string={"lang": "zh"}).get_data(as_text=True)
    assert 'name="host"' in form and 'data-picker="people"' in form and "被访人（访客要拜访的员工）" in form
    issued = _post(zhou, "/invitations/", {"process": "visitor_booking", "host": "zhang", "label": "安娜", "days": "2"},
                   query_string={"lang": "zh"})
    assert issued.status_code == 200
    page = issued.get_data(as_text=True)
    code = CODE.search(page).group(1)
    assert "代张三发放" in page and ">zhang<" not in page  # the host by display name
    with sessions() as session:
        grant = session.scalars(select(ExternalGrant).where(ExternalGrant.kind == "code")).one()
        assert (grant.created_by, grant.host) == ("zhou", "zhang")

    visitor = app.test_client()
    visitor.post("/portal/code", data={"code": code, "csrf_token": csrf_token(visitor, "/portal/")})
    start = visitor.get("/portal/new/visitor_booking", query_string={"lang": "zh"}).get_data(as_text=True)
    assert "您要拜访的是：张三" in start and 'name="host"' not in start
    sent = visitor.post("/portal/new/visitor_booking", data={
        "visitor_name": "安娜", "visitor_phone": "13800000000", "visitor_email": "anna@example.com",
        "visit_start": "2030-05-21T14:00", "visit_end": "2030-05-21T15:30", "purpose": "审核",
        "csrf_token": csrf_token(visitor, "/portal/new/visitor_booking")})
    assert sent.status_code == 302, sent.get_data(as_text=True)
    instance_id = int(sent.headers["Location"].rsplit("/", 1)[1])
    with sessions() as session:
        assert store.read_process_data(session, instance_id)["host"] == "zhang"
        approvers = session.scalars(select(WorkTask.assignee).where(WorkTask.instance_id == instance_id,
                                                                    WorkTask.status == "open")).all()
    assert approvers == ["zhang"]  # the host decides, not the receptionist

    host = _client(app, "zhang")  # the host holds the code too: sees who issued it for them, and may withdraw it
    mine = host.get("/invitations/", query_string={"lang": "zh"}).get_data(as_text=True)
    assert "我的邀请码" in mine and "由周前台代您发放" in mine and f'data-grant="{grant.id}"' in mine
    assert _client(app, "li").get("/invitations/").get_data(as_text=True).count(f'data-grant="{grant.id}"') == 0
    withdrawn = _post(host, f"/invitations/{grant.id}/withdraw", {}, query_string={"lang": "zh"})
    assert withdrawn.status_code == 303, withdrawn.get_data(as_text=True)
    with sessions() as session:
        assert session.get(ExternalGrant, grant.id).revoked_at is not None


def test_only_reception_and_admins_issue_a_code_for_somebody_else(app, sessions, visits):
    zhang = _client(app, "zhang")  # any employee may invite (invite: employees), as the host
    assert 'name="host"' not in zhang.get("/invitations/").get_data(as_text=True)
    refused = _post(zhang, "/invitations/", {"process": "visitor_booking", "host": "li", "label": "x", "days": "2"},
                    query_string={"lang": "zh"})
    assert refused.status_code == 403 and "您无权代他人发放邀请码。" in refused.get_data(as_text=True)
    assert _post(zhang, "/invitations/", {"process": "visitor_booking", "host": "zhang", "label": "x",
                                          "days": "2"}).status_code == 200  # naming oneself is just inviting
    _receptionist(sessions)
    unknown = _post(_client(app, "zhou"), "/invitations/", {"process": "visitor_booking", "host": "nobody",
                                                            "label": "x", "days": "2"}, query_string={"lang": "zh"})
    assert unknown.status_code == 422 and "请从员工列表中选择被访人。" in unknown.get_data(as_text=True)
    with sessions() as session:
        assert [(g.created_by, g.host) for g in session.scalars(select(ExternalGrant))] == [("zhang", None)]
        assert invitations.may_name_host(session, "root", "visitor_booking")  # the super admin may too
        assert not invitations.may_name_host(session, "zhang", "visitor_booking")


def test_a_customers_code_names_its_company_and_a_code_without_one_says_so_before_the_form(app, sessions, people):
    """The admin page binds a customer_request code to HUAXIN: the form does not ask for our code of their
    company. A code without one (the CLI's) gets what to do instead of a form it could not send."""
    from engine.external import grants as grant_rows
    from tests.engine.portal.support import add_party

    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(VISITOR_BOOKING.parent / "customer_request"), "admin")
    add_party(sessions, "HUAXIN", "customer")
    admin = _client(app, "root")
    page = admin.get("/admin/external/codes", query_string={"lang": "zh"}).get_data(as_text=True)
    assert 'name="party"' in page and "HUAXIN Ltd (客户)" in page
    issued = admin.post("/admin/external/codes", data={
        "process": "customer_request", "party": "HUAXIN", "days": "3", "label": "陈工",
        "csrf_token": csrf_token(admin, "/admin/external/codes")})
    code = CODE.search(issued.get_data(as_text=True)).group(1)
    holder = app.test_client()
    holder.post("/portal/code", data={"code": code, "csrf_token": csrf_token(holder, "/portal/")})
    form = holder.get("/portal/new/customer_request", query_string={"lang": "zh"}).get_data(as_text=True)
    assert 'name="description"' in form and 'name="customer"' not in form and "客户编码" not in form

    with sessions() as session, session.begin():
        _id, bare = grant_rows.issue_code(session.connection(), scopes=["view", "submit"],
                                          process_key="customer_request", created_by="root",
                                          valid_until=datetime.now(UTC) + timedelta(days=3))
    other = app.test_client()
    other.post("/portal/code", data={"code": bare, "csrf_token": csrf_token(other, "/portal/")})
    shown = other.get("/portal/new/customer_request", query_string={"lang": "zh"})
    text = shown.get_data(as_text=True)
    assert shown.status_code == 200 and "此邀请码未指明贵司" in text and 'id="start-form"' not in text
    sent = other.post("/portal/new/customer_request", data={
        "customer": "HUAXIN", "request_type": "incident", "description": "x", "desired_date": "2030-01-15",
        "csrf_token": csrf_token(other, "/portal/")})
    assert sent.status_code == 403


def test_the_admin_codes_page_issues_a_visitors_code_on_behalf_of_a_host(app, sessions, visits):
    admin = _client(app, "root")
    page = admin.get("/admin/external/codes", query_string={"lang": "zh"}).get_data(as_text=True)
    assert "被访人（留空即为您本人）" in page and 'name="host"' in page
    issued = admin.post("/admin/external/codes", data={
        "process": "visitor_booking", "host": "zhang", "days": "3", "label": "安娜",
        "csrf_token": csrf_token(admin, "/admin/external/codes")})
    assert CODE.search(issued.get_data(as_text=True))
    with sessions() as session:
        grant = session.scalars(select(ExternalGrant).where(ExternalGrant.kind == "code")).one()
        assert (grant.created_by, grant.host) == ("root", "zhang")
