"""The webhook subscription pages (browser-free): a person's own under /me/webhooks (create: the secret
shown once; a test ping through the outbox to a real receiver, its state in the delivery log; delete),
everyone's for super admins under /admin/webhooks; the same engine functions as /api/v1/webhooks."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from sqlalchemy import func, select

from engine.data.models import OutboxMessage
from engine.notify import delivery
from engine.people import accounts, api_tokens

from ..conftest import PASSWORD, csrf_token, post, sign_in
from .conftest import call, conforms
from .test_api_webhooks import Receiver, deliver_api_webhooks

SECRET = re.compile(r'id="webhook-secret">(whsec_[^<]+)<')
ROW = re.compile(r'data-webhook="(\d+)"')


def _outbox_rows(app) -> int:
    with app.extensions["liaison_sessions"]() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage))


def test_subscribe_ping_read_the_log_and_delete_on_the_pages(api_app):
    with api_app.extensions["liaison_sessions"]() as session, session.begin():
        now = datetime.now(UTC)
        accounts.create_person_account(session, "hooker", "钩子", PASSWORD, now, name_en="Hook Er")
        accounts.create_admin(session, "chief", PASSWORD, "总管", now)
        accounts.create_person_account(session, "other", "别人", PASSWORD, now)
    with api_app.extensions["liaison_sessions"]() as session:
        token = api_tokens.create_token(session, "hooker", "hooks", ["read"])[1]
    receiver = Receiver()
    url = f"http://127.0.0.1:{receiver.port}/crm"
    try:
        browser = api_app.test_client()
        assert sign_in(browser, "hooker").status_code == 302
        assert "/me/webhooks" in browser.get("/").get_data(as_text=True)  # in the person's menu
        assert "/me/webhooks" in browser.get("/me/tokens").get_data(as_text=True)  # and next to the tokens
        page = "/me/webhooks"
        nothing = browser.post(page, data={"url": url, "csrf_token": csrf_token(browser, page)})
        assert nothing.status_code == 422 and 'id="webhook-list"' not in nothing.get_data(as_text=True)
        ftp = browser.post(page, data={"url": "ftp://127.0.0.1/x", "events": ["task.created"],
                                       "csrf_token": csrf_token(browser, page)}, headers={"Accept-Language": "en"})
        assert ftp.status_code == 422 and "http:// or https://" in ftp.get_data(as_text=True)
        assert browser.post(page, data={"url": url, "events": ["task.created"]}).status_code == 400  # no CSRF token
        assert call(api_app.test_client(), "GET", "/webhooks", token).json["items"] == []  # nothing was saved

        made = browser.post(page, data={"url": url, "events": ["instance.started", "task.created"],
                                        "process_key": "leave_request", "csrf_token": csrf_token(browser, page)},
                            headers={"Accept-Language": "zh"})
        assert made.status_code == 201
        text = made.get_data(as_text=True)
        secret = SECRET.search(text).group(1)
        assert "只显示这一次" in text
        [subscription] = ROW.findall(text)
        listed = browser.get(page).get_data(as_text=True)
        assert secret not in listed and url in listed and "leave_request" in listed
        # the API lists what the page made: one owner of the rule
        [api_view] = call(api_app.test_client(), "GET", "/webhooks", token).json["items"]
        assert (str(api_view["id"]), api_view["url"], api_view["events"]) == (
            subscription, url, ["instance.started", "task.created"])

        detail = f"/me/webhooks/{subscription}"
        assert 'id="no-deliveries"' in browser.get(detail).get_data(as_text=True)
        before = _outbox_rows(api_app)
        assert browser.post(f"{detail}/ping").status_code == 400  # no CSRF token: nothing queued
        assert _outbox_rows(api_app) == before
        pinged = post(browser, f"{detail}/ping", token_from=detail)
        assert (pinged.status_code, pinged.location) == (302, detail)
        assert post(browser, f"{detail}/ping", token_from=detail).status_code == 302
        assert _outbox_rows(api_app) == before + 1  # a ping still waiting is not queued twice
        assert 'data-status="pending"' in browser.get(detail).get_data(as_text=True)
        api = api_app.test_client()
        document = api.get("/api/v1/openapi.json").json
        log = call(api, "GET", f"/webhooks/{subscription}/deliveries", token)
        conforms(document, "GET", "/webhooks/{subscription_id}/deliveries", log)
        [ping] = log.json["items"]
        assert (ping["event"], ping["status"], ping["attempts"]) == ("ping", "pending", 0)
        again = call(api, "POST", f"/webhooks/{subscription}/ping", token)  # the API's button: the same ping
        conforms(document, "POST", "/webhooks/{subscription_id}/ping", again)
        assert (again.status_code, again.json) == (202, {"delivery": ping["id"], "status": "pending"})
        with api_app.extensions["liaison_sessions"]() as session:
            stranger = api_tokens.create_token(session, "other", "t", ["read"])[1]
        assert call(api, "POST", f"/webhooks/{subscription}/ping", stranger).status_code == 404
        assert call(api, "GET", f"/webhooks/{subscription}/deliveries", stranger).status_code == 404

        assert deliver_api_webhooks(api_app, receiver.port) == ["sent"]  # the outbox worker's own delivery
        [(path, headers, body)] = receiver.received
        assert (path, headers["X-Liaison-Event"], headers["X-Liaison-Delivery"]) == ("/crm", "ping", str(ping["id"]))
        assert delivery.verify_signature(secret, headers["X-Liaison-Timestamp"], body, headers["X-Liaison-Signature"])
        assert json.loads(body)["subscription"] == int(subscription)
        shown = browser.get(detail, headers={"Accept-Language": "en"}).get_data(as_text=True)
        assert f'data-delivery="{ping["id"]}" data-status="sent"' in shown and "delivered" in shown

        # someone else's subscription is no page, no ping, no delete of theirs
        other = api_app.test_client()
        assert sign_in(other, "other").status_code == 302
        assert other.get(detail).status_code == 404
        assert post(other, f"{detail}/ping").status_code == 404
        assert post(other, f"{detail}/delete").status_code == 404
        assert other.get("/admin/webhooks").status_code == 403
        assert _outbox_rows(api_app) == before + 1

        # super admins: everyone's subscriptions by display name, from the admin index; they delete any
        chief = api_app.test_client()
        assert sign_in(chief, "chief").status_code == 302
        assert "/admin/webhooks" in chief.get("/admin/").get_data(as_text=True)
        everyone = chief.get("/admin/webhooks", headers={"Accept-Language": "en"}).get_data(as_text=True)
        assert f'data-webhook="{subscription}"' in everyone and "Hook Er" in everyone
        assert "Hook Er" in chief.get(f"/admin/webhooks/{subscription}", headers={"Accept-Language": "en"}).get_data(
            as_text=True)
        mine = chief.post("/admin/webhooks", data={"url": url + "/all", "events": ["instance.completed"],
                                                   "all_instances": "y",
                                                   "csrf_token": csrf_token(chief, "/admin/webhooks")})
        assert mine.status_code == 201
        assert post(chief, f"/admin/webhooks/{subscription}/delete", token_from="/admin/webhooks").status_code == 302
        assert call(api_app.test_client(), "GET", "/webhooks", token).json["items"] == []
        assert subscription not in ROW.findall(browser.get(page).get_data(as_text=True))
        assert browser.get(detail).status_code == 404
    finally:
        receiver.stop()


def test_a_person_may_not_subscribe_to_every_instance_from_their_page(api_app):
    with api_app.extensions["liaison_sessions"]() as session, session.begin():
        accounts.create_person_account(session, "sneak", "偷看", PASSWORD, datetime.now(UTC))
    browser = api_app.test_client()
    assert sign_in(browser, "sneak").status_code == 302
    made = browser.post("/me/webhooks", data={"url": "http://127.0.0.1:9/x", "events": ["instance.started"],
                                              "all_instances": "y", "csrf_token": csrf_token(browser, "/me/webhooks")})
    assert made.status_code == 201
    with api_app.extensions["liaison_sessions"]() as session:
        token = api_tokens.create_token(session, "sneak", "t", ["read"])[1]
    [made] = call(api_app.test_client(), "GET", "/webhooks", token).json["items"]
    assert made["all_instances"] is False  # the box is the admin page's only; the person's stays their own
