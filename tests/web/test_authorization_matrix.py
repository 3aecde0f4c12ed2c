"""Who may open what: every role against every page, and every form post refused without a CSRF token.

One app and one SQLite database for the whole module (authorization does not depend on the database;
the other web tests run on both): zhang starts a leave request naming li as manager. wang is an
employee involved in nothing; li is the manager and the sales department's admin; root a super admin.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from flask import url_for

from engine.bpmn.serialization import SPEC_CACHE
from engine.data import db
from engine.packages import deployment as packages
from engine.people import accounts
from engine.runtime import LIVE_WORKFLOWS
from engine.work import queries
from web import create_app

from .conftest import PASSWORD, create_people, csrf_token, post, sign_in

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
ROLES = ("anonymous", "employee", "other employee", "department admin", "super admin")
USERS = {"employee": "zhang", "other employee": "wang", "department admin": "li", "super admin": "root"}
LOGIN = "login"

# endpoint -> expected status per role, in ROLES order; LOGIN: a redirect to the sign-in page
MATRIX = {
    "/inbox/": (LOGIN, 200, 200, 200, 200),
    "/inbox/?view=drafts": (LOGIN, 200, 200, 200, 200),
    "/requests/": (LOGIN, 200, 200, 200, 200),
    "/start": (LOGIN, 200, 200, 200, 200),
    "/start/leave_request": (LOGIN, 200, 200, 200, 200),
    "/tasks/{task}": (LOGIN, 200, 404, 200, 200),
    "/instances/{instance}": (LOGIN, 200, 404, 200, 200),
    "/instances/{instance}/diagram.xml": (LOGIN, 200, 404, 200, 200),
    "/admin/": (LOGIN, 403, 403, 200, 200),
    "/admin/departments": (LOGIN, 403, 403, 200, 200),
    "/admin/org-import": (LOGIN, 403, 403, 403, 200),
    "/admin/processes": (LOGIN, 403, 403, 200, 200),
    "/admin/roles": (LOGIN, 403, 403, 403, 200),
    "/admin/roles/1": (LOGIN, 403, 403, 403, 200),
    "/admin/admins": (LOGIN, 403, 403, 403, 200),
    "/admin/org-import/jobs/999999": (LOGIN, 403, 403, 403, 404),
    "/admin/org-import/progress/999999": (LOGIN, 403, 403, 403, 404),
    "/me/out-of-office": (LOGIN, 200, 200, 200, 200),
    "/notifications": (LOGIN, 200, 200, 200, 200),
    "/notices/": (LOGIN, 200, 200, 200, 200),
    "/notices/1": (LOGIN, 404, 404, 404, 404),
    "/notices/all": (LOGIN, 403, 403, 403, 200),  # no such notice: the same answer as someone else's
    "/me/notifications": (LOGIN, 200, 200, 200, 200),
    "/directory/people?q=z": (LOGIN, 200, 200, 200, 200),
    "/directory/departments?q=s": (LOGIN, 200, 200, 200, 200),
    "/files/" + "0" * 32: (LOGIN, 404, 404, 404, 404),
    "/admin/external/": (LOGIN, 403, 403, 403, 200),
    "/admin/external/access-log": (LOGIN, 403, 403, 403, 200),
    "/admin/external/codes": (LOGIN, 403, 403, 403, 200),
    "/admin/external/blacklist": (LOGIN, 403, 403, 403, 200),
    "/admin/external/import": (LOGIN, 403, 403, 403, 200),
    "/admin/external/parties/999999": (LOGIN, 403, 403, 403, 404),
    "/reception/": (LOGIN, 403, 403, 403, 200),
    "/rooms/": (LOGIN, 200, 200, 200, 200),
    "/rooms/book": (LOGIN, 200, 200, 200, 200),
    "/rooms/mine": (LOGIN, 200, 200, 200, 200),
    "/rooms/mine.ics": (LOGIN, 200, 200, 200, 200),
    "/rooms/nope.ics": (LOGIN, 404, 404, 404, 404),
    "/admin/rooms/": (LOGIN, 403, 403, 403, 200),
    "/admin/rooms/edit": (LOGIN, 403, 403, 403, 200),  # no such upload; others' uploads: tests/web/test_files.py
}
DUMMY_ARGS = {"task_id": "x", "instance_id": 1, "draft_id": 1, "window_id": 1, "key": "leave_request",
              "department_id": 1, "name": "x", "filename": "x", "notification_id": 1,
              "role_id": 1, "grant_id": 1, "job_id": 1, "person_id": 1, "token": "x", "sim": "x", "form": "x",
              "file": "x", "number": 1, "party_id": 1, "contact_id": 1, "entry_id": 1, "booking_id": 1,
              "course_id": 1, "assignment_id": 1, "notice_id": 1, "token_id": 1, "external_id": 1,
              "project_id": 1, "project_task_id": 1, "subscription_id": 1}


@pytest.fixture(scope="module")
def world(tmp_path_factory, sqlite_template):
    """The app, the ids of zhang's request and its manager task, and a signed-in client per role."""
    SPEC_CACHE.clear()
    LIVE_WORKFLOWS.clear()
    folder = tmp_path_factory.mktemp("matrix")
    shutil.copy(sqlite_template, folder / "liaison.db")
    url = f"sqlite:///{folder / 'liaison.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        accounts._dummy_hash.cache_clear()
        engine = db.make_engine(url)
        sessions = db.make_session_factory(engine)
        create_people(sessions)
        with sessions() as session, session.begin():
            accounts.create_person_account(session, "wang", "王五", PASSWORD)
        packages.deploy_package(sessions, packages.load_package(PROCESSES / "leave_request"), "admin")
        app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "test",
                          "LIAISON_UPLOAD_DIR": str(folder / "uploads")})
        clients = {"anonymous": app.test_client()}
        for role, username in USERS.items():
            clients[role] = app.test_client()
            assert sign_in(clients[role], username).status_code == 302
        started = post(clients["employee"], "/start/leave_request",
                       {"leave_type": "annual", "days": "2", "manager": "li", "reason": "事假"})
        instance = int(started.headers["Location"].rsplit("/", 1)[1])
        with sessions() as session:
            task = next(t["id"] for t in queries.instance_view(session, instance)["tasks"] if t["status"] == "open")
        yield {"app": app, "clients": clients, "instance": instance, "task": task}
        accounts._dummy_hash.cache_clear()
        engine.dispose()


