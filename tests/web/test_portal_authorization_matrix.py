"""The portal's authorization matrix over HTTP (issue 17): what each outsider reaches through web/portal.py.

Two suppliers and two customers (one contact each, signed in with the code the portal e-mails), a visitor
holding a link, and an employee; supplier_order, customer_request and visitor_booking cases for each.
Every outsider gets 404 (never 403: it learns nothing) for every portal URL of another party's case,
task, file and for start forms it may not use, and its own work is served; its posts to another's task or
to such a start form change nothing. Employee pages never accept a portal cookie, an employee's session is
no portal session, expired, revoked and guessed links and codes get the clear page, a guessing client is
throttled, a revoked party's contact stops at its next request, and every refusal is in the access log.
The engine-level matrix is tests/engine/external/test_authorization_matrix_external.py.
There is no REST API yet (issue 13): when it comes, it needs a matrix of its own.
"""

from __future__ import annotations

import io
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from engine import runtime
from engine.data import store
from engine.data.external_models import ExternalAccess
from engine.data.models import OutboxMessage, ProcessInstance, WorkTask, utcnow
from engine.external import grants, parties
from engine.packages import deployment as packages
from engine.runtime import uploads
from tests.web.conftest import csrf_token, sign_in
from web import portal as portal_views

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
KEYS = ("supplier_order", "customer_request", "visitor_booking")
COOKIE = re.compile(r"liaison_portal=([^;]+)")
LOGIN_FORM = 'name="password"'
OUTSIDERS = ("supplier A", "supplier B", "customer A", "customer B", "visitor")
OWN = {"supplier A": "PO-A", "supplier B": "PO-B", "customer A": "CR-A", "customer B": "CR-B", "visitor": "VISIT"}
STARTS = {"customer A": {"customer_request"}, "customer B": {"customer_request"}}
EMPLOYEE_PAGES = ("/", "/inbox/", "/requests/", "/tasks/{task}", "/instances/{case}", "/files/{file}",
                  "/start", "/admin/", "/admin/people/", "/admin/processes", "/designer/", "/reception/",
                  "/admin/external/", "/admin/external/access-log", "/directory/people")


@dataclass
class World:
    app: object
    sessions: object
    party_ids: dict[str, int] = field(default_factory=dict)
    clients: dict[str, object] = field(default_factory=dict)  # outsider -> test client with its portal cookie
    cookies: dict[str, str] = field(default_factory=dict)  # outsider -> its portal session token
    cases: dict[str, int] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # case -> an upload attached to it

    def task(self, case: str) -> str:
        with self.sessions() as session:
            return session.scalars(select(WorkTask.id).where(WorkTask.instance_id == self.cases[case],
                                                             WorkTask.status == "open")).one()

    def open_tasks(self) -> set[str]:
        with self.sessions() as session:
            return set(session.scalars(select(WorkTask.id).where(WorkTask.status == "open")))

    def instances(self) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count()).select_from(ProcessInstance))

    def refusals(self) -> list[tuple[str, str, str | None]]:
        """The access log's refused attempts (everything but `ok`)."""
        with self.sessions() as session:
            return [tuple(r) for r in session.execute(
                select(ExternalAccess.action, ExternalAccess.outcome, ExternalAccess.path)
                .where(ExternalAccess.outcome != "ok").order_by(ExternalAccess.id))]


def portal_post(client, path: str, data: dict | None = None, token_from: str = "/portal/", **kwargs):
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, token_from)}, **kwargs)


def refused(world: World, client, method: str, path: str, status: int | tuple, data: dict | None = None):
    """Request `path`; the answer has `status` and the access log gained a refusal. Returns the response."""
    before = len(world.refusals())
    if method == "GET":
        response = client.get(path, headers={"Accept-Language": "en"})
    else:
        response = portal_post(client, path, data, headers={"Accept-Language": "en"})
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, (method, path, response.status_code)
    assert LOGIN_FORM not in response.get_data(as_text=True), path
    assert len(world.refusals()) > before, ("refusal not in the access log", method, path)
    return response


