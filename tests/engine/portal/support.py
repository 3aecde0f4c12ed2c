"""Helpers for the external-task and portal tests: the shipped supplier_order package, parties, contacts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select

from engine import runtime
from engine.data.external_models import ExternalContact, ExternalGrant, ExternalParty
from engine.data.models import HistoryEntry, OutboxMessage, WorkTask, utcnow
from engine.external.identity import Principal, contact_identity, grant_identity
from engine.packages import deployment as packages
from tests.conftest import add_people

SUPPLIER_ORDER = Path(__file__).resolve().parents[3] / "processes" / "supplier_order"
ORDER = {"po_number": "PO-1", "supplier": "ACME", "items": "bolts", "amount": 100, "delivery_date": "2026-12-20"}


def deploy_supplier_order_only(sessions) -> None:
    package = packages.load_package(SUPPLIER_ORDER)
    with sessions() as session, session.begin():
        packages.deploy(session, package, "admin")


def deploy_supplier_order(sessions) -> None:
    deploy_supplier_order_only(sessions)
    add_people(sessions, "zhang", "li")


def add_party(sessions, key: str = "ACME", kind: str = "supplier", active: bool = True,
              contacts: tuple = (("Wu", "wu@acme.example", "zh"), ("Ann", "ann@acme.example", "en"))) -> int:
    with sessions() as session, session.begin():
        party_id = session.execute(insert(ExternalParty).values(kind=kind, key=key, name=f"{key} Ltd", active=active)
                                   .returning(ExternalParty.id)).scalar_one()
        for name, email, locale in contacts:
            session.execute(insert(ExternalContact).values(party_id=party_id, name=name, email=email, locale=locale))
    return party_id


def contact_principal(sessions, party_id: int, kind: str = "supplier") -> Principal:
    with sessions() as session:
        contact_id = session.scalars(select(ExternalContact.id).where(ExternalContact.party_id == party_id)
                                     .order_by(ExternalContact.id)).first()
    return Principal(identity=contact_identity(contact_id), kind=kind, party_id=party_id, contact_id=contact_id)


def add_grant(sessions, *, kind: str = "supplier", scopes=("view", "fill", "upload"), instance_id=None,
              party_id=None, process_key=None, days: int = 1, revoked: bool = False) -> Principal:
    now = utcnow()
    with sessions() as session, session.begin():
        grant_id = session.execute(insert(ExternalGrant).values(
            kind="code", token_hash=f"{now.timestamp()}-{instance_id}-{party_id}-{process_key}-{days}-{revoked}",
            scopes=list(scopes), valid_from=now - timedelta(hours=1), valid_until=now + timedelta(days=days),
            instance_id=instance_id, party_id=party_id, process_key=process_key,
            revoked_at=now if revoked else None).returning(ExternalGrant.id)).scalar_one()
    return Principal(identity=grant_identity(grant_id), kind=kind, party_id=party_id, grant_id=grant_id,
                     instance_id=instance_id, process_key=process_key, scopes=tuple(scopes))


def start_order(sessions, **data) -> int:
    return runtime.start_instance(sessions, "supplier_order", {**ORDER, **data}, "zhang",
                                  business_key=data.get("po_number", ORDER["po_number"])).instance_id


def open_task(sessions, instance_id: int, element_id: str) -> str:
    with sessions() as session:
        return session.scalars(select(WorkTask.id).where(WorkTask.instance_id == instance_id,
                                                         WorkTask.element_id == element_id,
                                                         WorkTask.status == "open")).one()


def grants(sessions, instance_id: int) -> list:
    with sessions() as session:
        return session.scalars(select(ExternalGrant).where(ExternalGrant.instance_id == instance_id)
                               .order_by(ExternalGrant.id)).all()


def emails(sessions, instance_id: int) -> list:
    with sessions() as session:
        return session.scalars(select(OutboxMessage).where(OutboxMessage.instance_id == instance_id,
                                                           OutboxMessage.event == "external_link")
                               .order_by(OutboxMessage.id)).all()


def history(sessions, instance_id: int, action: str) -> list:
    with sessions() as session:
        return session.scalars(select(HistoryEntry).where(HistoryEntry.instance_id == instance_id,
                                                          HistoryEntry.action == action)).all()
