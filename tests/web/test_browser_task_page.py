"""The task page and the inbox in headless Chromium at desktop (1280x900) and phone (390x844) widths, in
zh and en: the decision is on the first screen, the other operations wait behind "More actions".

Screenshots go to docs/screenshots with LIAISON_SCREENSHOTS=1 (else to a temporary folder).
"""

from __future__ import annotations

import os

import pytest

from engine import runtime
from engine.work import queries

from .test_browser_approval import SCREENSHOTS, Person, browser, site  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def _inside(box: dict, viewport: dict) -> bool:
    return box is not None and box["y"] >= 0 and box["x"] >= 0 and \
        box["y"] + box["height"] <= viewport["height"] and box["x"] + box["width"] <= viewport["width"]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_decision_is_on_the_first_screen(browser, site, lang, size, tmp_path):  # noqa: F811
    base, sessions = site
    viewport = SIZES[size]
    shot_dir = SCREENSHOTS if os.environ.get("LIAISON_SCREENSHOTS") == "1" else tmp_path
    shot_dir.mkdir(parents=True, exist_ok=True)
    reason = "回老家探亲，顺便参加婚礼" if lang == "zh" else "Visiting family and a wedding"
    started = runtime.start_instance(sessions, "leave_request", {"leave_type": "annual", "days": 3,
                                                                 "manager": "wang", "reason": reason}, user="zhang")
    runtime.start_instance(sessions, "leave_request", {"leave_type": "sick", "days": 1, "manager": "wang"},
                           user="zhao")
    with sessions() as session:
        task = next(t for t in queries.instance_view(session, started.instance_id)["tasks"] if t["status"] == "open")

    manager = Person(browser, base, "wang", lang)
    page = manager.page
    page.set_viewport_size(viewport)
    page.goto(f"{base}/inbox/")
    page.screenshot(path=str(shot_dir / f"inbox-{lang}-{size}.png"))
    boxes = page.locator("input[name=task]")
    page.check("#select-all")  # select all, then the batch asks before approving anything
    assert boxes.count() >= 2 and all(boxes.nth(i).is_checked() for i in range(boxes.count()))
    page.click("#batch-approve")
    page.wait_for_selector("#batch-confirm")
    assert page.locator("#batch-approvable li").count() == boxes.count()
    assert f"#{started.instance_id}" in page.inner_text("#batch-approvable")
    page.goto(f"{base}/tasks/{task['id']}")
    page.wait_for_load_state()
    assert page.evaluate("window.scrollY") == 0
    # the approve and reject buttons without scrolling: in the decision card on a desktop, in the bar at
    # the bottom of the screen on a phone (issue 11 item 11)
    assert _inside(page.locator("#approve-task").bounding_box(), viewport)
    assert _inside(page.locator("#reject-task").bounding_box(), viewport)
    assert _inside(page.locator("#request-title").bounding_box(), viewport)
    assert _inside(page.locator("#form-title").bounding_box(), viewport)
    assert page.locator("#approve-task").inner_text() == ("同意" if lang == "zh" else "Approve")
    assert reason in page.inner_text("#request")
    # the operations are closed behind "More actions": no transfer / delegate form on the first screen
    assert not page.locator("#transfer-form").is_visible()
    assert not page.locator("#delegate-form").is_visible()
    more = page.locator("#more-actions")
    assert more.bounding_box()["y"] > page.locator("#form-title").bounding_box()["y"]
    page.screenshot(path=str(shot_dir / f"task-page-{lang}-{size}.png"))

    # keyboard: open "More actions", then "Transfer", and its form shows
    page.focus("#more-actions > summary")
    page.keyboard.press("Enter")
    transfer = page.locator("#more-actions .more-item > summary").first
    transfer.focus()
    page.keyboard.press("Enter")
    assert page.locator("#transfer-form").is_visible()
    assert page.locator("#transfer-to").get_attribute("data-picker") == "people"

    # the bar does not hide the end of the page: scrolled to the bottom, the timeline's last line is above it
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    last = page.locator(".timeline li").last.bounding_box()
    bar = page.locator("#approve-task").bounding_box()
    assert last["y"] + last["height"] <= bar["y"] or size == "desktop"
    page.evaluate("window.scrollTo(0, 0)")
    page.click("#approve-task")  # the bar's button is the form's own: it decides
    page.locator(".flashes").wait_for()
    with sessions() as session:
        done = next(t for t in queries.instance_view(session, started.instance_id)["tasks"] if t["id"] == task["id"])
    assert done["status"] == "completed"
    manager.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_instance_page_keeps_its_operations_behind_more_on_a_phone(browser, site, lang, tmp_path):  # noqa: F811
    base, sessions = site
    started = runtime.start_instance(sessions, "leave_request", {"leave_type": "annual", "days": 1,
                                                                 "manager": "wang"}, user="zhang")
    initiator = Person(browser, base, "zhang", lang)
    page = initiator.page
    page.set_viewport_size(SIZES["phone"])
    page.goto(f"{base}/instances/{started.instance_id}")
    more = page.locator("#operations")
    assert more.evaluate("el => el.tagName") == "DETAILS" and not more.evaluate("el => el.open")
    assert more.locator("summary").first.inner_text() == ("更多操作" if lang == "zh" else "More actions")
    for form in ("#urge-form", "#withdraw-form", "#cc-form"):
        assert page.locator(form).count() == 1 and not page.locator(form).is_visible()
    page.focus("#operations > summary")  # keyboard: open "More actions", then "Urge"
    page.keyboard.press("Enter")
    urge = page.locator("#operations .more-item > summary").first
    urge.focus()
    page.keyboard.press("Enter")
    assert page.locator("#urge-form").is_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    page.screenshot(path=str(tmp_path / f"instance-{lang}-phone.png"), full_page=True)
    initiator.close()
