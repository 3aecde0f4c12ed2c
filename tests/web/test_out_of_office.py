"""The out-of-office page: set and delete a window, refused entries; the deputy's task shows on whose behalf."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.data.models import OutOfOffice
from engine.packages import deployment as packages
from engine.people import accounts, org
from engine.work import queries

from .conftest import PASSWORD, post, sign_in

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
PAGE = "/me/out-of-office"


def _client(app, username: str):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def _windows(sessions, username: str) -> list:
    with sessions() as session:
        return [(w.id, d.username) for w, d in org.out_of_office_windows(session, username)]


def _form(deputy: str, first: date | None = None, last: date | None = None) -> dict:
    first = first or date.today()
    last = last or first + timedelta(days=2)
    return {"starts_on": first.isoformat(), "ends_on": last.isoformat(), "deputy": deputy}


def test_set_and_delete_a_window(app, people, sessions):
    client = _client(app, "li")
    assert "外出代理" in client.get("/").get_data(as_text=True)  # the user menu links to it
    page = client.get(PAGE).get_data(as_text=True)
    assert "您当前没有外出安排。" in page
    response = post(client, PAGE, _form("zhang"), token_from=PAGE)
    assert response.status_code == 302 and response.headers["Location"] == PAGE
    windows = _windows(sessions, "li")
    assert [deputy for _id, deputy in windows] == ["zhang"]
    page = client.get(PAGE).get_data(as_text=True)
    assert "已保存" in page and "张三" in page and f'data-window="{windows[0][0]}"' in page

    other = _client(app, "zhang")  # nobody deletes another person's window
    assert post(other, f"{PAGE}/{windows[0][0]}/delete", token_from=PAGE).status_code == 404
    response = post(client, f"{PAGE}/{windows[0][0]}/delete", token_from=PAGE)
    assert response.status_code == 302 and _windows(sessions, "li") == []


def test_a_post_without_the_csrf_token_is_refused(app, people, sessions):
    client = _client(app, "li")
    assert client.post(PAGE, data=_form("zhang")).status_code == 400
    assert _windows(sessions, "li") == []


@pytest.mark.parametrize(("data", "message"), [
    (_form("zhang", date(2030, 5, 3), date(2030, 5, 1)), "末日不能早于首日。"),
    (_form("li"), "不能指定自己为代理人。"),
    (_form("nobody"), "没有使用该用户名的人员。"),
    (_form("gone"), "此人的账号已停用。"),
    ({"starts_on": "", "ends_on": "2030-05-01", "deputy": "zhang"}, 'aria-invalid="true"'),
])
def test_refused_entries_come_back_with_422(app, people, sessions, data, message):
    with sessions() as session, session.begin():
        accounts.create_person_account(session, "gone", "离职", PASSWORD, active=False)
    client = _client(app, "li")
    response = post(client, PAGE, data, token_from=PAGE)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _windows(sessions, "li") == []


def test_the_deputy_sees_on_whose_behalf_and_the_timeline_says_it(app, people, sessions):
    with sessions() as session, session.begin():
        accounts.create_person_account(session, "wang", "王五", PASSWORD)
    packages.deploy_package(sessions, packages.load_package(PROCESSES / "leave_request"), "admin")
    assert post(_client(app, "wang"), PAGE, _form("li", date.today() - timedelta(days=1)),
                token_from=PAGE).status_code == 302
    starter = _client(app, "zhang")
    response = post(starter, "/start/leave_request",
                    {"leave_type": "annual", "days": "2", "manager": "wang", "reason": "家里有事"})
    assert response.status_code == 302, response.get_data(as_text=True)
    instance_id = int(response.headers["Location"].rsplit("/", 1)[1])
    with sessions() as session:
        task = next(t for t in queries.instance_view(session, instance_id)["tasks"] if t["status"] == "open")
    assert (task["assignee"], task["on_behalf_of"]) == ("li", "wang")

    deputy = _client(app, "li")
    assert "代王五" in deputy.get("/inbox/").get_data(as_text=True)
    assert "代王五" in deputy.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert post(deputy, f"/tasks/{task['id']}", {"approved": "true"}).status_code == 302
    page = _client(app, "zhang").get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "李四" in page and "代王五" in page
    with sessions() as session:
        assert session.scalar(select(OutOfOffice.id)) is not None


def test_the_deputy_is_named_in_the_pages_language(app, people, sessions):
    with sessions() as session, session.begin():
        accounts.create_person_account(session, "wang", "王五", PASSWORD, name_en="Wang Wu")
    client = _client(app, "li")
    assert post(client, PAGE, _form("wang"), token_from=PAGE).status_code == 302
    assert "Wang Wu" in client.get(f"{PAGE}?lang=en").get_data(as_text=True)
    assert "王五" in client.get(f"{PAGE}?lang=zh").get_data(as_text=True)
