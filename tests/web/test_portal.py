"""The portal's pages (web/portal.py) over HTTP: entering with a link, a code or a contact's e-mailed code,
the case and task pages, new requests, the visitor's pass, and every refusal (no session, another instance,
another party, expired, revoked, a closed task)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from engine import runtime
from engine.data import store
from engine.data.external_models import ExternalAccess, ExternalGrant
from engine.data.models import OutboxMessage, Person, WorkTask, utcnow
from engine.external import display, grants, passes
from engine.external import sessions as portal_sessions
from engine.packages import deployment as packages
from tests.engine.portal.support import (
    add_grant,
    add_party,
    deploy_supplier_order_only,
    emails,
    open_task,
    start_order,
)
from tests.web.conftest import csrf_token, sign_in

VISITOR_BOOKING = Path(__file__).resolve().parents[2] / "processes" / "visitor_booking"
LINK = re.compile(r"/portal/s/([A-Za-z0-9_-]+)")
LOGIN_FORM = 'name="password"'


def link_token(sessions, instance_id: int) -> str:
    """The token of the link the engine e-mailed for the instance's external task (the outbox row)."""
    row = emails(sessions, instance_id)[-1]
    return LINK.search(json.dumps(row.payload)).group(1)


def portal_post(client, path: str, data: dict | None = None, token_from: str = "/portal/"):
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, token_from)})


@pytest.fixture
def world(app, sessions, people):
    """supplier_order deployed; suppliers ACME (contacts Wu, Ann) and BETA (Bo); one order for each."""
    deploy_supplier_order_only(sessions)
    acme = add_party(sessions)
    beta = add_party(sessions, key="BETA", contacts=(("Bo", "bo@beta.example", "en"),))
    po1 = start_order(sessions, po_number="PO-1")
    po2 = start_order(sessions, po_number="PO-2", supplier="BETA")
    return {"acme": acme, "beta": beta, "po1": po1, "po2": po2}


def enter(client, sessions, instance_id: int):
    return client.get(f"/portal/s/{link_token(sessions, instance_id)}")


def accesses(sessions, action: str | None = None) -> list[tuple[str, str]]:
    with sessions() as session:
        query = select(ExternalAccess.action, ExternalAccess.outcome).order_by(ExternalAccess.id)
        if action:
            query = query.where(ExternalAccess.action == action)
        return [tuple(r) for r in session.execute(query)]


# -- entering ---------------------------------------------------------------------------------------------------

