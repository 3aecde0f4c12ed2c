"""Web test helpers: an app on the test's database, a few people, signing in through the real form.

CSRF protection stays on: the helpers read the token from a rendered page, as a browser would.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from flask import Blueprint

from engine.data.models import AdminGrant, Department, PersonRole, Role
from engine.errors import NotPermittedError
from engine.people import accounts
from web import create_app
from web.auth import require_department_admin, require_super_admin

PASSWORD = "correct horse battery"
TRANSLATIONS = Path(__file__).resolve().parents[2] / "web" / "translations"
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture(scope="session", autouse=True)
def compiled_translations():
    """`make setup` compiles the catalogs; compile stale ones here too so plain pytest runs work."""
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            subprocess.run([Path(sys.executable).parent / "pybabel", "-q", "compile", "-d", str(TRANSLATIONS),
                            "-l", po.parent.parent.name], check=True)


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch):
    """Cheap argon2 parameters: the tests are about behaviour, not hashing cost."""
    monkeypatch.setattr(accounts, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    accounts._dummy_hash.cache_clear()
    yield
    accounts._dummy_hash.cache_clear()


test_routes = Blueprint("test_routes", __name__, url_prefix="/test")


@test_routes.get("/super")
@require_super_admin
def super_only():
    return "super admin area"


@test_routes.get("/department/<int:department_id>")
def department_only(department_id: int):
    require_department_admin(department_id)
    return f"department {department_id}"


@test_routes.get("/refused")
def refused_by_engine():
    raise NotPermittedError("only the assignee may complete this task")


@test_routes.get("/boom")
def boom():
    raise RuntimeError("a bug")


@pytest.fixture
def make_app(database_url, tmp_path):
    """Build an app on the test database; keyword arguments go into test_config."""
    def build(**config):
        app = create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test",
                          "LIAISON_UPLOAD_DIR": str(tmp_path / "uploads"), **config})
        app.register_blueprint(test_routes)
        return app
    return build


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def people(sessions):
    """root: super admin; zhang: employee in finance; li: admin of the sales department (id in result)."""
    return create_people(sessions)


def create_people(sessions) -> dict:
    """The `people` fixture's rows, for module-scoped setups too."""
    now = datetime.now(UTC)
    with sessions() as session, session.begin():
        root = accounts.create_admin(session, "root", PASSWORD, "管理员", now)
        zhang = accounts.create_person_account(session, "zhang", "张三", PASSWORD, now, name_en="Zhang San")
        li = accounts.create_person_account(session, "li", "李四", PASSWORD, now)
        company = Department(code="company", name="公司", path="/")
        session.add(company)
        session.flush()
        company.path = f"/{company.id}/"
        sales = Department(code="sales", name="销售部", parent_id=company.id, path="")
        session.add(sales)
        session.flush()
        sales.path = f"{company.path}{sales.id}/"
        east = Department(code="sales-east", name="华东销售", parent_id=sales.id, path="")
        session.add(east)
        session.flush()
        east.path = f"{sales.path}{east.id}/"
        finance = Role(key="finance", name="财务")
        session.add(finance)
        session.flush()
        session.add_all([PersonRole(person_id=zhang.id, role_id=finance.id),
                         AdminGrant(person_id=li.id, department_id=sales.id)])
        return {"root": root.id, "zhang": zhang.id, "li": li.id, "company": company.id,
                "sales": sales.id, "east": east.id}


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token of this client's session, read from a page as a browser would."""
    match = _CSRF.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client, username: str, password: str = PASSWORD, next: str | None = None):
    """Post the sign-in form; returns the response (a redirect when it worked)."""
    return client.post("/login", query_string={"next": next} if next else None,
                       data={"username": username, "password": password, "csrf_token": csrf_token(client)})


def post(client, path: str, data: dict | None = None, token_from: str = "/password"):
    """A form post with this client's CSRF token (read from `token_from`: signed in, /password)."""
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, token_from)})