def _contact(world: World, name: str, kind: str, key: str, email: str) -> None:
    """A party with one contact, who signs in on the portal with the e-mailed 6-digit code."""
    with world.sessions() as session, session.begin():
        conn = session.connection()
        world.party_ids[key] = parties.create_party(conn, kind=kind, key=key, name=f"{key} 有限公司",
                                                    name_en=f"{key} Ltd")
        parties.add_contact(conn, world.party_ids[key], name=f"{key} contact", email=email, locale="en")
    client = world.app.test_client()
    assert portal_post(client, "/portal/sign-in", {"email": email}).status_code == 200
    with world.sessions() as session:
        text = session.scalars(select(OutboxMessage.payload).where(OutboxMessage.event == "external_sign_in",
                                                                   OutboxMessage.recipient == email)).one()["text"]
    signed = portal_post(client, "/portal/sign-in/code", {"email": email,
                                                          "code": re.search(r"\b(\d{6})\b", text).group(1)})
    assert signed.status_code == 302, signed.get_data(as_text=True)
    world.clients[name] = client
    world.cookies[name] = COOKIE.search(signed.headers["Set-Cookie"]).group(1)


def _upload(world: World, name: str, case: str) -> None:
    """The outsider uploads a file on the portal; it is attached to its own case."""
    client = world.clients[name]
    stored = client.post("/portal/files", data={"file": (io.BytesIO(f"{name} file".encode()), f"{case}.pdf")},
                         headers={"X-CSRFToken": csrf_token(client, "/portal/")}, content_type="multipart/form-data")
    assert stored.status_code == 201, stored.get_data(as_text=True)
    with world.sessions() as session, session.begin():
        owner = uploads.get(session, stored.get_json()["id"]).owner
        assert owner.startswith("ext:contact:")
        assert uploads.attach(session, [stored.get_json()["id"]], owner, world.cases[case]) == 1
    world.files[case] = stored.get_json()["id"]


def _party_key(name: str) -> str:
    kind, letter = name.split()
    return f"{'SUP' if kind == 'supplier' else 'CUS'}-{letter}"


