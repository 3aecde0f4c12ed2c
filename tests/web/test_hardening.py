"""Headers and answers that tell an attacker nothing: the server's name, caching, https, task existence."""

from __future__ import annotations

from engine import runtime
from engine.packages import deployment as packages
from tests.conftest import FIXTURES

from .conftest import post, sign_in


def test_pages_name_no_server_software_and_plain_http_sends_no_hsts(app):
    response = app.test_client().get("/login")
    assert response.headers["Server"] == "Liaison"
    assert "Strict-Transport-Security" not in response.headers
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_an_https_base_url_makes_cookies_secure_and_sends_hsts(make_app, monkeypatch):
    monkeypatch.setenv("LIAISON_BASE_URL", "https://liaison.example.com")
    app = make_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.test_client().get("/login").headers["Strict-Transport-Security"].startswith("max-age=")


def test_claim_answers_the_same_for_a_missing_task_and_one_not_offered(app, people, sessions):
    packages.deploy_package(sessions, packages.load_package(FIXTURES / "packages" / "order_review"), "admin")
    started = runtime.start_instance(sessions, "order_review", {"item": "desk", "amount": 20}, user="zhang")
    offered_to_finance = next(t["id"] for t in started.open_tasks if t["element_id"] == "finance_check")
    client = app.test_client()
    sign_in(client, "li")  # li is not in finance
    answers = []
    for task_id in (offered_to_finance, "00000000-0000-0000-0000-000000000000"):
        response = post(client, f"/inbox/tasks/{task_id}/claim", token_from="/inbox/")
        page = client.get("/inbox/").get_data(as_text=True)
        answers.append((response.status_code, "此任务不存在或未分配给您。" in page,
                        task_id in page, "finance" in page))
    assert answers[0] == answers[1] == (302, True, False, False)
