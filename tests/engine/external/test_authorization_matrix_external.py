"""The portal's authorization matrix, engine side (issue 17).

Two suppliers and two customers (one contact each), a visitor, an employee; instances of supplier_order,
customer_request and visitor_booking for each of them. Every principal an outsider can hold (a signed-in
contact, an e-mailed link, an invitation code, a party-bound code) is checked with the engine's own
functions (`engine.external.scope`, `engine.work.portal`, `grants`, `sessions`) against every case, every
open task, every upload and every process: it views, fills, downloads and starts exactly what its scope
gives, and nothing once its grant is revoked or expired or its party revoked. Guessed links and codes
are unknown, and a client guessing codes is throttled.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine import runtime
from engine.data.models import OutboxMessage, WorkTask, utcnow
from engine.errors import NotFoundError, NotPermittedError
from engine.external import grants, parties, scope, sign_in
from engine.external import sessions as portal_sessions
from engine.external.errors import ExternalAccessError
from engine.external.identity import Principal, contact_identity
from engine.packages import deployment as packages
from engine.runtime import uploads
from engine.work import portal
from tests.conftest import add_people

PROCESSES = Path(__file__).resolve().parents[3] / "processes"
KEYS = ("supplier_order", "customer_request", "visitor_booking")
CLIENT = "198.51.100.7"


@dataclass
class World:
    """What the matrix is checked against: cases and tasks by name, principals by name, uploads by name."""

    sessions: object
    engine: object
    party_ids: dict[str, int] = field(default_factory=dict)
    cases: dict[str, int] = field(default_factory=dict)  # name -> instance id
    principals: dict[str, Principal] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # principal name -> its link token or code
    files: dict[str, str] = field(default_factory=dict)  # name -> upload id

    def task(self, case: str) -> tuple[str, str]:
        """(task id, element id) of the one open task of a case."""
        with self.sessions() as session:
            row = session.execute(select(WorkTask.id, WorkTask.element_id).where(
                WorkTask.instance_id == self.cases[case], WorkTask.status == "open")).one()
        return row.id, row.element_id


# what each principal may see (cases) and fill (the open task of these cases), and which process it may start
VIEW = {
    "supplier A": {"PO-A", "PO-A2"}, "supplier B": {"PO-B"},
    "customer A": {"CR-A", "CR-A2"}, "customer B": {"CR-B"},
    "link PO-B": {"PO-B"}, "link CR-A": {"CR-A"},
    "visitor link": {"VISIT"}, "visitor code": set(), "customer B viewer": {"CR-B"},
}
FILL = {
    "supplier A": {"PO-A"}, "supplier B": {"PO-B"}, "customer A": {"CR-A"}, "customer B": {"CR-B"},
    "link PO-B": {"PO-B"}, "link CR-A": {"CR-A"},
}
START = {"customer A": {"customer_request"}, "customer B": {"customer_request"}, "visitor code": {"visitor_booking"}}
OPEN_TASKS = {"PO-A": "confirm_order", "PO-A2": "review_date", "PO-B": "confirm_order", "CR-A": "confirm_acceptance",
              "CR-A2": "triage", "CR-B": "confirm_acceptance", "VISIT": "check_in"}


def _deploy(sessions) -> None:
    for key in KEYS:
        with sessions() as session, session.begin():
            packages.deploy(session, packages.load_package(PROCESSES / key), "admin")
    add_people(sessions, "zhang", "li", "wang")


def _party(world: World, kind: str, key: str, email: str) -> None:
    with world.engine.begin() as conn:
        party_id = parties.create_party(conn, kind=kind, key=key, name=f"{key} 有限公司", name_en=f"{key} Ltd")
        contact_id = parties.add_contact(conn, party_id, name=f"{key} contact", email=email, locale="en")
    world.party_ids[key] = party_id
    name = f"{kind} {key[-1]}"
    with world.engine.begin() as conn:  # the contact signs in with the code the portal e-mails
        sign_in.request_code(conn, email, client=CLIENT, now=utcnow(), base_url="https://liaison.example")
    with world.sessions() as session:
        text = session.scalars(select(OutboxMessage.payload).where(OutboxMessage.event == "external_sign_in",
                                                                   OutboxMessage.recipient == email)).one()["text"]
    with world.engine.connect() as conn:
        principal = sign_in.verify_code(conn, email, re.search(r"code: (\d{6})", text).group(1), client=CLIENT,
                                        now=utcnow(), lang="en")
        conn.commit()
    assert (principal.contact_id, principal.party_id, principal.kind) == (contact_id, party_id, kind)
    with world.engine.begin() as conn:  # through a portal session, as the portal's cookie would give it
        token = portal_sessions.start(conn, principal, ip=CLIENT, user_agent="matrix", now=utcnow())
    with world.engine.begin() as conn:
        world.principals[name] = portal_sessions.load(conn, token, utcnow(), "en")
    world.tokens[name] = token
    assert world.principals[name].identity == principal.identity


def _order(world: World, po: str, supplier: str) -> int:
    data = {"po_number": po, "supplier": supplier, "items": "bolts", "amount": 100, "delivery_date": "2026-12-20"}
    return runtime.start_instance(world.sessions, "supplier_order", data, "zhang", business_key=po).instance_id


def _upload(world: World, owner: str, name: str) -> dict:
    content = f"{name}-{secrets.token_hex(4)}".encode()
    ref = {"id": secrets.token_hex(16), "name": f"{name}.pdf", "size": len(content),
           "sha256": hashlib.sha256(content).hexdigest(), "content_type": "application/pdf"}
    with world.sessions() as session, session.begin():
        uploads.record(session, ref, owner)
    world.files[name] = ref["id"]
    return ref


def _request(world: World, who: str, description: str, deliver: bool) -> int:
    """A customer request submitted in the portal by a contact; triaged and delivered when `deliver`."""
    principal = world.principals[who]
    ref = _upload(world, principal.identity, f"file {description}")
    data = {"customer": "SOMEONE-ELSE", "request_type": "incident", "description": description,
            "attachments": [ref], "desired_date": "2026-12-20"}
    instance_id = portal.start_request(world.sessions, principal, "customer_request", data, "en")
    with world.sessions() as session, session.begin():
        assert uploads.attach(session, [ref["id"]], principal.identity, instance_id) == 1
    if deliver:
        world.cases["_tmp"] = instance_id
        runtime.complete_task(world.sessions, world.task("_tmp")[0], "wang", {"team": "support", "owner": "li"},
                              groups=("service_desk",))
        runtime.complete_task(world.sessions, world.task("_tmp")[0], "li",
                              {"delivery_plan": [{"title": "Fix", "due_date": "2026-12-10", "status": "planned"}]})
        runtime.complete_task(world.sessions, world.task("_tmp")[0], "li", {
            "delivery_plan": [{"title": "Fix", "due_date": "2026-12-10", "status": "done"}], "percent_done": 100,
            "progress_note": "done", "delivered": True})
        del world.cases["_tmp"]
    return instance_id


def _emailed_token(world: World, instance_id: int) -> str:
    """The token of the link the engine e-mailed for the instance's external task."""
    with world.sessions() as session:
        texts = session.scalars(select(OutboxMessage.payload).where(OutboxMessage.instance_id == instance_id,
                                                                    OutboxMessage.event == "external_link")).all()
    tokens = {re.search(r"/portal/s/([A-Za-z0-9_-]+)", payload["text"]).group(1) for payload in texts}
    assert len(tokens) == 1
    return tokens.pop()


