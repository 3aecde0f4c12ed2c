"""Meeting rooms in a real browser (one app, one Chromium for the module): booking a free slot on the
booking page, the day and week calendars, a clash refused in Chinese with nothing saved, the .ics files,
and the pages at 390 px. With LIAISON_SCREENSHOTS=1 it also saves docs/screenshots/rooms-*.png (zh)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from engine.data import db
from engine.data.models import ProcessInstance
from engine.data.room_models import RoomBooking
from engine.packages import deployment as packages
from engine.people import accounts
from engine.resources import rooms
from tests.browser_support import chromium, screenshot, serving, signed_in
from web import create_app

from .conftest import PASSWORD

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ZONE = ZoneInfo("Asia/Shanghai")
DAY = (datetime.now(ZONE) + timedelta(days=1)).date()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The app with room_booking deployed, three demo rooms, zhang and li able to sign in."""
    os.environ.setdefault("LIAISON_TIMEZONE", "Asia/Shanghai")
    url = f"sqlite:///{tmp_path_factory.mktemp('rooms') / 'liaison.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        accounts.create_person_account(session, "zhang", "张三", PASSWORD, name_en="Zhang San")
        accounts.create_person_account(session, "li", "李四", PASSWORD, name_en="Li Si")
        rooms.import_rooms(session, rooms.load_rooms_file(ROOT / "processes" / "_demo" / "rooms.yaml")[:4])
    packages.deploy_package(sessions, packages.load_package(ROOT / "processes" / "room_booking"), "admin")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "browser-test"})
    with serving(app) as base:
        yield base, sessions
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def _signed_in(browser, base: str, username: str, width: int):
    return signed_in(browser, base, username, PASSWORD, {"width": width, "height": 900})


_shot = screenshot


def _count(sessions, model) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_book_a_free_slot_see_it_on_the_calendars_and_a_clash_is_refused(site, browser):
    base, sessions = site
    context, page = _signed_in(browser, base, "zhang", 1280)
    page.goto(f"{base}/rooms/book?day={DAY.isoformat()}&capacity=5")
    assert page.locator("fieldset.rm-room").count() == 3  # 5 seats and up: focus-b, meeting-5, board
    page.check("input[name=equipment][value=projector]")
    page.click("form.rm-filters button[type=submit]")
    assert [page.locator("fieldset.rm-room").nth(i).get_attribute("data-room") for i in range(2)] == ["meeting-5", "board"]
    page.click("fieldset[data-room=meeting-5] label.rm-slot:has-text('10:00')")
    page.select_option("select[name=length]", "90")
    page.fill("input[name=title]", "季度评审")
    _shot(page, "rooms-book-zh-1280.png")
    page.click("form.rm-book button.primary")
    page.wait_for_url("**/rooms/mine")
    assert "季度评审" in page.inner_text("table.rm-mine") and "已预订" in page.inner_text("table.rm-mine")
    with sessions() as session:
        booking = session.scalar(select(RoomBooking))
        assert booking.instance_id is not None and booking.ends_at - booking.starts_at == timedelta(minutes=90)

    page.goto(f"{base}/rooms/?day={DAY.isoformat()}")
    cell = page.locator("td.rm-taken")
    assert cell.count() == 1 and cell.get_attribute("rowspan") == "3" and "张三" in cell.inner_text()
    _shot(page, "rooms-calendar-zh-1280.png")
    page.goto(f"{base}/rooms/week?room=meeting-5&day={DAY.isoformat()}")
    assert "季度评审" in page.inner_text("table.rm-grid")

    # li asks for 10:30 in a stale page: refused in Chinese, naming the room and the taken time; nothing saved
    other, li_page = _signed_in(browser, base, "li", 1280)
    li_page.goto(f"{base}/rooms/book?day={DAY.isoformat()}")
    before = (_count(sessions, RoomBooking), _count(sessions, ProcessInstance))
    li_page.evaluate("""() => { const r = document.querySelector("fieldset[data-room=meeting-5] input[name=slot]");
                                r.value = "meeting-5|10:30"; r.checked = true; }""")
    li_page.fill("input[name=title]", "周会")
    with li_page.expect_response(lambda r: r.url.endswith("/rooms/book") and r.request.method == "POST") as posted:
        li_page.click("form.rm-book button.primary")
    assert posted.value.status == 409
    assert li_page.locator("#rm-error").inner_text() == (
        f"五楼中会议室 在 {DAY.isoformat()} 10:00–11:30 已被预订：本次没有预订任何时段")
    assert li_page.input_value("input[name=title]") == "周会"
    assert (_count(sessions, RoomBooking), _count(sessions, ProcessInstance)) == before
    other.close()

    ics = page.request.get(f"{base}/rooms/meeting-5.ics")
    assert ics.status == 200 and ics.headers["content-type"].startswith("text/calendar")
    assert "BEGIN:VEVENT" in ics.text() and "SUMMARY:季度评审" in ics.text()
    mine = page.request.get(f"{base}/rooms/mine.ics")
    assert "SUMMARY:季度评审" in mine.text() and "LOCATION:五楼中会议室 5F-501" in mine.text()
    context.close()


def test_room_pages_fit_a_phone(site, browser):
    base, _sessions = site
    context, page = _signed_in(browser, base, "zhang", 390)
    for path, name in ((f"/rooms/book?day={DAY.isoformat()}", "rooms-book-zh-390.png"),
                       (f"/rooms/?day={DAY.isoformat()}", "rooms-calendar-zh-390.png"),
                       (f"/rooms/week?room=meeting-5&day={DAY.isoformat()}", None), ("/rooms/mine", None)):
        page.goto(base + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path  # the grid scrolls in its box
        if name:
            _shot(page, name)
    context.close()
