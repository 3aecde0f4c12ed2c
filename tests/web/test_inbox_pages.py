"""The inbox and my-requests pages: the user's own items only, filters, claim, CSV."""

from __future__ import annotations

from sqlalchemy import select

from engine import runtime
from engine.data.models import WorkTask
from engine.packages import deployment as packages
from engine.runtime import operations
from tests.conftest import FIXTURES

from .conftest import post, sign_in

ORDER_REVIEW = FIXTURES / "packages" / "order_review"


def _orders(sessions):
    packages.deploy_package(sessions, packages.load_package(ORDER_REVIEW), "admin")
    mine = runtime.start_instance(sessions, "order_review", {"item": "desk", "amount": 20}, user="zhang")
    other = runtime.start_instance(sessions, "order_review", {"item": "lamp", "amount": 30}, user="li")
    return mine, other


def test_inbox_lists_offered_tasks_and_claiming_takes_one(app, people, sessions):
    _orders(sessions)
    client = app.test_client()
    sign_in(client, "zhang")                                  # zhang holds the finance role
    page = client.get("/inbox/").get_data(as_text=True)
    assert page.count('data-task="') == 2   # both orders' finance checks, offered to the finance role
    task_id = page.split('data-task="')[1].split('"')[0]
    response = post(client, f"/inbox/tasks/{task_id}/claim", token_from="/inbox/")
    assert response.status_code == 302
    again = client.get("/inbox/").get_data(as_text=True)
    assert f'action="/inbox/tasks/{task_id}/claim"' not in again   # claimed: no longer offered


def test_a_user_sees_only_their_own_requests_and_tasks(app, people, sessions):
    mine, other = _orders(sessions)
    client = app.test_client()
    sign_in(client, "zhang")
    requests_page = client.get("/requests/").get_data(as_text=True)
    assert f'data-instance="{mine.instance_id}"' in requests_page
    assert f" #{mine.instance_id}</a>" in requests_page  # each request by its number, as the CC list does
    assert f'data-instance="{other.instance_id}"' not in requests_page
    sign_in(other_client := app.test_client(), "li")          # li: no role, nothing offered
    assert 'data-task="' not in other_client.get("/inbox/").get_data(as_text=True)


def test_csv_export_has_a_bom_and_the_users_rows(app, people, sessions):
    _orders(sessions)
    client = app.test_client()
    sign_in(client, "zhang")
    response = client.get("/requests/?format=csv")
    assert response.mimetype == "text/csv"
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff") and body.count("\n") == 2   # header and zhang's one request


def test_inbox_needs_signing_in(app):
    response = app.test_client().get("/inbox/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_claim_never_redirects_off_the_site(app, people, sessions):
    _orders(sessions)
    client = app.test_client()
    sign_in(client, "zhang")
    page = client.get("/inbox/").get_data(as_text=True)
    first, second = [chunk.split('"')[0] for chunk in page.split('data-task="')[1:3]]
    for task_id, target in ((first, "https://evil.example/"), (second, "javascript:alert(1)")):
        response = post(client, f"/inbox/tasks/{task_id}/claim", {"next": target}, token_from="/inbox/")
        assert response.status_code == 302 and response.headers["Location"].endswith("/inbox/"), target


def test_the_filters_offer_processes_by_name_and_people_by_picker(app, people, sessions):
    """A person filters by what they know: the process by its name (a list of the deployed processes, the
    newest deployment in it on the next request), the initiator with the people picker (posting the username)."""
    import re
    _orders(sessions)
    client = app.test_client()
    sign_in(client, "zhang")
    page = client.get("/inbox/?lang=en").get_data(as_text=True)
    assert re.search(r'<select name="process"><option value="">All</option>\s*<option value="order_review">', page)
    assert 'name="initiator"' in page and 'data-picker="people"' in page.split('name="initiator"')[1].split(">")[0]
    chosen = client.get("/inbox/?process=order_review").get_data(as_text=True)
    assert '<option value="order_review" selected>' in chosen and chosen.count('data-task="') == 2
    assert client.get("/inbox/?process=nothing").get_data(as_text=True).count('data-task="') == 0
    packages.deploy_package(sessions, packages.load_package(FIXTURES / "packages" / "credit_check"), "admin")
    assert '<option value="credit_check">' in client.get("/inbox/").get_data(as_text=True)


def test_search_finds_a_task_by_the_initiators_display_name_and_the_process_name(app, people, sessions):
    """Typing what one sees finds the task: the initiator's display name (李四, or Zhang San on English
    pages too) and the process's name in either language; an unrelated word finds nothing; the same in
    the copied-to-me and my-requests lists."""
    mine, other = _orders(sessions)
    client = app.test_client()
    sign_in(client, "zhang")

    def listed(query: str) -> set[int]:
        page = client.get(f"/inbox/?q={query}").get_data(as_text=True)
        shown = [chunk.split('"')[0] for chunk in page.split('data-task="')[1:]]
        with sessions() as session:
            return set(session.scalars(select(WorkTask.instance_id).where(WorkTask.id.in_(shown))))

    tasks = {m.instance_id: m for m in (mine, other)}
    assert set(tasks) == listed("")
    assert listed("李四") == {other.instance_id}
    assert listed("张三") == listed("zhang san") == {mine.instance_id}
    assert listed("订单审核") == listed("ORDER review") == listed("审核") == set(tasks)
    assert listed("合同") == listed("王五") == set()
    operations.cc(sessions, mine.instance_id, ["li"], actor="zhang")  # li's copies: zhang's request by name
    operations.cc(sessions, other.instance_id, ["zhang"], actor="li")
    copies = app.test_client()
    sign_in(copies, "li")
    assert f'data-instance="{mine.instance_id}"' in copies.get("/inbox/?view=cc&q=张三").get_data(as_text=True)
    assert f'data-instance="{mine.instance_id}"' in copies.get("/inbox/?view=cc&q=order").get_data(as_text=True)
    nothing = copies.get("/inbox/?view=cc&q=李四").get_data(as_text=True)
    assert 'data-instance="' not in nothing and 'name="q" value="李四"' in nothing
    requests_page = client.get("/requests/?q=订单").get_data(as_text=True)
    assert f'data-instance="{mine.instance_id}"' in requests_page
    assert 'data-instance="' not in client.get("/requests/?q=合同").get_data(as_text=True)
