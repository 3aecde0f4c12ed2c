"""No username or role key may start with `ext:` (outsiders' identities and task groups do), nor be `system`."""

from __future__ import annotations

import pytest

from engine.external import identity
from engine.people import accounts, roles
from engine.people.org_import import OrgTable, plan_import
from engine.results import EXTERNAL_PREFIX


def test_identity_prefix_is_the_shared_constant():
    assert identity.PREFIX == EXTERNAL_PREFIX == "ext:"
    assert identity.reserved(" EXT:supplier") and not identity.reserved("extra")


def test_an_account_cannot_take_an_external_username(sessions):
    with sessions() as session, pytest.raises(accounts.AccountError) as refused:
        accounts.create_admin(session, "Ext:contact:1", "a long enough passphrase 42", "Eve")
    assert "ext:" in str(refused.value) and refused.value.args[0].msgid.startswith("a username may not")


def test_org_import_refuses_external_usernames_and_role_keys(sessions):
    rows = OrgTable.from_records([{"username": "ext:grant:9", "name": "Eve"},
                                  {"username": "bob", "name": "Bob", "roles": "ext:supplier, buyer"}], "p.csv")
    with sessions() as session:
        plan = plan_import(session, rows)
    errors = [str(e) for e in plan.errors]
    assert any(e.startswith("2: username `ext:grant:9` may not start with `ext:`") for e in errors)
    assert any(e.startswith("3: role `ext:supplier` may not start with `ext:`") for e in errors)
    assert "ext:supplier" not in plan.new_roles


def test_a_role_key_cannot_be_an_external_group(sessions):
    with sessions() as session, session.begin():
        admin = accounts.create_admin(session, "root", "a long enough passphrase 42", "Root")
        user = accounts.SessionUser(admin.id, "root", "Root", "en", (), True, (), 1)
        with pytest.raises(roles.RoleError) as refused:
            roles.create_role(session, user, "ext:visitor", "访客")
    assert refused.value.code == "bad_key_prefix"


def test_no_account_may_be_the_engines_own_actor(sessions):
    """A task decided on timeout is completed as `system`: a person of that name would be credited with it
    (and see every such instance), so neither an account nor the org import may take the name."""
    with sessions() as session, pytest.raises(accounts.AccountError) as refused:
        accounts.create_person_account(session, "System", "Sys")
    assert str(refused.value) == "the username `System` is kept for the engine's own actions"
    rows = OrgTable.from_records([{"username": "system", "name": "Sys"}, {"username": "bob", "name": "Bob"}], "p.csv")
    with sessions() as session:
        plan = plan_import(session, rows)
    assert [str(e) for e in plan.errors] == ["2: the username `system` is kept for the engine's own actions"]
