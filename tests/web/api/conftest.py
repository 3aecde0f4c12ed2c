"""The REST API's tests share one app per module on a SQLite copy of the migrated template, with people
(zhang starts, li manages, hu is in HR, wang is uninvolved, root is a super admin), leave_request deployed,
and a token per person; `call(client, method, path, token, ...)` sends a bearer request."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.data.models import AdminGrant, Person, PersonRole, Role
from engine.packages import deployment
from engine.people import api_tokens
from web import create_app

ALL = list(api_tokens.SCOPES)
PROCESSES = Path(__file__).resolve().parents[3] / "processes"


@pytest.fixture(scope="module")
def api_app(sqlite_template, tmp_path_factory):
    folder = tmp_path_factory.mktemp("api")
    shutil.copy(sqlite_template, folder / "liaison.db")
    app = create_app({"DATABASE_URL": f"sqlite:///{folder / 'liaison.db'}", "TESTING": True, "SECRET_KEY": "test",
                      "LIAISON_UPLOAD_DIR": str(folder / "uploads")})
    sessions = app.extensions["liaison_sessions"]
    with sessions() as session, session.begin():
        for username, name, name_en in (("root", "管理员", "Admin"), ("zhang", "张三", "Zhang San"),
                                        ("li", "李四", "Li Si"), ("hu", "胡雪", "Hu Xue"), ("wang", "王五", None)):
            session.add(Person(username=username, name=name, name_en=name_en))
        hr = Role(key="hr", name="人事", name_en="HR")
        session.add(hr)
        session.flush()
        ids = dict(session.execute(select(Person.username, Person.id)).all())
        session.add_all([PersonRole(person_id=ids["hu"], role_id=hr.id),
                         AdminGrant(person_id=ids["root"], department_id=None)])
    deployment.deploy_package(sessions, deployment.load_package(PROCESSES / "leave_request"), "root")
    return app


@pytest.fixture(scope="module")
def tokens(api_app) -> dict[str, str]:
    """A token with every scope per person."""
    with api_app.extensions["liaison_sessions"]() as session:
        return {name: api_tokens.create_token(session, name, "tests", ALL)[1]
                for name in ("root", "zhang", "li", "hu", "wang")}


def call(client, method: str, path: str, token: str | None, json=None, headers: dict | None = None, **kwargs):
    """A request to /api/v1`path` with `Authorization: Bearer token` (none when token is None)."""
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    return client.open("/api/v1" + path, method=method, json=json, headers=sent, **kwargs)


def conforms(document: dict, method: str, path: str, response) -> None:
    """Assert a JSON response matches what the OpenAPI document declares for that path, method and status."""
    from jsonschema import Draft202012Validator

    declared = document["paths"][path][method.lower()]["responses"][str(response.status_code)]
    schema = declared["content"]["application/json"]["schema"]
    Draft202012Validator({**schema, "components": document["components"]}).validate(response.json)
