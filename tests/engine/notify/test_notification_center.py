"""The notification center: own notifications only, newest first, unread count, marking read; preferences
with the channel switch `*`, per-event overrides and enabled by default, stored minimally."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.data.models import Notification, NotificationPreference
from engine.errors import NotFoundError
from engine.notify import center

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _notify(sessions, recipient: str, count: int = 1, event: str = "task_assigned", link: str | None = "/tasks/t1",
            read: bool = False) -> list[int]:
    with sessions() as session, session.begin():
        rows = [Notification(recipient=recipient, event=event, title=f"{recipient} #{i}", body="请处理", link=link,
                             created_at=T0 + timedelta(minutes=i), read_at=T0 if read else None)
                for i in range(count)]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def test_list_holds_only_the_persons_own_newest_first_with_total(sessions):
    mine = _notify(sessions, "zhang", 3)
    _notify(sessions, "li", 2)
    with sessions() as session:
        page = center.list_for(session, "zhang")
        assert [item.id for item in page.items] == mine[::-1]
        assert page.total == 3 and page.pages == 1
        assert {item.title for item in page.items} == {"zhang #0", "zhang #1", "zhang #2"}
        assert center.list_for(session, "wang").total == 0


def test_paging_and_unread_only(sessions):
    ids = _notify(sessions, "zhang", 5)
    _notify(sessions, "zhang", 1, read=True)
    with sessions() as session:
        second = center.list_for(session, "zhang", page=2, per_page=2)
        assert [item.id for item in second.items] == [ids[2], ids[1]] and second.total == 6 and second.pages == 3
        unread = center.list_for(session, "zhang", unread_only=True)
        assert unread.total == 5 and all(item.unread for item in unread.items)
        past_the_end = center.list_for(session, "zhang", page=9, per_page=2)
        assert past_the_end.items == [] and past_the_end.total == 6


def test_unread_count_and_mark_read_touch_only_own_rows(sessions):
    mine = _notify(sessions, "zhang", 3)
    theirs = _notify(sessions, "li", 2)
    with sessions() as session, session.begin():
        assert center.unread_count(session, "zhang") == 3
        # someone else's ids are silently left alone; only the own unread row changes
        assert center.mark_read(session, "zhang", [mine[0], *theirs]) == 1
        assert center.mark_read(session, "zhang", [mine[0]]) == 0  # already read
        assert center.mark_read(session, "zhang", []) == 0
    with sessions() as session:
        assert center.unread_count(session, "zhang") == 2
        assert center.unread_count(session, "li") == 2
        assert center.get(session, "zhang", mine[0]).read_at is not None


def test_mark_all_read_leaves_other_people_unread(sessions):
    _notify(sessions, "zhang", 3)
    _notify(sessions, "li", 2)
    with sessions() as session, session.begin():
        assert center.mark_all_read(session, "zhang") == 3
    with sessions() as session:
        assert center.unread_count(session, "zhang") == 0
        assert center.unread_count(session, "li") == 2


def test_someone_elses_notification_is_not_found(sessions):
    theirs = _notify(sessions, "li")[0]
    with sessions() as session, pytest.raises(NotFoundError):
        center.get(session, "zhang", theirs)
    with sessions() as session, pytest.raises(NotFoundError):
        center.get(session, "zhang", theirs + 100)


def test_works_on_a_core_connection_too(sessions):
    _notify(sessions, "zhang", 2)
    with sessions() as session, session.begin():
        conn = session.connection()
        assert center.unread_count(conn, "zhang") == 2
        assert center.mark_all_read(conn, "zhang") == 2
        center.set_preferences(conn, "zhang", {"email": {"*": False}})
        assert center.preferences(conn, "zhang")["email"]["urged"] is False


@pytest.mark.parametrize(("link", "safe"), [
    ("/tasks/abc", True), ("/instances/3?tab=history#top", True), (None, False), ("", False),
    ("https://evil.example", False), ("//evil.example/x", False), ("/\\evil.example", False),
    ("javascript:alert(1)", False), ("tasks/1", False), ("/tasks/1\n", False), ("/a b", False),
])
def test_only_relative_links_are_safe(link, safe):
    assert center.safe_link(link) == (link if safe else None)


def test_no_rows_means_everything_enabled(sessions):
    with sessions() as session:
        prefs = center.preferences(session, "zhang")
    assert set(prefs) == {"inapp", "email"}
    assert all(prefs[channel] == {"*": True, **dict.fromkeys(center.EVENTS, True)} for channel in prefs)
    assert center.is_enabled(prefs, "email", "urged") and center.is_enabled(prefs, "webhook", "approved")


def test_channel_switch_and_event_override(sessions):
    with sessions() as session, session.begin():
        center.set_preferences(session, "zhang", {
            "email": {"*": False, "urged": True},  # e-mail off except reminders
            "inapp": {"*": True, "cc": False},  # in-app on except copies
        })
    with sessions() as session:
        prefs = center.preferences(session, "zhang")
        assert prefs["email"]["*"] is False and prefs["email"]["urged"] is True
        assert prefs["email"]["approved"] is False
        assert prefs["inapp"]["cc"] is False and prefs["inapp"]["approved"] is True
        assert center.is_enabled(prefs, "email", "urged") and not center.is_enabled(prefs, "email", "rejected")
        assert not center.is_enabled(prefs, "email", "an_event_added_later")  # falls back to the switch
        assert center.preferences(session, "li")["email"]["approved"] is True  # nobody else changed


def test_only_differences_are_stored_and_saving_again_replaces_them(sessions):
    every_event_on = {"*": True, **dict.fromkeys(center.EVENTS, True)}
    with sessions() as session, session.begin():
        center.set_preferences(session, "zhang", {"inapp": every_event_on,
                                                  "email": {"*": False, **dict.fromkeys(center.EVENTS, False),
                                                            "urged": True}})
    assert _rows(sessions, "zhang") == {("email", "*", False), ("email", "urged", True)}
    with sessions() as session, session.begin():  # upsert over existing rows, drop the ones not needed
        center.set_preferences(session, "zhang", {"email": {"*": False, "urged": False, "cc": True}})
    assert _rows(sessions, "zhang") == {("email", "*", False), ("email", "cc", True)}
    with sessions() as session, session.begin():
        center.set_preferences(session, "zhang", {"email": {"*": True}})
    assert _rows(sessions, "zhang") == set()


def test_preferences_leave_other_channels_rows_alone(sessions):
    with sessions() as session, session.begin():
        session.add(NotificationPreference(username="zhang", channel="webhook", event="*", enabled=False))
        session.flush()
        center.set_preferences(session, "zhang", {"email": {"*": False}})
    assert _rows(sessions, "zhang") == {("webhook", "*", False), ("email", "*", False)}
    with sessions() as session:
        assert set(center.preferences(session, "zhang")) == {"inapp", "email"}


def test_unknown_channel_or_event_is_refused(sessions):
    with sessions() as session, pytest.raises(ValueError, match="channel"):
        center.set_preferences(session, "zhang", {"sms": {"*": True}})
    with sessions() as session, pytest.raises(ValueError, match="event"):
        center.set_preferences(session, "zhang", {"email": {"birthday": True}})


def test_enabled_recipients_applies_the_same_rule_in_one_query(sessions):
    with sessions() as session, session.begin():
        center.set_preferences(session, "li", {"email": {"*": False}})
        center.set_preferences(session, "wang", {"email": {"*": False, "approved": True}})
        center.set_preferences(session, "zhao", {"email": {"approved": False}})
    with sessions() as session:
        assert center.enabled_recipients(session, ["zhang", "li", "wang", "zhao", "zhang", None], "email",
                                         "approved") == ["zhang", "wang"]
        assert center.enabled_recipients(session, ["li", "zhao"], "inapp", "approved") == ["li", "zhao"]
        assert center.enabled_recipients(session, [], "email", "approved") == []


def test_every_event_has_a_chinese_and_an_english_label():
    assert set(center.EVENT_LABELS) == set(center.EVENTS)
    assert all(labels["zh"] and labels["en"] for labels in center.EVENT_LABELS.values())
    assert center.event_label("urged", "en") == "I am reminded to act (urged)"
    assert center.event_label("unknown_event", "zh") == "unknown_event"


def _rows(sessions, username: str) -> set[tuple[str, str, bool]]:
    with sessions() as session:
        return {(row.channel, row.event, row.enabled) for row in session.scalars(
            select(NotificationPreference).where(NotificationPreference.username == username))}