def build_world(app, sessions) -> World:
    world = World(app, sessions)
    for key in KEYS:
        packages.deploy_package(sessions, packages.load_package(PROCESSES / key), "admin")
    for name, kind, key, email in (("supplier A", "supplier", "SUP-A", "a@sup.example"),
                                   ("supplier B", "supplier", "SUP-B", "b@sup.example"),
                                   ("customer A", "customer", "CUS-A", "a@cus.example"),
                                   ("customer B", "customer", "CUS-B", "b@cus.example")):
        _contact(world, name, kind, key, email)
    for po, supplier in (("PO-A", "SUP-A"), ("PO-B", "SUP-B")):
        world.cases[po] = runtime.start_instance(sessions, "supplier_order", {
            "po_number": po, "supplier": supplier, "items": "bolts", "amount": 100, "delivery_date": "2026-12-20"},
            "zhang", business_key=po).instance_id
    for name, case in (("customer A", "CR-A"), ("customer B", "CR-B")):  # submitted on the portal
        sent = portal_post(world.clients[name], "/portal/new/customer_request", {
            "request_type": "incident", "description": f"{case} printer jams", "desired_date": "2030-01-10"},
            token_from="/portal/new/customer_request")
        assert sent.status_code == 302, sent.get_data(as_text=True)[:2000]
        world.cases[case] = int(sent.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    world.cases["VISIT"] = runtime.start_instance(sessions, "visitor_booking", {
        "visitor_name": "Vera", "visitor_phone": "13800000000", "visitor_email": "vera@visit.example",
        "visit_start": f"{tomorrow}T10:00", "visit_end": f"{tomorrow}T11:00", "purpose": "audit", "host": "zhang"},
        "zhang").instance_id
    with sessions() as session, session.begin():
        _id, token = grants.issue_link(session.connection(), scopes=["view"], valid_until=utcnow() + timedelta(days=3),
                                       instance_id=world.cases["VISIT"])
    visitor = app.test_client()
    entered = visitor.get(f"/portal/s/{token}")
    assert entered.status_code == 302 and entered.headers["Location"].endswith(f"/portal/cases/{world.cases['VISIT']}")
    world.clients["visitor"] = visitor
    world.cookies["visitor"] = COOKIE.search(entered.headers["Set-Cookie"]).group(1)
    for name in ("supplier A", "supplier B", "customer A", "customer B"):
        _upload(world, name, OWN[name])
    with app.app_context():  # an employee's file on the visit
        from web import files
        ref = files.file_store().put(io.BytesIO(b"visit agenda"), "agenda.pdf", None, max_size=1 << 20)
    with sessions() as session, session.begin():
        uploads.record(session, ref.to_dict(), "zhang")
        uploads.attach(session, [ref.id], "zhang", world.cases["VISIT"])
    world.files["VISIT"] = ref.id
    return world


def _world(app, sessions, people) -> World:
    assert people["zhang"]  # the employee (buyer, host) signs in with a password
    return build_world(app, sessions)


# -- the matrix ---------------------------------------------------------------------------------------------

def test_each_outsider_reaches_its_own_work_and_gets_404_for_everything_else(app, sessions, people):
    world = _world(app, sessions, people)
    tasks = {case: world.task(case) for case in world.cases}
    open_before, instances_before = world.open_tasks(), world.instances()
    for name in OUTSIDERS:
        client, own = world.clients[name], OWN[name]
        # their own work is served
        page = client.get(f"/portal/cases/{world.cases[own]}", headers={"Accept-Language": "en"})
        assert page.status_code == 200, name
        # their own uploads are theirs; the employee's agenda is attached to the visit in no field the
        # visitor is shown, so it stays internal (404 like any file outside the scope)
        expected = 404 if name == "visitor" else 200
        assert client.get(f"/portal/files/{world.files[own]}").status_code == expected, name
        if name.startswith("supplier"):
            assert client.get(f"/portal/tasks/{tasks[own]}").status_code == 200, name
        for key in STARTS.get(name, ()):
            assert client.get(f"/portal/new/{key}").status_code == 200, name
        listed = client.get("/portal/", headers={"Accept-Language": "en"}).get_data(as_text=True)
        for case, instance_id in world.cases.items():
            assert (f"/portal/cases/{instance_id}\"" in listed) is (case == own), (name, case)
        # every other party's case, task and file: 404, as if it did not exist
        for case, instance_id in world.cases.items():
            if case == own:
                continue
            refused(world, client, "GET", f"/portal/cases/{instance_id}", 404)
            refused(world, client, "GET", f"/portal/tasks/{tasks[case]}", 404)
            refused(world, client, "POST", f"/portal/tasks/{tasks[case]}", 404,
                    {"answer": "confirm", "acceptance": "accept", "rating": "5"})
            refused(world, client, "GET", f"/portal/files/{world.files[case]}", 404)
        refused(world, client, "GET", "/portal/cases/999999", 404)
        refused(world, client, "GET", "/portal/files/" + "0" * 32, 404)
        # start forms they may not use: 404, and a post starts nothing
        for key in set(KEYS) - STARTS.get(name, set()):
            refused(world, client, "GET", f"/portal/new/{key}", 404)
            refused(world, client, "POST", f"/portal/new/{key}", 404, {
                "po_number": "PO-X", "supplier": _party_key(name) if "supplier" in name else "SUP-A",
                "items": "x", "amount": "1", "delivery_date": "2030-01-01", "request_type": "incident",
                "description": "x", "desired_date": "2030-01-10", "visitor_name": "X", "visitor_phone": "1",
                "visitor_email": "x@example.com", "visit_start": "2030-05-21T14:00",
                "visit_end": "2030-05-21T15:30", "purpose": "x", "host": "zhang"})
    # a view-only link may not upload
    visitor = world.clients["visitor"]
    before = len(world.refusals())
    stored = visitor.post("/portal/files", data={"file": (io.BytesIO(b"x"), "x.pdf")},
                          headers={"X-CSRFToken": csrf_token(visitor, "/portal/")}, content_type="multipart/form-data")
    assert stored.status_code == 403 and world.refusals()[before:] == [("upload", "not_permitted", "/portal/files")]
    # a customer posting to the internal (triage) step of its own case: refused, closed page
    refused(world, world.clients["customer A"], "POST", f"/portal/tasks/{tasks['CR-A']}", 409, {"team": "support"})
    assert world.open_tasks() == open_before and world.instances() == instances_before  # nothing moved
    # their own step they answer; fields outside its form (the party, the order) are not theirs to change
    done = portal_post(world.clients["supplier A"], f"/portal/tasks/{tasks['PO-A']}", {
        "answer": "confirm", "supplier": "SUP-B", "po_number": "PO-HIJACK", "amount": "1"},
        token_from=f"/portal/tasks/{tasks['PO-A']}")
    assert done.status_code == 302, done.get_data(as_text=True)[:2000]
    with sessions() as session:
        data = store.read_process_data(session, world.cases["PO-A"])
    assert (data["supplier"], data["po_number"], data["amount"]) == ("SUP-A", "PO-A", 100)
    refused(world, world.clients["supplier B"], "GET", f"/portal/cases/{world.cases['PO-A']}", 404)


def test_employee_pages_never_serve_a_portal_cookie_and_an_employee_has_no_portal_session(app, sessions, people):
    world = _world(app, sessions, people)
    task, case = world.task("PO-A"), world.cases["PO-A"]
    paths = [p.format(task=task, case=case, file=world.files["VISIT"]) for p in EMPLOYEE_PAGES]
    root = app.test_client()
    sign_in(root, "root")
    for path in paths:  # real pages: an employee who may is served
        assert root.get(path).status_code == 200, path
    session_cookie = app.config["SESSION_COOKIE_NAME"]
    for name in OUTSIDERS:
        client = app.test_client()
        client.set_cookie("liaison_portal", world.cookies[name], path="/")  # even sent outside /portal
        forged = app.test_client()  # the portal token offered as the employee session cookie
        forged.set_cookie(session_cookie, world.cookies[name], path="/")
        for who in (client, forged, world.clients[name]):
            for path in paths:
                page = who.get(path)
                assert page.status_code in (302, 403, 404), (name, path, page.status_code)
                if page.status_code == 302:
                    assert page.headers["Location"].startswith("/login"), (name, path)
            posted = who.post(f"/tasks/{task}", data={"answer": "confirm", "csrf_token": csrf_token(who, "/portal/")})
            assert posted.status_code in (302, 403, 404) and posted.headers.get("Location", "/login").startswith(
                "/login"), (name, posted.status_code)
    assert world.task("PO-A") == task
    # an employee (signed in) has no portal session: every portal page refuses, the entry page is for outsiders
    employee = app.test_client()
    sign_in(employee, "zhang")
    assert employee.get("/inbox/").status_code == 200
    for path in (f"/portal/cases/{case}", f"/portal/tasks/{task}", f"/portal/files/{world.files['PO-A']}",
                 "/portal/new", "/portal/new/customer_request"):
        page = refused(world, employee, "GET", path, 403)
        assert "not signed in to the portal" in page.get_data(as_text=True)
    refused(world, employee, "POST", f"/portal/tasks/{task}", 403, {"answer": "confirm"})
    entry = employee.get("/portal/").get_data(as_text=True)
    assert 'name="code"' in entry and "PO-A" not in entry
    uploaded = employee.post("/portal/files", data={"file": (io.BytesIO(b"x"), "x.pdf")},
                             headers={"X-CSRFToken": csrf_token(employee, "/portal/")},
                             content_type="multipart/form-data")
    assert uploaded.status_code == 403 and ("upload", "no_session", "/portal/files") in world.refusals()
    assert world.task("PO-A") == task


def test_expired_revoked_and_guessed_links_and_codes_are_refused_and_guessing_is_throttled(app, sessions, people,
                                                                                          monkeypatch):
    world = _world(app, sessions, people)
    case = world.cases["PO-A"]
    past = utcnow() - timedelta(days=3)
    with sessions() as session, session.begin():
        conn = session.connection()
        _, expired_link = grants.issue_link(conn, scopes=["view"], valid_until=past + timedelta(days=1),
                                            instance_id=case, now=past)
        revoked_id, revoked_link = grants.issue_link(conn, scopes=["view"], valid_until=utcnow() + timedelta(days=1),
                                                     instance_id=case)
        _, early_link = grants.issue_link(conn, scopes=["view"], valid_until=utcnow() + timedelta(days=3),
                                          instance_id=case, now=utcnow() + timedelta(days=1))
        _, expired_code = grants.issue_code(conn, scopes=["view"], valid_until=past + timedelta(days=1),
                                            instance_id=case, now=past)
        revoked_code_id, revoked_code = grants.issue_code(conn, scopes=["view"],
                                                          valid_until=utcnow() + timedelta(days=1), instance_id=case)
        _, good_code = grants.issue_code(conn, scopes=["view"], valid_until=utcnow() + timedelta(days=1),
                                         instance_id=case)
        grants.revoke_grant(conn, revoked_id, "zhang", utcnow())
        grants.revoke_grant(conn, revoked_code_id, "zhang", utcnow())
    guessed_link = secrets.token_urlsafe(32)
    near_link = expired_link[:-1] + ("A" if expired_link[-1] != "A" else "B")
    guessed_code = "".join(secrets.choice(grants.CODE_ALPHABET) for _ in range(grants.CODE_LENGTH))
    client = app.test_client()
    for token, status, words in ((expired_link, 410, "has expired"), (revoked_link, 410, "was withdrawn"),
                                 (early_link, 403, "not valid yet"), (guessed_link, 404, "is not valid"),
                                 (near_link, 404, "is not valid")):
        page = refused(world, client, "GET", f"/portal/s/{token}", status)
        text = page.get_data(as_text=True)
        assert words in text and "liaison_portal" not in page.headers.get("Set-Cookie", ""), token
    for code, status, words in ((expired_code, 410, "has expired"), (revoked_code, 410, "was withdrawn"),
                                (guessed_code, 404, "is not valid")):
        page = refused(world, client, "POST", "/portal/code", status, {"code": code})
        assert words in page.get_data(as_text=True) and "liaison_portal" not in page.headers.get("Set-Cookie", "")
    wrong_sign_in = refused(world, client, "POST", "/portal/sign-in/code", 422,
                            {"email": "a@sup.example", "code": "000000"})
    assert "The code is wrong or no longer valid" in wrong_sign_in.get_data(as_text=True)
    assert client.get(f"/portal/cases/{case}").status_code == 403  # none of them gave a session

    # one client guessing invitation codes: 100 wrong posts end with 429 and Retry-After (the portal's clock
    # stands still, so a back-off cannot run out between two posts of a slow run)
    frozen = utcnow()
    monkeypatch.setattr(portal_views, "_now", lambda: frozen)
    guesser = app.test_client()
    guesser.environ_base["REMOTE_ADDR"] = "203.0.113.50"
    token = csrf_token(guesser, "/portal/")
    before = len(world.refusals())
    statuses = []
    for _ in range(100):
        code = "".join(secrets.choice(grants.CODE_ALPHABET) for _ in range(grants.CODE_LENGTH))
        statuses.append(guesser.post("/portal/code", data={"code": code, "csrf_token": token}).status_code)
    first = statuses.index(429)
    assert first >= 5 and set(statuses[:first]) == {404} and set(statuses[first:]) == {429}
    assert len(world.refusals()) - before >= 100  # every wrong guess and every throttled one is logged
    slowed = guesser.post("/portal/code", data={"code": good_code, "csrf_token": token},
                          headers={"Accept-Language": "en"})
    assert slowed.status_code == 429 and int(slowed.headers["Retry-After"]) > 0
    assert "Too many attempts" in slowed.get_data(as_text=True)
    assert portal_post(app.test_client(), "/portal/code", {"code": good_code}).status_code == 302  # others enter

    # one client guessing a contact's 6-digit sign-in code: the same
    signer = app.test_client()
    signer.environ_base["REMOTE_ADDR"] = "203.0.113.51"
    token = csrf_token(signer, "/portal/")
    statuses = [signer.post("/portal/sign-in/code", data={"email": "b@cus.example", "code": f"{n:06d}",
                                                          "csrf_token": token}).status_code for n in range(100)]
    first = statuses.index(429)
    assert first >= 3 and set(statuses[:first]) == {422} and set(statuses[first:]) == {429}
    throttled = signer.post("/portal/sign-in/code", data={"email": "b@cus.example", "code": "123456",
                                                          "csrf_token": token})
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
    assert ("sign_in", "throttled") in {(a, o) for a, o, _p in world.refusals()}


def test_a_revoked_partys_contact_and_links_stop_at_their_next_request(app, sessions, people):
    world = _world(app, sessions, people)
    client, other = world.clients["customer B"], world.clients["customer A"]
    assert client.get(f"/portal/cases/{world.cases['CR-B']}").status_code == 200
    with sessions() as session:  # the link the engine e-mailed to supplier B for its order
        text = session.scalars(select(OutboxMessage.payload).where(
            OutboxMessage.instance_id == world.cases["PO-B"], OutboxMessage.event == "external_link")).first()["text"]
    link = re.search(r"/portal/s/([A-Za-z0-9_-]+)", text).group(1)
    holder = app.test_client()
    assert holder.get(f"/portal/s/{link}").status_code == 302
    assert holder.get(f"/portal/tasks/{world.task('PO-B')}").status_code == 200
    with sessions() as session, session.begin():
        parties.revoke_party(session.connection(), world.party_ids["CUS-B"], "zhang", utcnow())
        parties.revoke_party(session.connection(), world.party_ids["SUP-B"], "zhang", utcnow())
        contact_a = parties.contacts_of(session.connection(), world.party_ids["SUP-A"])[0].id
        parties.revoke_contact(session.connection(), contact_a, "zhang", utcnow())
    for path in (f"/portal/cases/{world.cases['CR-B']}", f"/portal/files/{world.files['CR-B']}",
                 "/portal/new/customer_request"):
        page = refused(world, client, "GET", path, 403)
        assert "your access has ended" in page.get_data(as_text=True)
    refused(world, client, "POST", "/portal/new/customer_request", 403,
            {"request_type": "incident", "description": "x", "desired_date": "2030-01-10"})
    assert 'name="code"' in client.get("/portal/").get_data(as_text=True)  # the entry page, no list of cases
    assert ("view", "no_session", f"/portal/cases/{world.cases['CR-B']}") in world.refusals()
    task = world.task("PO-B")
    refused(world, holder, "GET", f"/portal/tasks/{task}", 403)
    refused(world, holder, "POST", f"/portal/tasks/{task}", 403, {"answer": "confirm"})
    refused(world, holder, "GET", f"/portal/s/{link}", 410)  # the party's links are withdrawn with it
    refused(world, world.clients["supplier A"], "GET", f"/portal/cases/{world.cases['PO-A']}", 403)
    assert world.task("PO-B") == task
    assert other.get(f"/portal/cases/{world.cases['CR-A']}").status_code == 200  # the other customer goes on
