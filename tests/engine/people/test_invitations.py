"""Invitations and reset links (issue 11 item 15), and the admin's people changes (item 16)."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from email import policy

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from engine.data.models import AccountToken, AdminGrant, Department, OutboxMessage, Person
from engine.errors import NotFoundError, NotPermittedError
from engine.notify import delivery
from engine.people import accounts, invitations, people_admin
from engine.people import sessions as user_sessions
from tests.engine.notify.test_delivery import settings as delivery_settings
from tests.engine.notify.test_delivery import smtp  # noqa: F401 - the fixture

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
BASE = "https://wf.example.com"


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch):
    monkeypatch.setattr(accounts, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    accounts._dummy_hash.cache_clear()
    yield
    accounts._dummy_hash.cache_clear()


@pytest.fixture
def org(sessions):
    """root (super admin); li admin of sales; in sales-east: wang (imported, e-mail, no password),
    boss (admin of sales-east, with a password); zhao in finance (no password, no e-mail)."""
    with sessions() as s, s.begin():
        root = accounts.create_admin(s, "root", PASSWORD, "管理员", NOW)
        company = Department(code="company", name="公司", path="/")
        s.add(company)
        s.flush()
        company.path = f"/{company.id}/"
        made = {}
        for code, name, parent in (("sales", "销售部", company), ("sales-east", "华东销售", None),
                                   ("finance", "财务部", company)):
            parent = parent or made["sales"]
            dept = Department(code=code, name=name, parent_id=parent.id, path="")
            s.add(dept)
            s.flush()
            dept.path = f"{parent.path}{dept.id}/"
            made[code] = dept
        li = accounts.create_person_account(s, "li", "李四", PASSWORD, NOW, department_id=made["sales"].id)
        wang = accounts.create_person_account(s, "wang", "王五", None, NOW, email="wang@example.com",
                                              department_id=made["sales-east"].id)
        boss = accounts.create_person_account(s, "boss", "老板", PASSWORD, NOW, department_id=made["sales-east"].id)
        zhao = accounts.create_person_account(s, "zhao", "赵六", None, NOW, department_id=made["finance"].id)
        s.add_all([AdminGrant(person_id=li.id, department_id=made["sales"].id),
                   AdminGrant(person_id=boss.id, department_id=made["sales-east"].id)])
        return {"root": root.id, "li": li.id, "wang": wang.id, "boss": boss.id, "zhao": zhao.id,
                **{code: d.id for code, d in made.items()}}


def _token(link: str) -> str:
    return link.rsplit("/", 1)[1]


def test_an_imported_person_is_invited_by_email_and_sets_a_password_once(sessions, org, smtp):  # noqa: F811
    with sessions() as s, s.begin():
        issued = invitations.issue(s, "li", "wang", NOW, BASE)
    assert issued.purpose == "invite" and issued.emailed_to == "wang@example.com"
    assert issued.link.startswith(f"{BASE}/account/password/") and issued.expires_at == NOW + timedelta(days=7)
    token = _token(issued.link)
    with sessions() as s:
        stored = s.scalars(select(AccountToken)).one()
        assert token not in stored.token_hash and len(stored.token_hash) == 64  # only the hash is kept
        row = s.scalars(select(OutboxMessage)).one()
        assert (row.channel, row.recipient, row.status) == ("email", "wang@example.com", "pending")
    # the outbox sends it like every other e-mail
    assert delivery.deliver(sessions, row.id, now=NOW, settings=delivery_settings(smtp.url)) == "sent"
    message = email.message_from_bytes(smtp.envelopes[0].content, policy=policy.default)
    assert issued.link in message.get_body(("plain",)).get_content()
    with pytest.raises(accounts.InvalidCredentialsError), sessions() as s:
        accounts.authenticate(s, "wang", "a new long secret", NOW)
    with sessions() as s, s.begin():
        assert invitations.look_up(s, token, NOW)[0] == "invite"
        invitations.redeem(s, token, "a new long secret", NOW + timedelta(hours=1))
    with sessions() as s:
        assert accounts.authenticate(s, "wang", "a new long secret", NOW).id == org["wang"]
    with pytest.raises(invitations.LinkError) as used, sessions() as s:
        invitations.redeem(s, token, "another long secret", NOW + timedelta(hours=2))
    assert used.value.reason == "used"


def test_links_expire_are_unknown_when_made_up_and_a_new_one_voids_the_old(sessions, org):
    with sessions() as s, s.begin():
        first = _token(invitations.issue(s, "root", "zhao", NOW, BASE).link)
    with sessions() as s, s.begin():
        second = invitations.issue(s, "root", "zhao", NOW, BASE)
    assert second.emailed_to is None  # no address: the admin passes it on
    with sessions() as s:
        assert s.scalars(select(OutboxMessage)).all() == []
        for token, when, reason in ((first, NOW, "unknown"), ("made-up", NOW, "unknown"),
                                    (_token(second.link), NOW + timedelta(days=7), "expired")):
            with pytest.raises(invitations.LinkError) as refused:
                invitations.look_up(s, token, when)
            assert refused.value.reason == reason
        assert invitations.look_up(s, _token(second.link), NOW + timedelta(days=6))[1].username == "zhao"


def test_a_weak_password_leaves_the_link_usable(sessions, org):
    with sessions() as s, s.begin():
        token = _token(invitations.issue(s, "root", "zhao", NOW, BASE).link)
    with pytest.raises(accounts.WeakPasswordError), sessions() as s, s.begin():
        invitations.redeem(s, token, "short", NOW)
    with sessions() as s, s.begin():
        invitations.redeem(s, token, "a new long secret", NOW)


def test_a_reset_link_ends_every_session_of_the_person(sessions, org):
    with sessions() as s, s.begin():
        cookie = user_sessions.start(s, org["boss"], NOW)
    with sessions() as s, s.begin():
        issued = invitations.issue(s, None, "boss", NOW, BASE)  # the command line
    assert issued.purpose == "reset" and issued.expires_at == NOW + timedelta(days=1)
    with sessions() as s:
        assert user_sessions.load(s, cookie, NOW) is not None  # issuing alone changes nothing
    with sessions() as s, s.begin():
        invitations.redeem(s, _token(issued.link), "a new long secret", NOW)
    with sessions() as s:
        assert user_sessions.load(s, cookie, NOW) is None
        assert accounts.authenticate(s, "boss", "a new long secret", NOW).id == org["boss"]


@pytest.mark.parametrize(("actor", "target", "allowed"), [
    ("root", "zhao", True), ("root", "li", True), ("li", "wang", True), ("boss", "wang", True),
    ("li", "zhao", False),  # finance is not li's
    ("li", "boss", False),  # boss is an admin: only a super admin resets an admin's password
    ("boss", "li", False), ("wang", "zhao", False), ("li", "root", False),
])
def test_who_may_issue_links(sessions, org, actor, target, allowed):
    with sessions() as s, s.begin():
        if allowed:
            assert invitations.issue(s, actor, target, NOW, BASE).username == target
        else:
            with pytest.raises(NotPermittedError):
                invitations.issue(s, actor, target, NOW, BASE)


def test_deactivated_people_get_no_link_and_their_sessions_end(sessions, org):
    with sessions() as s, s.begin():
        cookie = user_sessions.start(s, org["wang"], NOW)
        token = _token(invitations.issue(s, "li", "wang", NOW, BASE).link)
    with pytest.raises(people_admin.PeopleAdminError), sessions() as s, s.begin():
        people_admin.set_active(s, "li", "li", False, NOW)  # not oneself
    with sessions() as s, s.begin():
        people_admin.set_active(s, "li", "wang", False, NOW)
    with sessions() as s:
        assert user_sessions.load(s, cookie, NOW) is None
        with pytest.raises(invitations.LinkError):
            invitations.look_up(s, token, NOW)
        with pytest.raises(accounts.AccountInactiveError):
            invitations.issue(s, "li", "wang", NOW, BASE)
    with sessions() as s, s.begin():
        people_admin.set_active(s, "li", "wang", True, NOW)
        assert s.get(Person, org["wang"]).active


def test_the_people_list_is_scoped_and_shows_department_manager_and_sign_in(sessions, org):
    with sessions() as s, s.begin():
        people_admin.set_manager(s, "li", "wang", "boss", NOW)
        user_sessions.start(s, org["boss"], NOW)
    with sessions() as s:
        everyone, more = people_admin.list_people(s, "root")
        mine, _more = people_admin.list_people(s, "li")
        page_two, _more = people_admin.list_people(s, "root", "", 2, 2)
        found, _more = people_admin.list_people(s, "root", "王")
    assert {r.username for r in everyone} == {"root", "li", "wang", "boss", "zhao"} and not more
    assert {r.username for r in mine} == {"li", "wang", "boss"}
    assert len(page_two) == 2 and [r.username for r in found] == ["wang"]
    wang = found[0]
    assert (wang.department, wang.manager, wang.manager_label("zh"), wang.has_password) == ("华东销售", "boss", "老板", False)
    assert next(r for r in everyone if r.username == "boss").last_sign_in_at == NOW
    with sessions() as s, pytest.raises(NotFoundError):
        people_admin.get_person(s, "li", org["zhao"])


def test_moving_and_managers_stay_inside_the_admins_scope_and_make_no_loops(sessions, org):
    with sessions() as s, s.begin():
        people_admin.move_department(s, "li", "wang", "sales", NOW)
        assert s.get(Person, org["wang"]).department_id == org["sales"]
    for code in ("finance", "", "company"):
        with pytest.raises(NotPermittedError), sessions() as s, s.begin():
            people_admin.move_department(s, "li", "wang", code, NOW)
    with pytest.raises(NotFoundError), sessions() as s, s.begin():
        people_admin.move_department(s, "root", "wang", "nowhere", NOW)
    with sessions() as s, s.begin():
        people_admin.move_department(s, "root", "wang", "finance", NOW)
        people_admin.set_manager(s, "root", "boss", "wang", NOW)
    for manager, code in (("boss", "manager_loop"), ("wang", "manager_loop"), ("nobody", "no_manager")):
        with pytest.raises(people_admin.PeopleAdminError) as refused, sessions() as s, s.begin():
            people_admin.set_manager(s, "root", "wang", manager, NOW)
        assert refused.value.code == code
    with sessions() as s, s.begin():
        people_admin.set_manager(s, "root", "boss", "", NOW)
        assert s.get(Person, org["boss"]).manager_id is None
