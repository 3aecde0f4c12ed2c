"""Sign-in through an OpenID Connect provider (web/sso.py), against a real provider on a local port.

The provider (tests/web/oidc_provider.py) is built from Authlib's server components; the browser
is the Flask test client plus `requests`, following every redirect by hand.
"""

from __future__ import annotations

import re
import socket
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc.jwk import RSAKey
from sqlalchemy import select, update

from engine.config import OidcSettings, oidc_settings
from engine.data.models import Person, UserSession

from .conftest import PASSWORD, post, sign_in
from .oidc_provider import OidcProvider

BASE_URL = "http://127.0.0.1:5000"
CALLBACK = f"{BASE_URL}/login/oidc/callback"


@pytest.fixture(scope="module")
def provider():
    started = OidcProvider("liaison", "provider-secret-1", CALLBACK).start()
    yield started
    started.stop()


@pytest.fixture
def sso_app(make_app, provider):
    provider.tamper.clear()
    provider.claims.clear()
    settings = OidcSettings(issuer=provider.issuer, client_id="liaison", client_secret="provider-secret-1",
                            provider_name="Corp ID")
    return make_app(LIAISON_OIDC=settings, LIAISON_BASE_URL=BASE_URL)


def go_to_provider(client, provider, next: str | None = None) -> str:
    """Click "Sign in with ...": the authorization URL the browser is sent to."""
    response = client.get("/login/oidc", query_string={"next": next} if next else None)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(f"{provider.issuer}/authorize?")
    return location


