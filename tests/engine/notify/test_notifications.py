"""engine.notifications: recipients, preferences, groups, languages, templates and the deploy check."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import event, select

from engine.config import Settings
from engine.data import store
from engine.data.models import Notification, NotificationPreference, OutboxMessage, Person, PersonRole, Role
from engine.errors import InvalidPackageError
from engine.notify import render as notifications
from engine.notify.render import Event, StepFacts, notification_problems, render_step
from engine.packages import deployment as packages
from tests.engine.conftest import write_package

NOW = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
SETTINGS = Settings(database_url="", redis_url=None, secret_key=None, smtp_url=None,
                    base_url="https://wf.example.com/", locale="zh", timezone="Asia/Shanghai",
                    instance_dir=Path("."))
EN_SETTINGS = Settings(**{**SETTINGS.__dict__, "locale": "en"})
TASK = {"id": "t-1", "element_id": "approve", "name": "经理审批",
        "due_at": datetime(2026, 11, 30, 2, 0, tzinfo=UTC)}
META = {"id": "leave", "name": {"zh": "请假申请", "en": "Leave request"}}


def add_people(sessions, *people, roles: dict | None = None, prefs: tuple = ()):
    """people: (username, name, name_en, email, locale[, active]); roles {key: [usernames]};
    prefs: (username, channel, event, enabled)."""
    with sessions() as session, session.begin():
        rows = {}
        for spec in people:
            username, name, name_en, email, locale, *rest = spec
            rows[username] = Person(username=username, name=name, name_en=name_en, email=email, locale=locale,
                                    active=rest[0] if rest else True)
            session.add(rows[username])
        session.flush()
        for key, members in (roles or {}).items():
            role = Role(key=key, name=key)
            session.add(role)
            session.flush()
            session.add_all(PersonRole(person_id=rows[m].id, role_id=role.id) for m in members)
        session.add_all(NotificationPreference(username=u, channel=c, event=e, enabled=on) for u, c, e, on in prefs)


def facts(*events, notifications_files=None, instance_id=7, data=None):
    return StepFacts(process_key="leave", package={"meta": META, "notifications": notifications_files or {}},
                     instance_id=instance_id, initiator="alice", business_key="QJ-001", data=data or {},
                     events=list(events))


def render(sessions, step, settings=SETTINGS):
    with sessions() as session:
        return render_step(session.connection(), step, NOW, settings=settings)


def by_recipient(rows):
    return {row["recipient"]: row for row in rows}


STANDARD = (("alice", "张丽", "Alice", "alice@example.com", "zh"),
            ("bob", "王博", "Bob", "bob@example.com", "en"),
            ("carol", "陈可", None, "carol@example.com", None))


def test_no_events_no_query(sessions):
    with sessions() as session:
        conn = session.connection()
        seen = []
        event.listen(conn, "before_cursor_execute", lambda *args: seen.append(args[2]))
        assert render_step(conn, facts(), NOW, settings=SETTINGS) == ([], [])
    assert seen == []


def test_one_statement_for_every_event_of_a_step(sessions):
    add_people(sessions, *STANDARD, roles={"hr": ["carol"]})
    with sessions() as session:
        conn = session.connection()
        seen = []
        event.listen(conn, "before_cursor_execute", lambda *args: seen.append(args[2]))
        outbox, inapp = render_step(conn, facts(
            Event("task_assigned", recipients=["alice"], task=TASK, actor="bob"),
            Event("cc", groups=["hr"], actor="bob"),
            Event("approved", recipients=["bob", "alice"], actor="alice")), NOW, settings=SETTINGS)
    assert len(seen) == 1  # people, group members and their preferences together
    assert [(n["recipient"], n["event"]) for n in inapp] == [("alice", "task_assigned"), ("carol", "cc"),
                                                             ("bob", "approved")]
    assert len(outbox) == 3


def test_preferences_of_people_reached_through_a_group_are_kept(sessions):
    add_people(sessions, *STANDARD, roles={"hr": ["carol", "bob"]},
               prefs=(("carol", "inapp", "cc", False), ("bob", "email", "*", False)))
    outbox, inapp = render(sessions, facts(Event("cc", groups=["hr"], actor="alice")))
    assert [n["recipient"] for n in inapp] == ["bob"]
    assert [o["recipient"] for o in outbox] == ["carol@example.com"]


def test_default_templates_in_each_recipients_language(sessions):
    add_people(sessions, *STANDARD)
    outbox, inapp = render(sessions, facts(Event("task_assigned", recipients=["alice", "bob", "carol"], task=TASK)))
    notes = by_recipient(inapp)
    assert notes["alice"]["title"] == "待办：经理审批"
    assert notes["alice"]["body"] == ("您有一项新的待办「经理审批」，流程「请假申请」（QJ-001）。\n"
                                      "截止时间：2026-11-30 10:00")  # due time in LIAISON_TIMEZONE
    assert notes["bob"]["title"] == "New task: 经理审批"
    assert notes["bob"]["body"] == ("You have a new task \"经理审批\" in Leave request (QJ-001).\n"
                                    "Due: 2026-11-30 10:00")
    assert notes["carol"]["title"] == "待办：经理审批"  # no locale: LIAISON_LOCALE
    assert notes["alice"] | {"title": None, "body": None} == {
        "recipient": "alice", "event": "task_assigned", "task_id": "t-1", "title": None, "body": None,
        "link": "/tasks/t-1"}  # in-app keeps the path on this site
    _, inapp_en = render(sessions, facts(Event("task_assigned", recipients=["carol"], task=TASK)), EN_SETTINGS)
    assert inapp_en[0]["title"] == "New task: 经理审批"

    mails = by_recipient(outbox)
    assert set(mails) == {"alice@example.com", "bob@example.com", "carol@example.com"}
    mail = mails["bob@example.com"]
    assert mail["channel"] == "email" and mail["event"] == "task_assigned"
    payload = mail["payload"]
    assert payload["subject"] == "New task: 经理审批"
    assert payload["text"].endswith("\n\nhttps://wf.example.com/tasks/t-1")
    assert '<a href="https://wf.example.com/tasks/t-1">Open</a>' in payload["html"]
    assert payload["to"] == "bob@example.com" and payload["username"] == "bob" and payload["lang"] == "en"
    assert payload["headers"] == {"X-Liaison-Event": "task_assigned", "X-Liaison-Process": "leave"}
    json.dumps(outbox)  # ready for a JSON column on both databases


def test_the_task_is_named_in_each_recipients_language_from_the_package_names(sessions):
    add_people(sessions, *STANDARD)
    step = StepFacts(process_key="leave", package={"meta": {**META, "names": {
        "approve": {"zh": "上级审批", "en": "Manager approval"}}}}, instance_id=7, initiator="alice",
        business_key=None, data={}, events=[Event("task_assigned", recipients=["alice", "bob"],
                                                  task={**TASK, "name": "Approve (as drawn)"})])
    _outbox, inapp = render(sessions, step)
    notes = by_recipient(inapp)
    assert notes["alice"]["title"] == "待办：上级审批" and notes["bob"]["title"] == "New task: Manager approval"


def test_links_without_task_and_for_a_new_instance(sessions):
    add_people(sessions, *STANDARD)
    _, inapp = render(sessions, facts(Event("instance_finished", recipients=["alice"])))
    assert inapp[0]["link"] == "/instances/7"
    assert inapp[0]["title"] == "已办结：请假申请"
    _, inapp = render(sessions, facts(Event("rejected", recipients=["alice"], task=TASK),
                                      Event("urged", recipients=["alice"], task=TASK)))
    assert [n["link"] for n in inapp] == ["/instances/7", "/tasks/t-1"]  # about the request / about the task
    outbox, inapp = render(sessions, facts(Event("instance_finished", recipients=["alice"]), instance_id=None))
    assert inapp[0]["link"] == "/requests/"
    assert outbox[0]["payload"]["text"].endswith("https://wf.example.com/requests/")


def test_preferences_channel_event_and_star(sessions):
    add_people(sessions, *STANDARD, prefs=(
        ("alice", "email", "*", False),                 # no e-mail at all
        ("bob", "inapp", "*", False),                   # in-app off ...
        ("bob", "inapp", "task_assigned", True),        # ... except new tasks
        ("carol", "email", "task_assigned", False),     # e-mail on, but not for new tasks
    ))
    outbox, inapp = render(sessions, facts(Event("task_assigned", recipients=["alice", "bob", "carol"], task=TASK)))
    assert sorted(n["recipient"] for n in inapp) == ["alice", "bob", "carol"]
    assert sorted(o["recipient"] for o in outbox) == ["bob@example.com"]

    outbox, inapp = render(sessions, facts(Event("approved", recipients=["alice", "bob", "carol"], actor="dave")))
    assert sorted(n["recipient"] for n in inapp) == ["alice", "carol"]
    assert sorted(o["recipient"] for o in outbox) == ["bob@example.com", "carol@example.com"]


def test_actor_is_not_notified_and_is_named(sessions):
    add_people(sessions, *STANDARD)
    outbox, inapp = render(sessions, facts(Event("approved", recipients=["alice", "bob"], actor="bob",
                                                 comment="同意")))
    assert [n["recipient"] for n in inapp] == ["alice"]
    assert [o["recipient"] for o in outbox] == ["alice@example.com"]
    assert inapp[0]["body"] == "流程「请假申请」（QJ-001）已由王博批准。\n意见：同意"
    _, inapp = render(sessions, facts(Event("approved", recipients=["bob"], actor="alice")))
    assert inapp[0]["body"] == "Alice approved Leave request (QJ-001)."


def test_groups_expand_to_active_members(sessions, caplog, monkeypatch):
    add_people(sessions, *STANDARD, ("dave", "丁", None, None, "zh"), ("erin", "鄂", None, "e@example.com", "en"),
               ("frank", "方", None, "f@example.com", "zh", False),
               roles={"hr": ["carol", "dave", "erin", "frank"], "finance": ["alice"]})
    outbox, inapp = render(sessions, facts(Event("cc", recipients=["dave"], groups=["hr"], actor="erin")))
    assert [n["recipient"] for n in inapp] == ["dave", "carol"]  # direct first, once; frank inactive; erin acted
    assert [o["recipient"] for o in outbox] == ["carol@example.com"]  # dave has no address

    monkeypatch.setattr(notifications, "GROUP_CAP", 2)
    with caplog.at_level(logging.WARNING, logger="engine.notify.render"):
        _, inapp = render(sessions, facts(Event("cc", groups=["hr"])))
    assert [n["recipient"] for n in inapp] == ["carol", "dave"]
    assert "only the first 2 are notified" in caplog.text


def test_unknown_and_inactive_people(sessions):
    add_people(sessions, ("gone", "走", None, "gone@example.com", "zh", False))
    outbox, inapp = render(sessions, facts(Event("task_assigned", recipients=["gone", "nobody"], task=TASK)))
    assert [n["recipient"] for n in inapp] == ["nobody"]  # unknown username: in-app only (no address)
    assert outbox == []


def test_outside_addresses_get_email_in_the_default_language(sessions):
    outbox, inapp = render(sessions, facts(Event("external_link", extra={
        "emails": ["guest@example.org"], "link": "https://wf.example.com/x/abc", "title": "访客登记"})))
    assert inapp == []
    assert [o["recipient"] for o in outbox] == ["guest@example.org"]
    assert outbox[0]["payload"]["subject"] == "访客登记"
    assert outbox[0]["payload"]["text"] == "请打开以下链接办理「请假申请」。\nhttps://wf.example.com/x/abc"


PACKAGE_NOTES = {"approval": {"task_assigned": {
    "channels": ["inapp", "email", "webhook"], "webhooks": ["ops-robot"],
    "zh": {"title": "请审批 {{ data.days }} 天假（{{ instance.business_key }}）",
           "text": "{{ process.name }}：{{ data.reason }}", "html": "<p>{{ data.reason }}</p>"},
    "en": {"title": "Approve {{ data.days }} days ({{ process.key }})", "text": "{{ data.reason }} by {{ actor }}"},
}}}


def test_package_template_channels_and_webhooks(sessions):
    add_people(sessions, *STANDARD)
    outbox, inapp = render(sessions, facts(
        Event("task_assigned", recipients=["alice", "bob"], task=TASK, actor="carol"),
        Event("approved", recipients=["alice"]),  # not in the package: default template, default channels
        notifications_files=PACKAGE_NOTES, data={"days": 3, "reason": "<b>家事</b> & more"}))
    notes = {(n["recipient"], n["event"]): n for n in inapp}
    assert notes["alice", "task_assigned"]["title"] == "请审批 3 天假（QJ-001）"
    assert notes["alice", "task_assigned"]["body"] == "请假申请：<b>家事</b> & more"  # text is not escaped
    assert notes["bob", "task_assigned"]["title"] == "Approve 3 days (leave)"
    assert notes["bob", "task_assigned"]["body"] == "<b>家事</b> & more by 陈可"
    assert notes["alice", "approved"]["title"] == "已通过：请假申请"
    mails = {o["recipient"]: o["payload"] for o in outbox if o["channel"] == "email" and o["event"] == "task_assigned"}
    assert mails["alice@example.com"]["html"] == "<p>&lt;b&gt;家事&lt;/b&gt; &amp; more</p>"  # HTML autoescaped
    assert "&lt;b&gt;家事&lt;/b&gt; &amp; more by 陈可" in mails["bob@example.com"]["html"]  # made from the text
    hooks = [o for o in outbox if o["channel"] == "webhook"]
    assert hooks == [{"event": "task_assigned", "channel": "webhook", "recipient": "ops-robot", "payload": {
        "event": "task_assigned", "process_key": "leave", "instance_id": 7, "business_key": "QJ-001",
        "task": {**TASK, "due_at": "2026-11-30T02:00:00+00:00"}, "actor": "carol", "comment": None,
        "occurred_at": "2026-11-28T01:00:00+00:00", "title": "请审批 3 天假（QJ-001）",
        "text": "请假申请：<b>家事</b> & more", "link": "https://wf.example.com/tasks/t-1", "lang": "zh"}}]


def test_webhook_only_event_without_recipients(sessions):
    notes = {"robots": {"instance_finished": {"channels": ["webhook"], "webhooks": ["a", "b"],
                                              "zh": {"title": "结束", "text": "{{ process.name }}"},
                                              "en": {"title": "done", "text": "{{ process.name }}"}}}}
    outbox, inapp = render(sessions, facts(Event("instance_finished"), notifications_files=notes, instance_id=None))
    assert inapp == []
    assert [(o["recipient"], o["payload"]["title"], o["payload"]["instance_id"]) for o in outbox] == [
        ("a", "结束", None), ("b", "结束", None)]


@pytest.mark.parametrize("title", ["{{ data.missing.deeper.call() }}", "{{ ''.__class__.__mro__ }}",
                                   "{{ 1 / 0 }}", "{% if %}"])
def test_failing_template_falls_back_to_the_default(sessions, caplog, title):
    add_people(sessions, *STANDARD)
    notes = {"n": {"approved": {"zh": {"title": title, "text": "x"}, "en": {"title": "ok", "text": "fine"}}}}
    with caplog.at_level(logging.ERROR, logger="engine.notify.render"):
        _, inapp = render(sessions, facts(Event("approved", recipients=["alice", "bob"], actor="carol"),
                                          notifications_files=notes))
    assert by_recipient(inapp)["alice"]["title"] == "已通过：请假申请"
    assert by_recipient(inapp)["bob"]["title"] == "ok"
    assert "notification template `approved.zh` of process `leave` failed" in caplog.text


def test_rows_write_with_the_store(sessions):
    add_people(sessions, *STANDARD)
    with sessions() as session, session.begin():
        conn = session.connection()
        outbox, inapp = render_step(conn, facts(Event("task_assigned", recipients=["alice"], task=TASK),
                                                notifications_files=PACKAGE_NOTES, data={"days": 1, "reason": "r"}),
                                    NOW, settings=SETTINGS)
        store.write_effects(conn, 7, NOW, outbox, inapp)
    with sessions() as session:
        assert session.scalars(select(Notification.title)).all() == ["请审批 1 天假（QJ-001）"]
        assert sorted(session.scalars(select(OutboxMessage.channel))) == ["email", "webhook"]


def test_notification_problems_messages():
    good = {"zh": {"title": "t", "text": "x"}, "en": {"title": "t", "text": "x"}}
    assert notification_problems({"a": {"approved": good, "rejected": {**good, "channels": ["inapp"]}}}) == []
    assert notification_problems({
        "a": {"approve": good,
              "approved": {"channels": ["inapp", "sms", "webhook"], "color": 1, "zh": {"title": "t"},
                           "en": {"title": "{{ x", "text": "{% for %}", "html": 3, "subject": "s"}},
              "urged": "text"},
        "b": {"approved": good, "cc": {"webhooks": "ops", "zh": "x", "en": {"title": "t", "text": "x"}}},
    }) == [
        "a: unknown event `approve` (known: task_assigned, task_due_soon, task_overdue, urged, cc, returned, "
        "approved, rejected, instance_finished, external_link)",
        "a: `approved` has an unknown key `color` (known: channels, webhooks, zh, en)",
        "a: `approved.channels`: unknown channel `sms` (known: inapp, email, webhook)",
        "a: `approved.channels` has `webhook` but `approved.webhooks` names no endpoint",
        "a: `approved.zh.text` is missing",
        "a: `approved.en` has an unknown key `subject` (known: title, text, html)",
        "a: `approved.en.title`: template syntax error on line 1: unexpected end of template, expected 'end of "
        "print statement'.",
        "a: `approved.en.text`: template syntax error on line 1: Expected an expression, got 'end of statement "
        "block'",
        "a: `approved.en.html` must be text",
        "a: `urged` must be a mapping with `zh` and `en`",
        "b: event `approved` is defined in `a` already",
        "b: `cc.webhooks` must be a list of webhook endpoint names",
        "b: `cc.zh` must be a mapping with `title` and `text`",
    ]
    assert notification_problems({"c": {"cc": {"zh": {"title": "t", "text": "x"}}}}) == ["c: `cc.en` is missing"]


def test_deploy_refuses_bad_notification_files(tmp_path):
    folder = write_package(tmp_path, "noted", {"noted": '<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>'
                                               '<bpmn:sequenceFlow id="f" sourceRef="s" targetRef="e"/>'})
    (folder / "notifications").mkdir()
    (folder / "notifications" / "main.yaml").write_text(yaml.safe_dump(
        {"approved": {"zh": {"title": "好", "text": "x"}, "en": {"title": "ok", "text": "x"}}}), encoding="utf-8")
    assert packages.load_package(folder).notifications["main"]["approved"]["zh"]["title"] == "好"
    (folder / "notifications" / "more.yaml").write_text(yaml.safe_dump({"aproved": {}}))
    with pytest.raises(InvalidPackageError) as refused:
        packages.load_package(folder)
    assert [str(p) for p in refused.value.problems] == [
        f"{folder / 'notifications'}:0: -: more: unknown event `aproved` (known: {', '.join(notifications.EVENTS)})"]
