"""The Flask app factory: loads settings, opens the database, registers the blueprints."""

from __future__ import annotations

from flask import Flask

from engine import db
from engine.config import instance_secret, load_settings


def create_app(test_config: dict | None = None) -> Flask:
    """Build the web app; `test_config` overrides settings (tests pass their own database)."""
    settings = load_settings()
    app = Flask(__name__)
    app.config.update(DATABASE_URL=settings.database_url, LIAISON_LOCALE=settings.locale)
    if test_config:
        app.config.update(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = settings.secret_key or instance_secret(settings.instance_dir)
    engine = db.make_engine(app.config["DATABASE_URL"])
    app.extensions["liaison_sessions"] = db.make_session_factory(engine)

    from . import home

    app.register_blueprint(home.bp)
    return app
