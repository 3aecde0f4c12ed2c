"""Designer tests use the web app, its people and its sign-in helpers (tests/web/conftest.py)."""

from tests.web.conftest import app, compiled_translations, fast_hashing, make_app, people  # noqa: F401
