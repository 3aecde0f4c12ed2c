"""The engine checks every start and completion against its form, stores the cleaned data, numbers serials."""

from __future__ import annotations

import threading

import pytest
import yaml
from sqlalchemy import func, select

from engine import runtime
from engine.data import db
from engine.data.models import HistoryEntry, ProcessInstance
from engine.errors import FormInvalidError, InvalidPackageError
from engine.packages import deployment as packages
from engine.work import queries
from tests.engine.conftest import flow, write_package

BODY = "\n".join([
    '<bpmn:startEvent id="start" liaison:form="purchase"/>', flow("start", "review"),
    '<bpmn:userTask id="review" liaison:form="purchase" liaison:assignee="li"/>', flow("review", "end"),
    '<bpmn:endEvent id="end"/>'])

PURCHASE = {
    "title": {"zh": "采购", "en": "Purchase"},
    "access": {"review": {"editable": ["approved", "comment"], "hidden": ["budget_code"]}},
    "fields": [
        {"name": "number", "type": "serial", "pattern": "PO-{yyyy}{mm}-{seq:4}"},
        {"name": "item", "type": "text", "required": True, "max_length": 40},
        {"name": "amount", "type": "money", "required": True, "max": 100000},
        {"name": "reason", "type": "textarea", "required_if": "amount > 5000"},
        {"name": "budget_code", "type": "text"},
        {"name": "approved", "type": "radio", "options": [True, False]},
        {"name": "comment", "type": "textarea", "visible_if": "approved == False", "required": True},
    ],
}


def _package(tmp_path, form=PURCHASE):
    folder = write_package(tmp_path, "purchase", {"purchase": BODY})
    (folder / "forms" / "purchase.yaml").write_text(yaml.safe_dump(form, allow_unicode=True))
    return folder


def _count(sessions, model) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_invalid_start_is_refused_field_by_field_and_nothing_is_stored(sessions, deploy_package, tmp_path):
    deploy_package(_package(tmp_path))
    with pytest.raises(FormInvalidError) as caught:
        runtime.start_instance(sessions, "purchase", {"item": "x" * 41, "amount": "12.345", "colour": "red"},
                               user="zhang")
    assert caught.value.errors == {
        "colour": ["Unknown field."],
        "item": ["Must be at most 40 characters."],
        "amount": ["Must be an amount with at most two decimals."],
    }
    assert _count(sessions, ProcessInstance) == 0 and _count(sessions, HistoryEntry) == 0


def test_messages_follow_the_language_asked_for(sessions, deploy_package, tmp_path):
    deploy_package(_package(tmp_path))
    with pytest.raises(FormInvalidError) as caught:
        runtime.start_instance(sessions, "purchase", {"item": "laptop", "amount": 9000}, lang="zh")
    assert caught.value.errors == {"reason": ["此项为必填项。"]}


def test_start_stores_cleaned_data_and_numbers_each_instance(sessions, deploy_package, tmp_path):
    deploy_package(_package(tmp_path))
    first = runtime.start_instance(sessions, "purchase", {"item": " laptop ", "amount": "1,234.50"}, user="zhang")
    second = runtime.start_instance(sessions, "purchase", {"item": "pen", "amount": 3}, user="zhang")
    with sessions() as session:
        one = queries.instance_view(session, first.instance_id)["data"]
        two = queries.instance_view(session, second.instance_id)["data"]
    assert one["item"] == "laptop" and one["amount"] == 1234.5
    assert one["number"].startswith("PO-") and one["number"].endswith("-0001")
    assert two["number"].endswith("-0002") and two["number"][:9] == one["number"][:9]


def test_later_node_sees_earlier_answers_read_only_and_cannot_change_them(sessions, deploy_package, tmp_path):
    deploy_package(_package(tmp_path))
    started = runtime.start_instance(sessions, "purchase", {"item": "laptop", "amount": 100, "budget_code": "B7"})
    task = started.open_tasks[0]["id"]
    with pytest.raises(FormInvalidError) as caught:
        runtime.complete_task(sessions, task, "li", {"approved": True, "amount": 1})
    assert caught.value.errors == {"amount": ["This field is read-only at this step."]}
    with pytest.raises(FormInvalidError) as caught:
        runtime.complete_task(sessions, task, "li", {"approved": True, "budget_code": "B8"})
    assert caught.value.errors == {"budget_code": ["Unknown field."]}  # hidden at this node
    with pytest.raises(FormInvalidError) as caught:
        runtime.complete_task(sessions, task, "li", {"approved": False})
    assert caught.value.errors == {"comment": ["This field is required."]}  # shown once rejected
    with sessions() as session:
        assert queries.get_task(session, task).status == "open"
    done = runtime.complete_task(sessions, task, "li", {"approved": True, "amount": 100, "comment": "ignored"})
    assert done.status == "completed"
    with sessions() as session:
        data = queries.instance_view(session, started.instance_id)["data"]
    assert data["approved"] is True and data["amount"] == 100 and "comment" not in data


def test_package_with_a_broken_form_is_refused_naming_the_field(tmp_path):
    broken = {"fields": [{"name": "amount", "type": "number", "min": "x"},
                         {"name": "kind", "type": "select"}]}
    folder = write_package(tmp_path, "purchase", {"purchase": BODY})
    (folder / "forms" / "purchase.yaml").write_text(yaml.safe_dump(broken))
    with pytest.raises(InvalidPackageError) as caught:
        packages.load_package(folder)
    assert "field `amount`: `min` must be a number" in str(caught.value)


def test_simultaneous_starts_never_share_a_serial_number(postgres_url, tmp_path):
    sessions = db.make_session_factory(db.make_engine(postgres_url))
    package = packages.load_package(_package(tmp_path))
    with sessions() as session, session.begin():
        packages.deploy(session, package, "admin")
    numbers, errors = [], []
    barrier = threading.Barrier(4)

    def starter():
        own = db.make_session_factory(db.make_engine(postgres_url))
        barrier.wait()
        try:
            for _ in range(5):
                result = runtime.start_instance(own, "purchase", {"item": "pen", "amount": 1})
                with own() as session:
                    numbers.append(queries.instance_view(session, result.instance_id)["data"]["number"])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=starter) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(int(n.rsplit("-", 1)[1]) for n in numbers) == list(range(1, 21))
