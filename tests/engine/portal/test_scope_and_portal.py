"""The outsider's scope (engine.external.scope) and the portal's reads and actions (engine.work.portal)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from engine.data.external_models import ExternalCase, ExternalContact, ExternalGrant, ExternalParty
from engine.data.models import utcnow
from engine.errors import NotFoundError, NotPermittedError
from engine.external import scope
from engine.external.identity import Principal, contact_identity
from engine.runtime import messages
from engine.work import portal
from tests.engine.portal.support import (
    add_grant,
    add_party,
    contact_principal,
    deploy_supplier_order,
    open_task,
    start_order,
)


@pytest.fixture
def world(sessions):
    """Two suppliers, ACME (two orders) and BETA (one order)."""
    deploy_supplier_order(sessions)
    acme, beta = add_party(sessions), add_party(sessions, key="BETA", contacts=(("Bo", "bo@beta.example", "en"),))
    orders = [start_order(sessions, po_number="PO-1"), start_order(sessions, po_number="PO-2"),
              start_order(sessions, po_number="PO-3", supplier="BETA")]
    return sessions, acme, beta, orders


def _ids(sessions, principal):
    with sessions() as session:
        return sorted(session.scalars(scope.case_ids(principal)))


def test_a_contact_sees_the_cases_of_their_party_only(world):
    sessions, acme, beta, (one, two, three) = world
    wu, bo = contact_principal(sessions, acme), contact_principal(sessions, beta)
    assert _ids(sessions, wu) == [one, two] and _ids(sessions, bo) == [three]
    with sessions() as session:
        assert scope.may_view_case(session, wu, one) and not scope.may_view_case(session, wu, three)
        assert scope.may_fill_task(session, wu, open_task(sessions, one, "confirm_order"))
        assert not scope.may_fill_task(session, wu, open_task(sessions, three, "confirm_order"))
    with sessions() as session, session.begin():  # the contact leaves: nothing any more
        session.execute(update(ExternalContact).where(ExternalContact.id == wu.contact_id).values(active=False))
    assert _ids(sessions, wu) == []
    with sessions() as session, session.begin():  # the party is revoked: its other contact sees nothing
        session.execute(update(ExternalParty).where(ExternalParty.id == acme).values(active=False))
    with sessions() as session:
        other = session.scalars(select(ExternalContact.id).where(ExternalContact.party_id == acme,
                                                                 ExternalContact.id != wu.contact_id)).one()
    assert _ids(sessions, Principal(identity=contact_identity(other), kind="supplier", party_id=acme,
                                    contact_id=other)) == []


def test_a_grant_sees_its_instance_only_while_valid(world):
    sessions, acme, _beta, (one, two, _three) = world
    link = add_grant(sessions, instance_id=one)
    assert _ids(sessions, link) == [one]
    assert _ids(sessions, add_grant(sessions, instance_id=two, revoked=True)) == []
    assert _ids(sessions, add_grant(sessions, instance_id=two, days=-1)) == []  # expired
    party_bound = add_grant(sessions, party_id=acme, scopes=("view",))
    assert _ids(sessions, party_bound) == [one, two]
    with sessions() as session:
        assert not scope.may_fill_task(session, party_bound, open_task(sessions, one, "confirm_order"))  # view only
        assert scope.may_fill_task(session, link, open_task(sessions, one, "confirm_order"))
        assert not scope.may_fill_task(session, link, open_task(sessions, two, "confirm_order"))
    with sessions() as session, session.begin():
        session.execute(update(ExternalGrant).where(ExternalGrant.id == link.grant_id).values(revoked_at=utcnow()))
    assert _ids(sessions, link) == []


def test_the_case_list_and_the_progress_page(world):
    sessions, acme, _beta, (one, two, _three) = world
    wu = contact_principal(sessions, acme)
    with sessions() as session:
        page = portal.cases(session, wu, "en")
    assert [c.id for c in page.items] == [two, one] and page.total == 2  # newest first
    assert page.items[0].waiting and page.items[0].process_name == "Purchase order (supplier confirmation)"
    assert page.items[0].business_key == "PO-2" and page.items[0].outcome == "running"
    with sessions() as session:
        view = portal.case_view(session, wu, one, "zh")
    assert [(m.element_id, m.status) for m in view.milestones] == [
        ("order_raised", "done"), ("confirm_order", "current"), ("order_confirmed", "upcoming"),
        ("shipped", "upcoming"), ("delivered", "upcoming")]
    assert view.milestones[1].name == "确认订单" and view.milestones[0].at is not None
    assert [(f.name, f.label, f.value) for f in view.fields][:2] == [("po_number", "订单号", "PO-1"),
                                                                     ("items", "物料及数量", "bolts")]
    assert view.task["id"] == open_task(sessions, one, "confirm_order") and view.task["name"] == "确认订单"
    as_dict = view.to_dict()
    assert "supplier" not in str([f["name"] for f in as_dict["fields"]]) and "history" not in as_dict


def test_an_outsider_cannot_tell_a_hidden_case_from_a_missing_one(world):
    sessions, acme, _beta, (_one, _two, three) = world
    wu = contact_principal(sessions, acme)
    with sessions() as session:
        with pytest.raises(NotFoundError) as hidden:
            portal.case_view(session, wu, three, "en")
        with pytest.raises(NotFoundError) as missing:
            portal.case_view(session, wu, 999999, "en")
        assert str(hidden.value).replace(str(three), "N") == str(missing.value).replace("999999", "N")
        with pytest.raises(NotFoundError):
            portal.external_task(session, wu, open_task(sessions, three, "confirm_order"), "en")


def test_the_supplier_confirms_then_sees_progress_but_changes_nothing(world):
    sessions, acme, _beta, (one, _two, _three) = world
    wu = contact_principal(sessions, acme)
    task_id = open_task(sessions, one, "confirm_order")
    with sessions() as session:
        form = portal.external_task(session, wu, task_id, "en")
    assert form.schema is not None and form.values["po_number"] == "PO-1"
    assert "supplier" not in form.values  # not a field of this form
    portal.complete(sessions, wu, task_id, {"answer": "confirm"}, lang="en")
    with sessions() as session, pytest.raises(NotPermittedError):  # done: not open for them any more
        portal.external_task(session, wu, task_id, "en")
    with pytest.raises(NotPermittedError):
        portal.complete(sessions, wu, task_id, {"answer": "reject", "reject_reason": "changed my mind"})
    messages.send_message(sessions, "po_shipped", "PO-1", {})
    with sessions() as session:
        view = portal.case_view(session, wu, one, "en")
    assert [(m.element_id, m.status) for m in view.milestones][2:] == [
        ("order_confirmed", "done"), ("shipped", "done"), ("delivered", "upcoming")]
    assert view.task["name"] == "Report delivery"


def test_a_view_only_grant_may_not_complete(world):
    sessions, _acme, _beta, (one, _two, _three) = world
    viewer = add_grant(sessions, instance_id=one, scopes=("view",))
    task_id = open_task(sessions, one, "confirm_order")
    with pytest.raises(NotPermittedError):
        portal.complete(sessions, viewer, task_id, {"answer": "confirm"})
    with sessions() as session:
        assert portal.case_view(session, viewer, one, "en").task is None


def test_starting_a_request_from_the_portal(world, tmp_path):
    sessions, acme, beta, _orders = world
    wu = contact_principal(sessions, acme)
    with sessions() as session:
        assert portal.startable(session, wu, "en") == []  # supplier_order has portal.start: false
    with pytest.raises(NotFoundError):
        portal.start_request(sessions, wu, "supplier_order", {}, "en")
    _deploy_startable(sessions, tmp_path)
    with sessions() as session:
        assert portal.startable(session, wu, "en") == [{"key": "supplier_order", "name": "Purchase order (supplier confirmation)"}]
    data = {"po_number": "PO-9", "supplier": "BETA", "items": "x", "amount": 1, "delivery_date": "2026-12-30"}
    instance_id = portal.start_request(sessions, wu, "supplier_order", data, "en")
    with sessions() as session:
        case = session.get(ExternalCase, instance_id)
        assert (case.party_id, case.contact_id) == (acme, wu.contact_id)  # their own party, whatever was sent
        assert portal.case_view(session, wu, instance_id, "en").fields[0].value == "PO-9"
    grant = add_grant(sessions, process_key="supplier_order", scopes=("submit", "view"), party_id=beta)
    with sessions() as session:
        assert [p["key"] for p in portal.startable(session, grant, "en")] == ["supplier_order"]
    started = portal.start_request(sessions, grant, "supplier_order", {**data, "po_number": "PO-10"}, "en")
    with sessions() as session:
        assert started in session.scalars(scope.case_ids(grant)).all()
        assert session.get(ExternalCase, started).party_id == beta


def _deploy_startable(sessions, tmp_path):
    import shutil

    import yaml

    from engine.packages import deployment as packages
    from tests.engine.portal.support import SUPPLIER_ORDER
    folder = tmp_path / "supplier_order"
    shutil.copytree(SUPPLIER_ORDER, folder)
    meta = yaml.safe_load((folder / "package.yaml").read_text())
    meta["portal"]["start"] = True
    (folder / "package.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True))
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(folder), "admin")
