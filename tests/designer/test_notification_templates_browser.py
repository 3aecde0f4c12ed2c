"""The notification templates page in a browser (issue 15, third "Done when"): an undefined variable shows its
error at its line, the fixed template previews in e-mail and the DingTalk robot, saves, and reads back."""

from __future__ import annotations

import os

import pytest

from engine.packages import drafts
from engine.packages import notification_drafts as nd
from tests.designer.test_flow_browser import SHOTS, site  # noqa: F401 (fixture)
from tests.web.test_browser_approval import Person as Browser
from tests.web.test_browser_approval import browser  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def _checked(page, action) -> None:
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/notifications/check")) as got:
        action()
    assert got.value.status == 200


def test_edit_check_preview_save_and_reload(browser, site):  # noqa: F811
    base, sessions = site
    with sessions() as session, session.begin():
        drafts.create_draft(session, "owner", "notify_buy", {"zh": "采购通知", "en": "Purchase"}, "general",
                            template="approval")
    person = Browser(browser, base, "owner", "zh")
    page = person.page
    page.goto(f"{base}/designer/notify_buy/notifications")
    page.wait_for_selector("#nt-editor[data-ready=true]")
    assert page.locator("#nt-event-title").inner_text() == "新待办"
    page.click(".nt-event[data-event=urged]")
    assert "内置默认" in page.locator("#nt-source").inner_text()

    text = page.locator("#nt-zh-text")
    _checked(page, lambda: text.fill("请尽快处理\n{{ data.title }} 由 {{ applicant }} 提交"))
    problem = page.locator(".nt-problems[data-where='zh.text'] .nt-error")
    problem.wait_for()
    assert "第 2 行" in problem.inner_text() and "applicant" in problem.inner_text()

    text.fill("请尽快处理\n{{ data.title }} 由 ")
    text.press("End")
    _checked(page, lambda: page.click(".nt-variable[data-name=actor]"))  # inserted at the cursor
    assert text.input_value() == "请尽快处理\n{{ data.title }} 由 {{ actor }}"
    assert page.locator(".nt-problems[data-where='zh.text'] li").count() == 0
    page.click("#nt-tab-email")
    assert page.locator(".nt-email .nt-pre").inner_text().startswith("请尽快处理\nNew laptop 由 王经理")
    if os.environ.get("LIAISON_SCREENSHOTS") == "1":
        page.set_viewport_size({"width": 1280, "height": 900})
        page.screenshot(path=str(SHOTS / "notification-templates-zh-1280.png"), full_page=True)
    page.click("#nt-tab-dingtalk")
    robot = page.locator(".nt-dingtalk").inner_text()
    assert '"msgtype": "markdown"' in robot and "New laptop 由 王经理" in robot

    with page.expect_response(lambda r: r.request.method == "PUT") as saved:
        page.click("#nt-save")
    assert saved.value.status == 200
    page.wait_for_selector("#nt-status[data-state=saved]")
    with sessions() as session:
        files = drafts.get_draft(session, "notify_buy").files
    assert "{{ data.title }} 由 {{ actor }}" in files[nd.NEW_FILE]

    page.reload()
    page.wait_for_selector("#nt-editor[data-ready=true]")
    page.click(".nt-event[data-event=urged]")
    assert page.locator("#nt-zh-text").input_value() == "请尽快处理\n{{ data.title }} 由 {{ actor }}"
    assert "流程包模板" in page.locator("#nt-source").inner_text()
    person.close()

    if os.environ.get("LIAISON_SCREENSHOTS") == "1":
        english = Browser(browser, base, "owner", "en")
        page = english.page
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(f"{base}/designer/notify_buy/notifications")
        page.wait_for_selector("#nt-editor[data-checked]")
        page.click("#nt-tab-email")
        page.screenshot(path=str(SHOTS / "notification-templates-en-1280.png"), full_page=True)
        english.close()