def _redeem_link(world: World, token: str) -> Principal:
    with world.engine.connect() as conn:
        principal = grants.redeem_link(conn, token, utcnow(), client=CLIENT, lang="en")
        conn.commit()
    return principal


def _redeem_code(world: World, code: str, client: str = CLIENT) -> Principal:
    with world.engine.connect() as conn:
        principal = grants.redeem_code(conn, code, utcnow(), client=client, lang="en")
        conn.commit()
    return principal


@pytest.fixture
def world(sessions) -> World:
    world = World(sessions, sessions.kw["bind"])
    _deploy(sessions)
    for kind, key, email in (("supplier", "SUP-A", "a@sup.example"), ("supplier", "SUP-B", "b@sup.example"),
                             ("customer", "CUS-A", "a@cus.example"), ("customer", "CUS-B", "b@cus.example")):
        _party(world, kind, key, email)
    world.cases["PO-A"] = _order(world, "PO-A", "SUP-A")
    world.cases["PO-A2"] = _order(world, "PO-A2", "SUP-A")
    world.cases["PO-B"] = _order(world, "PO-B", "SUP-B")
    portal.complete(sessions, world.principals["supplier A"], world.task("PO-A2")[0],  # now the buyer's step
                    {"answer": "propose", "proposed_date": "2027-01-10"}, lang="en")
    world.cases["CR-A"] = _request(world, "customer A", "printer jams", deliver=True)
    world.cases["CR-A2"] = _request(world, "customer A", "new label layout", deliver=False)
    world.cases["CR-B"] = _request(world, "customer B", "scanner offline", deliver=True)
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    world.cases["VISIT"] = runtime.start_instance(sessions, "visitor_booking", {
        "visitor_name": "Vera", "visitor_phone": "13800000000", "visitor_email": "vera@visit.example",
        "visit_start": f"{tomorrow}T10:00", "visit_end": f"{tomorrow}T11:00", "purpose": "audit", "host": "zhang"},
        "zhang").instance_id
    _upload(world, "zhang", "an employee's own file")
    with world.sessions() as session, session.begin():
        uploads.attach(session, [world.files["an employee's own file"]], "zhang", world.cases["VISIT"])
    _upload(world, world.principals["customer B"].identity, "customer B unattached")

    for name, case in (("link PO-B", "PO-B"), ("link CR-A", "CR-A")):  # the links the engine e-mailed
        world.tokens[name] = _emailed_token(world, world.cases[case])
        world.principals[name] = _redeem_link(world, world.tokens[name])
    until = utcnow() + timedelta(days=7)
    with world.engine.begin() as conn:
        _, visitor_link = grants.issue_link(conn, scopes=["view"], valid_until=until, instance_id=world.cases["VISIT"])
        _, visitor_code = grants.issue_code(conn, scopes=["submit", "view"], valid_until=until,
                                            process_key="visitor_booking", created_by="zhang")
        _, viewer_code = grants.issue_code(conn, scopes=["view"], valid_until=until, party_id=world.party_ids["CUS-B"])
    world.principals["visitor link"] = _redeem_link(world, visitor_link)
    world.principals["visitor code"] = _redeem_code(world, visitor_code)
    world.principals["customer B viewer"] = _redeem_code(world, viewer_code)
    world.tokens.update({"visitor link": visitor_link, "visitor code": visitor_code, "customer B viewer": viewer_code})
    assert {case: world.task(case)[1] for case in world.cases} == OPEN_TASKS
    return world


