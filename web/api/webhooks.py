"""Webhook subscriptions over the API: list, create (the secret is returned once), delete, send a test
`ping` and read the delivery log, through `engine.runtime.api_webhooks` (the pages `/me/webhooks` and
`/admin/webhooks` call the same functions); the deliveries are the outbox's (HMAC-SHA256, retried)."""

from __future__ import annotations

from flask_babel import gettext as _

from engine.runtime import api_webhooks

from . import schemas as s
from .core import ApiError, decode_cursor, endpoint, identity, page_of, sessions


def _sees_all() -> bool:
    """A super administrator's token with the admin scope sees and makes subscriptions to everything."""
    found = identity()
    return "admin" in found.scopes and found.user.is_super_admin


@endpoint("GET", "/webhooks", scope="read", response=s.WebhookList, tags=["webhooks"])
def list_webhooks():
    """The token's person's webhook subscriptions (everyone's for a super admin's admin-scoped token)."""
    with sessions()() as session:
        found = api_webhooks.list_subscriptions(session, None if _sees_all() else identity().user.username)
    return {"items": [subscription.to_dict() for subscription in found]}


@endpoint("POST", "/webhooks", scope="read", body=s.WebhookBody, response=s.WebhookCreated, status=201,
          idempotent=True, tags=["webhooks"], links=s.WEBHOOK_LINKS)
def create_webhook(body: dict):
    """Subscribe a URL to instance and task events; the response holds the HMAC `secret`, shown only once.

    Events: instance.started, instance.completed, instance.withdrawn, instance.terminated,
    instance.cancelled, task.created, task.assigned, task.completed. They are those of the instances the
    person started and of the tasks offered to, handed to or from, or completed by them; `task.assigned`
    says who holds a task now after a claim, unclaim, transfer, delegation, hand-back or signer change
    (`previous_assignee`, `actor`, `operation`); `all_instances` (a super admin's admin-scoped token
    only) subscribes to every instance. `process` limits them to one process key."""
    everything = bool(body["all_instances"])
    if everything and not _sees_all():
        raise ApiError(403, "forbidden", _("Only a super administrator's token with the admin scope may subscribe "
                                           "to every instance."))
    with sessions()() as session:
        subscription, secret = api_webhooks.create_subscription(
            session, identity().user.username, body["url"], body["events"], body["process"], everything)
    return {**subscription.to_dict(), "secret": secret}


@endpoint("DELETE", "/webhooks/<int:subscription_id>", scope="read", response=s.Done, tags=["webhooks"])
def delete_webhook(subscription_id: int):
    """End a subscription (404 when it is not the person's); deliveries still pending are given up."""
    with sessions()() as session:
        api_webhooks.delete_subscription(session, _owner(), subscription_id)
    return {"ok": True}


def _owner() -> str | None:
    return None if _sees_all() else identity().user.username


@endpoint("POST", "/webhooks/<int:subscription_id>/ping", scope="read", response=s.WebhookPinged, status=202,
          tags=["webhooks"])
def ping_webhook(subscription_id: int):
    """Queue a test `ping` event to the subscription's URL through the outbox (signed like every event).

    A ping still waiting is not queued again: its delivery is returned. Follow it in
    `GET /webhooks/{id}/deliveries`."""
    with sessions()() as session:
        delivery = api_webhooks.send_ping(session, _owner(), subscription_id)
    return {"delivery": delivery.id, "status": delivery.status}


@endpoint("GET", "/webhooks/<int:subscription_id>/deliveries", scope="read", query=s.ListQuery,
          response=s.page_schema(s.WebhookDelivery, "WebhookDeliveryPage"), tags=["webhooks"])
def webhook_deliveries(subscription_id: int, args: dict):
    """The subscription's deliveries from the outbox, newest first: event, status, attempts, last error."""
    offset = decode_cursor(args["cursor"])
    with sessions()() as session:
        found = api_webhooks.recent_deliveries(session, _owner(), subscription_id, args["limit"] + 1, offset)
    return page_of([d.to_dict() for d in found], offset, args["limit"])
