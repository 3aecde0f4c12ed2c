"""Sign-in through the company's OpenID Connect provider (optional: `LIAISON_OIDC_*`, see README).

Authlib's Flask client does the protocol: the authorization code flow with PKCE (S256), a random
`state` and `nonce` kept in this browser's session, and on the way back the code exchanged at
the token endpoint and the ID token verified - signature by the provider's JWKS, issuer (the
configured one), audience (our client id), expiry and nonce. The username claim then names an
existing, active person (`engine.people.external_sign_in`); nobody is created. The session that
follows is the one password sign-in opens (`web.auth._start_session`).
"""

from __future__ import annotations

from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from joserfc.errors import JoseError
from requests import RequestException

from engine.config import OidcSettings
from engine.people import accounts, external_sign_in

from . import auth

bp = Blueprint("sso", __name__)

_NEXT_KEY = "sso_next"


def _settings() -> OidcSettings | None:
    return current_app.config.get("LIAISON_OIDC")


def _client():
    oauth: OAuth = current_app.extensions["liaison_oauth"]
    return oauth.create_client("oidc")


def _redirect_uri() -> str:
    """Where the provider sends the browser back: under LIAISON_BASE_URL (the address users reach)."""
    base = current_app.config.get("LIAISON_BASE_URL")
    path = url_for("sso.oidc_callback")
    return base.rstrip("/") + path if base else url_for("sso.oidc_callback", _external=True)


def _refused(message: str, status: int = 403):
    return render_template("auth/sso_refused.html", message=message), status


@bp.get("/login/oidc")
@auth.public
def oidc_start():
    """Send the browser to the provider (a new state, nonce and PKCE verifier in the session)."""
    if _settings() is None:
        abort(404)
    target = auth.safe_next(request.args.get("next"))
    if auth.current_user.is_authenticated:
        return redirect(target)
    session[_NEXT_KEY] = target
    try:
        return _client().authorize_redirect(_redirect_uri())
    except (RequestException, OAuthError, ValueError) as exc:
        current_app.logger.warning("OpenID Connect provider unreachable: %s", exc)
        return _refused(_("The sign-in provider cannot be reached. Try again later or sign in with a password."),
                        502)


@bp.get("/login/oidc/callback")
@auth.public
def oidc_callback():
    """The provider's answer: verify it, find the person, open the session."""
    settings = _settings()
    if settings is None:
        abort(404)
    try:
        token = _client().authorize_access_token(
            claims_options={"iss": {"essential": True, "values": [settings.issuer]},
                            "sub": {"essential": True}})
    except (OAuthError, JoseError, ValueError, KeyError) as exc:
        current_app.logger.info("OpenID Connect sign-in refused: %s", exc)
        return _refused(_("The sign-in could not be verified. Start again from the sign-in page."), 400)
    except RequestException as exc:
        current_app.logger.warning("OpenID Connect provider unreachable: %s", exc)
        return _refused(_("The sign-in provider cannot be reached. Try again later or sign in with a password."),
                        502)
    claims = token.get("userinfo") or {}
    username = claims.get(settings.username_claim)
    try:
        with auth._sessions() as db_session:
            person = external_sign_in.person_for_provider_sign_in(
                db_session, username if isinstance(username, str) else None)
            person_id = person.id
    except external_sign_in.UnknownPersonError:
        return _refused(_("%(provider)s signed you in as “%(username)s”, but there is no such person in "
                          "Liaison. Ask an administrator to add you to the org chart.",
                          provider=settings.provider_name, username=username or "?"))
    except accounts.AccountInactiveError:
        return _refused(_("This account is deactivated. Ask an administrator."))
    target = auth.safe_next(session.get(_NEXT_KEY))
    auth._clear_session()  # nothing from before signing in survives, except the language
    auth.sign_in_person(person_id)
    return redirect(target)


def init_app(app: Flask) -> None:
    """Register the provider with Authlib when LIAISON_OIDC is set (a `engine.config.OidcSettings`)."""
    oauth = OAuth(app)
    app.extensions["liaison_oauth"] = oauth
    settings: OidcSettings | None = app.config.get("LIAISON_OIDC")
    if settings is None:
        return
    oauth.register(
        "oidc", client_id=settings.client_id, client_secret=settings.client_secret,
        server_metadata_url=settings.issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": settings.scopes, "code_challenge_method": "S256",
                       "token_endpoint_auth_method": "client_secret_basic" if settings.client_secret else "none",
                       "timeout": 10})
