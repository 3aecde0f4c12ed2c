"""The web test fixtures (an app on the test database, people, signing in) for the designer's pages."""

from tests.web.conftest import app, compiled_translations, fast_hashing, make_app, people  # noqa: F401