def _may_download(session, principal: Principal, upload_id: str) -> bool:
    try:
        portal.downloadable(session, principal, upload_id)
    except NotFoundError:
        return False
    return True


# -- the matrix ------------------------------------------------------------------------------------

def test_each_principal_views_exactly_its_cases(world):
    missing = max(world.cases.values()) + 1000  # a guessed case id
    for name, principal in world.principals.items():
        with world.sessions() as session:
            listed = {c.id for c in portal.cases(session, principal, "en").items}
            in_scope = set(session.scalars(scope.case_ids(principal)))
        expected = {world.cases[c] for c in VIEW[name]}
        assert listed == expected and in_scope == expected, name
        for case, instance_id in [*world.cases.items(), ("missing", missing)]:
            with world.sessions() as session:
                assert scope.may_view_case(session, principal, instance_id) is (case in VIEW[name]), (name, case)
                if case in VIEW[name]:
                    view = portal.case_view(session, principal, instance_id, "en")
                    assert "history" not in view.to_dict() and view.id == instance_id
                else:
                    with pytest.raises(NotFoundError):
                        portal.case_view(session, principal, instance_id, "en")


def test_each_principal_fills_only_the_open_external_task_of_its_cases(world):
    tasks = {case: world.task(case)[0] for case in world.cases}
    for name, principal in world.principals.items():
        for case, task_id in tasks.items():
            allowed = case in FILL.get(name, set())
            with world.sessions() as session:
                assert scope.may_fill_task(session, principal, task_id) is allowed, (name, case)
                if allowed:
                    assert portal.external_task(session, principal, task_id, "en").schema is not None
                    continue
                expected = NotPermittedError if case in VIEW[name] else NotFoundError
                with pytest.raises(expected):
                    portal.external_task(session, principal, task_id, "en")
            with pytest.raises(NotPermittedError if case in VIEW[name] else NotFoundError):
                portal.complete(world.sessions, principal, task_id, {}, lang="en")
            if OPEN_TASKS[case] not in ("confirm_order", "confirm_acceptance"):  # the engine itself refuses too
                with pytest.raises(NotPermittedError):
                    runtime.complete_task(world.sessions, task_id, principal.identity, {}, groups=principal.groups)
    assert {case: world.task(case) for case in world.cases} == {case: (tasks[case], OPEN_TASKS[case])
                                                                  for case in world.cases}  # nothing moved
    for user, groups in (("zhang", ("managers",)), ("wang", ("service_desk",)), ("li", ())):  # employees
        for case in ("PO-A", "PO-B", "CR-A", "CR-B"):
            with pytest.raises(NotPermittedError):
                runtime.complete_task(world.sessions, tasks[case], user, {}, groups=groups)