@pytest.mark.parametrize("path", MATRIX)
@pytest.mark.parametrize("role", ROLES)
def test_role_sees_only_what_it_may(world, role, path):
    if path.startswith("/me/") and "me.out_of_office" not in world["app"].view_functions:
        pytest.skip("out of office is not built")
    expected = MATRIX[path][ROLES.index(role)]
    response = world["clients"][role].get(path.format(task=world["task"], instance=world["instance"]))
    if expected == LOGIN:
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    else:
        assert response.status_code == expected


# approval operations (engine.operations) posted by every role, with data that changes nothing where the
# post is allowed (an empty target or reason is refused with a flash and a redirect, 302); None: not posted
# (it would end the shared request). zhang is the initiator, li the manager holding the task.
POST_MATRIX = {
    "/tasks/{task}/transfer": ({"to": ""}, (LOGIN, 403, 404, 302, 302)),
    "/instances/{instance}/urge": ({}, (LOGIN, 302, 404, 403, 302)),
    "/instances/{instance}/cc": ({"to": ""}, (LOGIN, 302, 404, 302, 302)),
    "/instances/{instance}/withdraw": ({}, (LOGIN, None, 404, 403, 403)),
    "/instances/{instance}/terminate": ({"reason": ""}, (LOGIN, 403, 404, 403, 302)),
}


@pytest.mark.parametrize("path", POST_MATRIX)
@pytest.mark.parametrize("role", ROLES)
def test_role_may_post_only_the_operations_it_may(world, role, path):
    data, statuses = POST_MATRIX[path]
    expected = statuses[ROLES.index(role)]
    if expected is None:
        pytest.skip("would end the shared request")
    url = path.format(task=world["task"], instance=world["instance"])
    response = post(world["clients"][role], url, data, token_from="/login" if role == "anonymous" else "/password")
    if expected == LOGIN:
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    elif expected == 302:
        assert response.status_code == 302 and "/login" not in response.headers["Location"]
    else:
        assert response.status_code == expected


def _post_rules():
    app = create_app({"DATABASE_URL": "sqlite://", "TESTING": True, "SECRET_KEY": "test"})
    # /api/v1 takes no cookie at all (bearer tokens only, so no CSRF token either): tests/web/api proves a
    # signed-in browser's POST there is a 401 that does nothing.
    return sorted({(rule.rule, rule.endpoint) for rule in app.url_map.iter_rules()
                   if "POST" in rule.methods and not rule.rule.startswith("/api/")})


@pytest.mark.parametrize(("rule", "endpoint"), _post_rules())
def test_every_post_is_refused_without_csrf_token(world, rule, endpoint):
    app = world["app"]
    client = app.test_client()
    assert sign_in(client, "root").status_code == 302
    with app.test_request_context():
        path = url_for(endpoint, **{k: v for k, v in DUMMY_ARGS.items() if f"<{k}>" in rule or f":{k}>" in rule})
    assert client.post(path, data={"task": "x"}).status_code == 400
    assert client.post(path, data={"csrf_token": "forged"}).status_code == 400
    assert csrf_token(client, "/password")  # still signed in: nothing was done
