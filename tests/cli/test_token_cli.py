"""`liaison token create|list|revoke`: the secret is printed once, stored hashed, refused once revoked."""

from __future__ import annotations

from engine.data import db
from engine.people import api_tokens

from .test_cli import _directory, as_json, liaison


def test_token_create_list_and_revoke(tmp_path):
    url = f"sqlite:///{tmp_path / 'l.db'}"
    db.upgrade(url)
    _directory(url, "erp")
    made = as_json("token", "create", "erp", "--name", "ERP sync", "--scopes", "read,start", "--expires", "30",
                   url=url)
    assert made["scopes"] == ["read", "start"] and made["token"].startswith("lia_")
    refused = as_json("token", "create", "erp", "--scopes", "read,root", url=url, expect=1)
    assert "unknown scope root" in refused["message"]
    as_json("token", "create", "nobody", url=url, expect=1)
    listed = as_json("token", "list", url=url)
    assert [(t["name"], t["state"]) for t in listed] == [("ERP sync", "active")]
    assert made["token"] not in liaison("token", "list", url=url).stdout  # never shown again
    sessions = db.make_session_factory(db.make_engine(url))
    with sessions() as session:
        assert api_tokens.verify_token(session, made["token"]).user.username == "erp"
    liaison("token", "revoke", str(made["id"]), url=url)
    with sessions() as session:
        assert api_tokens.verify_token(session, made["token"]) is None
    assert as_json("token", "list", url=url)[0]["state"] == "revoked"
