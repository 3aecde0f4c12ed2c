"""Every write to the people directory bumps `directory_version`, which keys the steps' look-up cache."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from engine import runtime
from engine.data.models import Notification, utcnow
from engine.people import org
from engine.people.accounts import create_person_account
from tests.engine.conftest import flow, write_package

# per table: a row to insert, an update and a delete of it (people 1 and 2 exist, role 1 too)
WRITES = {
    "person": ("INSERT INTO person (id, username, name, sort_key, active, session_version, failed_logins, created_at, "
               "updated_at) VALUES (9, 'zz', 'Z', 'z', true, 1, 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
               "UPDATE person SET name = 'Y' WHERE id = 9",
               "DELETE FROM person WHERE id = 9"),
    "role": ("INSERT INTO role (id, key, name) VALUES (9, 'r9', 'R')", "UPDATE role SET name = 'S' WHERE id = 9",
             "DELETE FROM role WHERE id = 9"),
    "person_role": ("INSERT INTO person_role (person_id, role_id) VALUES (1, 1)",
                    "UPDATE person_role SET role_id = 1 WHERE person_id = 1",
                    "DELETE FROM person_role WHERE person_id = 1"),
    "notification_preference": (
        "INSERT INTO notification_preference (username, channel, event, enabled) VALUES ('aa', 'inapp', '*', false)",
        "UPDATE notification_preference SET enabled = true WHERE username = 'aa'",
        "DELETE FROM notification_preference WHERE username = 'aa'"),
    "out_of_office": (
        "INSERT INTO out_of_office (id, person_id, deputy_id, starts_at, ends_at) "
        "VALUES (9, 1, 2, '2030-01-01 00:00:00', '2030-01-02 00:00:00')",
        "UPDATE out_of_office SET deputy_id = 2 WHERE id = 9", "DELETE FROM out_of_office WHERE id = 9"),
}


def _version(session) -> int:
    return session.execute(text("SELECT version FROM directory_version WHERE id = 1")).scalar_one()


@pytest.mark.parametrize("table", sorted(WRITES))
def test_insert_update_and_delete_bump_the_directory_version(sessions, table):
    with sessions() as session, session.begin():
        for username in ("aa", "bb"):
            create_person_account(session, username, username.upper())
        session.execute(text("INSERT INTO role (id, key, name) VALUES (1, 'r1', 'R1')"))
    for statement in WRITES[table]:
        with sessions() as session, session.begin():
            before = _version(session)
            assert session.execute(text(statement)).rowcount == 1
        with sessions() as session:
            assert _version(session) > before, statement


def test_a_sign_in_does_not_bump_the_directory_version(sessions):
    with sessions() as session, session.begin():
        create_person_account(session, "aa", "AA")
    with sessions() as session, session.begin():
        before = _version(session)
        session.execute(text("UPDATE person SET failed_logins = failed_logins + 1, session_version = 2"))
    with sessions() as session:
        assert _version(session) == before


def test_a_step_after_a_directory_change_sees_it(sessions, deploy_package, tmp_path):
    body = "\n".join(['<bpmn:startEvent id="start"/>', flow("start", "a"),
                      '<bpmn:userTask id="a" liaison:assignee="li"/>', flow("a", "b"),
                      '<bpmn:userTask id="b" liaison:assignee="li"/>', flow("b", "c"),
                      '<bpmn:userTask id="c" liaison:assignee="li"/>', flow("c", "end"), '<bpmn:endEvent id="end"/>'])
    deploy_package(write_package(tmp_path, "three", {"three": body}))
    with sessions() as session, session.begin():
        for username in ("li", "wang"):
            create_person_account(session, username, username.title())
    started = runtime.start_instance(sessions, "three", {}, user="zhang")
    second = runtime.complete_task(sessions, started.open_tasks[0]["id"], "li", {})  # the look-up is cached now
    with sessions() as session, session.begin():
        session.execute(text("INSERT INTO notification_preference (username, channel, event, enabled) "
                             "VALUES ('li', 'inapp', '*', false)"))
        org.set_out_of_office(session, "li", "wang", utcnow() - timedelta(hours=1), utcnow() + timedelta(days=1))
    third = runtime.complete_task(sessions, second.open_tasks[0]["id"], "li", {})
    assert third.open_tasks[0]["assignee"] == "wang"
    with sessions() as session:
        told = [r.recipient for r in session.query(Notification).order_by(Notification.id)]
    assert told == ["li", "li", "wang"]
