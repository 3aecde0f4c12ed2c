"""People are shown by display name, never by username: a stored user field read-only, the out-of-office
list's deputy, the approval chain's people (their department on hover, not their login)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.data.models import Person
from engine.packages import deployment as packages

from .conftest import post, sign_in

PROCESSES = Path(__file__).resolve().parents[2] / "processes"


@pytest.fixture
def deployed(sessions, people):
    packages.deploy_package(sessions, packages.load_package(PROCESSES / "leave_request"), "admin")
    with sessions() as session, session.begin():
        session.get(Person, people["li"]).department_id = people["sales"]
        session.get(Person, people["zhang"]).manager_id = people["li"]  # the start form's default manager
    return people


def _client(app, username: str, lang: str = "zh"):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    client.get(f"/start?lang={lang}")
    return client


def _text(html: str) -> str:
    """What a reader sees: the page without its tags and attributes."""
    return re.sub(r"<[^>]+>", " ", html)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_stored_person_reads_as_their_display_name(app, deployed, lang):
    zhang = _client(app, "zhang", lang)
    started = post(zhang, "/start/leave_request", {"leave_type": "annual", "days": "2", "manager": "li",
                                                   "reason": "事假"}, token_from="/start/leave_request")
    assert started.status_code == 302
    instance = zhang.get(started.headers["Location"]).get_data(as_text=True)
    li = _client(app, "li", lang)
    inbox = li.get("/inbox/").get_data(as_text=True)
    task = li.get(re.search(r'href="(/tasks/[^"]+)"', inbox).group(1)).get_data(as_text=True)
    for page in (instance, task):
        shown = _text(page[page.index("<main"):])
        assert "李四" in shown and not re.search(r"\bli\b", shown)  # li has no English name: 李四 in both


def test_the_out_of_office_list_names_the_deputy(app, deployed):
    client = _client(app, "zhang", "en")
    saved = post(client, "/me/out-of-office", {"starts_on": "2030-01-07", "ends_on": "2030-01-09", "deputy": "li"},
                 token_from="/me/out-of-office")
    assert saved.status_code == 302
    row = re.search(r'<tr data-window="\d+">.*?</tr>', client.get("/me/out-of-office").get_data(as_text=True),
                    re.S).group(0)
    assert "李四" in _text(row) and not re.search(r"\bli\b", _text(row))


def test_the_approval_chain_names_people_with_their_department_on_hover(app, deployed):
    page = _client(app, "zhang").get("/start/leave_request").get_data(as_text=True)
    person = re.search(r'<span class="chain-person"[^>]*>[^<]*</span>', page).group(0)
    assert person == '<span class="chain-person" title="销售部">李四</span>'
