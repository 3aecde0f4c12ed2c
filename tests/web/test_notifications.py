"""The notification center and notification settings pages: own notifications only, the unread badge,
opening (relative links only), mark all read, preferences round trip, CSRF, zh and en."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.data.models import Notification
from engine.notify import center

from .conftest import post, sign_in

LIST = "/notifications"
SETTINGS = "/me/notifications"
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _client(app, username: str):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def _notify(sessions, recipient: str, title: str, link: str | None = "/inbox/", minutes: int = 0,
            event: str = "task_assigned") -> int:
    with sessions() as session, session.begin():
        row = Notification(recipient=recipient, event=event, title=title, body="请尽快处理", link=link,
                           created_at=T0 + timedelta(minutes=minutes))
        session.add(row)
        session.flush()
        return row.id


def _unread(sessions, username: str) -> int:
    with sessions() as session:
        return center.unread_count(session, username)


def test_only_own_notifications_are_listed_and_counted_in_the_badge(app, people, sessions):
    mine = _notify(sessions, "zhang", "请审批张三的请假")
    _notify(sessions, "zhang", "第二条", minutes=1)
    theirs = _notify(sessions, "li", "李四的私人消息")
    client = _client(app, "zhang")
    page = client.get(LIST).get_data(as_text=True)
    assert "请审批张三的请假" in page and "第二条" in page and "李四的私人消息" not in page
    assert f'data-notification="{mine}"' in page and f'data-notification="{theirs}"' not in page
    assert page.index("第二条") < page.index("请审批张三的请假")  # newest first
    assert "有新任务分配给我" in page  # the event's label
    home = client.get("/").get_data(as_text=True)
    assert 'id="notification-badge" title="2 条未读">2</span>' in home
    assert 'id="notification-badge" title="1 条未读">1</span>' in _client(app, "li").get("/").get_data(as_text=True)
    assert 'id="notification-badge"' not in _client(app, "root").get("/").get_data(as_text=True)


def test_opening_someone_elses_notification_is_404_and_leaves_it_unread(app, people, sessions):
    theirs = _notify(sessions, "li", "李四的私人消息", link="/requests/")
    client = _client(app, "zhang")
    assert post(client, f"{LIST}/{theirs}/open", token_from=LIST).status_code == 404
    assert post(client, f"{LIST}/{theirs + 1000}/open", token_from=LIST).status_code == 404
    assert _unread(sessions, "li") == 1


def test_opening_marks_read_and_follows_a_relative_link(app, people, sessions):
    mine = _notify(sessions, "zhang", "去处理", link="/requests/")
    client = _client(app, "zhang")
    response = post(client, f"{LIST}/{mine}/open", token_from=LIST)
    assert response.status_code == 302 and response.headers["Location"] == "/requests/"
    assert _unread(sessions, "zhang") == 0
    assert 'id="notification-badge"' not in client.get(LIST).get_data(as_text=True)


@pytest.mark.parametrize("link", ["https://evil.example", "//evil.example/path", "javascript:alert(1)"])
def test_a_link_off_this_site_is_shown_as_text_and_never_followed(app, people, sessions, link):
    mine = _notify(sessions, "zhang", "外部消息", link=link, event="external_link")
    client = _client(app, "zhang")
    page = client.get(LIST).get_data(as_text=True)
    assert f'href="{link}"' not in page and link in page  # shown as text only
    assert "链接（不从此处打开）" in page
    response = post(client, f"{LIST}/{mine}/open", token_from=LIST)
    assert response.status_code == 302 and response.headers["Location"] == LIST
    assert _unread(sessions, "zhang") == 0


def test_unread_filter_and_mark_all_read(app, people, sessions):
    first = _notify(sessions, "zhang", "第一条")
    _notify(sessions, "zhang", "第二条", minutes=1)
    _notify(sessions, "li", "李四的", minutes=2)
    client = _client(app, "zhang")
    post(client, f"{LIST}/{first}/open", token_from=LIST)
    unread_page = client.get(f"{LIST}?unread=1").get_data(as_text=True)
    assert "第二条" in unread_page and "第一条" not in unread_page
    assert "第一条" in client.get(LIST).get_data(as_text=True)
    response = post(client, f"{LIST}/read-all", {"unread": "1"}, token_from=LIST)
    assert response.status_code == 302 and response.headers["Location"] == f"{LIST}?unread=1"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已将 1 条消息标为已读。" in page and "没有未读消息。" in page
    assert _unread(sessions, "zhang") == 0 and _unread(sessions, "li") == 1


def test_paging(app, people, sessions):
    for i in range(25):
        _notify(sessions, "zhang", f"消息{i:02d}", minutes=i)
    client = _client(app, "zhang")
    first = client.get(LIST).get_data(as_text=True)
    assert "消息24" in first and "消息04" not in first and 'rel="next"' in first
    second = client.get(f"{LIST}?page=2").get_data(as_text=True)
    assert "消息04" in second and "消息24" not in second


def test_posts_without_the_csrf_token_are_refused(app, people, sessions):
    mine = _notify(sessions, "zhang", "去处理")
    client = _client(app, "zhang")
    assert client.post(f"{LIST}/{mine}/open").status_code == 400
    assert client.post(f"{LIST}/read-all").status_code == 400
    assert client.post(SETTINGS, data={"inapp:*": "on"}).status_code == 400  # email switch absent = off
    assert _unread(sessions, "zhang") == 1
    with sessions() as session:
        assert center.preferences(session, "zhang")["email"]["*"] is True


def _settings_form(inapp: dict, email: dict, was: tuple[str, str] = ("1", "1")) -> dict:
    data = {"was:inapp": was[0], "was:email": was[1]}
    for channel, ticked in (("inapp", inapp), ("email", email)):
        data.update({f"{channel}:{key}": "on" for key, on in ticked.items() if on})
    return data


def test_preferences_round_trip_with_an_override(app, people, sessions):
    client = _client(app, "zhang")
    page = client.get(SETTINGS).get_data(as_text=True)
    assert "消息设置" in page and page.count("checked") == 2 * (len(center.EVENTS) + 1)  # no rows: all on
    everything = {"*": True, **dict.fromkeys(center.EVENTS, True)}
    # e-mail switch left on, but only reminders and copies ticked; in-app untouched
    email = {"*": True, "urged": True, "cc": True}
    response = post(client, SETTINGS, _settings_form(everything, email), token_from=SETTINGS)
    assert response.status_code == 302 and response.headers["Location"] == SETTINGS
    with sessions() as session:
        prefs = center.preferences(session, "zhang")
    assert prefs["inapp"] == everything
    assert prefs["email"]["urged"] and prefs["email"]["cc"] and not prefs["email"]["approved"]
    page = client.get(SETTINGS).get_data(as_text=True)
    assert "消息设置已保存。" in page
    assert 'name="email:urged" id="email-urged"' in page
    assert page.count("checked") == (len(center.EVENTS) + 1) + 3


def test_switching_a_channel_off_turns_all_its_events_off_then_one_can_be_ticked(app, people, sessions):
    client = _client(app, "zhang")
    everything = {"*": True, **dict.fromkeys(center.EVENTS, True)}
    events_ticked = dict.fromkeys(center.EVENTS, True)  # the switch unticked, the events still ticked
    post(client, SETTINGS, _settings_form(everything, events_ticked), token_from=SETTINGS)
    with sessions() as session:
        prefs = center.preferences(session, "zhang")
        assert not any(center.is_enabled(prefs, "email", event) for event in center.EVENTS)
    # with the switch off as it was, ticking one event overrides the switch for that event
    post(client, SETTINGS, _settings_form(everything, {"approved": True}, was=("1", "0")), token_from=SETTINGS)
    with sessions() as session:
        prefs = center.preferences(session, "zhang")
    assert prefs["email"]["*"] is False and prefs["email"]["approved"] is True and prefs["email"]["urged"] is False
    # switching it back on turns every event on again
    post(client, SETTINGS, _settings_form(everything, {"*": True}, was=("1", "0")), token_from=SETTINGS)
    with sessions() as session:
        assert center.preferences(session, "zhang")["email"] == everything


def test_pages_render_in_english_and_chinese(app, people, sessions):
    _notify(sessions, "zhang", "Approve the leave request")
    client = _client(app, "zhang")
    zh_list = client.get(LIST).get_data(as_text=True)
    assert "<h1>消息</h1>" in zh_list and "全部标为已读" in zh_list and "查看" in zh_list
    zh_settings = client.get(SETTINGS).get_data(as_text=True)
    assert "站内消息" in zh_settings and "被催办" in zh_settings and "全部事件（渠道开关）" in zh_settings
    en_list = client.get(f"{LIST}?lang=en").get_data(as_text=True)
    assert "<h1>Notifications</h1>" in en_list and "Mark all read" in en_list and "A task is assigned to me" in en_list
    en_settings = client.get(SETTINGS).get_data(as_text=True)
    assert "In the app" in en_settings and "By e-mail" in en_settings and "I am reminded to act (urged)" in en_settings
    assert 'href="/me/notifications"' in en_settings  # the user menu links to the settings
