"""The SQL statements of the hot requests on PostgreSQL, counted with a `before_cursor_execute` listener
(a transaction that is not in autocommit counts as one more, for its BEGIN / COMMIT round trips):
a change that adds a round trip to a completion (web form or REST API), a start, the inbox or a task
page fails here. Each request is counted after one warm-up of the same kind (per-process caches full,
as in a running server). Issue 12: at most 3 round trips per completion.

When a change really needs one more statement, raise the budget here and say why in its comment;
when a change saves one, lower it.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from engine.data.models import PersonRole, Role, WorkTask
from engine.packages import deployment as packages
from engine.people import accounts, api_tokens
from web import create_app

from .conftest import PASSWORD, csrf_token, sign_in

PROCESSES = Path(__file__).resolve().parents[2] / "processes"

# A web-form completion (POST /tasks/<id>), all in autocommit: 1 the session row with the person's state and the
# directory's version (the person's groups and grants are kept per version), and along with it in the same
# statement the task with its instance, version checksum, process data, engine state and lock fields (the
# form schema is cached per version; `auth.READ_ALONG`); 2 the step's one `liaison_save_step` call (every
# write and the notifications' rows).
COMPLETION_BUDGET = 2
# The REST API's complete: 1 the token with the directory's version, 2 the task handle, 3 the save call.
API_COMPLETION_BUDGET = 3
# A start through the start form (POST /start/<key>): the session (with the directory's version); the latest
# version's id and checksum (its start form and starters from the per-version caches; the engine starts that
# version, no second look-up); the person's department chain (groups and grants come with the signed-in
# person); the form's user field; the new task's people; the save call: 6 statements. The step's recipients
# and webhooks come from the look-up kept per directory version (the start hands the version over), and the
# after-start hooks answer from per-version caches for a process without passes, bookings, a party or a notice.
START_BUDGET = 6
# The inbox's first page (GET /inbox/), all in autocommit: the session, the page of tasks, its element names'
# version checksums, the initiators' names, the counts, the summaries' instances and values (their fields
# cached per version), the header's unread count; the designer link is kept with the signed-in person: 9.
INBOX_BUDGET = 9
# A task page (GET /tasks/<id>) with its form, timeline, diagram data and the operations on offer: 22
# statements, all in autocommit. The page runs in one read scope (`caching.read_scope`): the task handle,
# the instance's facts, its history and the viewer's grants are read once however many engine rules ask;
# its read session keeps what it loaded (`db.make_read_session_factory`), so the instance and version rows
# are read once too. What remains: the session; the task with its data; the instance view (instance,
# version, tasks, history, element names, outcome, data); the diagram (open elements, path); the start
# form's process names; people's names (two lists); the handle; the instance's facts; the signers; the
# super admin grant; the take-back candidate and the history; the header's two counts.
TASK_PAGE_BUDGET = 22
# An instance page (GET /instances/<id>), as the task page in one read scope and autocommit: the session; the
# visibility rule (2); the unread copy; the instance view (7), the diagram (2), the start form's names, people's
# names (2), the instance's facts, the expected finish, the take-back candidate and the history, the header's
# two counts, the external tasks: 23.
INSTANCE_PAGE_BUDGET = 23

START = {"leave_type": "annual", "days": "2", "manager": "li", "reason": "bench"}
APPROVE = {"approved": "true", "manager_comment": "ok", "task-comment": ""}


@contextmanager
def counted():
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    def begin(conn):  # a real transaction is a BEGIN and a COMMIT / ROLLBACK: one more round trip each
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            statements.append("BEGIN (and its COMMIT / ROLLBACK)")

    event.listen(Engine, "before_cursor_execute", count)
    event.listen(Engine, "begin", begin)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", count)
        event.remove(Engine, "begin", begin)


@pytest.fixture
def world(postgres_url, tmp_path):
    """zhang (employee), li (her manager), hu (HR) on PostgreSQL; the shipped leave request deployed."""
    from engine.data import db
    engine = db.make_engine(postgres_url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        for username, name in (("zhang", "张三"), ("li", "李四"), ("hu", "胡雪")):
            accounts.create_person_account(session, username, name, PASSWORD)
        hr = Role(key="hr", name="人事")
        session.add(hr)
        session.flush()
        hu = session.scalar(select(accounts.Person.id).where(accounts.Person.username == "hu"))
        session.add(PersonRole(person_id=hu, role_id=hr.id))
    packages.deploy_package(sessions, packages.load_package(PROCESSES / "leave_request"), "zhang")
    app = create_app({"DATABASE_URL": postgres_url, "TESTING": True, "SECRET_KEY": "test",
                      "LIAISON_UPLOAD_DIR": str(tmp_path / "uploads")})
    clients = {}
    for username in ("zhang", "li"):
        client = app.test_client()
        assert sign_in(client, username).status_code == 302
        clients[username] = (client, csrf_token(client, "/password"))
    yield app, sessions, clients
    engine.dispose()


def _start(clients) -> None:
    client, token = clients["zhang"]
    response = client.post("/start/leave_request", data={**START, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)


def _open_tasks(sessions) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(WorkTask.id).where(WorkTask.status == "open", WorkTask.assignee == "li")
                                    .order_by(WorkTask.id)))


def _complete(clients, task_id: str) -> None:
    client, token = clients["li"]
    response = client.post(f"/tasks/{task_id}", data={**APPROVE, "csrf_token": token})
    assert response.status_code == 302 and "/inbox" in response.headers["Location"], response.get_data(as_text=True)


def test_web_form_completion_within_budget(world):
    _app, sessions, clients = world
    for _ in range(3):
        _start(clients)
    first, second, _third = _open_tasks(sessions)
    _complete(clients, first)  # warm: the person, the form and the spec of the version
    with counted() as statements:
        _complete(clients, second)
    assert len(statements) <= COMPLETION_BUDGET, "\n".join(statements)
    with sessions() as session:  # it did complete, and the next task (HR's) is there
        assert session.scalar(select(WorkTask.status).where(WorkTask.id == second)) == "completed"
        assert session.scalar(select(WorkTask.id).where(WorkTask.candidate_groups.isnot(None),
                                                        WorkTask.status == "open").limit(1)) is not None


def test_web_form_completion_within_budget_in_another_worker(world):
    """The workflow was saved by another process (gunicorn has several workers): the task read brings the
    engine state along, so the step restores it without a read of its own, and the data it saves is
    what the state was read with."""
    from engine.runtime import LIVE_WORKFLOWS
    _app, sessions, clients = world
    for _ in range(3):
        _start(clients)
    first, second, _third = _open_tasks(sessions)
    _complete(clients, first)  # warm: the person, the form and the spec of the version
    LIVE_WORKFLOWS.clear()  # as if the starts ran in the other worker
    with counted() as statements:
        _complete(clients, second)
    assert len(statements) <= COMPLETION_BUDGET, "\n".join(statements)
    with sessions() as session:
        assert session.scalar(select(WorkTask.status).where(WorkTask.id == second)) == "completed"
        instance = session.scalar(select(WorkTask.instance_id).where(WorkTask.id == second))
        hr = session.scalar(select(WorkTask.id).where(WorkTask.instance_id == instance, WorkTask.status == "open"))
        assert hr is not None  # the step ran on from the restored state: HR's task is open
    from engine.data import store
    with sessions() as session:
        data = store.read_process_data(session, instance)
    assert data["approved"] is True and data["days"] == 2 and data["manager"] == "li", data


def test_api_completion_within_budget(world):
    app, sessions, clients = world
    for _ in range(2):
        _start(clients)
    with sessions() as session:
        _info, secret = api_tokens.create_token(session, "li", "budget", list(api_tokens.SCOPES))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    body = {"action": "approve", "data": {"manager_comment": "ok"}}
    first, second = _open_tasks(sessions)
    assert client.post(f"/api/v1/tasks/{first}/complete", json=body, headers=headers).status_code == 200
    with counted() as statements:
        response = client.post(f"/api/v1/tasks/{second}/complete", json=body, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(statements) <= API_COMPLETION_BUDGET, "\n".join(statements)


def test_start_inbox_and_task_page_within_budget(world):
    _app, sessions, clients = world
    _start(clients)
    with counted() as statements:
        _start(clients)
    assert len(statements) <= START_BUDGET, "\n".join(statements)
    li, _token = clients["li"]
    assert li.get("/inbox/").status_code == 200
    with counted() as statements:
        assert li.get("/inbox/").status_code == 200
    assert len(statements) <= INBOX_BUDGET, "\n".join(statements)
    task_id = _open_tasks(sessions)[0]
    assert li.get(f"/tasks/{task_id}").status_code == 200
    with counted() as statements:
        page = li.get(f"/tasks/{task_id}")
    assert page.status_code == 200 and 'name="approved"' in page.get_data(as_text=True)
    assert len(statements) <= TASK_PAGE_BUDGET, "\n".join(statements)
    with sessions() as session:
        instance_id = session.scalar(select(WorkTask.instance_id).where(WorkTask.id == task_id))
    assert li.get(f"/instances/{instance_id}").status_code == 200
    with counted() as statements:
        page = li.get(f"/instances/{instance_id}")
    assert page.status_code == 200, page.get_data(as_text=True)
    assert len(statements) <= INSTANCE_PAGE_BUDGET, "\n".join(statements)


def test_someone_else_still_refused_and_a_directory_change_seen_at_once(world):
    """The kept person and the one-read task must not weaken a check: zhang may not complete li's task
    (nothing saved), li may not take HR's task, and once li joins HR she may, on her very next request."""
    _app, sessions, clients = world
    _start(clients)
    (task_id,) = _open_tasks(sessions)
    zhang, token = clients["zhang"]
    assert zhang.post(f"/tasks/{task_id}", data={**APPROVE, "csrf_token": token}).status_code in (403, 404)
    assert _open_tasks(sessions) == [task_id]
    _complete(clients, task_id)
    with sessions() as session:
        hr_task = session.scalar(select(WorkTask.id).where(WorkTask.status == "open"))
    li, li_token = clients["li"]
    record = {"recorded": "true", "task-comment": "", "csrf_token": li_token}
    assert li.post(f"/tasks/{hr_task}", data=record).status_code in (403, 404)
    with sessions() as session, session.begin():  # li joins HR: HR's tasks become hers to take
        hr = session.scalar(select(Role.id).where(Role.key == "hr"))
        li_id = session.scalar(select(accounts.Person.id).where(accounts.Person.username == "li"))
        session.add(PersonRole(person_id=li_id, role_id=hr))
    assert li.post(f"/tasks/{hr_task}", data=record).status_code == 302
    with sessions() as session:
        assert session.scalar(select(WorkTask.status).where(WorkTask.id == hr_task)) == "completed"


def test_completion_read_along_the_session_needs_a_live_session(world):
    """The task is read with the session check, but a signed-out (revoked) session still completes nothing:
    the POST goes to the sign-in page, and the task stays open."""
    _app, sessions, clients = world
    _start(clients)
    (task_id,) = _open_tasks(sessions)
    li, token = clients["li"]
    cookie = li.get_cookie("liaison_session").value  # the browser's cookie, kept past the sign-out
    assert li.post("/logout", data={"csrf_token": token}).status_code == 302  # revokes the session row
    li.set_cookie("liaison_session", cookie)
    response = li.post(f"/tasks/{task_id}", data={**APPROVE, "csrf_token": token})
    assert response.status_code == 302 and "/login" in response.headers["Location"], response.headers
    with sessions() as session:
        assert session.scalar(select(WorkTask.status).where(WorkTask.id == task_id)) == "open"
    assert sign_in(li, "li").status_code == 302  # signed in again: the same POST completes it
    _complete((clients | {"li": (li, csrf_token(li, "/password"))}), task_id)
    with sessions() as session:
        assert session.scalar(select(WorkTask.status).where(WorkTask.id == task_id)) == "completed"