def test_each_principal_downloads_only_the_files_of_its_cases_and_its_own(world):
    # files in a field the outsider is shown (the requests' attachments are a visible field); an employee's
    # file attached to the visit but in no field shown to the visitor stays internal, even of their own case
    owners = {"file printer jams": "CR-A", "file new label layout": "CR-A2", "file scanner offline": "CR-B"}
    for name, principal in world.principals.items():
        for file_name, upload_id in world.files.items():
            expected = (owners[file_name] in VIEW[name] if file_name in owners
                        else False if file_name == "an employee's own file"
                        else name == "customer B")  # the unattached upload: its uploader only
            with world.sessions() as session:
                assert _may_download(session, principal, upload_id) is expected, (name, file_name)


def test_each_principal_starts_only_the_portal_processes_of_its_kind(world):
    for name, principal in world.principals.items():
        expected = START.get(name, set())
        with world.sessions() as session:
            assert {p["key"] for p in portal.startable(session, principal, "en")} == expected, name
            assert {key for key in KEYS if scope.may_start(session.connection(), principal, key)} == expected, name
        for key in set(KEYS) - expected:
            with pytest.raises(NotFoundError):
                portal.start_request(world.sessions, principal, key, {}, "en")
    started = portal.start_request(world.sessions, world.principals["customer B"], "customer_request", {
        "customer": "CUS-A", "request_type": "other", "description": "x", "desired_date": "2026-12-31"}, "en")
    with world.sessions() as session:  # for its own party, whatever it typed
        assert started in set(session.scalars(scope.case_ids(world.principals["customer B"])))
        assert started not in set(session.scalars(scope.case_ids(world.principals["customer A"])))


# -- grants revoked or expired, parties revoked, guesses -----------------------------------------------

def test_a_revoked_link_stops_at_once_and_an_expired_one_is_refused(world):
    link = world.principals["link CR-A"]
    with world.engine.begin() as conn:
        session_token = portal_sessions.start(conn, link, ip=CLIENT, user_agent="matrix", now=utcnow())
    with world.engine.begin() as conn:
        assert portal_sessions.load(conn, session_token, utcnow()) is not None
        assert grants.revoke_grant(conn, link.grant_id, "zhang", utcnow())
    task_id = world.task("CR-A")[0]
    with world.sessions() as session:
        assert not scope.may_view_case(session, link, world.cases["CR-A"])
        assert not scope.may_fill_task(session, link, task_id)
        assert portal.cases(session, link, "en").items == []
    with pytest.raises(NotFoundError):
        portal.complete(world.sessions, link, task_id, {"acceptance": "accept", "rating": 5})
    with world.engine.begin() as conn:
        assert portal_sessions.load(conn, session_token, utcnow()) is None
    with pytest.raises(ExternalAccessError) as refused:
        _redeem_link(world, world.tokens["link CR-A"])
    assert refused.value.reason == "revoked"
    with world.sessions() as session:  # the contact of the party still may, the link's revocation is the link's
        assert scope.may_fill_task(session, world.principals["customer A"], task_id)

    issued = utcnow() - timedelta(days=2)
    with world.engine.begin() as conn:
        _, old = grants.issue_link(conn, scopes=["view", "fill"], valid_until=issued + timedelta(days=1),
                                   instance_id=world.cases["CR-B"], now=issued)
    with pytest.raises(ExternalAccessError) as expired:
        _redeem_link(world, old)
    assert expired.value.reason == "expired"
    with world.engine.begin() as conn:
        _, early = grants.issue_link(conn, scopes=["view"], valid_until=utcnow() + timedelta(days=3),
                                     instance_id=world.cases["CR-B"], now=utcnow() + timedelta(days=1))
    with pytest.raises(ExternalAccessError) as not_yet:
        _redeem_link(world, early)
    assert not_yet.value.reason == "not_yet"
    with world.engine.connect() as conn:
        stale = grants.principal_of(conn.execute(grants.grant_row_query().where(
            grants.ExternalGrant.token_hash == grants.token_hash(old))).one())
        assert not scope.may_view_case(conn, stale, world.cases["CR-B"])
        assert not scope.may_fill_task(conn, stale, world.task("CR-B")[0])


