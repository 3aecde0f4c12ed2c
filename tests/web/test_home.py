"""The home page lists what is deployed, in the reader's language."""

from __future__ import annotations

from pathlib import Path

from engine.packages import deployment as packages
from web import create_app

from .conftest import sign_in

PROCESSES = Path(__file__).resolve().parents[2] / "processes"


def test_home_lists_deployed_processes(database_url, sessions, people):
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(PROCESSES / "leave_request"), "admin")
    client = create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test"}).test_client()
    assert client.get("/").status_code == 302  # signing in comes first
    sign_in(client, "zhang")
    page = client.get("/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "请假申请" in text and "leave_request" in text
    english = client.get("/?lang=en").get_data(as_text=True)
    assert "Leave request" in english and "请假申请" not in english
    assert client.get("/healthz").get_json() == {"status": "ok"}
