"""Signing in and out, throttling, sessions that end, CSRF, admin-only pages, security headers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.data.models import Person, UserSession

from .conftest import PASSWORD, post, sign_in


def test_sign_in_with_the_right_password_opens_the_requested_page(app, people):
    client = app.test_client()
    page = client.get("/")
    assert page.status_code == 302 and page.headers["Location"] == "/login?next=/"
    response = sign_in(client, "zhang", next="/password")
    assert response.status_code == 302 and response.headers["Location"] == "/password"
    page = client.get("/password")
    assert page.status_code == 200 and "张三" in page.get_data(as_text=True)


def test_wrong_password_and_unknown_user_get_the_same_message(app, people):
    client = app.test_client()
    wrong = sign_in(client, "zhang", "not the password")
    unknown = sign_in(client, "nobody", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 200
        assert "用户名或密码错误。" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def _page_for(client, username, password):
    response = sign_in(client, username, password)
    body = re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "", response.get_data(as_text=True))
    return response.status_code, body.replace(f'value="{username}"', 'value="NAME"')


def test_known_and_unknown_names_get_the_same_pages_and_no_lock(app, people):
    """Issue 11 item 7: the 6th failure says "try again in 1 second" for zhang and for nobody alike."""
    answers = {}
    for name, address in (("zhang", "10.0.0.1"), ("nobody", "10.0.0.2")):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        answers[name] = [_page_for(client, name, "wrong password") for _ in range(6)]
    assert answers["zhang"] == answers["nobody"]
    assert [status for status, _body in answers["zhang"]] == [200] * 5 + [429]
    assert "用户名或密码错误。" in answers["zhang"][0][1]
    assert "登录失败次数过多，请 1 秒后再试。" in answers["zhang"][5][1]
    assert "锁定" not in "".join(body for _status, body in answers["zhang"])


def test_a_guesser_is_slowed_while_the_owner_signs_in_elsewhere_and_later(make_app, people, monkeypatch):
    clock = [2_000_000_000.0]
    monkeypatch.setattr("web.auth._now", lambda: clock[0])
    app = make_app()
    guesser, owner = app.test_client(), app.test_client()
    guesser.environ_base["REMOTE_ADDR"], owner.environ_base["REMOTE_ADDR"] = "10.0.0.66", "10.0.0.7"
    for _ in range(5):
        assert sign_in(guesser, "zhang", "wrong password").status_code == 200
    assert sign_in(guesser, "zhang", PASSWORD).status_code == 429  # even the right password waits here
    assert sign_in(owner, "zhang").status_code == 302  # another client is not held up
    clock[0] += 1
    assert sign_in(guesser, "zhang").status_code == 302  # and this one only a second


def test_a_success_resets_the_failure_count(app, people):
    client = app.test_client()
    for _ in range(4):
        sign_in(client, "zhang", "wrong password")
    assert sign_in(client, "zhang").status_code == 302
    post(client, "/logout")
    for _ in range(4):
        assert "锁定" not in sign_in(client, "zhang", "wrong password").get_data(as_text=True)


def test_an_inactive_person_cannot_sign_in(app, people, sessions):
    with sessions() as session, session.begin():
        session.get(Person, people["zhang"]).active = False
    client = app.test_client()
    response = sign_in(client, "zhang")
    assert response.status_code == 200
    assert "此账号已停用" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_deactivating_a_person_ends_their_open_session(app, people, sessions):
    client = app.test_client()
    sign_in(client, "zhang")
    assert client.get("/password").status_code == 200
    with sessions() as session, session.begin():
        session.get(Person, people["zhang"]).active = False
    assert client.get("/password").status_code == 302


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/x", "/\\evil.example", "\\\\evil.example",
    "javascript:alert(1)", "http:/evil.example", "/\r\nLocation: http://evil.example", "",
])
def test_next_parameter_never_leaves_the_site(app, people, target):
    response = sign_in(app.test_client(), "zhang", next=target)
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_post_without_csrf_token_is_refused(app, people):
    client = app.test_client()
    response = client.post("/login", data={"username": "zhang", "password": PASSWORD})
    assert response.status_code == 400
    assert "表单可能已过期" in response.get_data(as_text=True)
    sign_in(client, "zhang")
    assert client.post("/logout").status_code == 400
    assert client.get("/password").status_code == 200  # still signed in


def test_sign_out_ends_this_session_only(app, people):
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, "zhang")
    sign_in(phone, "zhang")
    assert post(laptop, "/logout").headers["Location"] == "/login"
    assert laptop.get("/password").status_code == 302
    assert phone.get("/password").status_code == 200


def test_a_copied_cookie_stops_working_when_its_browser_signs_out(app, people):
    """Issue 11 item 1: sign-out revokes the session server-side, not only in this browser."""
    laptop, thief, phone = app.test_client(), app.test_client(), app.test_client()
    sign_in(laptop, "zhang")
    sign_in(phone, "zhang")
    thief.set_cookie("liaison_session", laptop.get_cookie("liaison_session").value)
    assert thief.get("/password").status_code == 200  # the copy works while the session lives
    post(laptop, "/logout")
    gone = thief.get("/password")
    assert gone.status_code == 302 and gone.headers["Location"].startswith("/login")
    assert "登录" in thief.get(gone.headers["Location"]).get_data(as_text=True)
    assert phone.get("/password").status_code == 200  # the person's other sessions stay


def test_the_session_row_is_read_each_request_and_written_every_few_minutes(make_app, people, sessions,
                                                                            monkeypatch):
    clock = [2_000_000_000.0]
    monkeypatch.setattr("web.auth._now", lambda: clock[0])
    client = make_app().test_client()
    sign_in(client, "zhang")
    with sessions() as session:
        row = session.scalars(select(UserSession).where(UserSession.person_id == people["zhang"])).one()
        assert row.revoked_at is None and row.ip == "127.0.0.1" and len(row.id) == 64
        assert session.get(Person, people["zhang"]).last_sign_in_at == datetime.fromtimestamp(clock[0], UTC)
    assert client.get_cookie("liaison_session").value.find(row.id) == -1  # the cookie holds the token, not its hash
    clock[0] += 120
    client.get("/password")
    with sessions() as session:
        assert session.get(UserSession, row.id).last_seen_at == row.created_at
    clock[0] += 200
    client.get("/password")
    with sessions() as session:
        assert session.get(UserSession, row.id).last_seen_at == datetime.fromtimestamp(clock[0], UTC)


def test_sign_out_everywhere_ends_the_sessions_of_other_browsers(app, people):
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, "zhang")
    sign_in(phone, "zhang")
    response = post(laptop, "/logout-everywhere")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert phone.get("/password").status_code == 302
    assert laptop.get("/password").status_code == 302
    assert sign_in(phone, "zhang").status_code == 302  # signing in again works


def test_changing_the_password_ends_other_sessions_and_keeps_this_one(app, people):
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, "zhang")
    sign_in(phone, "zhang")
    new = "a much longer secret"
    response = post(laptop, "/password", {"current_password": PASSWORD, "new_password": new, "confirm": new})
    assert response.status_code == 302
    assert laptop.get("/password").status_code == 200
    assert phone.get("/password").status_code == 302
    fresh = app.test_client()
    assert sign_in(fresh, "zhang", PASSWORD).status_code == 200  # the old password no longer works
    assert sign_in(fresh, "zhang", new).status_code == 302


@pytest.mark.parametrize(("current", "new", "confirm", "message"), [
    ("wrong password!", "a much longer secret", "a much longer secret", "当前密码不正确。"),
    (PASSWORD, "short", "short", "密码至少需要 10 个字符。"),
    (PASSWORD, "password123", "password123", "此密码过于常见"),
    (PASSWORD, PASSWORD, PASSWORD, "新密码不能与当前密码相同。"),
    (PASSWORD, "a much longer secret", "another long secret", "两次输入的新密码不一致。"),
])
def test_a_refused_password_change_says_why(app, people, current, new, confirm, message):
    client = app.test_client()
    sign_in(client, "zhang")
    response = post(client, "/password", {"current_password": current, "new_password": new, "confirm": confirm})
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    assert sign_in(app.test_client(), "zhang", PASSWORD).status_code == 302  # nothing changed


def test_a_session_ends_after_its_lifetime(make_app, people, monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr("web.auth._now", lambda: clock[0])
    app = make_app(PERMANENT_SESSION_LIFETIME=timedelta(seconds=60))
    client = app.test_client()
    sign_in(client, "zhang")
    clock[0] += 50
    assert client.get("/password").status_code == 200
    clock[0] += 11
    expired = client.get("/password")
    assert expired.status_code == 302 and expired.headers["Location"].startswith("/login")
    assert "会话已过期" in client.get("/login").get_data(as_text=True)


def test_an_idle_session_ends(make_app, people, monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr("web.auth._now", lambda: clock[0])
    client = make_app(LIAISON_IDLE_TIMEOUT=timedelta(seconds=20)).test_client()
    sign_in(client, "zhang")
    for _ in range(4):  # active use keeps it alive past the idle limit
        clock[0] += 15
        assert client.get("/password").status_code == 200
    clock[0] += 21
    assert client.get("/password").status_code == 302


def test_session_cookie_is_http_only_and_same_site(app, people, make_app, monkeypatch):
    cookie = sign_in(app.test_client(), "zhang").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    monkeypatch.setenv("LIAISON_SECURE_COOKIES", "1")
    assert "Secure" in sign_in(make_app().test_client(), "zhang").headers["Set-Cookie"]


def test_a_non_admin_gets_the_403_page_on_a_super_admin_page(app, people):
    client = app.test_client()
    sign_in(client, "zhang")
    page = client.get("/test/super")
    assert page.status_code == 403 and "无权访问" in page.get_data(as_text=True)
    english = client.get("/test/super?lang=en")
    assert english.status_code == 403 and "Not permitted" in english.get_data(as_text=True)
    admin = app.test_client()
    sign_in(admin, "root")
    assert admin.get("/test/super").get_data(as_text=True) == "super admin area"


def test_a_department_admin_manages_the_department_and_below_only(app, people):
    client = app.test_client()
    sign_in(client, "li")
    assert client.get(f"/test/department/{people['sales']}").status_code == 200
    assert client.get(f"/test/department/{people['east']}").status_code == 200
    assert client.get(f"/test/department/{people['company']}").status_code == 403
    assert client.get("/test/super").status_code == 403
    root = app.test_client()
    sign_in(root, "root")
    assert root.get(f"/test/department/{people['company']}").status_code == 200


def test_unknown_page_is_a_404_page_for_signed_in_people(app, people):
    client = app.test_client()
    assert client.get("/no/such/page").status_code == 302  # anonymous: nothing is revealed
    sign_in(client, "zhang")
    page = client.get("/no/such/page?lang=en")
    assert page.status_code == 404 and "Page not found" in page.get_data(as_text=True)


def test_engine_refusals_and_crashes_get_their_pages(make_app, people):
    client = make_app(PROPAGATE_EXCEPTIONS=False).test_client()
    sign_in(client, "zhang")
    refused = client.get("/test/refused")
    assert refused.status_code == 403 and "无权访问" in refused.get_data(as_text=True)
    crash = client.get("/test/boom?lang=en")
    assert crash.status_code == 500 and "Something went wrong" in crash.get_data(as_text=True)
    assert "a bug" not in crash.get_data(as_text=True)


def test_health_check_and_static_files_need_no_sign_in(app):
    client = app.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    css = client.get("/static/liaison.css")
    assert css.status_code == 200 and "text/css" in css.headers["Content-Type"]
    css.close()


def test_security_headers_are_on_every_response(app, people):
    client = app.test_client()
    for response in (client.get("/login"), client.get("/"), client.get("/healthz")):
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
