"""The schema: migrations match the models, and the history cannot be rewritten."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from engine import runtime
from engine.data import db
from engine.data.models import Base
from tests.conftest import FIXTURES

ORDER_REVIEW = FIXTURES / "packages" / "order_review"


def test_migrations_create_exactly_the_models_schema(database_url):
    engine = db.make_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


@pytest.mark.parametrize("statement", ["UPDATE history_entry SET comment = 'rewritten'",
                                       "DELETE FROM history_entry"])
def test_history_cannot_be_updated_or_deleted(sessions, deploy_package, statement):
    deploy_package(ORDER_REVIEW)
    runtime.start_instance(sessions, "order_review", {"item": "pen", "amount": 1}, user="zhang")
    with pytest.raises(DatabaseError, match="append-only"), sessions() as session, session.begin():
        session.execute(text(statement))
    with sessions() as session:
        assert session.execute(text("SELECT count(*) FROM history_entry")).scalar() > 0
