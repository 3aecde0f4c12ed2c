"""Fixtures of external access tests: a connection of its own, a running instance, a party with a contact."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert

from engine import runtime
from engine.data.external_models import ExternalCase
from engine.external import parties
from tests.engine.conftest import flow, write_package

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(sessions):
    return sessions.kw["bind"]


@pytest.fixture
def conn(engine):
    """A connection committing nothing until the test says so (redeem refusals commit themselves)."""
    with engine.connect() as connection:
        yield connection


@pytest.fixture
def instance_id(sessions, tmp_path, deploy_package):
    """A running instance of a process waiting at one user task."""
    body = ('<bpmn:startEvent id="start"/><bpmn:userTask id="confirm" liaison:assignee="ann"/>'
            '<bpmn:endEvent id="end"/>' + flow("start", "confirm") + flow("confirm", "end"))
    deploy_package(write_package(tmp_path, "ext_order", {"ext_order": body}))
    return runtime.start_instance(sessions, "ext_order", {}, user="ann").instance_id


@pytest.fixture
def party(conn):
    """A supplier with one contact: (party id, contact id)."""
    party_id = parties.create_party(conn, kind="supplier", key="ACME", name="艾克米", name_en="Acme", now=NOW)
    contact_id = parties.add_contact(conn, party_id, name="Wang", email="Wang@Acme.example", locale="en", now=NOW)
    conn.commit()
    return party_id, contact_id


def add_case(conn, instance_id: int, kind: str, party_id: int | None = None, name: str | None = None) -> None:
    conn.execute(insert(ExternalCase).values(instance_id=instance_id, kind=kind, party_id=party_id, name=name,
                                             created_at=NOW))
    conn.commit()
