"""The API tokens page under the person's menu (create: shown once; revoke; last used) and super admins'
list of every token."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from engine.people import accounts

from ..conftest import PASSWORD, csrf_token, post, sign_in
from .conftest import call

SECRET = re.compile(r'id="token-secret">(lia_[^<]+)<')


def test_make_use_and_revoke_a_token_in_the_browser(api_app):
    with api_app.extensions["liaison_sessions"]() as session, session.begin():
        accounts.create_person_account(session, "maker", "马克", PASSWORD, datetime.now(UTC), name_en="Mark")
        accounts.create_admin(session, "chief", PASSWORD, "总管", datetime.now(UTC))
        accounts.create_person_account(session, "other", "别人", PASSWORD, datetime.now(UTC))
    browser = api_app.test_client()
    assert sign_in(browser, "maker").status_code == 302
    assert "/me/tokens" in browser.get("/").get_data(as_text=True)  # in the person's menu
    empty = browser.post("/me/tokens", data={"name": "x", "csrf_token": csrf_token(browser, "/me/tokens")})
    assert empty.status_code == 422 and "token-list" not in empty.get_data(as_text=True)  # nothing was made
    made = browser.post("/me/tokens", data={"name": "CRM", "scopes": ["read", "work"],
                                            "csrf_token": csrf_token(browser, "/me/tokens")},
                        headers={"Accept-Language": "zh"})
    assert made.status_code == 201
    secret = SECRET.search(made.get_data(as_text=True)).group(1)
    assert "只显示这一次" in made.get_data(as_text=True)
    assert call(api_app.test_client(), "GET", "/tasks", secret).status_code == 200
    page = browser.get("/me/tokens?lang=en").get_data(as_text=True)
    assert secret not in page and "CRM" in page and "read, work" in page
    assert "读取、办理" in browser.get("/me/tokens?lang=zh").get_data(as_text=True)  # scopes in the page's words
    token_id = re.search(r'data-token="(\d+)"', page).group(1)

    chief = api_app.test_client()
    assert sign_in(chief, "chief").status_code == 302
    assert browser.get("/admin/tokens").status_code == 403
    everyone = chief.get("/admin/tokens").get_data(as_text=True)
    assert "Mark" in everyone or "马克" in everyone
    other = api_app.test_client()
    assert sign_in(other, "other").status_code == 302
    assert post(other, f"/me/tokens/{token_id}/revoke").status_code == 404  # not theirs
    assert call(api_app.test_client(), "GET", "/tasks", secret).status_code == 200
    assert post(chief, f"/admin/tokens/{token_id}/revoke").status_code == 302
    assert call(api_app.test_client(), "GET", "/tasks", secret).status_code == 401