def sign_in_at_provider(provider, authorize_url: str, username: str) -> str:
    """The provider's login page, then its redirect back: the callback URL."""
    assert requests.get(authorize_url, timeout=10).status_code == 200
    answer = requests.post(authorize_url, data={"username": username}, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = answer.headers["Location"]
    assert back.startswith(CALLBACK + "?")
    return back


def come_back(client, callback_url: str):
    parts = urlsplit(callback_url)
    return client.get(f"{parts.path}?{parts.query}")


def full_flow(client, provider, username: str, next: str | None = None):
    return come_back(client, sign_in_at_provider(provider, go_to_provider(client, provider, next), username))


def signed_in_as(client) -> bool:
    """Whether this browser is signed in (the password page needs a session)."""
    return client.get("/password").status_code == 200


def test_settings_from_the_environment():
    assert oidc_settings({}) is None
    assert oidc_settings({"LIAISON_OIDC_ISSUER": "https://id.example.com"}) is None  # no client id
    settings = oidc_settings({"LIAISON_OIDC_ISSUER": "https://id.example.com", "LIAISON_OIDC_CLIENT_ID": "liaison",
                              "LIAISON_OIDC_CLIENT_SECRET": "s", "LIAISON_OIDC_USERNAME_CLAIM": "employee_id",
                              "LIAISON_OIDC_PROVIDER_NAME": "Corp ID"})
    assert (settings.issuer, settings.client_id, settings.client_secret) == ("https://id.example.com", "liaison", "s")
    assert (settings.username_claim, settings.provider_name) == ("employee_id", "Corp ID")
    assert oidc_settings({"LIAISON_OIDC_ISSUER": "x", "LIAISON_OIDC_CLIENT_ID": "y"}).username_claim == \
        "preferred_username"


def test_without_settings_the_login_page_is_as_before(app, people):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert "sso-sign-in" not in page and "Sign in with" not in page
    assert client.get("/login/oidc").status_code == 404
    assert client.get("/login/oidc/callback?code=x&state=y").status_code == 404


def test_the_login_page_offers_the_provider_in_both_languages(sso_app, people):
    client = sso_app.test_client()
    assert "Sign in with Corp ID" in client.get("/login?lang=en").get_data(as_text=True)
    assert "使用 Corp ID 登录" in client.get("/login?lang=zh").get_data(as_text=True)


def test_the_authorization_request_uses_pkce_state_and_nonce(sso_app, provider, people):
    query = parse_qs(urlsplit(go_to_provider(sso_app.test_client(), provider)).query)
    assert query["response_type"] == ["code"] and query["client_id"] == ["liaison"]
    assert query["redirect_uri"] == [CALLBACK]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    assert len(query["state"][0]) >= 20 and len(query["nonce"][0]) >= 20
    assert "openid" in query["scope"][0].split()


def test_a_known_person_signs_in_with_a_server_side_session(sso_app, provider, people, sessions):
    client = sso_app.test_client()
    response = full_flow(client, provider, "zhang", next="/password")
    assert response.status_code == 302 and response.headers["Location"] == "/password"
    assert signed_in_as(client)
    with sessions() as session:
        rows = session.scalars(select(UserSession).where(UserSession.person_id == people["zhang"])).all()
    assert len(rows) == 1 and rows[0].revoked_at is None
    post(client, "/logout")  # the normal sign-out revokes it
    assert not signed_in_as(client)
    with sessions() as session:
        assert session.scalar(select(UserSession.revoked_at).where(UserSession.id == rows[0].id)) is not None


def test_an_open_redirect_in_next_is_not_followed(sso_app, provider, people):
    response = full_flow(sso_app.test_client(), provider, "zhang", next="https://evil.example/")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_the_username_claim_is_configurable(make_app, provider, people):
    provider.tamper.clear()
    provider.claims["z.san"] = {"employee_id": "zhang"}
    app = make_app(LIAISON_BASE_URL=BASE_URL, LIAISON_OIDC=OidcSettings(
        issuer=provider.issuer, client_id="liaison", client_secret="provider-secret-1", username_claim="employee_id"))
    client = app.test_client()
    assert full_flow(client, provider, "z.san").status_code == 302
    assert signed_in_as(client)


def test_an_unknown_person_is_refused_and_not_created(sso_app, provider, people, sessions):
    client = sso_app.test_client()
    response = full_flow(client, provider, "nobody_here")
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "nobody_here" in page and "组织架构" in page  # the default language is zh
    assert not signed_in_as(client)
    with sessions() as session:
        assert session.scalar(select(Person.id).where(Person.username == "nobody_here")) is None


def test_a_deactivated_person_is_refused(sso_app, provider, people, sessions):
    with sessions() as session, session.begin():
        session.execute(update(Person).where(Person.id == people["zhang"]).values(active=False))
    client = sso_app.test_client()
    response = full_flow(client, provider, "zhang")
    assert response.status_code == 403 and "停用" in response.get_data(as_text=True)
    assert not signed_in_as(client)


def test_a_callback_cannot_be_replayed_or_used_in_another_browser(sso_app, provider, people):
    browser = sso_app.test_client()
    callback = sign_in_at_provider(provider, go_to_provider(browser, provider), "zhang")
    attacker = sso_app.test_client()
    assert come_back(attacker, callback).status_code == 400  # no state of this browser
    assert not signed_in_as(attacker)
    assert come_back(browser, callback).status_code == 302  # the real browser still can
    replay = sso_app.test_client()
    assert come_back(replay, callback).status_code == 400


@pytest.mark.parametrize("tamper", ["aud", "iss", "nonce", "exp", "key"])
def test_an_id_token_that_does_not_verify_is_refused(sso_app, provider, people, tamper):
    provider.tamper.update({
        "aud": {"aud": "another-client"},
        "iss": {"iss": "http://evil.example"},
        "nonce": {"nonce": "not-the-one-we-sent"},
        "exp": {"exp": int(time.time()) - 3600},
        "key": {"key": RSAKey.generate_key(2048)},  # signed, but not with a key of the provider's JWKS
    }[tamper])
    client = sso_app.test_client()
    response = full_flow(client, provider, "zhang")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "无法验证这次登录" in response.get_data(as_text=True)
    assert not signed_in_as(client)


def test_an_unreachable_provider_gets_a_page_not_a_500(make_app, people):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    app = make_app(LIAISON_BASE_URL=BASE_URL, LIAISON_OIDC=OidcSettings(
        issuer=f"http://127.0.0.1:{closed_port}", client_id="liaison", client_secret="provider-secret-1"))
    response = app.test_client().get("/login/oidc")
    assert response.status_code == 502 and "无法连接登录服务" in response.get_data(as_text=True)


def test_the_provider_refusing_sends_back_to_a_page_not_a_500(sso_app, provider, people):
    client = sso_app.test_client()
    query = parse_qs(urlsplit(go_to_provider(client, provider)).query)
    response = client.get("/login/oidc/callback", query_string={"error": "access_denied", "state": query["state"][0]})
    assert response.status_code == 400 and not signed_in_as(client)


def test_a_password_still_works_next_to_the_provider(sso_app, people):
    client = sso_app.test_client()
    assert sign_in(client, "zhang", PASSWORD).status_code == 302


def test_the_environment_turns_the_features_on(make_app, people, monkeypatch, provider):
    monkeypatch.setenv("LIAISON_OIDC_ISSUER", provider.issuer)
    monkeypatch.setenv("LIAISON_OIDC_CLIENT_ID", "liaison")
    monkeypatch.setenv("LIAISON_OIDC_PROVIDER_NAME", "Corp ID")
    monkeypatch.setenv("LIAISON_LDAP_URL", "ldap://127.0.0.1:1")
    app = make_app()
    assert "使用 Corp ID 登录" in app.test_client().get("/login").get_data(as_text=True)
    assert app.config["LIAISON_LDAP"].url == "ldap://127.0.0.1:1"


def test_the_button_keeps_the_page_asked_for(sso_app, provider, people):
    client = sso_app.test_client()
    login = client.get("/password")  # not signed in: sent to the sign-in page with next=/password
    page = client.get(login.headers["Location"]).get_data(as_text=True)
    href = re.search(r'id="sso-sign-in" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    response = client.get(href)
    assert response.status_code == 302
    back = come_back(client, sign_in_at_provider(provider, response.headers["Location"], "zhang"))
    assert back.status_code == 302 and back.headers["Location"] == "/password"
