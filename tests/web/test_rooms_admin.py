"""The rooms admin page over HTTP: super admins only, a room added and changed through the form, bad input
refused in Chinese with what was typed kept and nothing saved; the room's .ics."""

from __future__ import annotations

from engine.resources import rooms

from .conftest import csrf_token, sign_in


def test_super_admin_adds_and_changes_a_room_bad_input_is_refused(app, people, sessions):
    client = app.test_client()
    sign_in(client, "root")
    form = {"key": "lab", "name": "实验室", "name_en": "Lab", "capacity": "8", "equipment": "projector, screen",
            "location": "4F", "departments": "sales", "roles": "", "approver": "", "approver_role": "", "active": "on"}
    bad = client.post("/admin/rooms/edit", data={**form, "capacity": "很多", "csrf_token": csrf_token(client, "/admin/rooms/edit")},
                      headers={"Accept-Language": "zh"})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "会议室容纳人数须为整数" in page and 'value="实验室"' in page
    with sessions() as db:
        assert rooms.list_rooms(db, include_inactive=True) == []
    saved = client.post("/admin/rooms/edit", data={**form, "csrf_token": csrf_token(client, "/admin/rooms/edit")})
    assert saved.status_code == 303
    changed = client.post("/admin/rooms/edit", data={**form, "capacity": "10", "needs_approval": "on",
                                                      "approver_role": "finance", "existing": "1",
                                                      "csrf_token": csrf_token(client, "/admin/rooms/edit?key=lab")})
    assert changed.status_code == 303
    with sessions() as db:
        lab = rooms.get_room(db, "lab")
        assert (lab.capacity, lab.equipment, lab.bookers["departments"], lab.needs_approval) == (
            10, ["projector", "screen"], ["sales"], True)
    listing = client.get("/admin/rooms/").get_data(as_text=True)
    assert "实验室" in listing
    assert "<td>销售部</td>" in listing and "<td>财务</td>" in listing   # who books and approves, by name, not key
    ics = client.get("/rooms/lab.ics")
    assert ics.status_code == 200 and ics.mimetype == "text/calendar" and b"X-WR-CALNAME:" in ics.data


def test_rooms_admin_is_for_super_admins_and_posts_need_csrf(app, people):
    client = app.test_client()
    sign_in(client, "zhang")
    assert client.get("/admin/rooms/").status_code == 403
    assert client.post("/admin/rooms/edit", data={"key": "x", "name": "X", "capacity": "3"}).status_code in (400, 403)
    assert client.get("/rooms/").status_code == 200  # the calendar is for every employee


def test_a_clash_on_the_booking_page_is_refused_in_english_keeping_the_form(app, people, sessions):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from sqlalchemy import func, select

    from engine.data.room_models import RoomBooking

    with sessions() as db, db.begin():
        rooms.save_room(db, {"key": "board", "name": "董事会议室", "name_en": "Board room", "capacity": 20})
    day = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=2)).date().isoformat()
    client = app.test_client()
    sign_in(client, "zhang")
    token = csrf_token(client, f"/rooms/book?day={day}&lang=en")
    form = {"day": day, "slot": "board|09:00", "length": "60", "title": "Review", "weeks": "1", "csrf_token": token}
    assert client.post("/rooms/book", data={**form, "title": " "}).status_code == 422  # no title: nothing booked
    assert client.post("/rooms/book", data=form).status_code == 303
    clash = client.post("/rooms/book", data={**form, "slot": "board|09:30", "title": "Other"})
    page = clash.get_data(as_text=True)
    assert clash.status_code == 409
    assert f"Board room is already booked at {day} 09:00–10:00: nothing was booked" in page and 'value="Other"' in page
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(RoomBooking)) == 1
