"""Accounts without a web app: hashing, throttling, password rules, what a session knows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from engine.data.models import AdminGrant, Person, PersonRole, Role
from engine.people import accounts

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


def test_the_lock_lasts_fifteen_minutes_then_five_more_tries_are_allowed(sessions, zhang):
    for _ in range(4):
        with pytest.raises(accounts.InvalidCredentialsError):
            _sign_in(sessions, "wrong password")
    with pytest.raises(accounts.AccountLockedError) as locked:
        _sign_in(sessions, "wrong password")
    assert locked.value.locked_until == NOW + timedelta(minutes=15)
    assert "locked until 2026-11-25 09:15" in str(locked.value)
    with pytest.raises(accounts.AccountLockedError):
        _sign_in(sessions, PASSWORD, NOW + timedelta(minutes=14))
    assert _sign_in(sessions, PASSWORD, NOW + timedelta(minutes=15, seconds=1)).id == zhang
    with sessions() as session:
        person = session.get(Person, zhang)
        assert person.failed_logins == 0 and person.locked_until is None


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
