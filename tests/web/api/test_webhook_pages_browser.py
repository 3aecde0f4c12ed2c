"""The webhook subscription pages in headless Chromium: a person subscribes in Chinese on a desktop (the
secret shown once), sends a test delivery that the outbox delivers to a real receiver, and reads its
state in the delivery log; then the same pages in English at 390 px (no sideways scrolling). With
LIAISON_SCREENSHOTS=1 it saves docs/screenshots/webhooks-*.png."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.people import accounts
from tests.browser_support import chromium, screenshot, serving, signed_in

from ..conftest import PASSWORD
from .test_api_webhooks import Receiver, deliver_api_webhooks

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def test_subscribe_and_test_a_webhook_in_zh_then_on_a_phone_in_en(api_app, browser):
    with api_app.extensions["liaison_sessions"]() as session, session.begin():
        accounts.create_person_account(session, "crm", "客户系统", PASSWORD, datetime.now(UTC), name_en="CRM sync")
    receiver = Receiver()
    try:
        with serving(api_app) as base:
            context, page = signed_in(browser, base, "crm", PASSWORD, DESKTOP, lang="zh")
            page.goto(f"{base}/me/webhooks")
            page.fill("#url", f"http://127.0.0.1:{receiver.port}/liaison")
            page.check("input[name=events][value='task.created']")
            page.check("input[name=events][value='instance.completed']")
            page.fill("#process_key", "leave_request")
            page.click("#webhook-form button[type=submit]")
            secret = page.inner_text("#webhook-secret")
            assert secret.startswith("whsec_") and "只显示这一次" in page.inner_text("#new-webhook")
            screenshot(page, "webhooks-zh.png")
            page.click("#webhook-list a.webhook-url")
            page.click("#webhook-ping")
            assert "测试推送已排队" in page.inner_text("main")
            assert page.get_attribute("#delivery-list tbody tr", "data-status") == "pending"
            assert deliver_api_webhooks(api_app, receiver.port) == ["sent"]
            page.reload()
            assert page.inner_text("#delivery-list .delivery-status") == "已送达"
            screenshot(page, "webhook-deliveries-zh.png")
            detail = page.url
            context.close()
            [(_path, headers, _body)] = receiver.received
            assert headers["X-Liaison-Event"] == "ping"

            context, page = signed_in(browser, base, "crm", PASSWORD, PHONE, lang="en")
            page.goto(detail)
            assert page.inner_text("#delivery-list .delivery-status") == "delivered"
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            screenshot(page, "webhook-deliveries-en-phone.png")
            page.goto(f"{base}/me/webhooks")
            assert "Webhook subscriptions" in page.inner_text("h1")
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            page.click("#webhook-list a.webhook-url")
            page.click("#webhook-delete")
            assert "No webhook subscriptions yet." in page.inner_text("main")
            context.close()
    finally:
        receiver.stop()
