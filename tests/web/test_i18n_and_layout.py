"""Interface language (person's choice, ?lang=, browser, default) and the shared page layout."""

from __future__ import annotations

from engine.data.models import Person

from .conftest import post, sign_in


def test_pages_are_in_chinese_by_default(app):
    page = app.test_client().get("/login").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "<h1 id=\"login-title\">登录</h1>" in page


def test_lang_parameter_switches_to_english_and_is_remembered(app):
    client = app.test_client()
    assert "Sign in" in client.get("/login?lang=en").get_data(as_text=True)
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in page and "Username" in page
    assert "用户名" in client.get("/login?lang=zh").get_data(as_text=True)


def test_the_browser_language_is_used_when_nothing_was_chosen(app):
    client = app.test_client()
    english = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert "Sign in" in english
    chinese = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert "登录" in chinese.get_data(as_text=True)


def test_the_default_language_comes_from_the_settings(make_app):
    page = make_app(LIAISON_LOCALE="en").test_client().get("/login").get_data(as_text=True)
    assert '<html lang="en">' in page


def test_the_persons_own_language_wins(app, people, sessions):
    with sessions() as session, session.begin():
        session.get(Person, people["zhang"]).locale = "en"
    client = app.test_client()
    client.get("/login?lang=zh")
    sign_in(client, "zhang")
    page = client.get("/password", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "Change password" in page and "修改密码" not in page


def test_the_language_switch_keeps_the_page_and_saves_the_persons_choice(app, people, sessions):
    client = app.test_client()
    sign_in(client, "zhang")
    response = post(client, "/language", {"lang": "en", "next": "/password"})
    assert response.status_code == 302 and response.headers["Location"] == "/password"
    assert "Change password" in client.get("/password").get_data(as_text=True)
    with sessions() as session:
        assert session.get(Person, people["zhang"]).locale == "en"
    # The same choice follows the person to another browser.
    other = app.test_client()
    sign_in(other, "zhang")
    assert "Change password" in other.get("/password").get_data(as_text=True)


def test_the_language_switch_works_before_signing_in(app):
    client = app.test_client()
    response = post(client, "/language", {"lang": "en", "next": "https://evil.example/"}, token_from="/login")
    assert response.headers["Location"] == "/"
    assert "Sign in" in client.get("/login").get_data(as_text=True)


def test_navigation_shows_only_registered_pages_and_admin_only_to_admins(app, people):
    employee = app.test_client()
    sign_in(employee, "zhang")
    page = employee.get("/password").get_data(as_text=True)
    assert 'aria-label="主导航"' in page
    assert 'href="/admin/"' not in page
    assert '<a href="/inbox/">待办' in page  # registered pages are linked
    assert 'href="/catalog-that-does-not-exist' not in page
    admin = app.test_client()
    sign_in(admin, "root")
    page = admin.get("/password").get_data(as_text=True)
    assert '<a href="/admin/">管理</a>' in page


def test_layout_has_landmarks_skip_link_and_user_menu(app, people):
    client = app.test_client()
    sign_in(client, "zhang")
    page = client.get("/password").get_data(as_text=True)
    for piece in ('<a class="skip-link" href="#main">', "<header", '<main id="main"', "<footer",
                  'name="viewport"', "<summary>张三</summary>", 'action="/logout"', 'action="/logout-everywhere"',
                  'href="/static/liaison.css"', '<label for="current_password">'):
        assert piece in page, piece
