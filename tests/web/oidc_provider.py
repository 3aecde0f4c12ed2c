"""A small but real OpenID Connect provider for the tests, built from Authlib's server components.

It serves, on a free local port (werkzeug's threaded server): the discovery document, a JWKS with
a fresh RSA key, an authorization endpoint (a POST of `username` stands in for the provider's own
login page) and a token endpoint issuing RS256-signed ID tokens (authorization code grant with
PKCE and the OpenID Connect code flow). Everything is in memory.

`provider.issue_for` lets a test tamper with what the next ID token says (another audience,
issuer, nonce, an expired token, a token signed with a key the JWKS does not hold).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin, UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, jsonify, request
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope):
        return " ".join(s for s in (scope or "").split() if s in ("openid", "profile", "email"))

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method == "client_secret_basic" if endpoint == "token" else True

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    username: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time


class CodeGrant(grants.AuthorizationCodeGrant):
    provider: OidcProvider

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic"]

    def save_authorization_code(self, code, request):
        self.provider.codes[code] = Code(
            code=code, client_id=request.client.client_id, redirect_uri=request.payload.redirect_uri,
            scope=request.payload.scope, username=request.user, nonce=request.payload.data.get("nonce"),
            code_challenge=request.payload.data.get("code_challenge"),
            code_challenge_method=request.payload.data.get("code_challenge_method"))

    def query_authorization_code(self, code, client):
        found = self.provider.codes.get(code)
        return found if found is not None and found.client_id == client.client_id else None

    def delete_authorization_code(self, authorization_code):
        self.provider.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code):
        return authorization_code.username


class OidcCode(OpenIDCode):
    provider: OidcProvider

    def exists_nonce(self, nonce, request):
        return any(c.nonce == nonce for c in self.provider.codes.values())

    def resolve_client_private_key(self, client):
        return self.provider.tamper.get("key", self.provider.key)

    def get_client_algorithm(self, client):
        return "RS256"

    def get_encode_header(self, client):
        return {"alg": "RS256", "kid": "test-key"}

    def get_client_claims(self, client):
        claims = {"iss": self.provider.tamper.get("iss", self.provider.issuer),
                  "aud": [self.provider.tamper.get("aud", client.client_id)]}
        if "exp" in self.provider.tamper:
            claims["exp"] = self.provider.tamper["exp"]
            claims["iat"] = self.provider.tamper["exp"] - 600
        return claims

    def get_authorization_code_claims(self, authorization_code):
        claims = super().get_authorization_code_claims(authorization_code)
        if "nonce" in self.provider.tamper:
            claims["nonce"] = self.provider.tamper["nonce"]
        return claims

    def generate_user_info(self, user, scope):
        info = UserInfo(sub=f"sub-{user}", preferred_username=user, name=user.title())
        info.update(self.provider.claims.get(user, {}))
        return info


class OidcProvider:
    """Start with `start()`, stop with `stop()`; `issuer` is its base URL."""

    def __init__(self, client_id: str, client_secret: str, redirect_uri: str):
        self.client = Client(client_id, client_secret, [redirect_uri])
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig", "alg": "RS256"})
        self.codes: dict[str, Code] = {}
        self.claims: dict[str, dict] = {}  # per username: extra claims (e.g. another preferred_username)
        self.tamper: dict = {}  # for the next ID token: iss, aud, nonce, exp, key
        self.app = self._build_app()
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> OidcProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)

    def _build_app(self) -> Flask:
        app = Flask("test_oidc_provider")

        server = AuthorizationServer(app, query_client=lambda cid: self.client if cid == self.client.client_id
                                     else None, save_token=lambda token, request: None)
        code_grant = type("ProviderCodeGrant", (CodeGrant,), {"provider": self})
        openid_code = type("ProviderOidcCode", (OidcCode,), {"provider": self})
        server.register_grant(code_grant, [CodeChallenge(required=True), openid_code(require_nonce=True)])

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return jsonify({
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            })

        @app.get("/jwks")
        def jwks():
            return jsonify({"keys": [self.key.as_dict(private=False)]})

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize():
            if request.method == "GET":  # the provider's own login page
                grant = server.get_consent_grant(end_user=None)
                return f"<form method=post><input name=username> sign in to {grant.client.client_id}</form>"
            user = request.form["username"]
            return server.create_authorization_response(grant_user=user, grant=server.get_consent_grant(end_user=user))

        @app.post("/token")
        def token():
            return server.create_token_response()

        return app
