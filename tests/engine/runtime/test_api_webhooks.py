"""The API's webhook subscriptions at the engine level, on SQLite and PostgreSQL (`liaison_save_step`):
the outbox rows a step writes for the subscriptions that want its events, in the step's own write (a
refused step writes none), scoped to the owner's instances and tasks, and seen by the next step once
made (the per-directory-version cache)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from engine import runtime
from engine.data.models import OutboxMessage
from engine.errors import FormInvalidError, NotFoundError
from engine.runtime import api_webhooks, operations
from tests.conftest import add_people

PROCESSES = Path(__file__).resolve().parents[3] / "processes"
START = {"leave_type": "annual", "days": 2, "manager": "li"}


def _rows(sessions) -> list[tuple[str, str]]:
    """(owner's endpoint URL path, event) of the API subscriptions' outbox rows, in order."""
    from engine.data.models import WebhookEndpoint
    with sessions() as session:
        return [(url.rsplit("/", 1)[1], event) for url, event in session.execute(
            select(WebhookEndpoint.url, OutboxMessage.event)
            .join(WebhookEndpoint, WebhookEndpoint.name == OutboxMessage.recipient)
            .where(OutboxMessage.recipient.like("api-webhook-%")).order_by(OutboxMessage.id))]


def test_steps_write_the_rows_their_subscriptions_want(sessions, deploy_package):
    deploy_package(PROCESSES / "leave_request")
    add_people(sessions, "zhang", "li", "wang", "root")
    with sessions() as session:
        zhang, secret = api_webhooks.create_subscription(
            session, "zhang", "http://127.0.0.1:9/zhang", ["instance.started", "task.completed",
                                                          "instance.withdrawn"], "leave_request")
        api_webhooks.create_subscription(session, "li", "http://127.0.0.1:9/li", ["task.created"])
        api_webhooks.create_subscription(session, "wang", "http://127.0.0.1:9/wang", list(api_webhooks.EVENTS))
        api_webhooks.create_subscription(session, "root", "http://127.0.0.1:9/root", ["instance.withdrawn"],
                                         "other_process", all_instances=True)
    assert secret.startswith("whsec_") and zhang.events == ("instance.started", "instance.withdrawn",
                                                            "task.completed")
    started = runtime.start_instance(sessions, "leave_request", START, user="zhang")
    assert _rows(sessions) == [("zhang", "instance.started"), ("li", "task.created")]
    task_id = started.open_tasks[0]["id"]
    with pytest.raises(FormInvalidError):  # a refused step writes nothing, rows included
        runtime.complete_task(sessions, task_id, "li", {"approved": "perhaps"})
    assert len(_rows(sessions)) == 2

    # made after li's task was read (and the subscriptions kept): the next step sees it
    with sessions() as session:
        api_webhooks.create_subscription(session, "li", "http://127.0.0.1:9/li2", ["task.completed"])
    runtime.complete_task(sessions, task_id, "li", {"approved": False})
    assert _rows(sessions)[2:] == [("zhang", "task.completed"), ("li2", "task.completed")]

    again = runtime.start_instance(sessions, "leave_request", START, user="zhang")
    operations.withdraw(sessions, again.instance_id, actor="zhang", comment="not needed")
    assert [event for who, event in _rows(sessions)[4:]] == ["instance.started", "task.created",
                                                               "instance.withdrawn"]
    with sessions() as session:
        assert [s.owner for s in api_webhooks.list_subscriptions(session, "li")] == ["li", "li"]
        assert len(api_webhooks.list_subscriptions(session, None)) == 5
        with pytest.raises(NotFoundError):
            api_webhooks.delete_subscription(session, "wang", zhang.id)
        api_webhooks.delete_subscription(session, "zhang", zhang.id)
        assert [s.owner for s in api_webhooks.list_subscriptions(session, None)].count("zhang") == 0
    runtime.start_instance(sessions, "leave_request", START, user="zhang")
    assert [who for who, _event in _rows(sessions)[7:]] == ["li"]


def test_a_bad_subscription_is_refused(sessions):
    add_people(sessions, "zhang")
    with sessions() as session:
        for url, events in (("ftp://x", ["task.created"]), ("http://127.0.0.1:9/", []),
                            ("http://127.0.0.1:9/", ["task.deleted"])):
            with pytest.raises(api_webhooks.InvalidWebhookError):
                api_webhooks.create_subscription(session, "zhang", url, events)
        assert api_webhooks.list_subscriptions(session, None) == []