def test_a_revoked_party_loses_its_sessions_links_and_codes_at_once(world):
    contact, viewer = world.principals["customer B"], world.principals["customer B viewer"]
    with world.engine.begin() as conn:
        viewer_session = portal_sessions.start(conn, viewer, ip=CLIENT, user_agent="matrix", now=utcnow())
    with world.engine.begin() as conn:
        assert portal_sessions.load(conn, world.tokens["customer B"], utcnow()) is not None
        revoked = parties.revoke_party(conn, world.party_ids["CUS-B"], "zhang", utcnow())
    assert revoked.sessions >= 2 and revoked.grants >= 2  # its code and the link the engine e-mailed for CR-B
    with world.engine.begin() as conn:
        assert portal_sessions.load(conn, world.tokens["customer B"], utcnow()) is None
        assert portal_sessions.load(conn, viewer_session, utcnow()) is None
    task_id = world.task("CR-B")[0]
    for principal in (contact, viewer):  # principals a cookie still held a moment ago
        with world.sessions() as session:
            assert portal.cases(session, principal, "en").items == []
            assert not scope.may_view_case(session, principal, world.cases["CR-B"])
            assert not scope.may_fill_task(session, principal, task_id)
            assert not _may_download(session, principal, world.files["customer B unattached"])
            assert portal.startable(session, principal, "en") == []
        with pytest.raises(NotFoundError):
            portal.complete(world.sessions, principal, task_id, {"acceptance": "accept", "rating": 5})
        with pytest.raises(NotFoundError):
            portal.start_request(world.sessions, principal, "customer_request", {}, "en")
    with pytest.raises(ExternalAccessError) as refused:
        _redeem_code(world, world.tokens["customer B viewer"])
    assert refused.value.reason == "revoked"
    with world.sessions() as session:  # the other customer is untouched
        assert scope.may_fill_task(session, world.principals["customer A"], world.task("CR-A")[0])


def test_a_revoked_contact_stops_at_once_and_the_other_contacts_of_its_party_go_on(world):
    contact = world.principals["customer A"]
    with world.engine.begin() as conn:
        colleague_id = parties.add_contact(conn, world.party_ids["CUS-A"], name="Colleague", email="c@cus.example")
        parties.revoke_contact(conn, contact.contact_id, "zhang", utcnow())
    with world.engine.begin() as conn:
        assert portal_sessions.load(conn, world.tokens["customer A"], utcnow()) is None
    task_id = world.task("CR-A")[0]
    with world.sessions() as session:
        assert portal.cases(session, contact, "en").items == []
        assert not scope.may_fill_task(session, contact, task_id)
        colleague = Principal(identity=contact_identity(colleague_id), kind="customer",
                              party_id=world.party_ids["CUS-A"], contact_id=colleague_id)
        assert scope.may_fill_task(session, colleague, task_id)
    with pytest.raises(NotFoundError):
        portal.complete(world.sessions, contact, task_id, {"acceptance": "accept", "rating": 5})
    with world.engine.begin() as conn:  # a revoked contact gets no sign-in code either
        sign_in.request_code(conn, "a@cus.example", client=CLIENT, now=utcnow(), base_url="https://liaison.example")
    with world.sessions() as session:
        assert len(session.scalars(select(OutboxMessage.id).where(OutboxMessage.event == "external_sign_in",
                                                                  OutboxMessage.recipient == "a@cus.example")).all()) == 1


def test_guessed_links_and_codes_are_unknown_and_a_guessing_client_is_throttled(world):
    with pytest.raises(ExternalAccessError) as guessed:
        _redeem_link(world, secrets.token_urlsafe(32))
    assert guessed.value.reason == "unknown"
    with pytest.raises(ExternalAccessError) as near:  # a real token with one character changed
        token = world.tokens["link PO-B"]
        _redeem_link(world, token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert near.value.reason == "unknown"
    reasons = []
    for _ in range(100):
        code = "".join(secrets.choice(grants.CODE_ALPHABET) for _ in range(grants.CODE_LENGTH))
        with pytest.raises(ExternalAccessError) as wrong:
            _redeem_code(world, code, client="203.0.113.50")
        reasons.append(wrong.value.reason)
    assert set(reasons[:20]) == {"unknown"} and reasons[-1] == "throttled" and reasons.count("throttled") >= 75
    with pytest.raises(ExternalAccessError) as slowed:  # even the right code waits on that client
        _redeem_code(world, world.tokens["visitor code"], client="203.0.113.50")
    assert slowed.value.reason == "throttled" and slowed.value.wait_seconds > 0
    assert _redeem_code(world, world.tokens["visitor code"], client="203.0.113.51").process_key == "visitor_booking"
