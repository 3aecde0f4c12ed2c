"""Accounts without a web app: hashing, throttling, password rules, what a session knows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from engine.data.models import AdminGrant, Person, PersonRole, Role
from engine.people import accounts, throttle

PASSWORD = "correct horse battery"
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch):
    monkeypatch.setattr(accounts, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    accounts._dummy_hash.cache_clear()
    yield
    accounts._dummy_hash.cache_clear()


@pytest.fixture
def zhang(sessions):
    with sessions() as session, session.begin():
        return accounts.create_person_account(session, "zhang", "张三", PASSWORD, NOW).id


def _sign_in(sessions, password, now=NOW, username="zhang"):
    with sessions() as session:
        return accounts.authenticate(session, username, password, now)


def test_passwords_are_stored_as_argon2id_hashes(sessions, zhang):
    with sessions() as session:
        stored = session.get(Person, zhang).password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert _sign_in(sessions, PASSWORD).id == zhang


def test_a_hash_with_old_parameters_is_replaced_at_the_next_sign_in(sessions, zhang, monkeypatch):
    with sessions() as session:
        old = session.get(Person, zhang).password_hash
    monkeypatch.setattr(accounts, "HASHER", PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1))
    _sign_in(sessions, PASSWORD)
    with sessions() as session:
        new = session.get(Person, zhang).password_hash
    assert new != old and "m=2048,t=2" in new
    assert _sign_in(sessions, PASSWORD).id == zhang


def test_an_unknown_username_costs_a_hash_verification_too(sessions, zhang, monkeypatch):
    calls = []

    class SpyHasher(PasswordHasher):
        def verify(self, hash, password):
            calls.append(hash)
            return super().verify(hash, password)

    monkeypatch.setattr(accounts, "HASHER", SpyHasher(time_cost=1, memory_cost=1024, parallelism=1))
    with pytest.raises(accounts.InvalidCredentialsError):
        _sign_in(sessions, PASSWORD, username="nobody")
    assert len(calls) == 1 and calls[0].startswith("$argon2id$")


def _outcome(sessions, username, password, now, client):
    try:
        with sessions() as session:
            accounts.authenticate(session, username, password, now, client=client)
    except accounts.SignInThrottledError as exc:
        return ("throttled", exc.retry_after, str(exc))
    except accounts.InvalidCredentialsError as exc:
        return ("wrong", None, str(exc))
    return ("ok", None, "")


def test_known_and_unknown_names_get_the_same_answers_and_nobody_is_locked_out(sessions, zhang):
    """Issue 11 item 7: the same sequence of answers for zhang and for a name nobody has; no hard lock."""
    for name in ("zhang", "nobody"):
        answers = [_outcome(sessions, name, "wrong password", NOW, "10.0.0.9") for _ in range(6)]
        answers.append(_outcome(sessions, name, "wrong password", NOW + timedelta(seconds=1), "10.0.0.9"))
        assert answers == [("wrong", None, "wrong username or password")] * 5 + [
            ("throttled", 1, "too many failed sign-ins: try again in 1 seconds"),
            ("wrong", None, "wrong username or password")]  # 1 s later: one more try, and no lock
    # the owner, from another client, gets in at once
    assert _outcome(sessions, "zhang", PASSWORD, NOW + timedelta(seconds=1), "10.0.0.1")[0] == "ok"


def test_repeated_failures_from_one_client_back_off_exponentially(sessions, zhang):
    now, waits = NOW, []
    for _ in range(9):
        outcome = _outcome(sessions, "zhang", "wrong password", now, "10.0.0.9")
        assert outcome[0] == "wrong"
        with sessions() as session:
            until = throttle.blocked_until(session, "zhang", "10.0.0.9", now)
        waits.append(int((until - now).total_seconds()) if until else 0)
        now = until or now + timedelta(seconds=1)
    assert waits == [0, 0, 0, 0, 1, 2, 4, 8, 16]
    # even the right password waits from that client; afterwards it gets in and the count starts over
    assert _outcome(sessions, "zhang", PASSWORD, now - timedelta(seconds=1), "10.0.0.9")[0] == "throttled"
    assert _outcome(sessions, "zhang", PASSWORD, now, "10.0.0.9")[0] == "ok"
    assert _outcome(sessions, "zhang", "wrong password", now, "10.0.0.9")[0] == "wrong"
    with sessions() as session:
        assert throttle.blocked_until(session, "zhang", "10.0.0.9", now) is None


def test_one_client_trying_many_names_is_slowed(sessions, zhang):
    for i in range(throttle.CLIENT_FREE):
        assert _outcome(sessions, f"name{i}", "wrong password", NOW, "10.0.0.9")[0] == "wrong"
    assert _outcome(sessions, "zhang", PASSWORD, NOW, "10.0.0.9")[0] == "throttled"
    assert _outcome(sessions, "zhang", PASSWORD, NOW, "10.0.0.1")[0] == "ok"


def test_guesses_spread_over_many_clients_wait_at_most_a_minute(sessions, zhang):
    now = NOW
    for i in range(40):  # one guess from each of 40 addresses, each as soon as it is allowed
        outcome = _outcome(sessions, "zhang", "wrong password", now, f"10.1.0.{i}")
        if outcome[0] == "throttled":
            assert outcome[1] <= 60
            now += timedelta(seconds=outcome[1])
    with sessions() as session:
        until = throttle.blocked_until(session, "zhang", "10.2.0.1", now)
    assert until is not None and until - now <= timedelta(seconds=60)
    assert _outcome(sessions, "zhang", PASSWORD, until, "10.2.0.1")[0] == "ok"


def test_a_person_without_a_password_cannot_sign_in(sessions):
    with sessions() as session, session.begin():
        accounts.create_person_account(session, "wang", "王五")
    with pytest.raises(accounts.InvalidCredentialsError):
        _sign_in(sessions, "", username="wang")


def test_an_inactive_person_is_told_so_only_with_the_right_password(sessions, zhang):
    with sessions() as session, session.begin():
        session.get(Person, zhang).active = False
    with pytest.raises(accounts.InvalidCredentialsError):
        _sign_in(sessions, "wrong password")
    with pytest.raises(accounts.AccountInactiveError):
        _sign_in(sessions, PASSWORD)


@pytest.mark.parametrize(("password", "reason"), [
    ("short", "too_short"), ("1234567890", "too_common"), ("Password123", "too_common"),
    ("aaaaaaaaaaaa", "too_common"), ("superadmin", "is_username"),
])
def test_create_admin_refuses_weak_passwords(sessions, password, reason):
    with sessions() as session, pytest.raises(accounts.WeakPasswordError) as refused:
        accounts.create_admin(session, "superadmin", password, "Admin")
    assert refused.value.reason == reason


def test_create_admin_makes_a_super_admin_and_refuses_a_taken_username(sessions):
    with sessions() as session, session.begin():
        admin = accounts.create_admin(session, "root", PASSWORD, "管理员", NOW)
    with sessions() as session:
        user = accounts.load_session_user(session, admin.id)
    assert user.is_super_admin and user.is_admin and user.admin_department_ids == ()
    with sessions() as session, pytest.raises(accounts.DuplicateUsernameError):
        accounts.create_admin(session, "root", PASSWORD, "Another")


def test_changing_the_password_checks_the_old_one_and_raises_the_session_version(sessions, zhang):
    new = "a much longer secret"
    with sessions() as session, pytest.raises(accounts.InvalidCredentialsError):
        accounts.change_password(session, zhang, "wrong password", new, NOW)
    with sessions() as session, session.begin():
        person = accounts.change_password(session, zhang, PASSWORD, new, NOW)
    assert person.session_version == 2 and person.password_changed_at == NOW
    with pytest.raises(accounts.InvalidCredentialsError):
        _sign_in(sessions, PASSWORD)
    assert _sign_in(sessions, new).id == zhang


def test_sign_out_everywhere_raises_the_session_version(sessions, zhang):
    with sessions() as session, session.begin():
        assert accounts.sign_out_everywhere(session, zhang) == 2
    with sessions() as session:
        assert accounts.load_session_user(session, zhang).session_version == 2


def test_the_session_user_knows_groups_and_admin_departments(sessions, zhang):
    from engine.data.models import Department
    with sessions() as session, session.begin():
        sales = Department(code="sales", name="销售部", path="/")
        session.add_all([sales, Role(key="finance", name="财务"), Role(key="hr", name="人事")])
        session.flush()
        sales.path = f"/{sales.id}/"
        roles = session.query(Role).all()
        session.add_all([PersonRole(person_id=zhang, role_id=r.id) for r in roles])
        session.add(AdminGrant(person_id=zhang, department_id=sales.id))
        session.get(Person, zhang).locale = "en"
    with sessions() as session:
        user = accounts.load_session_user(session, zhang)
        assert accounts.administers_department(session, user, sales.id)
    assert user == accounts.SessionUser(
        person_id=zhang, username="zhang", name="张三", locale="en", groups=("finance", "hr"),
        is_super_admin=False, admin_department_ids=(sales.id,), session_version=1)
    assert user.is_admin


def test_set_locale_accepts_only_known_languages(sessions, zhang):
    with sessions() as session, pytest.raises(accounts.AccountError):
        accounts.set_locale(session, zhang, "fr")
