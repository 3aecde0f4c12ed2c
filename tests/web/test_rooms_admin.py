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
    assert "实验室" in client.get("/admin/rooms/").get_data(as_text=True)
    ics = client.get("/rooms/lab.ics")
    assert ics.status_code == 200 and ics.mimetype == "text/calendar" and b"X-WR-CALNAME:" in ics.data


def test_rooms_admin_is_for_super_admins_and_posts_need_csrf(app, people):
    client = app.test_client()
    sign_in(client, "zhang")
    assert client.get("/admin/rooms/").status_code == 403
    assert client.post("/admin/rooms/edit", data={"key": "x", "name": "X", "capacity": "3"}).status_code in (400, 403)
    assert client.get("/rooms/").status_code == 200  # the calendar is for every employee
