"""`liaison create-admin`: a super admin from the command line, weak passwords and taken names refused."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.data.models import Person
from engine.people import accounts
from tests.cli import runner


def create_admin(url, *args, stdin):
    return runner.run(["create-admin", *args], env={"LIAISON_DATABASE_URL": url}, stdin=stdin)


def test_create_admin_reads_the_password_from_stdin(database_url, sessions):
    done = create_admin(database_url, "--username", "root", "--name", "管理员", "--password-stdin",
                        stdin="correct horse battery\n")
    assert done.returncode == 0, done.stderr
    assert "root" in done.stdout
    with sessions() as session:
        person = session.query(Person).filter_by(username="root").one()
        assert accounts.load_session_user(session, person.id).is_super_admin
        assert accounts.authenticate(session, "root", "correct horse battery", datetime.now(UTC)).id == person.id


def test_create_admin_prompts_twice_for_the_password(database_url):
    done = create_admin(database_url, "--username", "root", "--name", "Root",
                        stdin="correct horse battery\ncorrect horse battery\n")
    assert done.returncode == 0, done.stderr
    assert "Repeat for confirmation" in done.stdout + done.stderr


def test_create_admin_refuses_a_weak_password_and_a_taken_username(database_url):
    weak = create_admin(database_url, "--username", "root", "--name", "Root", "--password-stdin",
                        stdin="123456\n")
    assert weak.returncode == 1 and "at least 10 characters" in weak.stderr
    assert "Traceback" not in weak.stderr
    create_admin(database_url, "--username", "root", "--name", "Root", "--password-stdin",
                 stdin="correct horse battery\n")
    taken = create_admin(database_url, "--username", "root", "--name", "Root", "--password-stdin",
                         stdin="another long password\n")
    assert taken.returncode == 1 and "`root` is taken" in taken.stderr


def test_people_invite_prints_a_one_time_link_and_refuses_unknown_names(database_url, sessions):
    """Issue 11 item 15: `liaison people invite USERNAME` for someone the org import brought in."""
    import json

    with sessions() as session, session.begin():
        accounts.create_person_account(session, "wang", "王五", email="wang@example.com")
    env = {"LIAISON_DATABASE_URL": database_url, "LIAISON_BASE_URL": "https://wf.example.com"}
    done = runner.run(["people", "invite", "wang", "--json"], env=env)
    assert done.returncode == 0, done.stderr
    issued = json.loads(done.stdout)
    assert issued["purpose"] == "invite" and issued["emailed_to"] == "wang@example.com"
    assert issued["link"].startswith("https://wf.example.com/account/password/")
    from engine.people import invitations
    with sessions() as session, session.begin():
        invitations.redeem(session, issued["link"].rsplit("/", 1)[1], "a long new secret", datetime.now(UTC))
    with sessions() as session:
        assert accounts.authenticate(session, "wang", "a long new secret", datetime.now(UTC)).username == "wang"
    unknown = runner.run(["people", "invite", "nobody"], env=env)
    assert unknown.returncode == 1 and unknown.stderr.strip() == "error: Nobody has the username nobody."