def test_the_entry_page_offers_a_code_and_a_contact_sign_in(app):
    client = app.test_client()
    page = client.get("/portal/", headers={"Accept-Language": "en"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Enter your invitation code" in text and 'name="code"' in text and "autofocus" in text
    assert "sign in with your e-mail" in text and 'name="email"' in text
    assert "Inbox" not in text and LOGIN_FORM not in text  # no employee header, no employee login
    assert "liaison_portal" not in page.headers.get("Set-Cookie", "")
    zh = client.get("/portal/", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "请输入邀请码" in zh


def test_a_link_opens_the_case_with_a_portal_cookie_never_an_employee_session(app, sessions, world):
    client = app.test_client()
    entered = enter(client, sessions, world["po1"])
    assert entered.status_code == 302 and entered.headers["Location"].endswith(f"/portal/cases/{world['po1']}")
    cookie = entered.headers["Set-Cookie"]
    assert cookie.startswith("liaison_portal=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/portal" in cookie and "Secure" not in cookie
    page = client.get(f"/portal/cases/{world['po1']}", headers={"Accept-Language": "en"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "PO-1" in text and "bolts" in text and "Open the step" in text and 'id="milestones"' in text
    assert client.get("/inbox").status_code == 302  # still no employee: the inbox sends to the login
    assert ("enter_link", "ok") in accesses(sessions) and ("view", "ok") in accesses(sessions, "view")


def test_an_https_request_gets_a_secure_cookie(app, sessions, world):
    client = app.test_client()
    entered = client.get(f"/portal/s/{link_token(sessions, world['po1'])}", base_url="https://localhost")
    assert "Secure" in entered.headers["Set-Cookie"]


@pytest.mark.parametrize(("change", "status", "words"), [
    (None, 404, "This link or code is not valid."),
    ({"valid_until": utcnow() - timedelta(minutes=1)}, 410, "This link or code has expired."),
    ({"revoked_at": utcnow()}, 410, "This link or code was withdrawn."),
])
def test_unknown_expired_and_revoked_links_get_a_clear_page(app, sessions, world, change, status, words):
    token = link_token(sessions, world["po1"])
    if change is None:
        token = token[:-4] + "AAAA"
    else:
        with sessions() as session, session.begin():
            session.execute(update(ExternalGrant).where(ExternalGrant.instance_id == world["po1"]).values(**change))
    page = app.test_client().get(f"/portal/s/{token}", headers={"Accept-Language": "en"})
    text = page.get_data(as_text=True)
    assert page.status_code == status and words in text and "Ask the person who sent you" in text
    assert LOGIN_FORM not in text and "liaison_portal" not in page.headers.get("Set-Cookie", "")


def test_an_unknown_link_reads_as_one_chinese_paragraph(app, sessions, world):
    token = link_token(sessions, world["po1"])[:-4] + "AAAA"
    text = app.test_client().get(f"/portal/s/{token}", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "请检查是否完整输入或复制。请向发送链接或邀请码给您的人索取新的。" in text


def test_an_invitation_code_enters_and_wrong_codes_are_throttled(app, sessions, world):
    with sessions() as session, session.begin():
        _id, code = grants.issue_code(session.connection(), scopes=["view"], valid_until=utcnow() + timedelta(days=1),
                                      instance_id=world["po1"])
    client = app.test_client()
    entered = portal_post(client, "/portal/code", {"code": code.lower().replace("-", " ")})
    assert entered.status_code == 302 and entered.headers["Location"].endswith(f"/portal/cases/{world['po1']}")
    assert "Open the step" not in client.get(f"/portal/cases/{world['po1']}").get_data(as_text=True)  # view only
    other = app.test_client()
    wrong = portal_post(other, "/portal/code", {"code": "ZZZZ-ZZZZ"})
    assert wrong.status_code == 404 and 'name="code"' not in wrong.get_data(as_text=True)
    statuses = [portal_post(other, "/portal/code", {"code": f"ZZZZ-ZZ{a}{b}"}).status_code
                for a in "ABCDEFG" for b in "ABC"]
    assert statuses[-1] == 429
    page = other.post("/portal/code", data={"code": code, "csrf_token": csrf_token(other, "/portal/")},
                      headers={"Accept-Language": "en"})
    assert page.status_code == 429 and "Please wait" in page.get_data(as_text=True) and page.headers["Retry-After"]


def test_a_post_without_its_csrf_token_is_refused(app, world):
    assert app.test_client().post("/portal/code", data={"code": "ABCD-EFGH"}).status_code == 400


def test_a_contact_signs_in_with_an_emailed_code(app, sessions, world):
    client = app.test_client()
    asked = portal_post(client, "/portal/sign-in", {"email": "Wu@ACME.example"})
    assert asked.status_code == 200 and 'name="code"' in asked.get_data(as_text=True)
    with sessions() as session:
        payload = session.scalars(select(OutboxMessage.payload).where(OutboxMessage.event == "external_sign_in")).one()
    code = re.search(r"\b(\d{6})\b", payload["text"]).group(1)
    wrong = portal_post(client, "/portal/sign-in/code", {"email": "wu@acme.example", "code": "000000"
                                                         if code != "000000" else "111111"})
    assert wrong.status_code == 422
    signed = portal_post(client, "/portal/sign-in/code", {"email": "wu@acme.example", "code": code})
    assert signed.status_code == 302 and signed.headers["Location"].endswith("/portal/")
    cases = client.get("/portal/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "PO-1" in cases and "PO-2" not in cases and "Waiting for you" in cases
    assert "ACME Ltd · Wu" in cases
    # another party's case and task: not found, like ids that do not exist
    assert client.get(f"/portal/cases/{world['po2']}").status_code == 404
    assert client.get(f"/portal/tasks/{open_task(sessions, world['po2'], 'confirm_order')}").status_code == 404
    assert client.get("/portal/cases/999999").status_code == 404


def test_pages_need_a_portal_session(app, sessions, world):
    client = app.test_client()
    task_id = open_task(sessions, world["po1"], "confirm_order")
    for path in (f"/portal/cases/{world['po1']}", f"/portal/tasks/{task_id}", "/portal/new"):
        page = client.get(path, headers={"Accept-Language": "en"})
        text = page.get_data(as_text=True)
        assert page.status_code == 403 and "not signed in to the portal" in text and LOGIN_FORM not in text
    # an employee's session is no portal session either
    sign_in(client, "zhang")
    assert client.get(f"/portal/cases/{world['po1']}").status_code == 403
    assert ("view", "no_session") in accesses(sessions, "view")


def test_a_link_sees_its_own_instance_only(app, sessions, world):
    client = app.test_client()
    enter(client, sessions, world["po1"])
    third = start_order(sessions, po_number="PO-3")  # the same supplier's other order
    assert client.get(f"/portal/cases/{third}").status_code == 404
    assert client.get(f"/portal/tasks/{open_task(sessions, third, 'confirm_order')}").status_code == 404
    assert ("view", "not_found") in accesses(sessions, "view")


def test_the_supplier_answers_the_task_and_a_closed_task_says_so(app, sessions, world):
    client = app.test_client()
    enter(client, sessions, world["po1"])
    task_id = open_task(sessions, world["po1"], "confirm_order")
    form = client.get(f"/portal/tasks/{task_id}", headers={"Accept-Language": "en"})
    text = form.get_data(as_text=True)
    assert form.status_code == 200 and 'name="answer"' in text and 'name="proposed_date"' in text
    invalid = portal_post(client, f"/portal/tasks/{task_id}", {"answer": "propose"}, token_from=f"/portal/tasks/{task_id}")
    assert invalid.status_code == 422 and 'aria-invalid="true"' in invalid.get_data(as_text=True)
    done = portal_post(client, f"/portal/tasks/{task_id}", {"answer": "propose", "proposed_date": "2026-12-28"},
                       token_from=f"/portal/tasks/{task_id}")
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/portal/cases/{world['po1']}")
    with sessions() as session:
        assert store.read_process_data(session, world["po1"])["proposed_date"] == "2026-12-28"
        completed_by = session.scalar(select(WorkTask.completed_by).where(WorkTask.id == task_id))
    assert completed_by.startswith("ext:grant:")
    case = client.get(f"/portal/cases/{world['po1']}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "您的答复已提交" in case and "Open the step" not in case and "2026-12-28" in case  # flashed in zh
    closed = client.get(f"/portal/tasks/{task_id}", headers={"Accept-Language": "en"})
    assert closed.status_code == 409 and "This step is closed" in closed.get_data(as_text=True)
    again = client.post(f"/portal/tasks/{task_id}", data={"answer": "confirm",
                                                          "csrf_token": csrf_token(client, "/portal/")})
    assert again.status_code == 409
    assert ("fill", "ok") in accesses(sessions, "fill") and ("fill", "closed") in accesses(sessions, "fill")
    # the buyer sees the supplier by name on the employee's pages
    buyer = app.test_client()
    sign_in(buyer, "zhang")
    with sessions() as session:
        name = display.display_names(session.connection(), [completed_by], "zh")[completed_by]
    page = buyer.get(f"/instances/{world['po1']}").get_data(as_text=True)
    assert name and name in page and completed_by not in page


def test_signing_out_ends_the_portal_session(app, sessions, world):
    client = app.test_client()
    enter(client, sessions, world["po1"])
    out = portal_post(client, "/portal/sign-out", token_from=f"/portal/cases/{world['po1']}")
    assert out.status_code == 302 and "liaison_portal=;" in out.headers["Set-Cookie"]
    assert client.get(f"/portal/cases/{world['po1']}").status_code == 403


def test_a_revoked_grant_ends_its_session_on_the_next_request(app, sessions, world):
    client = app.test_client()
    enter(client, sessions, world["po1"])
    assert client.get(f"/portal/cases/{world['po1']}").status_code == 200
    with sessions() as session, session.begin():
        session.execute(update(ExternalGrant).where(ExternalGrant.instance_id == world["po1"])
                        .values(revoked_at=utcnow()))
    assert client.get(f"/portal/cases/{world['po1']}").status_code == 403


def test_the_language_switch_works_without_an_employee_session(app, sessions, world):
    client = app.test_client()
    enter(client, sessions, world["po1"])
    switched = portal_post(client, "/language", {"lang": "en", "next": f"/portal/cases/{world['po1']}"},
                           token_from=f"/portal/cases/{world['po1']}")
    assert switched.status_code == 302 and switched.headers["Location"].endswith(f"/portal/cases/{world['po1']}")
    assert "Open the step" in client.get(f"/portal/cases/{world['po1']}").get_data(as_text=True)
    portal_post(client, "/language", {"lang": "zh", "next": "/portal/"})
    assert "打开待办步骤" in client.get(f"/portal/cases/{world['po1']}").get_data(as_text=True)


# -- files -----------------------------------------------------------------------------------------------------

def test_portal_uploads_are_the_principals_and_downloads_stay_in_scope(app, sessions, world):
    client = app.test_client()
    enter(client, sessions, world["po1"])
    token = csrf_token(client, f"/portal/cases/{world['po1']}")
    stored = client.post("/portal/files", data={"file": (__import__("io").BytesIO(b"delivery note"), "note.pdf")},
                         headers={"X-CSRFToken": token}, content_type="multipart/form-data")
    assert stored.status_code == 201
    file_id = stored.get_json()["id"]
    assert client.get(f"/portal/files/{file_id}").status_code == 200  # their own, not attached yet
    assert app.test_client().get(f"/portal/files/{file_id}").status_code == 403  # no session
    stranger = app.test_client()
    enter(stranger, sessions, world["po2"])
    assert stranger.get(f"/portal/files/{file_id}").status_code == 404
    assert app.test_client().post("/portal/files", data={"file": (__import__("io").BytesIO(b"x"), "x.pdf"),
                                                         "csrf_token": csrf_token(app.test_client(), "/portal/")},
                                  content_type="multipart/form-data").status_code in (400, 403)


# -- new requests, visitors and their passes -----------------------------------------------------------------

def _deploy_visits(sessions) -> None:
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(VISITOR_BOOKING), "admin")
        session.add(Person(username="zhou", name="周"))


def test_a_visitor_asks_for_a_visit_with_a_code_and_the_issuer_is_the_host(app, sessions, people):
    _deploy_visits(sessions)
    with sessions() as session, session.begin():
        _id, code = grants.issue_code(session.connection(), scopes=["submit", "view"],
                                      valid_until=utcnow() + timedelta(days=2), process_key="visitor_booking",
                                      created_by="zhang")
    client = app.test_client()
    entered = portal_post(client, "/portal/code", {"code": code})
    assert entered.status_code == 302 and entered.headers["Location"].endswith("/portal/new/visitor_booking")
    form = client.get("/portal/new/visitor_booking", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'name="visitor_name"' in form and 'name="host"' not in form
    assert client.get("/portal/new/supplier_order").status_code == 404
    sent = portal_post(client, "/portal/new/visitor_booking", {
        "visitor_name": "Anna Berg", "visitor_company": "Nordic AB", "visitor_phone": "+46 70 123 45 67",
        "visitor_email": "anna@example.com", "visit_start": "2030-05-21T14:00", "visit_end": "2030-05-21T15:30",
        "purpose": "Audit", "host": "zhou"}, token_from="/portal/new/visitor_booking")
    assert sent.status_code == 302, sent.get_data(as_text=True)
    instance_id = int(sent.headers["Location"].rsplit("/", 1)[1])
    with sessions() as session:
        assert store.read_process_data(session, instance_id)["host"] == "zhang"
    page = client.get(f"/portal/cases/{instance_id}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Anna Berg" in page and ("submit", "ok") in accesses(sessions, "submit")


def test_the_pass_page_shows_code_and_qr_and_refuses_unknown_codes(app, sessions, people):
    _deploy_visits(sessions)
    instance_id = runtime.start_instance(sessions, "visitor_booking", {
        "visitor_name": "Anna Berg", "visitor_company": "Nordic AB", "visitor_phone": "+46 70 123 45 67",
        "visitor_email": "anna@example.com", "visit_start": "2030-05-21T14:00", "visit_end": "2030-05-21T15:30",
        "purpose": "Audit", "host": "zhang"}, "zhang").instance_id
    task_id = open_task(sessions, instance_id, "check_in")
    code = passes.pass_code(task_id)
    client = app.test_client()
    page = client.get("/portal/pass", query_string={"code": code.lower()}, headers={"Accept-Language": "en"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200, text
    assert grants.format_code(code) in text and "<svg" in text and "Anna Berg" in text and "Zhang San" in text
    assert "Not yet valid" in text
    unknown = client.get("/portal/pass", query_string={"code": "AAAA-AAAA"}, headers={"Accept-Language": "en"})
    assert unknown.status_code == 404 and "not valid" in unknown.get_data(as_text=True)
    assert ("pass", "ok") in accesses(sessions, "pass") and ("pass", "unknown") in accesses(sessions, "pass")
    statuses = [client.get("/portal/pass", query_string={"code": f"AAAA-AA{a}{b}"}).status_code
                for a in "BCDEFGH" for b in "BCD"]
    assert statuses[-1] == 429


def test_a_visitor_sees_the_pass_card_on_the_case_page(app, sessions, people):
    _deploy_visits(sessions)
    instance_id = runtime.start_instance(sessions, "visitor_booking", {
        "visitor_name": "Anna Berg", "visitor_company": "Nordic AB", "visitor_phone": "+46 70 123 45 67",
        "visitor_email": "anna@example.com", "visit_start": "2030-05-21T14:00", "visit_end": "2030-05-21T15:30",
        "purpose": "Audit", "host": "zhang"}, "zhang").instance_id
    code = passes.pass_code(open_task(sessions, instance_id, "check_in"))
    visitor = add_grant(sessions, kind="visitor", scopes=("view",), instance_id=instance_id)
    with sessions() as session, session.begin():
        token = portal_sessions.start(session.connection(), visitor, ip=None, user_agent=None, now=utcnow())
    client = app.test_client()
    client.set_cookie("liaison_portal", token, path="/portal")
    page = client.get(f"/portal/cases/{instance_id}", headers={"Accept-Language": "en"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="pass"' in text and grants.format_code(code) in text and "<svg" in text
    with sessions() as session, session.begin():  # a pass withdrawn: no code, no QR, says so
        session.execute(update(ExternalGrant).where(ExternalGrant.kind == "pass").values(revoked_at=utcnow()))
    text = client.get(f"/portal/cases/{instance_id}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Withdrawn" in text and grants.format_code(code) not in text and "<svg" not in text


CUSTOMER_REQUEST = Path(__file__).resolve().parents[2] / "processes" / "customer_request"


def test_a_customer_contact_submits_a_request_without_being_asked_for_their_own_party(app, sessions, people):
    """The start page leaves out the field the portal fills (the party's code); the request is the party's."""
    packages.deploy_package(sessions, packages.load_package(CUSTOMER_REQUEST), "admin")
    add_party(sessions, key="HUAXIN", kind="customer", contacts=(("Chen", "chen@huaxin.example", "zh"),))
    client = app.test_client()
    portal_post(client, "/portal/sign-in", {"email": "chen@huaxin.example"})
    with sessions() as session:
        payload = session.scalars(select(OutboxMessage.payload).where(OutboxMessage.event == "external_sign_in")).one()
    code = re.search(r"\b(\d{6})\b", payload["text"]).group(1)
    assert portal_post(client, "/portal/sign-in/code", {"email": "chen@huaxin.example", "code": code}).status_code == 302
    page = client.get("/portal/new/customer_request").get_data(as_text=True)
    assert 'name="description"' in page and 'name="customer"' not in page
    sent = portal_post(client, "/portal/new/customer_request",
                       {"request_type": "incident", "description": "打印机卡纸", "desired_date": "2030-01-10",
                        "customer": "SOMEONE_ELSE"}, token_from="/portal/new/customer_request")
    assert sent.status_code == 302, sent.get_data(as_text=True)[:2000]
    instance_id = int(sent.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    with sessions() as session:
        assert store.read_process_data(session, instance_id)["customer"] == "HUAXIN"
    listed = client.get("/portal/").get_data(as_text=True)
    assert "CR-" in listed  # no business key: the request number, its first visible field, tells it apart
    shown = client.get(f"/portal/cases/{instance_id}").get_data(as_text=True)
    assert "故障报修" in shown or "Incident" in shown  # option labels, not the stored value
    assert "分派说明" not in shown and "Triage note" not in shown  # internal fields stay internal


@pytest.mark.parametrize(("hops", "logged"), [(0, "127.0.0.1"), (1, "203.0.113.9")])
def test_behind_a_configured_proxy_the_forwarded_client_is_logged_and_throttled(make_app, sessions, world,
                                                                             hops, logged):
    """LIAISON_PROXY_HOPS: behind one proxy the client is X-Forwarded-For's (throttles and the access log
    key on it); without the setting the header is a client's claim and is ignored."""
    client = make_app(LIAISON_PROXY_HOPS=hops).test_client()
    token = csrf_token(client, "/portal/")
    client.post("/portal/code", data={"code": "ZZZZ-ZZZZ", "csrf_token": token},
                headers={"X-Forwarded-For": "203.0.113.9"})
    with sessions() as session:
        ips = session.scalars(select(ExternalAccess.ip).where(ExternalAccess.action == "enter_code")).all()
    assert ips == [logged]
